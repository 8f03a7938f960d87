"""EC2 Auto Scaling (`autoscaling`): per group, its own ARC zonal shift where it takes one
(ASG-7), else AZRebalance suspended, the AZ's subnets (or AZs) removed, and with prescale the
desired capacity raised (ASG-3); revert exactly, capacity before traffic (REC-1).
"""

from __future__ import annotations

import contextvars
import math
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

import structlog
from pydantic import Field, field_validator

from evacuation import guards
from evacuation.aws.autoscaling import Group
from evacuation.aws.zonal_shift import ManagedResource
from evacuation.config import NonEmptyStr, Strict, listed_once
from evacuation.errors import EvacuationError, StepFailedError
from evacuation.kinds.base import (
    CapacityCheck,
    Kind,
    KindPlan,
    Permission,
    PlanInput,
    Stage,
    StepSpec,
    Tier,
    failed_step,
    fixed,
    zone_ids,
)
from evacuation.kinds.zonal_shift import KIND as SHIFTS
from evacuation.kinds.zonal_shift import (
    ZONAL_SHIFTS,
    is_group_arn,
    read_managed_resources,
    resource_problems,
    shift_signal,
    zonal_shift_step,
)
from evacuation.model import (
    AZ_ID_PATTERN,
    Evacuation,
    JsonValue,
    Outcome,
    Phase,
    PlannedStep,
    StepKey,
    StepKind,
    StepRecord,
)
from evacuation.reads import each, guarded
from evacuation.steps.base import Reverted, RunContext, Verdict, Verified

if TYPE_CHECKING:
    from evacuation.config import Config
    from evacuation.observe import Gateways, Observation

log = structlog.get_logger(__name__)

# -- config ---------------------------------------------------------------------------------------

ASG_PROCESSES = frozenset(
    {
        "Launch",
        "Terminate",
        "AddToLoadBalancer",
        "AlarmNotification",
        "AZRebalance",
        "HealthCheck",
        "InstanceRefresh",
        "ReplaceUnhealthy",
        "ScheduledActions",
    }
)
SUSPENDABLE = {
    "AZRebalance": "keeps the group from moving capacity back into the AZ while it is out",
    "ScheduledActions": "keeps scheduled scale-ins from shrinking the surviving AZs; nothing is "
    "launched or terminated by suspending it",
}
"""The only processes azevac may suspend: suspending either cannot destroy capacity.

Launch stops replacements (ReplaceUnhealthy still terminates), Terminate lets AZRebalance hold the
group above MaxSize, HealthCheck and ReplaceUnhealthy keep broken instances in service,
AddToLoadBalancer leaves new instances unregistered even after the resume, InstanceRefresh pauses
a refresh, AlarmNotification stops scaling policies
(https://docs.aws.amazon.com/autoscaling/ec2/userguide/understand-how-suspending-processes-affects-other-processes.html;
aws-semantics ASG-6)."""


class AutoScalingConfig(Strict):
    groups: Annotated[list[NonEmptyStr], listed_once("group")] = Field(min_length=1)
    suspend_processes: list[str] = Field(default_factory=lambda: ["AZRebalance"])
    method: Literal["auto", "zonal_shift", "subnets"] = "auto"
    """The lever per group: "auto" takes the group's own ARC zonal shift where the group reports
    ZonalShiftEnabled and its subnets elsewhere; "zonal_shift" requires it of every group;
    "subnets" always removes the AZ's subnets (with the processes suspended first)."""

    @field_validator("suspend_processes")
    @classmethod
    def _known_processes(cls, processes: list[str]) -> list[str]:
        unknown = sorted(set(processes) - ASG_PROCESSES)
        if unknown:
            raise ValueError(f"unknown process {unknown}; known: {sorted(ASG_PROCESSES)}")
        harmful = sorted(set(processes) - set(SUSPENDABLE))
        if harmful:
            raise ValueError(
                f"{harmful} must not be suspended during an evacuation: suspending Launch, "
                "Terminate, HealthCheck, ReplaceUnhealthy, AddToLoadBalancer, InstanceRefresh or "
                "AlarmNotification can destroy or freeze capacity; allowed: "
                + "; ".join(f"{name} ({why})" for name, why in SUSPENDABLE.items())
            )
        return list(dict.fromkeys(processes))


