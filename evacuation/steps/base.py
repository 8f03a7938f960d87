"""What every step runner gets (the run context) and gives back (verdicts, revert results)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Protocol

from evacuation.config import Config
from evacuation.model import JsonValue, Outcome, PlannedStep, StepKey, StepRecord
from evacuation.observe import Gateways
from evacuation.retry import Deadline


class Verdict(Enum):
    CONVERGED = "converged"
    PENDING = "pending"
    DIVERGED = "diverged"


@dataclass(frozen=True)
class Verified:
    verdict: Verdict
    detail: str = ""
    after: JsonValue = None
    """When set, the step's after-image as verify found it (replaces what apply returned)."""


@dataclass(frozen=True)
class Failed:
    """What `apply` returns for one step of a batch that failed on its own: the others went on."""

    error: Exception


@dataclass(frozen=True)
class Reverted:
    outcome: Outcome
    reason: str | None = None
    after: JsonValue = None


@dataclass(frozen=True)
class RunContext:
    """Everything a runner needs for one run of one evacuation."""

    evacuation_id: str
    workload: str
    az_id: str
    config: Config
    gateways: Gateways
    comment: str
    deadline: Deadline
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    """Wall-clock time, for times reported in after-images; the executor sets its own."""

    def poll(self, check: Callable[[], Verified]) -> Verified:
        """Call `check` until it is not PENDING, or the verify timeout or the deadline passes."""
        execution = self.config.execution
        until = min(self.monotonic() + execution.verify_timeout_seconds, self.deadline.at)
        while True:
            result = check()
            if result.verdict is not Verdict.PENDING or self.monotonic() >= until:
                return result
            self.sleep(min(execution.verify_interval_seconds, max(until - self.monotonic(), 0)))


class StepRunner(Protocol):
    def apply(
        self, ctx: RunContext, steps: Sequence[PlannedStep]
    ) -> Mapping[StepKey, JsonValue | Failed]:
        """Make the change for these steps; return each after, or Failed for a step that failed
        alone. Raising fails the whole batch (a batch applied in one call)."""
        ...

    def verify(
        self, ctx: RunContext, steps: Sequence[PlannedStep], afters: Mapping[StepKey, Any]
    ) -> Mapping[StepKey, Verified]:
        """Read back the steps that applied: converged, pending (check later) or diverged."""
        ...

    def revert(self, ctx: RunContext, records: Sequence[StepRecord]) -> Mapping[StepKey, Reverted]:
        """Restore from each record's before-image; leave alone what this evacuation did not do."""
        ...
