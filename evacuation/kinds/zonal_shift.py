"""ARC zonal shift (`zonal_shift`): a customer shift away from the AZ on every configured load
balancer, EKS cluster and Auto Scaling group; revert cancels only our own.

ARC's precedence rules decide what a shift does to the shifts already on a resource
(aws-semantics ARC-1..ARC-10); the reconciler extends ours by recorded id (ARC-8).
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, TypeVar

import structlog
from pydantic import Field, field_validator

from evacuation import guards
from evacuation.aws.eks import EksGateway
from evacuation.aws.zonal_shift import (
    AUTOSHIFT,
    FIS_EXPERIMENT,
    ActiveShift,
    Autoshift,
    ManagedResource,
    ShiftConflictError,
)
from evacuation.config import ExpiresIn, NonEmptyStr, Strict, listed_once
from evacuation.errors import EvacuationError, StepFailedError
from evacuation.kinds.base import (
    Kind,
    KindPlan,
    Permission,
    PlanInput,
    Stage,
    StepSpec,
    Tier,
    Upkeep,
    failed_step,
)
from evacuation.model import (
    Evacuation,
    JsonValue,
    Outcome,
    Phase,
    PlannedStep,
    StepKey,
    StepKind,
    StepRecord,
)
from evacuation.reads import each, guarded, page_budget
from evacuation.steps.base import Failed, Reverted, RunContext, Verdict, Verified

if TYPE_CHECKING:
    from evacuation.config import Config
    from evacuation.observe import Gateways, Observation

log = structlog.get_logger(__name__)
T = TypeVar("T")
U = TypeVar("U")

# -- config ---------------------------------------------------------------------------------------

ZONAL_SHIFT_ARN = re.compile(
    r"^arn:aws[a-z-]*:(elasticloadbalancing|autoscaling|eks):[a-z0-9-]+:[0-9]{12}:.+$"
)


class ZonalShiftConfig(Strict):
    resources: Annotated[list[NonEmptyStr], listed_once("resource")] = Field(min_length=1)
    expires_in: ExpiresIn = "6h"

    @field_validator("resources")
    @classmethod
    def _arns(cls, resources: list[str]) -> list[str]:
        for arn in resources:
            if not ZONAL_SHIFT_ARN.match(arn):
                raise ValueError(f"{arn!r} is not an ALB, NLB, Auto Scaling group or EKS ARN")
        return resources


def resource_service(arn: str) -> str:
    """The ARN's service: elasticloadbalancing, autoscaling or eks."""
    parts = arn.split(":")
    return parts[2] if len(parts) > 2 else ""


def is_group_arn(resource: str) -> bool:
    return resource.startswith("arn:") and resource_service(resource) == "autoscaling"


def _tier(resource: str) -> Tier:
    """EKS-1: the ingress load balancer first, then the cluster (and the groups)."""
    if resource_service(resource) == "elasticloadbalancing":
        return Tier.LOAD_BALANCER_SHIFTS
    return Tier.CLUSTER_AND_GROUP_SHIFTS


def is_cluster_arn(resource: str) -> bool:
    return resource.startswith("arn:") and resource_service(resource) == "eks"


def _stage(key: StepKey) -> Stage:
    """REC-1, EKS-1: a group's own shift and an EKS cluster's are cancelled in the capacity
    stage (the cluster's pods return to its EndpointSlices and target groups), then recover
    waits for the AZ's capacity, and only then are the load balancers' shifts cancelled
    (traffic). The multi-AZ workshop gives the mirror order on the way out: load balancer
    first, then the cluster (https://github.com/awslabs/multi-az-workshop, lab 5)."""
    if is_group_arn(key.resource) or is_cluster_arn(key.resource):
        return Stage.CAPACITY
    return Stage.TRAFFIC


# -- reads ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ZonalShiftObservation:
    resources: Mapping[str, ManagedResource | EvacuationError] = field(default_factory=dict)
    autoshifts: Sequence[Autoshift] | EvacuationError = ()
    """AWS's region-wide autoshifts in progress (ListAutoshifts), or why they could not be read."""
    eks_zonal_shift: Mapping[str, bool | EvacuationError] = field(default_factory=dict)
    """EKS cluster ARN -> DescribeCluster's zonalShiftConfig.enabled (readiness)."""