# -- reads ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AutoScalingObservation:
    groups: Mapping[str, Group | EvacuationError] = field(default_factory=dict)
    resources: Mapping[str, ManagedResource | EvacuationError] = field(default_factory=dict)
    """The ARC records of the groups that take zonal shifts (their ARNs are known only once the
    groups are read)."""
    subnet_az: Mapping[str, str] = field(default_factory=dict)
    """subnet id -> AZ ID, for every subnet that could be resolved."""
    subnet_errors: Mapping[str, EvacuationError] = field(default_factory=dict)
    """group name -> why its subnets could not be resolved (only that group's steps fail)."""
    zone_ids: Mapping[str, str] | None = field(default_factory=dict)
    """AZ name -> ID, read only when a group is defined by AZ names; None if that read failed."""


def _observe_groups(gateways: Gateways, names: list[str]) -> dict[str, Group | EvacuationError]:
    if not names:
        return {}
    described = guarded(lambda: gateways.autoscaling.describe_groups(names))
    if isinstance(described, EvacuationError):
        return dict.fromkeys(names, described)
    missing = EvacuationError("Auto Scaling group not found")
    return {name: described.get(name, missing) for name in names}


def _zone_ids(
    gateways: Gateways, groups: Mapping[str, Group | EvacuationError]
) -> Mapping[str, str] | None:
    """The zone map, read only for groups defined by AZ names (no subnets, no AZ IDs)."""
    by_name = [
        g for g in groups.values() if isinstance(g, Group) and not g.subnets and not g.zone_ids
    ]
    if not by_name:
        return {}
    zones = zone_ids(gateways)
    if isinstance(zones, EvacuationError):
        log.warning("observe.zones_failed", service="ec2", error=str(zones))
        return None
    return zones


def _resolve_subnets(
    gateways: Gateways, groups: Mapping[str, Group | EvacuationError], workers: int
) -> tuple[dict[str, str], dict[str, EvacuationError]]:
    """Each group's subnets -> AZ IDs, in one batched read; when that read fails (a stale subnet
    id fails the whole DescribeSubnets, as do AccessDenied and an EC2 brown-out), group by
    group, so that only the groups whose own read fails lose their steps (aws-semantics ASG-9).
    The data plane never waits on this: EC2 is a control-plane dependency."""
    found = {name: g for name, g in groups.items() if isinstance(g, Group) and g.subnets}
    if not found:
        return {}, {}
    everything = guarded(
        lambda: gateways.ec2.subnet_zone_ids(s for g in found.values() for s in g.subnets)
    )
    if not isinstance(everything, EvacuationError):
        return dict(everything), {}
    log.warning("observe.subnets_failed", service="ec2", error=str(everything))
    if len(found) == 1:
        return {}, dict.fromkeys(found, everything)
    per_group = each(
        list(found), lambda name: gateways.ec2.subnet_zone_ids(found[name].subnets), workers
    )
    subnet_az: dict[str, str] = {}
    errors: dict[str, EvacuationError] = {}
    for name, resolved in per_group.items():
        if isinstance(resolved, EvacuationError):
            errors[name] = resolved
        else:
            subnet_az.update(resolved)
    return subnet_az, errors


# -- plan -----------------------------------------------------------------------------------------


def _group_steps(
    name: str,
    part: AutoScalingObservation,
    az_id: str,
    config: Config,
    *,
    touched: Mapping[StepKey, StepRecord],
    evacuation_id: str | None,
) -> list[PlannedStep]:
    """A group's steps. Whatever happens here is this group's alone: a group that cannot be
    read, resolved or safely changed gets failed or skipped steps, and the data plane and the
    other groups go on (aws-semantics ASG-9; background.md: data plane first).

    The lever (aws-semantics ASG-7): a group that takes ARC zonal shifts gets one (nothing is
    terminated and no configuration rewritten); the others have the AZ's subnets (or AZs)
    removed, AZRebalance suspended first, prescale last (ASG-3).
    """
    assert config.autoscaling is not None
    observed = part.groups[name]
    processes_key = StepKey(StepKind.ASG_PROCESSES, name)
    subnets_key = StepKey(StepKind.ASG_SUBNETS, name)
    group = f"asg:{name}"
    if isinstance(observed, EvacuationError):
        error = EvacuationError(f"Auto Scaling group {name}: {observed}")
        return [failed_step(k, error, group) for k in (processes_key, subnets_key)]
    lever, why = _lever(observed, config.autoscaling.method, touched)
    if lever == "zonal_shift":
        return [
            _group_shift_step(
                observed, part, az_id, evacuation_id=evacuation_id, touched=touched, why=why
            )
        ]
    if lever == "none":
        return [
            PlannedStep(processes_key, None, None, False, why, gap=True, group=group),
            PlannedStep(subnets_key, None, None, False, why, gap=True, group=group),
        ]
    return _subnet_lever_steps(observed, part, az_id, config, touched=touched, why=why)


