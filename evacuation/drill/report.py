"""What a drill found: per scenario the hypothesis, the checks, the timeline and the verdict."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from evacuation.drill.checks import Check
from evacuation.drill.lab import StepEvent
from evacuation.model import Outcome, Phase

Verdict = Literal["PASS", "FAIL"]
TRAFFIC_MOVED = frozenset({Outcome.APPLIED.value, Outcome.UNCHANGED.value, Outcome.PENDING.value})


@dataclass(frozen=True)
class TimelineEntry:
    """One step of one invocation, timed from the moment the alarm fired."""

    invocation: str
    phase: str
    kind: str
    resource: str
    start: float
    """Seconds after the alarm."""
    duration: float
    outcome: str
    """A step outcome, or "interrupted" when the invocation died before the step finished."""

    @property
    def end(self) -> float:
        return self.start + self.duration

    def to_dict(self) -> dict[str, Any]:
        return {
            "invocation": self.invocation,
            "phase": self.phase,
            "kind": self.kind,
            "resource": self.resource,
            "start_seconds": round(self.start, 4),
            "duration_seconds": round(self.duration, 4),
            "outcome": self.outcome,
        }


@dataclass
class ScenarioResult:
    name: str
    title: str
    hypothesis: str
    az_id: str
    checks: list[Check] = field(default_factory=list)
    timeline: list[TimelineEntry] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    """Numbers worth reading: retries, faults injected, seconds to move traffic."""
    answers: list[dict[str, Any]] = field(default_factory=list)
    """What each handler invocation answered (or that it died)."""
    notifications: list[dict[str, str]] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    panel: dict[str, Any] | None = None
    """gray-failure: per-AZ metric lines and alarm states by simulated minute (html_report)."""

    @property
    def verdict(self) -> Verdict:
        """PASS needs at least one check, every check passed, and no error."""
        ok = self.error is None and bool(self.checks) and all(c.passed for c in self.checks)
        return "PASS" if ok else "FAIL"

    def to_dict(self, with_logs: bool = True) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "hypothesis": self.hypothesis,
            "az_id": self.az_id,
            "verdict": self.verdict,
            "error": self.error,
            "seconds": round(self.seconds, 3),
            "facts": self.facts,
            "checks": [c.to_dict() for c in self.checks],
            "timeline": [e.to_dict() for e in self.timeline],
            "answers": self.answers,
            "notifications": self.notifications,
            **({"panel": self.panel} if self.panel is not None else {}),
            **({"logs": self.logs} if with_logs else {}),
        }


@dataclass
class DrillReport:
    scenarios: list[ScenarioResult]
    started: datetime
    seconds: float

    @property
    def verdict(self) -> Verdict:
        return "PASS" if all(s.verdict == "PASS" for s in self.scenarios) else "FAIL"

    def to_dict(self) -> dict[str, Any]:
        return {
            "drill": "azevac",
            "verdict": self.verdict,
            "started_at": self.started.isoformat(),
            "seconds": round(self.seconds, 3),
            "scenarios": [s.to_dict() for s in self.scenarios],
        }


REVERT_OUTCOMES = frozenset({Outcome.REVERTED})


def build_timeline(
    events: Iterable[StepEvent], t0: datetime, invocations: Collection[str]
) -> list[TimelineEntry]:
    """The last record of each step in each listed invocation, timed from `t0`. A step still in
    progress when its invocation died ends at its last record and is "interrupted"; a step an
    earlier invocation finished, which a resuming one only re-verified, is drawn once."""
    last: dict[tuple[str, str], StepEvent] = {}
    finished_by: dict[str, str] = {}
    for event in events:
        if event.invocation not in invocations:
            continue
        key = str(event.record.key)
        if finished_by.setdefault(key, event.invocation) != event.invocation:
            if last[(finished_by[key], key)].record.outcome.is_final:
                continue
            finished_by[key] = event.invocation
        last[(event.invocation, key)] = event
    entries = []
    for event in last.values():
        record = event.record
        started = record.started_at or event.at
        if record.outcome in REVERT_OUTCOMES and record.finished_at is not None:
            started = record.finished_at  # a revert keeps its apply's start: draw it at its end
        finished = record.finished_at if record.outcome.is_final else None
        outcome = record.outcome.value if record.outcome.is_final else "interrupted"
        end = finished or event.at
        entries.append(
            TimelineEntry(
                invocation=event.invocation,
                phase=record.phase.value,
                kind=record.key.kind.value,
                resource=record.key.resource,
                start=(started - t0).total_seconds(),
                duration=max((end - started).total_seconds(), 0.0),
                outcome=outcome,
            )
        )
    order = {Phase.DATA_PLANE.value: 0, Phase.CONTROL_PLANE.value: 1}
    return sorted(entries, key=lambda e: (e.start, order.get(e.phase, 2), e.kind, e.resource))


def traffic_moved_at(timeline: Iterable[TimelineEntry]) -> float | None:
    """Seconds from the alarm until the last data-plane step was done."""
    ends = [
        e.end for e in timeline if e.phase == Phase.DATA_PLANE.value and e.outcome in TRAFFIC_MOVED
    ]
    return round(max(ends), 4) if ends else None
