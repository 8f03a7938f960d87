"""Operator requests (manual handler, CLI, SSM runbook): validate, dispatch, answer in JSON."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from evacuation.controller import Controller
from evacuation.errors import InvalidRequestError
from evacuation.model import Evacuation, Trigger
from evacuation.result import Result, evacuation_dict
from evacuation.retry import Deadline

Action = Literal["plan", "evacuate", "recover", "status", "practice", "abandon", "verify"]


class ManualRequest(BaseModel):
    """`{"action": ..., "az": "use1-az1" or "us-east-1b", "dry_run": false, "reason": "why"}`."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    action: Action
    az: str | None = Field(default=None, min_length=1, max_length=32)
    dry_run: bool = False
    reason: str = Field(default="", max_length=500)
    force: bool = False
    """Override flap damping (a recent recovery of this AZ). Logged."""
    minutes: int | None = Field(default=None, ge=1, le=720)
    """practice: how long the AZ stays evacuated before recovering on its own."""
    stop_alarms: list[str] = Field(default_factory=list, max_length=10)
    """practice: recover at once if any of these alarms goes to ALARM."""
    no_wait: bool = False
    """recover: restore traffic without waiting for the AZ's capacity (said in the answer)."""
    recovered: bool = False
    """verify: check the state after recovery instead of the evacuation."""

    @model_validator(mode="after")
    def _az_when_needed(self) -> ManualRequest:
        if self.action != "status" and not self.az:
            raise ValueError(f"az is required for action {self.action}")
        if self.action == "practice" and self.minutes is None:
            raise ValueError("minutes is required for action practice")
        if self.action == "abandon" and not self.reason.strip():
            raise ValueError("reason is required for action abandon: it is recorded and sent")
        return self


def parse_request(payload: Any) -> ManualRequest:
    """Validate a payload; InvalidRequestError names every bad field."""
    if not isinstance(payload, Mapping):
        raise InvalidRequestError(f"payload: expected a JSON object, got {type(payload).__name__}")
    try:
        return ManualRequest.model_validate(dict(payload))
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            field = ".".join(str(p) for p in error["loc"]) or "payload"
            message = "unknown field" if error["type"] == "extra_forbidden" else error["msg"]
            problems.append(f"{field}: {message.removeprefix('Value error, ')}")
        raise InvalidRequestError("payload: " + "; ".join(problems)) from exc


def run_request(
    controller: Controller, request: ManualRequest, deadline: Deadline | None = None
) -> Result | list[Evacuation] | dict[str, Any]:
    """Carry out one operator request: a Result, the evacuations for `status`, or a verify
    answer (read-only, like status and plan)."""
    if request.action == "status":
        return controller.status()
    assert request.az is not None  # checked by the model
    if request.action == "verify":
        return controller.verify(request.az, recovered=request.recovered, deadline=deadline)
    reason = request.reason or f"manual {request.action}"
    if request.action == "plan" or (request.dry_run and request.action == "evacuate"):
        return controller.plan(request.az, deadline=deadline)
    if request.dry_run:  # recover, dry run: show what would be reverted, change nothing
        return controller.recover_preview(request.az, deadline=deadline)
    if request.action == "evacuate":
        return controller.evacuate(
            request.az,
            reason=reason,
            trigger=Trigger.MANUAL,
            deadline=deadline,
            force=request.force,
        )
    if request.action == "practice":
        assert request.minutes is not None  # checked by the model
        return controller.practice(
            request.az,
            minutes=request.minutes,
            stop_alarms=tuple(request.stop_alarms),
            reason=request.reason,
            deadline=deadline,
        )
    if request.action == "abandon":
        return controller.abandon(request.az, reason=request.reason, deadline=deadline)
    return controller.recover(
        request.az, reason=reason, deadline=deadline, wait=not request.no_wait
    )


def answer(workload: str, outcome: Result | list[Evacuation] | dict[str, Any]) -> dict[str, Any]:
    """The JSON the manual handler and `azevac --json` return."""
    if isinstance(outcome, Result):
        return outcome.to_dict()
    if isinstance(outcome, dict):
        return outcome
    return {
        "workload": workload,
        "status": "OK",
        "evacuations": [evacuation_dict(e) for e in outcome],
    }