def _lever(observed: Group, method: str, touched: Mapping[StepKey, StepRecord]) -> tuple[str, str]:
    """("zonal_shift" | "subnets" | "none", why) for one group. A resumed evacuation keeps the
    lever it started with, whatever the group reports now."""
    if StepKey(StepKind.ZONAL_SHIFT, observed.arn) in touched:
        return "zonal_shift", "lever: the group's ARC zonal shift (as when this evacuation started)"
    if any(StepKey(k, observed.name) in touched for k in SUBNET_LEVER_KINDS):
        return "subnets", "lever: its subnets (as when this evacuation started)"
    if method == "subnets":
        return "subnets", "lever: its subnets (autoscaling.method subnets)"
    if observed.zonal_shift_enabled and observed.arn:
        return "zonal_shift", (
            "lever: the group's ARC zonal shift (ZonalShiftEnabled): it launches only in healthy "
            "AZs and does not scale in; no subnet removed, no process suspended"
        )
    if method == "zonal_shift":
        return "none", (
            f"Auto Scaling group {observed.name} is not enabled for zonal shift "
            "(AvailabilityZoneImpairmentPolicy.ZonalShiftEnabled) and autoscaling.method is "
            "zonal_shift: new capacity can still land in the AZ"
        )
    return "subnets", "lever: its subnets (the group is not enabled for zonal shift)"


SUBNET_LEVER_KINDS = (StepKind.ASG_PROCESSES, StepKind.ASG_SUBNETS, StepKind.ASG_ZONES)


def _group_shift_step(
    observed: Group,
    part: AutoScalingObservation,
    az_id: str,
    *,
    evacuation_id: str | None,
    touched: Mapping[StepKey, StepRecord],
    why: str,
) -> PlannedStep:
    """The group's own zonal shift: a zonal shift like any other (every ARC rule holds), in the
    data plane's shift batch. Its current image also keeps the AZ's serving capacity, which
    recover waits for before traffic comes back."""
    resource = part.resources.get(observed.arn)
    key = StepKey(StepKind.ZONAL_SHIFT, observed.arn)
    if resource is None:
        error = EvacuationError(f"Auto Scaling group {observed.name}: not read from ARC")
        return failed_step(key, error, ZONAL_SHIFTS)
    decision = zonal_shift_step(observed.arn, resource, az_id, evacuation_id, touched.get(key))
    step = decision.step
    if step.error is not None:
        return step
    current = {**step.current, "group": observed.name, **_serving(observed, az_id)}
    note = "; ".join(n for n in (why, step.note) if n)
    if decision.refusals:
        # Starting it would make ARC stop applying another party's shift on the group: never.
        # A capacity lever, so this group alone is left as it is (PARTIAL), not the evacuation.
        reason = "; ".join(decision.refusals)
        return replace(step, current=current, needs_change=False, skip_reason=reason, gap=True)
    return replace(step, current=current, note=note)


def _serving(observed: Group, az_id: str) -> dict[str, float]:
    return {"serving_in_az": observed.serving_in(az_id)}


