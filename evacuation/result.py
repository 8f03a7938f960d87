"""What plan / evacuate / recover / status return: one shape for the handlers, CLI and drill."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from evacuation.model import Evacuation, Outcome, PlannedStep, Status, StepRecord


@dataclass(frozen=True)
class Result:
    workload: str
    az_id: str
    status: Status
    evacuation_id: str | None = None
    reason: str | None = None
    steps: tuple[StepRecord, ...] = ()
    retries: int = 0
    data_plane_seconds: float | None = None
    total_seconds: float | None = None
    refusals: tuple[str, ...] = field(default=())
    preempted: tuple[Result, ...] = field(default=())
    """Practice runs this run ended first (recovered), because a real evacuation outranks them."""

    @property
    def failed(self) -> bool:
        """Anything an operator must look at: a refusal, or a step that failed."""
        return self.status is Status.REFUSED or any(s.outcome is Outcome.FAILED for s in self.steps)

    def to_dict(self) -> dict[str, Any]:
        """The JSON the manual handler and `azevac --json` return."""
        return {
            "evacuation_id": self.evacuation_id,
            "workload": self.workload,
            "az_id": self.az_id,
            "status": self.status.value,
            "reason": self.reason,
            "refusals": list(self.refusals),
            "retries": self.retries,
            "data_plane_seconds": self.data_plane_seconds,
            "total_seconds": self.total_seconds,
            "steps": [step_dict(s) for s in self.steps],
            **({"preempted": [r.to_dict() for r in self.preempted]} if self.preempted else {}),
        }


ANSWER_STEP_LIMIT = 200
NOT_DONE_FIRST = {"failed": 0, "pending": 1, "in_progress": 2}
STEP_TEXT_MAX = 500
RESPONSE_MAX_BYTES = 6 * 1024 * 1024 - 64 * 1024
"""Lambda's synchronous response limit (6 MB), less a margin for the invoke envelope."""


def bounded(answer: dict[str, Any], limit: int = ANSWER_STEP_LIMIT) -> dict[str, Any]:
    """`answer` with its steps cut to what fits anywhere it is stored.

    The alarm handler's answer is kept in the idempotency record, a DynamoDB item (400 KB at
    most): 1,000 resources' before- and after-images do not fit. The state table keeps every
    step in full; here each step keeps its outcome and error, the steps that did not converge
    come first, and `step_counts` and `steps_omitted` say what was left out.
    """
    steps = answer.get("steps", [])
    ordered = sorted(steps, key=lambda s: NOT_DONE_FIRST.get(s["outcome"], 3))
    kept = [
        {
            k: _cut(s[k]) if k in ("error", "reason") else s[k]
            for k in ("phase", "kind", "resource", "outcome", "error", "reason")
        }
        for s in ordered[:limit]
    ]
    counts: dict[str, int] = {}
    for step in steps:
        counts[step["outcome"]] = counts.get(step["outcome"], 0) + 1
    return {**answer, "steps": kept, "step_counts": counts, "steps_omitted": len(steps) - len(kept)}


def fit(answer: dict[str, Any], max_bytes: int = RESPONSE_MAX_BYTES) -> dict[str, Any]:
    """`answer` as it is when it fits `max_bytes` of JSON (Lambda's 6 MB response), else with
    every step list `bounded` (images dropped, not-done steps first, counts kept), then fewer
    steps per list until it fits. The state table keeps everything: `azevac status --az`."""
    if _size(answer) <= max_bytes:
        return answer
    limit = ANSWER_STEP_LIMIT
    while True:
        shaped = _bounded_everywhere(answer, limit)
        if _size(shaped) <= max_bytes or limit == 0:
            note = "cut to fit the response limit; azevac status --az <AZ> shows every step"
            return {**shaped, "truncated": note}
        limit //= 4


def _bounded_everywhere(answer: dict[str, Any], limit: int) -> dict[str, Any]:
    shaped = bounded(answer, limit) if "steps" in answer else dict(answer)
    for nested in ("evacuations", "preempted"):
        if nested in shaped:
            shaped[nested] = [bounded(e, limit) for e in shaped[nested]]
    return shaped


def _size(answer: dict[str, Any]) -> int:
    return len(json.dumps(answer, default=str).encode("utf-8"))


def _cut(text: Any) -> Any:
    if isinstance(text, str) and len(text) > STEP_TEXT_MAX:
        return text[: STEP_TEXT_MAX - 3] + "..."
    return text


def step_dict(step: StepRecord) -> dict[str, Any]:
    return {
        "phase": step.phase.value,
        "kind": step.key.kind.value,
        "resource": step.key.resource,
        "before": step.before,
        "after": step.after,
        "outcome": step.outcome.value,
        "error": step.error,
        "reason": step.reason,
        "started_at": _iso(step.started_at),
        "finished_at": _iso(step.finished_at),
    }


def evacuation_dict(evacuation: Evacuation) -> dict[str, Any]:
    return {
        "evacuation_id": evacuation.evacuation_id,
        "workload": evacuation.workload,
        "az_id": evacuation.az_id,
        "status": evacuation.status.value,
        "trigger": evacuation.trigger.value,
        "reason": evacuation.reason,
        "created_at": _iso(evacuation.created_at),
        "finished_at": _iso(evacuation.finished_at),
        "recovered_at": _iso(evacuation.recovered_at),
        "practice_until": _iso(evacuation.practice_until),
        "data_plane_seconds": evacuation.data_plane_seconds,
        "guards": list(evacuation.guards),
        "steps": [
            {
                **step_dict(s),
                "attempts": s.attempts,
                "applied_at": _iso(s.applied_at),
                "revert_started_at": _iso(s.revert_started_at),
            }
            for s in evacuation.steps
        ],
        "notices": [
            {"at": _iso(n.at), "subject": n.subject, "delivered": n.delivered, "error": n.error}
            for n in evacuation.notices
        ],
    }


def preview(step: PlannedStep) -> StepRecord:
    """A planned step shown as a record: planned, unchanged, skipped or failed (unreadable)."""
    if step.error is not None:
        outcome = Outcome.FAILED
    elif step.skip_reason is not None:
        outcome = Outcome.SKIPPED
    elif step.needs_change:
        outcome = Outcome.PLANNED
    else:
        outcome = Outcome.UNCHANGED
    return StepRecord(
        step.key,
        outcome,
        before=step.current,
        after=step.intended,
        error=step.error,
        reason=step.skip_reason,
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
