"""ARC zonal shift: start (or adopt) a shift away from the AZ; revert cancels only our own."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any, TypeVar

from evacuation.aws.zonal_shift import ShiftAlreadyExistsError
from evacuation.config import Config
from evacuation.errors import EvacuationError, StepFailedError
from evacuation.model import JsonValue, Outcome, PlannedStep, StepKey, StepRecord
from evacuation.observe import read_managed_resources
from evacuation.steps.base import Failed, Reverted, RunContext, Verdict, Verified

T = TypeVar("T")
U = TypeVar("U")


def _side_by_side(ctx: RunContext, fn: Callable[[T], U], items: Sequence[T]) -> list[U]:
    """fn over items, up to the lane's worker count at a time, in the caller's log context."""
    if len(items) <= 1:
        return [fn(item) for item in items]
    workers = min(ctx.config.execution.max_workers_per_service, len(items))
    with ThreadPoolExecutor(workers, thread_name_prefix="arc-zonal-shift") as pool:
        futures = [pool.submit(contextvars.copy_context().run, fn, item) for item in items]
        return [future.result() for future in futures]


def _expires_in(config: Config) -> str:
    return config.zonal_shift.expires_in if config.zonal_shift else "6h"


class ZonalShiftRunner:
    """Shifts are independent: they start side by side (the pacer holds them to ARC's rate), each
    succeeds or fails alone, and they are read back together, in as few listings as fit."""

    def apply(
        self, ctx: RunContext, steps: Sequence[PlannedStep]
    ) -> Mapping[StepKey, JsonValue | Failed]:
        def start(step: PlannedStep) -> JsonValue | Failed:
            try:
                return self._start(ctx, step.resource)
            except Exception as exc:  # noqa: BLE001 - this step's failure; the executor records it
                return Failed(exc)

        return dict(zip([s.key for s in steps], _side_by_side(ctx, start, steps), strict=True))

    def _start(self, ctx: RunContext, arn: str) -> JsonValue:
        gateway = ctx.gateways.zonal_shift
        try:
            shift_id = gateway.start(arn, ctx.az_id, _expires_in(ctx.config), ctx.comment)
        except ShiftAlreadyExistsError:
            # Lost a race (or our own earlier response was lost): re-read and decide again.
            for shift in gateway.get_managed_resource(arn).shifts:
                if shift.is_customer and shift.away_from == ctx.az_id:
                    ours = ctx.evacuation_id in shift.comment
                    return {"shift_id": shift.shift_id, "ours": ours}
            raise StepFailedError(
                f"{arn}: another customer zonal shift appeared while starting ours, "
                f"away from a different AZ than {ctx.az_id}"
            ) from None
        return {"shift_id": shift_id, "ours": True}

    def verify(
        self, ctx: RunContext, steps: Sequence[PlannedStep], afters: Mapping[StepKey, Any]
    ) -> Mapping[StepKey, Verified]:
        waiting = {step.resource: step.key for step in steps}
        verdicts: dict[StepKey, Verified] = {}

        def check() -> Verified:
            workers = ctx.config.execution.max_workers_per_service
            for arn, seen in read_managed_resources(ctx.gateways, list(waiting), workers).items():
                if isinstance(seen, EvacuationError):
                    verdicts[waiting.pop(arn)] = Verified(Verdict.DIVERGED, f"read back: {seen}")
                elif seen.applied_weights.get(ctx.az_id) == 0:
                    verdicts[waiting.pop(arn)] = Verified(Verdict.CONVERGED)
            return Verified(Verdict.PENDING if waiting else Verdict.CONVERGED)

        ctx.poll(check)
        pending = Verified(Verdict.PENDING, f"appliedWeights[{ctx.az_id}] is not 0 yet")
        return {step.key: verdicts.get(step.key, pending) for step in steps}

    def extend_expiring(
        self, ctx: RunContext, records: Sequence[StepRecord], now: datetime, within: timedelta
    ) -> list[str]:
        """Extend this evacuation's shifts that expire within `within`; returns their ids."""
        extended = []
        for record in records:
            for shift in ctx.gateways.zonal_shift.get_managed_resource(record.key.resource).shifts:
                mine = shift.is_customer and ctx.evacuation_id in shift.comment
                if mine and shift.expiry - now < within:
                    ctx.gateways.zonal_shift.extend(shift.shift_id, _expires_in(ctx.config))
                    extended.append(shift.shift_id)
        return extended

    def revert(self, ctx: RunContext, records: Sequence[StepRecord]) -> Mapping[StepKey, Reverted]:
        return {record.key: self._cancel_ours(ctx, record) for record in records}

    def _cancel_ours(self, ctx: RunContext, record: StepRecord) -> Reverted:
        gateway = ctx.gateways.zonal_shift
        recorded = record.after.get("shift_id") if isinstance(record.after, dict) else None
        if isinstance(record.after, dict) and record.after.get("ours") is False:
            return Reverted(Outcome.UNCHANGED, "the shift was not started by this evacuation")
        active = gateway.get_managed_resource(record.key.resource).shifts
        # Ours: the id we recorded, or (crash before recording it) our id in the comment.
        ours = [
            s
            for s in active
            if s.is_customer and (s.shift_id == recorded or ctx.evacuation_id in s.comment)
        ]
        if not ours:
            return Reverted(Outcome.UNCHANGED, "no active shift of this evacuation")
        cancelled = [s.shift_id for s in ours if gateway.cancel(s.shift_id)]
        return Reverted(Outcome.REVERTED, after={"cancelled": cancelled})