def _subnet_lever_steps(
    observed: Group,
    part: AutoScalingObservation,
    az_id: str,
    config: Config,
    *,
    touched: Mapping[StepKey, StepRecord],
    why: str,
) -> list[PlannedStep]:
    assert config.autoscaling is not None
    name = observed.name
    processes_key = StepKey(StepKind.ASG_PROCESSES, name)
    placement_kind = StepKind.ASG_SUBNETS if observed.subnets else StepKind.ASG_ZONES
    placement_key = StepKey(placement_kind, name)
    capacity_key = StepKey(StepKind.ASG_CAPACITY, name)
    group = f"asg:{name}"
    keys = [processes_key, placement_key]

    def fail_all(error: EvacuationError) -> list[PlannedStep]:
        return [failed_step(k, error, group) for k in keys]

    if observed.subnets:
        if name in part.subnet_errors:
            error = part.subnet_errors[name]
            return fail_all(EvacuationError(f"Auto Scaling group {name}: subnets: {error}"))
        unknown = [s for s in observed.subnets if s not in part.subnet_az]
        if unknown:
            return fail_all(
                EvacuationError(f"Auto Scaling group {name}: subnets not found: {unknown}")
            )
        placement = list(observed.subnets)
        in_az = [s for s in placement if part.subnet_az[s] == az_id]
    else:
        # A group defined by AZs (aws-semantics ASG-8): by ID where it reports IDs.
        zones, in_az = _zone_placement(observed, part, az_id)
        if zones is None:
            error = EvacuationError(
                f"Auto Scaling group {name}: cannot tell which of {list(observed.zones)} is "
                f"{az_id} (no AvailabilityZoneIds, and the zone map could not be read)"
            )
            return fail_all(error)
        placement = zones
    remaining = [s for s in placement if s not in in_az]
    suspended = sorted(observed.suspended)
    wanted = sorted(observed.suspended | set(config.autoscaling.suspend_processes))
    resumed = placement_key in touched or capacity_key in touched
    what = "subnet" if observed.subnets else "AZ"

    def skip_all(reason: str, *, gap: bool) -> list[PlannedStep]:
        return [
            PlannedStep(processes_key, suspended, None, False, reason, gap=gap, group=group),
            PlannedStep(placement_key, placement, None, False, reason, gap, group=group),
        ]

    if not in_az and not resumed:
        return skip_all(f"the group has no {what} in {az_id}", gap=False)
    # A resumed group was sized and checked when its evacuation started; checking it again
    # against the group as we left it would count our own changes twice.
    no_subnet_left = None if resumed else guards.no_subnet_left(name, az_id, remaining)
    if no_subnet_left:
        return skip_all(no_subnet_left, gap=True)
    current = {"placement": placement, **_serving(observed, az_id)}
    # Order (ASG-3): suspend AZRebalance first (removing the AZ while it runs starts a
    # rebalancing that terminates the AZ's instances), then remove the AZ, then prescale: raising
    # desired while the AZ is still enabled puts about a third of the new instances into it.
    steps = [
        PlannedStep(processes_key, suspended, wanted, suspended != wanted, note=why, group=group),
        PlannedStep(placement_key, current, remaining, bool(in_az), group=group),
    ]
    if config.safety.prescale:
        steps.append(_capacity_step(capacity_key, observed, az_id, touched, group))
    return steps


def _zone_placement(
    observed: Group, part: AutoScalingObservation, az_id: str
) -> tuple[list[str] | None, list[str]]:
    """(the group's AZ list as the API takes it, the entries that are `az_id`)."""
    if observed.zone_ids:
        return list(observed.zone_ids), [z for z in observed.zone_ids if z == az_id]
    if part.zone_ids is None:
        return None, []
    zones = list(observed.zones)
    return zones, [z for z in zones if part.zone_ids.get(z) == az_id]


def _capacity_step(
    key: StepKey,
    observed: Group,
    az_id: str,
    touched: Mapping[StepKey, StepRecord],
    group: str,
) -> PlannedStep:
    """Prescale, last: desired + what the AZ really serves. Above MaxSize, raised to MaxSize
    with the shortfall said (PARTIAL); the data plane never waits on it.

    Resumed, the target recorded before the first run acted stands, but a live desired below it
    (a scaling policy or a human scaled in since) is reported, never fought every 5 minutes."""
    if key in touched and isinstance(touched[key].after, int):
        target = int(touched[key].after)
        reached = touched[key].outcome is Outcome.APPLIED  # read back at the target once
        if not reached:  # a run that died around its SetDesiredCapacity: finish it
            return PlannedStep(
                key, observed.desired, target, target > observed.desired, group=group
            )
        if observed.desired < target:
            note = (
                f"desired is {observed.desired}, below azevac's {target}: scaled in since "
                "(scaling policy or a human); left as it is"
            )
            return PlannedStep(key, observed.desired, target, False, note=note, group=group)
        return PlannedStep(key, observed.desired, target, False, group=group)
    sizing = guards.prescale_target(
        observed.name,
        desired=observed.desired,
        max_size=observed.max_size,
        serving_in_az=observed.serving_in(az_id),
    )
    target = sizing.desired
    return PlannedStep(
        key,
        observed.desired,
        target,
        target > observed.desired,
        note=sizing.shortfall,
        gap=sizing.shortfall is not None,
        group=group,
    )


# -- readiness ------------------------------------------------------------------------------------


def _group_problems(config: Config, part: AutoScalingObservation) -> list[str]:
    problems: list[str] = []
    for name, group in part.groups.items():
        if not isinstance(group, Group):
            problems.append(f"Auto Scaling group {name}: {group}")
            continue
        problems += _group_lever(config, group)
        if not group.subnets:
            if len(group.zone_ids or group.zones) < 2:
                problems.append(f"Auto Scaling group {name}: in one AZ only")
            continue
        zones = {part.subnet_az.get(s) for s in group.subnets}
        if None in zones:
            problems.append(f"Auto Scaling group {name}: a subnet cannot be resolved to an AZ")
        if len(zones - {None}) < 2:
            problems.append(f"Auto Scaling group {name}: in one AZ only; evacuation would empty it")
    return problems