def eks_problems(configs: Mapping[str, bool | EvacuationError]) -> list[str]:
    """An EKS cluster is a zonal-shift resource only once it opted in with `zonalShiftConfig`
    (UpdateClusterConfig; https://docs.aws.amazon.com/eks/latest/userguide/zone-shift-enable.html);
    without it, a shift on the cluster does not take effect (ARC-9, inferred: no documented
    error code)."""
    problems = []
    for arn, enabled in configs.items():
        if isinstance(enabled, EvacuationError):
            problems.append(f"EKS cluster {arn}: cannot read its zonalShiftConfig ({enabled})")
        elif not enabled:
            problems.append(
                f"EKS cluster {arn}: zonalShiftConfig is not enabled; a zonal shift on it will "
                "not move its pods' traffic (aws eks update-cluster-config --zonal-shift-config "
                "enabled=true)"
            )
    return problems


def read_managed_resources(
    gateways: Gateways, arns: list[str], workers: int
) -> dict[str, ManagedResource | EvacuationError]:
    """Each resource as ARC shows it now: listed (a page per 100, within the page budget), the
    rest read one by one, `workers` at a time; a read that failed holds its error."""
    listed: Mapping[str, ManagedResource] = {}
    if len(arns) > 1:
        batch = guarded(
            lambda: gateways.zonal_shift.list_managed_resources(arns, page_budget(len(arns)))
        )
        if isinstance(batch, EvacuationError):
            log.warning("observe.list_failed", service="arc-zonal-shift", error=str(batch))
        else:
            listed = batch
    rest = [arn for arn in arns if arn not in listed]
    read = {**listed, **each(rest, gateways.zonal_shift.get_managed_resource, workers)}
    return {arn: read[arn] for arn in arns}


# -- plan -----------------------------------------------------------------------------------------

ZONAL_SHIFTS = "zonal-shifts"
"""The group of every zonal shift step: the runner starts them together and reads them back in
one listing (each resource still succeeds or fails on its own)."""


@dataclass(frozen=True)
class ShiftDecision:
    step: PlannedStep
    refusals: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


def zonal_shift_step(
    arn: str,
    observed: ManagedResource | EvacuationError,
    az_id: str,
    evacuation_id: str | None,
    recorded: StepRecord | None,
) -> ShiftDecision:
    """ARC-2's decision table, for one resource: what every shift already on it means for a
    customer shift away from `az_id` (aws-semantics.md §1.1)."""
    key = StepKey(StepKind.ZONAL_SHIFT, arn)
    group = ZONAL_SHIFTS
    if isinstance(observed, EvacuationError):
        return ShiftDecision(failed_step(key, observed, group=group))
    current = {
        "weight": observed.applied_weights.get(az_id),
        "shifts": [
            {
                "id": s.shift_id,
                "away_from": s.away_from,
                "type": s.shift_type,
                "applied": s.applied,
                "comment": s.comment,
            }
            for s in observed.shifts
        ],
    }
    intended: dict[str, Any] = {"away_from": az_id}
    if az_id not in observed.az_ids:
        reason = f"not deployed in {az_id} (it serves {', '.join(sorted(observed.az_ids))})"
        step = PlannedStep(key, current, None, False, skip_reason=reason, group=group)
        return ShiftDecision(step)
    recorded_id = _recorded_shift_id(recorded)
    customer_here = [s for s in observed.shifts if s.is_customer and s.away_from == az_id]
    ours = [
        s
        for s in customer_here
        if s.shift_id == recorded_id or (evacuation_id is not None and evacuation_id in s.comment)
    ]
    needs_change = not customer_here
    if ours:
        intended = {"away_from": az_id, "shift_id": ours[0].shift_id, "ours": True}
    in_the_way = guards.shifts_in_the_way(arn, az_id, observed.shifts)
    # A start would make ARC stop applying someone else's shift away from another AZ: refuse,
    # whatever max_evacuated_azs says. Holding the AZ already (no start), ARC-3 says page a
    # human and cancel nothing: either choice can send traffic into an impaired AZ.
    refusals = tuple(in_the_way) if needs_change else ()
    warnings = () if needs_change else tuple(f"{w}; not cancelled: page" for w in in_the_way)
    notes = [_shift_note(s, az_id) for s in observed.shifts if _shift_note(s, az_id)]
    if recorded_id and needs_change:
        notes.append(
            f"azevac's shift {recorded_id} is no longer active (expired, or cancelled by someone "
            "else): started again"
        )
    if customer_here and not ours:
        notes.append(
            f"pre-existing {customer_here[0].describe()} (not azevac's): traffic is already "
            "away; azevac never extends or cancels it"
        )
    step = PlannedStep(
        key,
        current,
        intended,
        needs_change,
        ours=bool(ours),
        group=group,
        note="; ".join(n for n in notes if n) or None,
        settled=needs_change or observed.applied_weights.get(az_id) == 0,
    )
    return ShiftDecision(step, refusals, warnings)


