"""The sequential baseline: the same plan, executed one step at a time, as a straightforward
script or runbook would (one Route 53 change per record set, no lanes, one worker)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from evacuation.controller import Controller
from evacuation.executor import Executor, StepListener
from evacuation.model import PlannedStep, StepKey, StepRecord
from evacuation.runtime import Runtime
from evacuation.settings import load


class SequentialExecutor(Executor):
    def run_phase(
        self, steps: Sequence[PlannedStep], stored: Mapping[StepKey, StepRecord]
    ) -> list[StepRecord]:
        records: list[StepRecord] = []
        for step in steps:
            records.extend(self._run_group([step], stored))
        return records


class SequentialController(Controller):
    def _executor(self, run, evacuation):  # type: ignore[no-untyped-def]
        return SequentialExecutor(
            self._executor_context(run, evacuation), self._store, self._clock, self._on_step
        )


class SequentialRuntime(Runtime):
    def controller(self, on_step: StepListener | None = None) -> Controller:
        built = super().controller(on_step)  # builds the state store once
        return SequentialController(
            load(self.settings, self.clients), self.clients, built._store, on_step=on_step
        )
