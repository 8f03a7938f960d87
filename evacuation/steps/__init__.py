"""What every step runner is (apply, verify, revert) and gets (the run context). The runners
themselves live with their resource kind (`evacuation/kinds/<kind>.py`)."""

from __future__ import annotations

from typing import Any

from evacuation.steps.base import Failed, RunContext, StepRunner, Verdict, Verified

__all__ = ["RUNNERS", "Failed", "RunContext", "StepRunner", "Verdict", "Verified"]


def __getattr__(name: str) -> Any:
    if name == "RUNNERS":  # StepKind -> runner, from the registry (the kinds import this package)
        from evacuation.kinds import SPECS  # noqa: PLC0415

        return {kind: spec.runner for kind, spec in SPECS.items()}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
