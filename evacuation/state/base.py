"""The state store protocol. Every backend implements the same semantics (tests/contract checks it).

Records:
- the workload lock: which AZs are evacuated (az_id -> evacuation_id), at most `max_azs` of them;
- the evacuation header (id, workload, AZ, status, trigger, reason, timestamps, lease);
- one record per step (before-image, after-image, outcome, error), written before its mutation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import structlog

from evacuation.metrics import count
from evacuation.model import Evacuation, Notice, StepRecord

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Claim:
    """The answer to a claim on an AZ.

    created: this call created `evacuation_id` and took the lock (`held` is then left empty:
    the winner needs nothing more, and reading it back would cost a round trip).
    Otherwise `evacuation_id` is the evacuation already holding the AZ (resume it), or None when
    the workload's other evacuated AZs (`held`) leave no room: the claim is refused.
    """

    created: bool
    evacuation_id: str | None
    held: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Lease:
    """The run lease: who may run an evacuation now, and until when."""

    owner: str
    until: datetime


class StateStore(Protocol):
    def claim(self, evacuation: Evacuation, max_azs: int, lease: Lease | None = None) -> Claim:
        """Atomically lock `evacuation.az_id` for its workload and write the header.

        One conditional write decides: the AZ is already held (return its evacuation), the
        workload already holds `max_azs` AZs (refuse), or the lock is taken and the header written
        (holding `lease`, if given: the new evacuation's run lease, taken in the same write).
        """
        ...

    def release(self, workload: str, az_id: str, evacuation_id: str) -> None:
        """Drop the AZ from the workload lock, only if `evacuation_id` still holds it."""
        ...

    def close(self, evacuation: Evacuation) -> None:
        """Write the final header of `evacuation` (RECOVERED or ABANDONED) and release its AZ in
        ONE transaction: no crash can leave a finished evacuation holding the AZ (where the
        reconciler would resume it). The AZ is released only if this evacuation holds it; a
        RECOVERED one also stamps the AZ's recovery time on the lock (what flap damping reads).
        """
        ...

    def held(self, workload: str) -> Mapping[str, str]:
        """The AZs currently evacuated for the workload: az_id -> evacuation_id."""
        ...

    def recovered_at(self, workload: str) -> Mapping[str, datetime]:
        """When each AZ of the workload was last recovered (from the lock, one read)."""
        ...

    def locks(self) -> Mapping[str, Mapping[str, str]]:
        """Every workload holding an AZ in this store: workload -> az_id -> evacuation_id. A
        renamed workload's evacuations stay visible here (the reconciler keeps them true)."""
        ...

    def acquire_lease(self, evacuation_id: str, owner: str, now: datetime, until: datetime) -> bool:
        """Take the run lease: True if free, expired (before `now`) or already ours."""
        ...

    def release_lease(self, evacuation_id: str, owner: str) -> None:
        """Give the lease back, only if `owner` holds it."""
        ...

    def save_header(self, evacuation: Evacuation) -> None:
        """Write the header fields (status, timestamps...) of an existing or refused evacuation."""
        ...

    def save_step(self, evacuation_id: str, step: StepRecord) -> None:
        """Write one step record. A stored `before` is never overwritten by a later save."""
        ...

    def save_steps(self, evacuation_id: str, steps: Sequence[StepRecord]) -> None:
        """`save_step` for each record, at once (one round trip where the backend allows). All are
        written when it returns (so a batch's before-images are on record before any apply)."""
        ...

    def save_notice(self, evacuation_id: str, notice: Notice) -> None:
        """Record a notification sent (or not) about the evacuation: the report lists them."""
        ...

    def load(self, evacuation_id: str) -> Evacuation | None:
        """The evacuation with all its steps (in the order they were first saved), or None."""
        ...

    def list(self, workload: str, limit: int = 50) -> Sequence[Evacuation]:
        """The workload's evacuations, newest first, with their steps. A record that cannot be
        read is skipped with a warning (and counted), never a reason to show nothing."""
        ...

    def history(self, workload: str, since: datetime) -> Sequence[Evacuation]:
        """The headers (no steps) of the workload's evacuations created at or after `since` that
        were not refused, newest first, every page: what the guards weigh. Refusals are left
        out by the read itself, so no number of them can hide an evacuation. A record that
        cannot be read is skipped with a warning (and counted): it never blocks a new one."""
        ...


def skip_unreadable(workload: str, item: str, error: Exception) -> None:
    """A record that cannot be read back is left out of a listing with a warning and a metric
    (StateRecordsSkipped): one hand-edited item must not block an evacuation or hide the rest."""
    log.warning("state.record_skipped", workload=workload, item=item, error=str(error))
    count("StateRecordsSkipped")
