"""ARC zonal shift: start (or adopt) a shift away from the AZ; revert cancels only our own."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from evacuation.aws.zonal_shift import ShiftAlreadyExistsError
from evacuation.config import Config
from evacuation.errors import StepFailedError
from evacuation.model import JsonValue, Outcome, PlannedStep, StepKey, StepRecord
from evacuation.steps.base import Reverted, RunContext, Verdict, Verified


def _expires_in(config: Config) -> str:
    return config.zonal_shift.expires_in if config.zonal_shift else "6h"


class ZonalShiftRunner:
    def apply(self, ctx: RunContext, steps: Sequence[PlannedStep]) -> Mapping[StepKey, JsonValue]:
        return {step.key: self._start(ctx, step.resource) for step in steps}

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
        def check(arn: str) -> Verified:
            resource = ctx.gateways.zonal_shift.get_managed_resource(arn)
            if resource.applied_weights.get(ctx.az_id) == 0:
                return Verified(Verdict.CONVERGED)
            return Verified(Verdict.PENDING, f"appliedWeights[{ctx.az_id}] is not 0 yet")

        return {s.key: ctx.poll(partial(check, s.resource)) for s in steps}

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
