"""An in-memory state store with the same semantics as the DynamoDB one: for tests, the CLI's
--dry-run and the drill. Thread-safe: one lock around every operation, as DynamoDB's
conditional writes are atomic per item."""

from __future__ import annotations

import builtins
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from evacuation.model import Evacuation, Notice, Status, StepKey, StepRecord
from evacuation.state.base import Claim, Lease


@dataclass
class _Stored:
    header: Evacuation
    steps: dict[StepKey, StepRecord] = field(default_factory=dict)
    lease: Lease | None = None
    notices: list[Notice] = field(default_factory=list)


class InMemoryStateStore:
    """Reference implementation of `StateStore`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._locks: dict[str, dict[str, str]] = {}
        self._recovered: dict[str, dict[str, datetime]] = {}
        self._evacuations: dict[str, _Stored] = {}

    def claim(self, evacuation: Evacuation, max_azs: int, lease: Lease | None = None) -> Claim:
        with self._lock:
            held = self._locks.setdefault(evacuation.workload, {})
            if evacuation.az_id in held:
                return Claim(False, held[evacuation.az_id], dict(held))
            if len(held) >= max_azs:
                return Claim(False, None, dict(held))
            held[evacuation.az_id] = evacuation.evacuation_id
            self._evacuations[evacuation.evacuation_id] = _Stored(
                evacuation.evolve(steps=()), lease=lease
            )
            return Claim(True, evacuation.evacuation_id)

    def release(self, workload: str, az_id: str, evacuation_id: str) -> None:
        with self._lock:
            held = self._locks.get(workload, {})
            if held.get(az_id) == evacuation_id:
                del held[az_id]

    def close(self, evacuation: Evacuation) -> None:
        with self._lock:  # one lock around both writes: the transaction
            self._write_header(evacuation)
            held = self._locks.get(evacuation.workload, {})
            if held.get(evacuation.az_id) != evacuation.evacuation_id:
                return
            del held[evacuation.az_id]
            if evacuation.status is Status.RECOVERED and evacuation.recovered_at is not None:
                recovered = self._recovered.setdefault(evacuation.workload, {})
                recovered[evacuation.az_id] = evacuation.recovered_at

    def held(self, workload: str) -> Mapping[str, str]:
        with self._lock:
            return dict(self._locks.get(workload, {}))

    def recovered_at(self, workload: str) -> Mapping[str, datetime]:
        with self._lock:
            return dict(self._recovered.get(workload, {}))

    def locks(self) -> Mapping[str, Mapping[str, str]]:
        with self._lock:
            return {workload: dict(held) for workload, held in self._locks.items() if held}

    def acquire_lease(self, evacuation_id: str, owner: str, now: datetime, until: datetime) -> bool:
        with self._lock:
            stored = self._evacuations.get(evacuation_id)
            if stored is None:
                return False
            lease = stored.lease
            if lease is None or lease.until < now or lease.owner == owner:
                stored.lease = Lease(owner, until)
                return True
            return False

    def release_lease(self, evacuation_id: str, owner: str) -> None:
        with self._lock:
            stored = self._evacuations.get(evacuation_id)
            if stored is not None and stored.lease is not None and stored.lease.owner == owner:
                stored.lease = None

    def save_header(self, evacuation: Evacuation) -> None:
        with self._lock:
            self._write_header(evacuation)

    def _write_header(self, evacuation: Evacuation) -> None:
        stored = self._evacuations.get(evacuation.evacuation_id)
        if stored is None:
            self._evacuations[evacuation.evacuation_id] = _Stored(evacuation.evolve(steps=()))
        else:
            stored.header = evacuation.evolve(steps=())

    def save_step(self, evacuation_id: str, step: StepRecord) -> None:
        with self._lock:
            stored = self._evacuations[evacuation_id]
            previous = stored.steps.get(step.key)
            if previous is not None and previous.before is not None:
                step = step.evolve(before=previous.before)
            stored.steps[step.key] = step

    def save_steps(self, evacuation_id: str, steps: Sequence[StepRecord]) -> None:
        for step in steps:
            self.save_step(evacuation_id, step)

    def save_notice(self, evacuation_id: str, notice: Notice) -> None:
        with self._lock:
            self._evacuations[evacuation_id].notices.append(notice)

    def load(self, evacuation_id: str) -> Evacuation | None:
        with self._lock:
            stored = self._evacuations.get(evacuation_id)
            if stored is None:
                return None
            return stored.header.evolve(
                steps=tuple(stored.steps.values()), notices=tuple(stored.notices)
            )

    def list(self, workload: str, limit: int = 50) -> Sequence[Evacuation]:
        with self._lock:
            return [
                s.header.evolve(steps=tuple(s.steps.values()), notices=tuple(s.notices))
                for s in self._newest(workload, limit)
            ]

    def history(self, workload: str, since: datetime) -> Sequence[Evacuation]:
        with self._lock:
            return [
                s.header
                for s in self._newest(workload, len(self._evacuations))
                if s.header.created_at >= since and s.header.status is not Status.REFUSED
            ]

    def _newest(self, workload: str, limit: int) -> builtins.list[_Stored]:
        matching = [s for s in self._evacuations.values() if s.header.workload == workload]
        matching.sort(key=lambda s: (s.header.created_at, s.header.evacuation_id), reverse=True)
        return matching[:limit]