def _group_lever(config: Config, group: Group) -> list[str]:
    """ASG-7: the group's own ARC zonal shift is the lever that changes no configuration.
    https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-zonal-shift.html"""
    method = config.autoscaling.method if config.autoscaling else "auto"
    if not group.zonal_shift_enabled:
        if method == "zonal_shift":
            return [
                f"Auto Scaling group {group.name}: not enabled for zonal shift "
                "(AvailabilityZoneImpairmentPolicy.ZonalShiftEnabled) but autoscaling.method is "
                "zonal_shift: an evacuation leaves it launching into the AZ"
            ]
        return []
    if method != "subnets" and group.impaired_health == "ReplaceUnhealthy":
        return [
            f"Auto Scaling group {group.name}: ImpairedZoneHealthCheckBehavior is "
            "ReplaceUnhealthy: during a zonal shift, unhealthy instances in the impaired AZ are "
            "still replaced (IgnoreUnhealthy keeps them, and is what AWS recommends for "
            "prescaled groups)"
        ]
    return []


# -- recovery: capacity back before traffic (REC-1) -----------------------------------------------


def _capacity_lever(key: StepKey) -> bool:
    """A step that keeps capacity out of the AZ: the group's placement or processes, or its
    own zonal shift."""
    if key.kind is StepKind.ZONAL_SHIFT:
        return is_group_arn(key.resource)
    return key.kind in SUBNET_LEVER_KINDS


@dataclass(frozen=True)
class CapacityWanted:
    """What the AZ must serve again, per group, before traffic comes back."""

    group: str
    target: float
    """At least what it served before the evacuation, or its balanced share now if the group
    was scaled in since."""


def capacity_wanted(steps: Sequence[StepRecord]) -> list[CapacityWanted]:
    """Per group whose capacity lever this evacuation pulled: the AZ's serving capacity before
    it (recorded in the before-image of its placement or its zonal-shift step)."""
    wanted: dict[str, float] = {}
    for record in steps:
        before: Any = record.before
        if not _capacity_lever(record.key) or not isinstance(before, Mapping):
            continue
        serving = before.get("serving_in_az")
        if serving is None:
            continue
        group = str(before.get("group") or record.key.resource)
        wanted[group] = max(wanted.get(group, 0.0), float(serving))
    return [CapacityWanted(group, target) for group, target in sorted(wanted.items())]


def capacity_missing(
    wanted: Sequence[CapacityWanted], groups: Mapping[str, Group], az_id: str
) -> list[str]:
    """What is still missing, one line per group; empty when the AZ has its capacity back.
    A group that no longer exists waits for nothing."""
    missing = []
    for want in wanted:
        group = groups.get(want.group)
        if group is None:
            continue
        azs = max(len(group.zone_ids or group.zones), 1)
        share_now = math.floor(group.desired / azs)
        target = min(want.target, share_now)
        serving = group.serving_in(az_id)
        if serving < target:
            stuck = (
                "; AZRebalance is suspended (not by azevac), so the group will not rebalance "
                "into the AZ by itself: resume it or add capacity, or recover --no-wait"
                if "AZRebalance" in group.suspended
                else ""
            )
            missing.append(
                f"{want.group}: {serving:g} of {target:g} serving in {az_id} "
                f"(before the evacuation: {want.target:g}){stuck}"
            )
    return missing


class _GroupsBack(CapacityCheck):
    def __init__(self, wanted: Sequence[CapacityWanted]) -> None:
        self._wanted = wanted

    def missing(self, gateways: Gateways, az_id: str) -> list[str]:
        groups = gateways.autoscaling.describe_groups([w.group for w in self._wanted])
        return capacity_missing(self._wanted, groups, az_id)


# -- apply, verify, revert ------------------------------------------------------------------------


def _read(ctx: RunContext, name: str) -> Group | None:
    """The group as it is now; None when it no longer exists (recover skips it, and says so)."""
    return ctx.gateways.autoscaling.describe_groups([name]).get(name)


GONE = Reverted(Outcome.SKIPPED, "the group no longer exists: nothing to restore")


def placement_of(before: Any) -> list[str]:
    """The subnets or AZs a group had, from a before-image ({"placement": [...]}, or the plain
    list older records hold)."""
    if isinstance(before, dict):
        return list(before.get("placement") or [])
    return list(before or [])


