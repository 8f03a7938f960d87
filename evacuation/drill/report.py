"""What a drill found: per scenario the hypothesis, the checks, the timeline and the verdict."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from evacuation.drill.checks import Check
from evacuation.drill.lab import StepEvent
from evacuation.model import Outcome, Phase

Verdict = Literal["PASS", "FAIL"]
TRAFFIC_MOVED = frozenset(
    {Outcome.APPLIED.value, Outcome.UNCHANGED.value, Outcome.PENDING.value, "verified"}
)


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
    invocations: list[dict[str, Any]] = field(default_factory=list)
    """Each handler invocation on the timeline: label, start and end seconds after the alarm,
    what it answered (evacuations and recoveries alike)."""

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
            "invocations": self.invocations,
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


VERIFIED = "verified"
"""A resuming invocation found the change an earlier one made in effect and recorded it: it
made no call for it."""
DIED_AFTER_APPLYING = "applied, then died"
"""The invocation made the change (a later one found it in effect) and died before recording."""


def build_timeline(
    events: Iterable[StepEvent],
    t0: datetime,
    invocations: Collection[str],
    spans: Mapping[str, tuple[datetime, datetime]] | None = None,
    recoveries: Collection[str] = (),
) -> list[TimelineEntry]:
    """The last record of each step in each listed invocation, timed from `t0`.

    Each entry starts no earlier than its own invocation (`spans`: label -> start, finish): a
    record carried over from an earlier invocation keeps that one's `started_at`, which would
    draw the later invocation at the earlier one's start. A step still in progress when its
    invocation died ends when that invocation ended and is "interrupted", or "applied, then
    died" when the next invocation found its change in effect ("verified", no call made); a
    step an earlier invocation finished, which a resuming one only re-verified, is drawn once;
    the `recoveries` (invocations that recover) are drawn apart, after it.
    """
    spans = spans or {}
    last: dict[tuple[str, str], StepEvent] = {}
    finished_by: dict[str, str] = {}
    for event in events:
        if event.invocation not in invocations:
            continue
        key = str(event.record.key)
        if event.invocation in recoveries:
            key = f"recover {key}"
        if finished_by.setdefault(key, event.invocation) != event.invocation:
            if last[(finished_by[key], key)].record.outcome.is_final:
                continue
            finished_by[key] = event.invocation
        last[(event.invocation, key)] = event
    verified: set[str] = set()
    entries: list[TimelineEntry] = []
    for (invocation, _), event in last.items():
        record = event.record
        key = str(record.key)
        span = spans.get(invocation)
        started = record.started_at or event.at
        carried = span is not None and started < span[0]
        if carried and span is not None:
            started = span[0]
        final = record.outcome.is_final
        outcome = record.outcome.value if final else "interrupted"
        if carried and record.outcome is Outcome.APPLIED:
            outcome = VERIFIED
            verified.add(key)
        end = record.finished_at if final and record.finished_at else event.at
        if not final and span is not None:
            end = span[1]
        entries.append(
            TimelineEntry(
                invocation=invocation,
                phase=record.phase.value,
                kind=record.key.kind.value,
                resource=record.key.resource,
                start=(started - t0).total_seconds(),
                duration=max((end - started).total_seconds(), 0.0),
                outcome=outcome,
            )
        )
    entries = [
        replace(e, outcome=DIED_AFTER_APPLYING)
        if e.outcome == "interrupted" and f"{e.kind}:{e.resource}" in verified
        else e
        for e in entries
    ]
    order = {Phase.DATA_PLANE.value: 0, Phase.CONTROL_PLANE.value: 1}
    return sorted(entries, key=lambda e: (e.start, order.get(e.phase, 2), e.kind, e.resource))


def traffic_moved_at(
    timeline: Iterable[TimelineEntry], recoveries: Collection[str] = ()
) -> float | None:
    """Seconds from the alarm until the last data-plane step of the evacuation was done."""
    ends = [
        e.end
        for e in timeline
        if e.phase == Phase.DATA_PLANE.value
        and e.outcome in TRAFFIC_MOVED
        and e.invocation not in recoveries
    ]
    return round(max(ends), 4) if ends else None