def _recorded_shift_id(record: StepRecord | None) -> str | None:
    after = record.after if record is not None else None
    return str(after["shift_id"]) if isinstance(after, dict) and after.get("shift_id") else None


def _shift_note(shift: ActiveShift, az_id: str) -> str | None:
    """What starting a customer shift does to a lower-precedence shift (ARC-2, ARC-5, ARC-6)."""
    if shift.is_practice:
        where = "the same AZ" if shift.away_from == az_id else f"{shift.away_from}, which gets "
        where += "" if shift.away_from == az_id else "its traffic back"
        return f"ARC interrupts {shift.describe()} (outcome INTERRUPTED): {where}"
    if shift.away_from != az_id:
        return None
    if shift.shift_type == AUTOSHIFT:
        return (
            f"{shift.describe()} in progress: azevac's customer shift keeps {az_id} away after "
            "AWS ends it; recover cancels only azevac's shift"
        )
    if shift.shift_type == FIS_EXPERIMENT:
        return f"ARC cancels {shift.describe()}: a game day of this AZ, replaced by azevac's shift"
    return None


def shift_signal(resources: Mapping[str, ManagedResource | EvacuationError]) -> str | None:
    """An AWS autoshift or an FIS experiment shift on one of these resources: a real event."""
    for arn, resource in resources.items():
        if isinstance(resource, EvacuationError):
            continue
        for shift in resource.shifts:
            if shift.shift_type in (AUTOSHIFT, FIS_EXPERIMENT):
                return f"{arn} has {shift.describe()}"
    return None


def resource_problems(resources: Mapping[str, ManagedResource | EvacuationError]) -> list[str]:
    problems = []
    for arn, resource in resources.items():
        if isinstance(resource, EvacuationError):
            problems.append(
                f"zonal shift resource {arn}: cannot read it ({resource}); is it registered "
                "for zonal shift (zonal_shift.config.enabled / ZonalShiftEnabled)?"
            )
        elif isinstance(resource, ManagedResource) and len(resource.az_ids) < 2:
            problems.append(f"zonal shift resource {arn}: serves only {sorted(resource.az_ids)}")
    return problems


# -- apply, verify, revert ------------------------------------------------------------------------


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
EXTEND_WITHIN = timedelta(hours=1)
EXPIRY_ALERT = timedelta(minutes=30)


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

        # EKS-1: the load balancers' shifts are started before the clusters' and the groups'.
        waves: dict[Tier, list[PlannedStep]] = {}
        for step in steps:
            waves.setdefault(_tier(step.resource), []).append(step)
        started: dict[StepKey, JsonValue | Failed] = {}
        for tier in sorted(waves):
            wave = waves[tier]
            started.update(zip([s.key for s in wave], _side_by_side(ctx, start, wave), strict=True))
        return {step.key: started[step.key] for step in steps}

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