def _read_back(
    ctx: RunContext,
    steps: Sequence[PlannedStep],
    afters: Mapping[StepKey, Any],
    problem: Callable[[Group, Any], str | None],
) -> Mapping[StepKey, Verified]:
    """Verify each step against its group as read back, in one DescribeAutoScalingGroups for
    the batch; `problem` says what is wrong, or None when the step holds."""

    def judge(group: Group, step: PlannedStep, after: Any) -> Verified:
        wrong = problem(group, after)
        return Verified(Verdict.DIVERGED, wrong) if wrong else Verified(Verdict.CONVERGED)

    return _judge_read_back(ctx, steps, afters, judge)


def _judge_read_back(
    ctx: RunContext,
    steps: Sequence[PlannedStep],
    afters: Mapping[StepKey, Any],
    judge: Callable[[Group, PlannedStep, Any], Verified],
) -> Mapping[StepKey, Verified]:
    groups = ctx.gateways.autoscaling.describe_groups(step.resource for step in steps)
    results: dict[StepKey, Verified] = {}
    for step in steps:
        group = groups.get(step.resource)
        if group is None:
            raise StepFailedError(f"Auto Scaling group {step.resource} not found")
        results[step.key] = judge(group, step, afters[step.key])
    return results


class CapacityRunner:
    """Prescale: raise desired capacity so the remaining AZs hold what all AZs held."""

    def apply(self, ctx: RunContext, steps: Sequence[PlannedStep]) -> Mapping[StepKey, JsonValue]:
        for step in steps:
            ctx.gateways.autoscaling.set_desired_capacity(step.resource, step.intended)
        return {step.key: step.intended for step in steps}

    def verify(
        self, ctx: RunContext, steps: Sequence[PlannedStep], afters: Mapping[StepKey, Any]
    ) -> Mapping[StepKey, Verified]:
        def problem(group: Group, after: Any) -> str | None:
            ok = group.desired >= after
            return None if ok else f"desired capacity reads back {group.desired}"

        return _read_back(ctx, steps, afters, problem)

    def revert(self, ctx: RunContext, records: Sequence[StepRecord]) -> Mapping[StepKey, Reverted]:
        results: dict[StepKey, Reverted] = {}
        for record in records:
            group = _read(ctx, record.key.resource)
            if group is None:
                results[record.key] = GONE
                continue
            current = group.desired
            if current == record.before:
                results[record.key] = Reverted(Outcome.UNCHANGED, "desired is already as before")
            elif current != record.after:
                reason = f"desired is {current}, changed since (scaling policy?); left as it is"
                results[record.key] = Reverted(Outcome.SKIPPED, reason)
            else:
                ctx.gateways.autoscaling.set_desired_capacity(record.key.resource, record.before)
                results[record.key] = Reverted(Outcome.REVERTED, after=record.before)
        return results


class ProcessesRunner:
    """Suspend processes (AZRebalance by default) so the group does not move capacity around."""

    def apply(self, ctx: RunContext, steps: Sequence[PlannedStep]) -> Mapping[StepKey, JsonValue]:
        afters: dict[StepKey, JsonValue] = {}
        for step in steps:
            to_suspend = sorted(set(step.intended) - set(step.current))
            ctx.gateways.autoscaling.suspend_processes(step.resource, to_suspend)
            afters[step.key] = list(step.intended)
        return afters

    def verify(
        self, ctx: RunContext, steps: Sequence[PlannedStep], afters: Mapping[StepKey, Any]
    ) -> Mapping[StepKey, Verified]:
        """Read back; the after-image keeps each suspension's SuspensionReason (it says who
        suspended and when), so recover can tell ours from a later one by someone else."""

        def judge(group: Group, step: PlannedStep, after: Any) -> Verified:
            wanted = list(after)
            missing = set(wanted) - group.suspended
            if missing:
                return Verified(Verdict.DIVERGED, f"still not suspended: {sorted(missing)}")
            ours = set(wanted) - set(step.current or ())
            reasons = {p: group.suspension_reasons.get(p, "") for p in sorted(ours)}
            return Verified(Verdict.CONVERGED, after={"suspended": wanted, "reasons": reasons})

        return _judge_read_back(ctx, steps, afters, judge)

    def revert(self, ctx: RunContext, records: Sequence[StepRecord]) -> Mapping[StepKey, Reverted]:
        """Resume only what this evacuation suspended and what is still suspended by that same
        suspension: someone who suspended it again since keeps it suspended (ASG-4)."""
        results: dict[StepKey, Reverted] = {}
        for record in records:
            after = record.after
            wanted = after.get("suspended", []) if isinstance(after, dict) else list(after or ())
            reasons = after.get("reasons", {}) if isinstance(after, dict) else {}
            ours = set(wanted) - set(record.before or ())
            group = _read(ctx, record.key.resource)
            if group is None:
                results[record.key] = GONE
                continue
            still = ours & group.suspended
            theirs = {
                p for p in still if p in reasons and group.suspension_reasons.get(p) != reasons[p]
            }
            resume = still - theirs
            left = (
                f"; {sorted(theirs)} suspended again by someone else since: left" if theirs else ""
            )
            if not resume:
                reason = "nothing of ours is suspended" + left
                results[record.key] = Reverted(Outcome.UNCHANGED, reason)
                continue
            ctx.gateways.autoscaling.resume_processes(record.key.resource, resume)
            results[record.key] = Reverted(
                Outcome.REVERTED, left[2:] or None, after={"resumed": sorted(resume)}
            )
        return results


