"""Decide the steps of an evacuation from an observation. Pure: no I/O, nothing changes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from evacuation import guards
from evacuation.aws.autoscaling import Group
from evacuation.aws.zonal_shift import ManagedResource
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
    if config.zonal_shift:
        for arn in config.zonal_shift.resources:
            step, refusal = _zonal_shift_step(arn, observation.resources[arn], az_id, evacuation_id)
            steps.append(step)
            refusals.extend([refusal] if refusal else [])
    for record_set in config.route53:
        key = record_set_key(record_set)
        step, refusal = _route53_step(record_set, observation.record_sets[key], az_id)
        steps.append(step)
        refusals.extend([refusal] if refusal else [])
    if config.autoscaling:
        for name in config.autoscaling.groups:
            group_steps, refusal = _group_steps(
                name, observation.groups[name], observation, az_id, config, touched=touched
            )
            steps.extend(group_steps)
            refusals.extend([refusal] if refusal else [])
    return Plan(config.workload, az_id, tuple(steps), tuple(refusals))


def shift_comment(evacuation_id: str, reason: str) -> str:
    """The comment on every shift azevac starts: it carries the evacuation id (ARC max 128)."""
    return f"azevac {evacuation_id}: {reason}"[:128]


def _failed(key: StepKey, error: EvacuationError, group: str) -> PlannedStep:
    return PlannedStep(key, None, None, needs_change=False, error=str(error), group=group)


ZONAL_SHIFTS = "zonal-shifts"
"""The group of every zonal shift step: the runner starts them together and reads them back in
one listing (each resource still succeeds or fails on its own)."""


def _zonal_shift_step(
    arn: str, observed: ManagedResource | EvacuationError, az_id: str, evacuation_id: str | None
) -> tuple[PlannedStep, str | None]:
    key = StepKey(StepKind.ZONAL_SHIFT, arn)
    group = ZONAL_SHIFTS
    if isinstance(observed, EvacuationError):
        return _failed(key, observed, group=group), None
    current = {
        "weight": observed.applied_weights.get(az_id),
        "shifts": [
            {"id": s.shift_id, "away_from": s.away_from, "type": s.shift_type, "comment": s.comment}
            for s in observed.shifts
        ],
    }
    intended = {"away_from": az_id}
    if az_id not in observed.az_ids:
        reason = f"not deployed in {az_id} (it serves {', '.join(sorted(observed.az_ids))})"
        return PlannedStep(key, current, None, False, skip_reason=reason, group=group), None
    refusal = guards.shifted_from_other_az(arn, az_id, observed.shifts)
    mine = [s for s in observed.shifts if s.is_customer and s.away_from == az_id]
    ours = evacuation_id is not None and any(evacuation_id in s.comment for s in mine)
    return PlannedStep(key, current, intended, not mine, ours=ours, group=group), refusal


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
    observed: Group | EvacuationError,
    observation: Observation,
    az_id: str,
    config: Config,
    *,
    touched: Mapping[StepKey, StepRecord],
) -> tuple[list[PlannedStep], str | None]:
    assert config.autoscaling is not None
    processes_key = StepKey(StepKind.ASG_PROCESSES, name)
    subnets_key = StepKey(StepKind.ASG_SUBNETS, name)
    group = f"asg:{name}"
    if isinstance(observed, EvacuationError):
        error = EvacuationError(f"Auto Scaling group {name}: {observed}")
        return [_failed(processes_key, error, group), _failed(subnets_key, error, group)], None
    unknown = [s for s in observed.subnets if s not in observation.subnet_az]
    if unknown:
        error = EvacuationError(f"Auto Scaling group {name}: subnets not found: {unknown}")
        return [_failed(processes_key, error, group), _failed(subnets_key, error, group)], None
    in_az = [s for s in observed.subnets if observation.subnet_az[s] == az_id]
    remaining = [s for s in observed.subnets if s not in in_az]
    suspended = sorted(observed.suspended)
    wanted = sorted(observed.suspended | set(config.autoscaling.suspend_processes))
    if not in_az and subnets_key not in touched:
        reason = f"the group has no subnet in {az_id}"
        return [
            PlannedStep(processes_key, suspended, None, False, skip_reason=reason, group=group),
            PlannedStep(subnets_key, list(observed.subnets), None, False, reason, group=group),
        ], None
    zones = {observation.subnet_az[s] for s in observed.subnets}
    sizing = guards.capacity(
        name,
        desired=observed.desired,
        max_size=observed.max_size,
        azs_before=len(zones),
        azs_in_impaired=1,
        prescale=config.safety.prescale,
    )
    capacity_key = StepKey(StepKind.ASG_CAPACITY, name)
    resumed = subnets_key in touched or capacity_key in touched
    # A resumed group was sized when its evacuation started; sizing it again from the group as
    # we left it would count our own changes twice.
    refusal = None if resumed else guards.no_subnet_left(name, az_id, remaining) or sizing.refusal
    steps = []
    if config.safety.prescale:
        target = observed.desired
        if capacity_key in touched and isinstance(touched[capacity_key].after, int):
            target = touched[capacity_key].after  # the intent recorded before we acted
        elif sizing.desired is not None and capacity_key not in touched:
            target = sizing.desired
        steps.append(
            PlannedStep(
                capacity_key, observed.desired, target, target > observed.desired, group=group
            )
        )
    # Suspend first: removing a subnet while AZRebalance runs starts a rebalancing activity that
    # terminates instances in the impaired AZ (control-plane churn during the event) while the
    # zonal shift already keeps traffic off them.
    steps += [
        PlannedStep(processes_key, suspended, wanted, suspended != wanted, group=group),
        PlannedStep(subnets_key, list(observed.subnets), remaining, bool(in_az), group=group),
    ]
    return steps, refusal
