"""ARC zonal shift: start (or adopt) a shift away from the AZ; revert cancels only our own."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from evacuation.aws.zonal_shift import AUTOSHIFT, ManagedResource, ShiftConflictError
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


START_ROUNDS = 3
ADOPT_READS = 3
SIMULTANEOUS = "SimultaneousZonalShiftsConflict"


@dataclass
class ShiftUpkeep:
    """What the reconciler did to keep one evacuation's shifts in force."""

    extended: list[str] = field(default_factory=list)
    expiry: dict[str, datetime] = field(default_factory=dict)
    """resource -> the expiry of our shift on it now."""
    lost: dict[str, str] = field(default_factory=dict)
    """resource -> our recorded shift id, no longer active (expired, or cancelled by someone)."""
    failed: dict[str, str] = field(default_factory=dict)
    """resource -> why it could not be read or extended."""


def _shift_id(after: object) -> str | None:
    return str(after["shift_id"]) if isinstance(after, dict) and after.get("shift_id") else None


def _in_effect(resource: ManagedResource, az_id: str, shift_id: str | None) -> bool:
    if resource.applied_weights.get(az_id) != 0:
        return False
    shift = resource.shift(shift_id or "")
    return shift is None or shift.applied


def held_by_autoshift(resource: ManagedResource, az_id: str) -> bool:
    """An AWS autoshift away from the AZ is still in force on the resource (ARC-4, inferred:
    when azevac's shift ends, the next ACTIVE shift becomes APPLIED)."""
    return any(s.shift_type == AUTOSHIFT and s.away_from == az_id for s in resource.shifts)


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
        """StartZonalShift has no client token (aws-semantics ARC-7): after a conflict, adopt
        the customer shift away from our AZ that ARC names (our own lost response, or someone
        else's), re-reading a few times since reads may lag; a shift away from another AZ is a
        failure; SimultaneousZonalShiftsConflict (trigger undocumented) is retried after the
        re-read, never taken as final."""
        gateway = ctx.gateways.zonal_shift
        for _ in range(START_ROUNDS):
            try:
                shift_id = gateway.start(arn, ctx.az_id, _expires_in(ctx.config), ctx.comment)
            except ShiftConflictError as conflict:
                adopted = self._adopt(ctx, arn, conflict)
                if adopted is not None:
                    return adopted
                if conflict.reason != SIMULTANEOUS:
                    raise StepFailedError(
                        f"{arn}: StartZonalShift conflict {conflict.reason or '(no reason)'}, and "
                        f"no customer shift away from {ctx.az_id} appeared on re-reading it"
                    ) from conflict
                continue
            return {"shift_id": shift_id, "ours": True}
        raise StepFailedError(
            f"{arn}: StartZonalShift kept answering {SIMULTANEOUS} after {START_ROUNDS} tries"
        )

    def _adopt(self, ctx: RunContext, arn: str, conflict: ShiftConflictError) -> JsonValue | None:
        """The customer shift away from our AZ the conflict was about, if it shows up within a
        few reads; None when none does. A customer shift away from another AZ fails the step."""
        gateway = ctx.gateways.zonal_shift
        interval = ctx.config.execution.verify_interval_seconds
        for read in range(ADOPT_READS):
            if read:
                ctx.sleep(interval)
            resource = gateway.get_managed_resource(arn)
            customer = [s for s in resource.shifts if s.is_customer]
            named = resource.shift(conflict.zonal_shift_id or "")
            here = [s for s in customer if s.away_from == ctx.az_id]
            if named is not None and named.is_customer and named.away_from == ctx.az_id:
                here = [named]
            if here:
                return {"shift_id": here[0].shift_id, "ours": ctx.evacuation_id in here[0].comment}
            elsewhere = [s for s in customer if s.away_from != ctx.az_id]
            if elsewhere:
                raise StepFailedError(
                    f"{arn}: {elsewhere[0].describe()} appeared while starting ours away from "
                    f"{ctx.az_id}; one AZ per resource, so not shifting it"
                ) from conflict
        return None

    def verify(
        self, ctx: RunContext, steps: Sequence[PlannedStep], afters: Mapping[StepKey, Any]
    ) -> Mapping[StepKey, Verified]:
        """Converged when ARC shows the shift APPLIED and appliedWeights 0 for the AZ (ARC-4):
        an ACTIVE shift is not necessarily the one ARC applies."""
        waiting = {step.resource: step.key for step in steps}
        verdicts: dict[StepKey, Verified] = {}

        def check() -> Verified:
            workers = ctx.config.execution.max_workers_per_service
            for arn, seen in read_managed_resources(ctx.gateways, list(waiting), workers).items():
                if isinstance(seen, EvacuationError):
                    verdicts[waiting.pop(arn)] = Verified(Verdict.DIVERGED, f"read back: {seen}")
                elif _in_effect(seen, ctx.az_id, _shift_id(afters[waiting[arn]])):
                    verdicts[waiting.pop(arn)] = Verified(Verdict.CONVERGED)
            return Verified(Verdict.PENDING if waiting else Verdict.CONVERGED)

        ctx.poll(check)
        pending = Verified(
            Verdict.PENDING, f"ARC does not show the shift applied (appliedWeights[{ctx.az_id}])"
        )
        return {step.key: verdicts.get(step.key, pending) for step in steps}

    def extend_recorded(
        self, ctx: RunContext, records: Sequence[StepRecord], now: datetime, within: timedelta
    ) -> ShiftUpkeep:
        """Extend this evacuation's shifts that expire within `within`, found by the shift id
        recorded when azevac started them (a comment can be overwritten by anyone: ARC-8).
        Read in one listing; each resource succeeds or fails on its own."""
        recorded = {r.key.resource: sid for r in records if (sid := _shift_id(r.after))}
        upkeep = ShiftUpkeep()
        workers = ctx.config.execution.max_workers_per_service
        seen = read_managed_resources(ctx.gateways, list(recorded), workers)

        def keep(arn: str) -> None:
            resource = seen[arn]
            if isinstance(resource, EvacuationError):
                upkeep.failed[arn] = str(resource)
                return
            shift = resource.shift(recorded[arn])
            if shift is None:
                upkeep.lost[arn] = recorded[arn]
                return
            expiry = shift.expiry or now
            if expiry - now >= within:
                upkeep.expiry[arn] = expiry
                return
            try:
                upkeep.expiry[arn] = ctx.gateways.zonal_shift.extend(
                    shift.shift_id, _expires_in(ctx.config)
                )
                upkeep.extended.append(shift.shift_id)
            except EvacuationError as exc:
                upkeep.failed[arn] = str(exc)
                upkeep.expiry[arn] = expiry

        _side_by_side(ctx, keep, list(recorded))
        return upkeep

    def revert(self, ctx: RunContext, records: Sequence[StepRecord]) -> Mapping[StepKey, Reverted]:
        return {record.key: self._cancel_ours(ctx, record) for record in records}

    def _cancel_ours(self, ctx: RunContext, record: StepRecord) -> Reverted:
        gateway = ctx.gateways.zonal_shift
        recorded = record.after.get("shift_id") if isinstance(record.after, dict) else None
        if isinstance(record.after, dict) and record.after.get("ours") is False:
            return Reverted(Outcome.UNCHANGED, "the shift was not started by this evacuation")
        resource = gateway.get_managed_resource(record.key.resource)
        active = resource.shifts
        # Ours: the id we recorded, or (crash before recording it) our id in the comment.
        ours = [
            s
            for s in active
            if s.is_customer and (s.shift_id == recorded or ctx.evacuation_id in s.comment)
        ]
        still = (
            f"; traffic to {ctx.az_id} stays away: an AWS zonal autoshift away from it is in "
            "progress, and azevac leaves AWS's shifts alone"
        )
        if not ours:
            held = held_by_autoshift(resource, ctx.az_id)
            return Reverted(Outcome.UNCHANGED, "no active shift of this evacuation" + held * still)
        cancelled = [s.shift_id for s in ours if gateway.cancel(s.shift_id)]
        reason = still[2:] if held_by_autoshift(resource, ctx.az_id) else None
        return Reverted(Outcome.REVERTED, reason, after={"cancelled": cancelled})