# -- the kind -------------------------------------------------------------------------------------


class ZonalShiftKind(Kind):
    name = "zonal_shift"
    section = "zonal_shift"
    config_types: ClassVar[Mapping[str, Any]] = {"ZonalShiftConfig": ZonalShiftConfig}
    steps = (
        StepSpec(
            StepKind.ZONAL_SHIFT,
            Phase.DATA_PLANE,
            ZonalShiftRunner(),
            lane="arc-zonal-shift",
            tier=_tier,
            stage=_stage,
            independent=True,
        ),
    )
    permissions = (
        Permission(
            "ReadOnlyNoResourceLevel",
            (
                "arc-zonal-shift:GetManagedResource",
                "arc-zonal-shift:ListManagedResources",
                "arc-zonal-shift:ListAutoshifts",
                "eks:DescribeCluster",
            ),
        ),
        Permission("StartZonalShiftOnOurResources", ("arc-zonal-shift:StartZonalShift",)),
        Permission(
            "ExtendAndCancelZonalShifts",
            ("arc-zonal-shift:UpdateZonalShift", "arc-zonal-shift:CancelZonalShift"),
        ),
    )

    def restored_part(self, image: Any) -> Any:
        # weight is the share ARC applied then, which ARC sets (and an autoshift may move);
        # an AWS autoshift is AWS's to start and end (azevac never cancels one): recover cannot
        # put it back, and one that ended since the evacuation is not a failed recovery.
        if not isinstance(image, dict):
            return image
        kept = {k: v for k, v in image.items() if k != "weight"}
        if isinstance(kept.get("shifts"), list):
            kept["shifts"] = [
                s
                for s in kept["shifts"]
                if not (isinstance(s, dict) and s.get("type") == AUTOSHIFT)
            ]
        return kept

    def part(self, observation: Observation) -> ZonalShiftObservation:
        found = observation.parts.get(self.name)
        return found if isinstance(found, ZonalShiftObservation) else ZonalShiftObservation()

    def read(self, config: Config, gateways: Gateways) -> ZonalShiftObservation:
        arns = config.zonal_shift.resources if config.zonal_shift else []
        workers = config.execution.max_workers_per_service
        if not arns:
            return ZonalShiftObservation()
        clusters = [arn for arn in arns if is_cluster_arn(arn)]
        # One region-wide listing, not a read per resource: an autoshift is per AZ. EKS clusters'
        # own configuration (readiness) side by side.
        with ThreadPoolExecutor(2, thread_name_prefix="observe") as pool:
            autoshifts = pool.submit(
                contextvars.copy_context().run, guarded, gateways.zonal_shift.active_autoshifts
            )
            eks = pool.submit(
                contextvars.copy_context().run,
                each,
                clusters,
                lambda arn: gateways.of(EksGateway).zonal_shift_enabled(arn),
                workers,
            )
            resources = read_managed_resources(gateways, arns, workers)
            return ZonalShiftObservation(resources, autoshifts.result(), eks.result())

    def plan(self, given: PlanInput) -> KindPlan:
        config, az_id = given.config, given.az_id
        if not config.zonal_shift:
            return KindPlan()
        part = self.part(given.observation)
        steps: list[PlannedStep] = []
        refusals: list[str] = []
        warnings: list[str] = []
        out_of_service: dict[str, str] = {}
        for arn in config.zonal_shift.resources:
            observed = part.resources[arn]
            recorded = given.touched.get(StepKey(StepKind.ZONAL_SHIFT, arn))
            decision = zonal_shift_step(arn, observed, az_id, given.evacuation_id, recorded)
            steps.append(decision.step)
            refusals.extend(decision.refusals)
            warnings.extend(decision.warnings)
            if isinstance(observed, ManagedResource):
                for shift in observed.shifts:
                    if shift.away_from != az_id and not shift.is_practice:
                        out_of_service.setdefault(shift.away_from, f"{arn} has {shift.describe()}")
        return KindPlan(steps, refusals, warnings, out_of_service)

    def readiness(self, config: Config, observation: Observation) -> list[str]:
        part = self.part(observation)
        return resource_problems(part.resources) + eks_problems(part.eks_zonal_shift)

    def az_ids(self, config: Config, observation: Observation) -> set[str]:
        return {
            az
            for resource in self.part(observation).resources.values()
            if isinstance(resource, ManagedResource)
            for az in resource.az_ids
        }

    def start_checks(
        self, config: Config, observation: Observation, az_id: str, automatic: bool
    ) -> tuple[list[str], list[str]]:
        """ARC-2: AWS autoshifting away from another AZ means this one probably carries its
        load. Unreadable: alarm-triggered runs refuse, manual runs go ahead saying so."""
        autoshifts = self.part(observation).autoshifts
        if isinstance(autoshifts, EvacuationError):
            unreadable = f"cannot read ARC autoshifts ({autoshifts}) to rule out one elsewhere"
            if automatic:
                return [f"{unreadable}; not acting alone"], []
            return [], [f"{unreadable}; manual run goes ahead"]
        refusal = guards.autoshifts_elsewhere(az_id, autoshifts)
        return ([refusal] if refusal else []), []

    def holding_alerts(self, observation: Observation, az_id: str) -> list[str]:
        """ARC-3: while azevac holds `az_id`, an AWS autoshift away from another AZ is kept from
        applying wherever our shift outranks it. Page; cancel nothing automatically."""
        autoshifts = self.part(observation).autoshifts
        if isinstance(autoshifts, EvacuationError):
            return [f"cannot read ARC autoshifts ({autoshifts})"]
        others = sorted({a.away_from for a in autoshifts if a.away_from != az_id})
        if not others:
            return []
        return [
            f"AWS is autoshifting away from {', '.join(others)} while azevac holds {az_id}: ARC "
            f"applies azevac's shift instead of AWS's on shared resources; a human must decide "
            f"which AZ to keep out (azevac cancels nothing on its own)"
        ]

    def real_signal(self, observation: Observation) -> str | None:
        part = self.part(observation)
        if not isinstance(part.autoshifts, EvacuationError) and part.autoshifts:
            away = ", ".join(sorted({a.away_from for a in part.autoshifts}))
            return f"AWS zonal autoshift in progress away from {away}"
        return shift_signal(part.resources)

    def upkeep(self, ctx: RunContext, evacuation: Evacuation, now: datetime) -> Upkeep:
        """ARC-8: every azevac shift of the evacuation (a group's too) extended by recorded id;
        a lost one reported (and re-started by the drift repair that follows)."""
        records = [
            s
            for s in evacuation.steps
            if s.key.kind is StepKind.ZONAL_SHIFT and s.changed_something
        ]
        if not records:
            return Upkeep()
        kept = ZonalShiftRunner().extend_recorded(ctx, records, now, EXTEND_WITHIN)
        where = f"{evacuation.az_id} ({evacuation.evacuation_id})"
        bound = log.bind(evacuation_id=evacuation.evacuation_id, az_id=evacuation.az_id)
        alerts = []
        for arn, shift_id in sorted(kept.lost.items()):
            bound.warning("reconcile.shift_lost", resource=arn, shift=shift_id)
            alerts.append(
                f"{where}: azevac's zonal shift {shift_id} on {arn} is no longer active (expired "
                "or cancelled by someone else); traffic may be back in the AZ"
            )
        for arn, error in sorted(kept.failed.items()):
            bound.error("reconcile.shift_upkeep_failed", resource=arn, error=error)
            expiry = kept.expiry.get(arn)
            soon = (
                f"; it expires at {expiry:%H:%M:%S}Z"
                if expiry is not None and expiry - now < EXPIRY_ALERT
                else ""
            )
            alerts.append(f"{where}: cannot extend the zonal shift on {arn} ({error}){soon}")
        lost = {StepKey(StepKind.ZONAL_SHIFT, arn): sid for arn, sid in kept.lost.items()}
        return Upkeep(kept.extended, alerts, lost)


KIND = ZonalShiftKind()
