"""Decide the steps of an evacuation from an observation. Pure: no I/O, nothing changes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from evacuation import guards
from evacuation.aws.autoscaling import Group
from evacuation.aws.zonal_shift import AUTOSHIFT, FIS_EXPERIMENT, ActiveShift, ManagedResource
from evacuation.config import Config, RecordSetConfig
from evacuation.errors import EvacuationError
from evacuation.model import Outcome, Plan, PlannedStep, StepKey, StepKind, StepRecord
from evacuation.observe import Observation, record_set_key


def build_plan(
    config: Config,
    observation: Observation,
    az_id: str,
    evacuation_id: str | None = None,
    touched: Mapping[StepKey, StepRecord] | None = None,
) -> Plan:
    """The ordered steps to evacuate `az_id`: data plane (shifts, weights), then control plane.

    `touched`: records of steps an earlier run of this evacuation may have changed. Their
    resources can look "not in the AZ" only because of us, so they are planned to converge to
    the intent recorded before that run acted, never skipped.
    """
    touched = touched or {}
    steps: list[PlannedStep] = []
    refusals: list[str] = []
    warnings: list[str] = []
    out_of_service: dict[str, str] = {}
    if config.zonal_shift:
        for arn in config.zonal_shift.resources:
            observed = observation.resources[arn]
            recorded = touched.get(StepKey(StepKind.ZONAL_SHIFT, arn))
            decision = _zonal_shift_step(arn, observed, az_id, evacuation_id, recorded)
            steps.append(decision.step)
            refusals.extend(decision.refusals)
            warnings.extend(decision.warnings)
            if isinstance(observed, ManagedResource):
                for shift in observed.shifts:
                    if shift.away_from != az_id and not shift.is_practice:
                        out_of_service.setdefault(shift.away_from, f"{arn} has {shift.describe()}")
    for record_set in config.route53:
        key = record_set_key(record_set)
        records = observation.record_sets[key]
        step, refusal = _route53_step(record_set, records, az_id)
        steps.append(step)
        refusals.extend([refusal] if refusal else [])
        for other_az, why in _weights_at_zero(record_set, records, az_id).items():
            out_of_service.setdefault(other_az, why)
    if config.autoscaling:
        for name in config.autoscaling.groups:
            steps.extend(
                _group_steps(
                    name, observation, az_id, config, touched=touched, evacuation_id=evacuation_id
                )
            )
    return Plan(
        config.workload,
        az_id,
        tuple(steps),
        tuple(refusals),
        tuple(warnings),
        out_of_service,
    )


def shift_comment(evacuation_id: str, reason: str) -> str:
    """The comment on every shift azevac starts: it carries the evacuation id (ARC max 128)."""
    return f"azevac {evacuation_id}: {reason}"[:128]


def _failed(key: StepKey, error: EvacuationError, group: str) -> PlannedStep:
    return PlannedStep(key, None, None, needs_change=False, error=str(error), group=group)


ZONAL_SHIFTS = "zonal-shifts"
"""The group of every zonal shift step: the runner starts them together and reads them back in
one listing (each resource still succeeds or fails on its own)."""


@dataclass(frozen=True)
class _ShiftDecision:
    step: PlannedStep
    refusals: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


def _zonal_shift_step(
    arn: str,
    observed: ManagedResource | EvacuationError,
    az_id: str,
    evacuation_id: str | None,
    recorded: StepRecord | None,
) -> _ShiftDecision:
    """ARC-2's decision table, for one resource: what every shift already on it means for a
    customer shift away from `az_id` (aws-semantics.md §1.1)."""
    key = StepKey(StepKind.ZONAL_SHIFT, arn)
    group = ZONAL_SHIFTS
    if isinstance(observed, EvacuationError):
        return _ShiftDecision(_failed(key, observed, group=group))
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
        return _ShiftDecision(step)
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
    return _ShiftDecision(step, refusals, warnings)


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


def _route53_step(
    record_set: RecordSetConfig,
    observed: Sequence[Mapping[str, Any]] | EvacuationError,
    az_id: str,
) -> tuple[PlannedStep, str | None]:
    name = record_set_key(record_set)
    key = StepKey(StepKind.ROUTE53_WEIGHT, name)
    group = record_set.hosted_zone_id
    if isinstance(observed, EvacuationError):
        return _failed(key, observed, group), None
    by_id = {str(r.get("SetIdentifier")): r for r in observed if "SetIdentifier" in r}
    weights = {sid: int(str(r["Weight"])) for sid, r in by_id.items() if "Weight" in r}
    target = record_set.set_identifiers.get(az_id)
    if target is None:
        reason = f"the record set has no record for {az_id}"
        return PlannedStep(key, {"weights": weights}, None, False, skip_reason=reason), None
    if target not in weights:
        error = EvacuationError(f"{name}: no weighted record with SetIdentifier {target!r}")
        return _failed(key, error, group), None
    intended_weights = {**weights, target: 0}
    current = {"weights": weights, "set_identifier": target, "record": by_id[target]}
    witness = witness_for(weights, target)
    if witness is not None:
        current["witness"] = by_id[witness]
    intended = {"weights": intended_weights, "set_identifier": target}
    refusal = guards.all_weights_zero(name, intended_weights)
    return PlannedStep(key, current, intended, weights[target] != 0, group=group), refusal


def witness_for(weights: Mapping[str, int], target: str) -> str | None:
    """The surviving record whose value the weight write rewrites unchanged (DELETE + CREATE),
    so that the write also fails if someone zeroed that record since it was read (R53-2):
    the non-zero record with the highest weight, None when there is none (then the write is
    refused: it would zero every weight)."""
    survivors = [(-weight, sid) for sid, weight in weights.items() if sid != target and weight]
    return min(survivors)[1] if survivors else None


def _group_steps(
    name: str,
    observation: Observation,
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
    observed = observation.groups[name]
    processes_key = StepKey(StepKind.ASG_PROCESSES, name)
    subnets_key = StepKey(StepKind.ASG_SUBNETS, name)
    group = f"asg:{name}"
    if isinstance(observed, EvacuationError):
        error = EvacuationError(f"Auto Scaling group {name}: {observed}")
        return [_failed(k, error, group) for k in (processes_key, subnets_key)]
    lever, why = _lever(observed, config.autoscaling.method, touched)
    if lever == "zonal_shift":
        return [
            _group_shift_step(
                observed, observation, az_id, evacuation_id=evacuation_id, touched=touched, why=why
            )
        ]
    if lever == "none":
        return [
            PlannedStep(processes_key, None, None, False, why, gap=True, group=group),
            PlannedStep(subnets_key, None, None, False, why, gap=True, group=group),
        ]
    return _subnet_lever_steps(observed, observation, az_id, config, touched=touched, why=why)


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
    observation: Observation,
    az_id: str,
    *,
    evacuation_id: str | None,
    touched: Mapping[StepKey, StepRecord],
    why: str,
) -> PlannedStep:
    """The group's own zonal shift: a zonal shift like any other (every ARC rule holds), in the
    data plane's shift batch. Its current image also keeps the AZ's serving capacity, which
    recover waits for before traffic comes back."""
    resource = observation.resources.get(observed.arn)
    key = StepKey(StepKind.ZONAL_SHIFT, observed.arn)
    if resource is None:
        error = EvacuationError(f"Auto Scaling group {observed.name}: not read from ARC")
        return _failed(key, error, ZONAL_SHIFTS)
    decision = _zonal_shift_step(observed.arn, resource, az_id, evacuation_id, touched.get(key))
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
    observation: Observation,
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
        return [_failed(k, error, group) for k in keys]

    if observed.subnets:
        if name in observation.subnet_errors:
            error = observation.subnet_errors[name]
            return fail_all(EvacuationError(f"Auto Scaling group {name}: subnets: {error}"))
        unknown = [s for s in observed.subnets if s not in observation.subnet_az]
        if unknown:
            return fail_all(
                EvacuationError(f"Auto Scaling group {name}: subnets not found: {unknown}")
            )
        placement = list(observed.subnets)
        in_az = [s for s in placement if observation.subnet_az[s] == az_id]
    else:
        # A group defined by AZs (aws-semantics ASG-8): by ID where it reports IDs.
        zones, in_az = _zone_placement(observed, observation, az_id)
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
    observed: Group, observation: Observation, az_id: str
) -> tuple[list[str] | None, list[str]]:
    """(the group's AZ list as the API takes it, the entries that are `az_id`)."""
    if observed.zone_ids:
        return list(observed.zone_ids), [z for z in observed.zone_ids if z == az_id]
    if observation.zone_ids is None:
        return None, []
    zones = list(observed.zones)
    return zones, [z for z in zones if observation.zone_ids.get(z) == az_id]


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


def _weights_at_zero(
    record_set: RecordSetConfig,
    observed: Sequence[Mapping[str, Any]] | EvacuationError,
    az_id: str,
) -> dict[str, str]:
    """Other AZs whose configured record is already at weight 0: out of service by a lever that
    is not this plan's (a human, another tool, an earlier run)."""
    if isinstance(observed, EvacuationError):
        return {}
    weights = {str(r.get("SetIdentifier")): r.get("Weight") for r in observed if "Weight" in r}
    return {
        other: f"{record_set.name} {record_set.type} record {sid} is at weight 0"
        for other, sid in record_set.set_identifiers.items()
        if other != az_id and weights.get(sid) == 0
    }
