"""Decide the steps of an evacuation from an observation. Pure: no I/O, nothing changes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evacuation import guards
from evacuation.aws.autoscaling import Group
from evacuation.aws.zonal_shift import AUTOSHIFT, FIS_EXPERIMENT, ActiveShift, ManagedResource
from evacuation.config import Config, RecordSetConfig
from evacuation.errors import EvacuationError
from evacuation.model import Plan, PlannedStep, StepKey, StepKind, StepRecord
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
            steps.extend(_group_steps(name, observation, az_id, config, touched))
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
    touched: Mapping[StepKey, StepRecord],
) -> list[PlannedStep]:
    """A group's control-plane steps. Whatever happens here is this group's alone: a group that
    cannot be read, resolved or safely changed gets failed or skipped steps, and the data plane
    and the other groups go on (aws-semantics ASG-9; background.md: data plane first)."""
    assert config.autoscaling is not None
    observed = observation.groups[name]
    processes_key = StepKey(StepKind.ASG_PROCESSES, name)
    subnets_key = StepKey(StepKind.ASG_SUBNETS, name)
    capacity_key = StepKey(StepKind.ASG_CAPACITY, name)
    group = f"asg:{name}"
    keys = [processes_key, subnets_key]

    def fail_all(error: EvacuationError) -> list[PlannedStep]:
        return [_failed(k, error, group) for k in keys]

    if isinstance(observed, EvacuationError):
        return fail_all(EvacuationError(f"Auto Scaling group {name}: {observed}"))
    if name in observation.subnet_errors:
        error = observation.subnet_errors[name]
        return fail_all(EvacuationError(f"Auto Scaling group {name}: subnets: {error}"))
    unknown = [s for s in observed.subnets if s not in observation.subnet_az]
    if unknown:
        return fail_all(EvacuationError(f"Auto Scaling group {name}: subnets not found: {unknown}"))
    in_az = [s for s in observed.subnets if observation.subnet_az[s] == az_id]
    remaining = [s for s in observed.subnets if s not in in_az]
    suspended = sorted(observed.suspended)
    wanted = sorted(observed.suspended | set(config.autoscaling.suspend_processes))
    resumed = subnets_key in touched or capacity_key in touched

    def skip_all(reason: str, *, gap: bool) -> list[PlannedStep]:
        return [
            PlannedStep(processes_key, suspended, None, False, reason, gap=gap, group=group),
            PlannedStep(subnets_key, list(observed.subnets), None, False, reason, gap, group=group),
        ]

    if not in_az and not resumed:
        return skip_all(f"the group has no subnet in {az_id}", gap=False)
    # A resumed group was sized and checked when its evacuation started; checking it again
    # against the group as we left it would count our own changes twice.
    no_subnet_left = None if resumed else guards.no_subnet_left(name, az_id, remaining)
    if no_subnet_left:
        return skip_all(no_subnet_left, gap=True)
    steps = []
    if config.safety.prescale:
        steps.append(_capacity_step(capacity_key, observed, observation, touched, group))
    # Suspend first: removing a subnet while AZRebalance runs starts a rebalancing activity that
    # terminates instances in the impaired AZ (control-plane churn during the event) while the
    # zonal shift already keeps traffic off them.
    steps += [
        PlannedStep(processes_key, suspended, wanted, suspended != wanted, group=group),
        PlannedStep(subnets_key, list(observed.subnets), remaining, bool(in_az), group=group),
    ]
    return steps


def _capacity_step(
    key: StepKey,
    observed: Group,
    observation: Observation,
    touched: Mapping[StepKey, StepRecord],
    group: str,
) -> PlannedStep:
    """Prescale: desired + the AZ's share. Over MaxSize, this group's prescale is skipped with
    the shortfall (the evacuation is PARTIAL); its subnets still come out, and the data plane
    never waits on it."""
    if key in touched and isinstance(touched[key].after, int):
        target = touched[key].after  # the intent recorded before we acted
        return PlannedStep(key, observed.desired, target, target > observed.desired, group=group)
    zones = {observation.subnet_az[s] for s in observed.subnets}
    sizing = guards.capacity(
        observed.name,
        desired=observed.desired,
        max_size=observed.max_size,
        azs_before=len(zones),
        azs_in_impaired=1,
        prescale=True,
    )
    if sizing.refusal is not None:
        return PlannedStep(
            key, observed.desired, None, False, sizing.refusal, gap=True, group=group
        )
    target = sizing.desired if sizing.desired is not None else observed.desired
    return PlannedStep(key, observed.desired, target, target > observed.desired, group=group)


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