class SubnetsRunner:
    """Remove the AZ's subnets from VPCZoneIdentifier: no new capacity lands in the AZ."""

    def apply(self, ctx: RunContext, steps: Sequence[PlannedStep]) -> Mapping[StepKey, JsonValue]:
        for step in steps:
            self._set(ctx, step.resource, step.intended)
        return {step.key: list(step.intended) for step in steps}

    @staticmethod
    def _set(ctx: RunContext, name: str, placement: Sequence[str]) -> None:
        ctx.gateways.autoscaling.set_subnets(name, placement)

    @staticmethod
    def _placement(group: Group) -> list[str]:
        return list(group.subnets)

    def verify(
        self, ctx: RunContext, steps: Sequence[PlannedStep], afters: Mapping[StepKey, Any]
    ) -> Mapping[StepKey, Verified]:
        def problem(group: Group, after: Any) -> str | None:
            ok = set(self._placement(group)) == set(after)
            return None if ok else f"group reads back {self._placement(group)}"

        return _read_back(ctx, steps, afters, problem)

    def revert(self, ctx: RunContext, records: Sequence[StepRecord]) -> Mapping[StepKey, Reverted]:
        results: dict[StepKey, Reverted] = {}
        for record in records:
            before = placement_of(record.before)
            ours_after = set(record.after or before)
            group = _read(ctx, record.key.resource)
            if group is None:
                results[record.key] = GONE
                continue
            current = self._placement(group)
            if set(current) == set(before):
                results[record.key] = Reverted(Outcome.UNCHANGED, "already as before")
                continue
            if set(current) == ours_after:
                restored, reason = before, None
            else:
                # Someone changed them since: add back only what we removed.
                removed = [s for s in before if s not in ours_after]
                restored = current + [s for s in removed if s not in current]
                reason = "changed since the evacuation; added back only ours"
            self._set(ctx, record.key.resource, restored)
            results[record.key] = Reverted(Outcome.REVERTED, reason, after=restored)
        return results


class ZonesRunner(SubnetsRunner):
    """A group defined by AZs instead of subnets (ASG-8): the same, on AvailabilityZoneIds where
    the group reports them, else on AvailabilityZones (names). Never reported as skipped: such a
    group keeps launching into the AZ until its list changes."""

    @staticmethod
    def _set(ctx: RunContext, name: str, placement: Sequence[str]) -> None:
        by_id = all(AZ_ID_PATTERN.match(z) for z in placement)
        if by_id:
            ctx.gateways.autoscaling.set_zones(name, zone_ids=placement)
        else:
            ctx.gateways.autoscaling.set_zones(name, names=placement)

    @staticmethod
    def _placement(group: Group) -> list[str]:
        return list(group.zone_ids or group.zones)


# -- the kind -------------------------------------------------------------------------------------


def _group_of(key: StepKey) -> str:
    return f"asg:{key.resource}"


def _spec(kind: StepKind, runner: Any, stage: Stage) -> StepSpec:
    return StepSpec(
        kind,
        Phase.CONTROL_PLANE,
        runner,
        lane="autoscaling",
        tier=fixed(Tier.CAPACITY),
        stage=fixed(stage),
        group=_group_of,
    )


class AutoScalingKind(Kind):
    name = "autoscaling"
    section = "autoscaling"
    config_types: ClassVar[Mapping[str, Any]] = {"AutoScalingConfig": AutoScalingConfig}
    steps = (
        _spec(StepKind.ASG_PROCESSES, ProcessesRunner(), Stage.CAPACITY),
        _spec(StepKind.ASG_SUBNETS, SubnetsRunner(), Stage.CAPACITY),
        _spec(StepKind.ASG_ZONES, ZonesRunner(), Stage.CAPACITY),
        _spec(StepKind.ASG_CAPACITY, CapacityRunner(), Stage.PRESCALE),
    )
    permissions = (
        Permission(
            "ReadOnlyNoResourceLevel",
            (
                "ec2:DescribeAvailabilityZones",
                "ec2:DescribeSubnets",
                "autoscaling:DescribeAutoScalingGroups",
                "arc-zonal-shift:GetManagedResource",
                "arc-zonal-shift:ListManagedResources",
            ),
        ),
        Permission("StartZonalShiftOnOurResources", ("arc-zonal-shift:StartZonalShift",)),
        Permission(
            "ExtendAndCancelZonalShifts",
            ("arc-zonal-shift:UpdateZonalShift", "arc-zonal-shift:CancelZonalShift"),
        ),
        Permission(
            "OurAutoScalingGroups",
            (
                "autoscaling:UpdateAutoScalingGroup",
                "autoscaling:SuspendProcesses",
                "autoscaling:ResumeProcesses",
                "autoscaling:SetDesiredCapacity",
            ),
        ),
    )

    def part(self, observation: Observation) -> AutoScalingObservation:
        found = observation.parts.get(self.name)
        return found if isinstance(found, AutoScalingObservation) else AutoScalingObservation()

    def read(self, config: Config, gateways: Gateways) -> AutoScalingObservation:
        """The groups in one batched read; then, side by side, the ARC records of those that
        take zonal shifts, the zone map (only for groups defined by AZ names) and the subnets."""
        workers = config.execution.max_workers_per_service
        names = config.autoscaling.groups if config.autoscaling else []
        shifted_elsewhere = set(config.zonal_shift.resources if config.zonal_shift else [])
        groups = _observe_groups(gateways, names)
        # Groups that take ARC zonal shifts are read from ARC too: their ARNs are known only now.
        # A group whose ARN zonal_shift lists is read (and shifted) there.
        shifted = [
            g.arn
            for g in groups.values()
            if isinstance(g, Group)
            and g.zonal_shift_enabled
            and g.arn
            and g.arn not in shifted_elsewhere
        ]
        with ThreadPoolExecutor(1, thread_name_prefix="observe") as pool:
            resources = pool.submit(
                contextvars.copy_context().run, read_managed_resources, gateways, shifted, workers
            )
            zone_ids = _zone_ids(gateways, groups)
            subnet_az, subnet_errors = _resolve_subnets(gateways, groups, workers)
            return AutoScalingObservation(
                groups, resources.result(), subnet_az, subnet_errors, zone_ids
            )

    def plan(self, given: PlanInput) -> KindPlan:
        config = given.config
        if not config.autoscaling:
            return KindPlan()
        part = self.part(given.observation)
        # A group whose ARN zonal_shift lists was read from ARC there.
        listed = SHIFTS.part(given.observation).resources
        part = replace(part, resources={**listed, **part.resources})
        steps: list[PlannedStep] = []
        for name in config.autoscaling.groups:
            steps.extend(
                _group_steps(
                    name,
                    part,
                    given.az_id,
                    config,
                    touched=given.touched,
                    evacuation_id=given.evacuation_id,
                )
            )
        return KindPlan(steps)

    def readiness(self, config: Config, observation: Observation) -> list[str]:
        part = self.part(observation)
        return resource_problems(part.resources) + _group_problems(config, part)

    def az_ids(self, config: Config, observation: Observation) -> set[str]:
        part = self.part(observation)
        ids = {
            az
            for resource in part.resources.values()
            if isinstance(resource, ManagedResource)
            for az in resource.az_ids
        }
        for group in part.groups.values():
            if isinstance(group, Group):
                ids.update(part.subnet_az[s] for s in group.subnets if s in part.subnet_az)
        return ids

    def real_signal(self, observation: Observation) -> str | None:
        return shift_signal(self.part(observation).resources)

    def capacity_check(self, evacuation: Evacuation) -> CapacityCheck | None:
        wanted = capacity_wanted(evacuation.steps)
        return _GroupsBack(wanted) if wanted else None

    def restored_part(self, image: Any) -> Any:
        # serving_in_az is what the group served when the image was taken (recovery waits for
        # it, it does not set it); weight is ARC's applied weight (a group's own shift)
        if isinstance(image, dict):
            return {k: v for k, v in image.items() if k not in ("serving_in_az", "weight")}
        return image

    def instances(self, observation: Observation) -> list[tuple[str, str | None, str]]:
        return sorted(
            (i.instance_id, i.az_id, i.az)
            for group in self.part(observation).groups.values()
            if isinstance(group, Group)
            for i in group.instances
        )


KIND = AutoScalingKind()
