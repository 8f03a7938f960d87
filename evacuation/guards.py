"""Refusals that keep an evacuation from making an incident worse. Pure: inputs in, reason out.

Each returns None when the plan may go ahead, or a sentence a human on call can act on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from evacuation.aws.zonal_shift import ActiveShift, Autoshift


def all_weights_zero(record_set: str, intended: Mapping[str, int]) -> str | None:
    """Route 53 sends traffic to every record when all weights of a set are 0: never do that."""
    if intended and all(weight == 0 for weight in intended.values()):
        return (
            f"{record_set}: every weighted record would be at 0, and Route 53 then answers with "
            "all of them (the impaired AZ too); give another AZ a non-zero weight first"
        )
    return None


def no_subnet_left(group: str, az_id: str, remaining: Sequence[str]) -> str | None:
    """Removing the AZ's subnets must leave the group somewhere to launch."""
    if not remaining:
        return (
            f"Auto Scaling group {group} has subnets only in {az_id}; removing them would leave "
            "it no subnet. Add subnets in other AZs first"
        )
    return None


def shifts_in_the_way(resource: str, az_id: str, shifts: Sequence[ActiveShift]) -> list[str]:
    """ARC applies one shift per resource and a customer shift outranks every other type, so a
    shift of ours would make ARC stop applying any customer shift, AWS autoshift or FIS
    experiment away from another AZ: traffic would flow back into an AZ someone took out
    (https://docs.aws.amazon.com/r53recovery/latest/dg/arc-zonal-autoshift.how-it-works.precedence.html).
    A practice run is not in the way: a customer shift interrupts it, as a real event should."""
    return [
        (
            f"{resource} has {shift.describe()}; a customer shift away from {az_id} would make "
            f"ARC stop applying it and send traffic back into {shift.away_from}"
        )
        for shift in shifts
        if shift.away_from != az_id and not shift.is_practice
    ]


def autoshifts_elsewhere(az_id: str, autoshifts: Sequence[Autoshift]) -> str | None:
    """AWS is autoshifting away from another AZ: load that left it is the likeliest cause of an
    alarm here, and evacuating this AZ too would take two out (aws-semantics ARC-2, inferred)."""
    others = sorted({a.away_from for a in autoshifts if a.away_from != az_id})
    if others:
        return (
            f"AWS zonal autoshift in progress away from {', '.join(others)} (ListAutoshifts); "
            f"{az_id} is probably carrying that load. Not evacuating a second AZ"
        )
    return None


def too_many_azs(az_id: str, out: Mapping[str, str], max_azs: int) -> str | None:
    """At most `max_azs` AZs out of service per workload at once, counting every lever: azevac's
    evacuations and what others pulled (AZ ID -> evacuation id or the lever that shows it)."""
    others = {az: why for az, why in out.items() if az != az_id}
    if az_id not in out and len(others) >= max_azs:
        listing = ", ".join(f"{az} ({why})" for az, why in sorted(others.items()))
        return (
            f"{listing} already out of service and safety.max_evacuated_azs is {max_azs}; "
            f"bring it back first, or raise the limit if losing {len(others) + 1} AZs is "
            "really safe"
        )
    return None


def kill_switch(value: str | None, parameter: str) -> str | None:
    """The operators' off switch for automation: only "enabled" lets it act. "disabled", and
    any other value (a typo, "off", an empty string), stops it: the switch fails closed."""
    if value is None:
        return f"cannot read the kill switch {parameter}; not acting alone without it"
    state = value.strip().lower()
    if state == "enabled":
        return None
    said = "set to disabled" if state == "disabled" else f"{value.strip()!r}, not 'enabled'"
    return (
        f"the kill switch {parameter} is {said}: automatic evacuations are off. Evacuate by "
        "hand if needed (azevac evacuate), or set it to enabled"
    )


def regional_impact(
    az_id: str, other_azs_in_alarm: Mapping[str, str], regional_alarm_in_alarm: str | None
) -> str | None:
    """Evacuating one AZ cannot fix a regional event, and removes capacity during it."""
    if regional_alarm_in_alarm is not None:
        return (
            f"regional impact: {regional_alarm_in_alarm} is in ALARM; evacuating {az_id} "
            "cannot fix a regional event and would remove capacity"
        )
    if other_azs_in_alarm:
        listing = ", ".join(f"{alarm} ({az})" for alarm, az in sorted(other_azs_in_alarm.items()))
        return (
            f"regional impact: other AZs are impaired too ({listing}); evacuating {az_id} "
            "cannot fix a regional event and would remove capacity"
        )
    return None


def default_min_healthy(workload_azs: int) -> int:
    return 2 if workload_azs >= 3 else 1


def too_few_healthy(
    az_id: str, workload_azs: frozenset[str], out: Mapping[str, str], min_healthy: int
) -> str | None:
    """Keep at least `min_healthy` AZs in service after this evacuation, counting every AZ
    already out by any lever (AZ ID -> what shows it)."""
    left = sorted(workload_azs - set(out) - {az_id})
    if len(left) < min_healthy:
        already = "".join(
            f"; {az} is already out ({why})" for az, why in sorted(out.items()) if az != az_id
        )
        return (
            f"evacuating {az_id} would leave {len(left)} AZ(s) in service "
            f"({', '.join(left) or 'none'}); safety.min_healthy_azs is {min_healthy}{already}"
        )
    return None


def cooldown(
    az_id: str,
    last_recovered_at: datetime | None,
    now: datetime,
    minutes: int,
    force: bool,
) -> str | None:
    """Flap damping: an AZ just recovered is not evacuated again unless a human forces it."""
    if force or last_recovered_at is None:
        return None
    ready_at = last_recovered_at + timedelta(minutes=minutes)
    if now < ready_at:
        return (
            f"{az_id} was recovered at {last_recovered_at:%H:%M:%S}Z, less than "
            f"safety.cooldown_minutes={minutes} ago (flapping?); a human may evacuate with force"
        )
    return None


def rate_of_change(recent_automatic: int, max_per_day: int) -> str | None:
    """Automation that keeps firing is a signal for a human, not for more automation."""
    if recent_automatic >= max_per_day:
        return (
            f"{recent_automatic} automatic evacuations in the last 24h reached "
            f"safety.max_evacuations_per_day={max_per_day}: paging a human instead"
        )
    return None


@dataclass(frozen=True)
class PrescaleTarget:
    desired: int
    """The desired capacity to set (at most MaxSize)."""
    shortfall: str | None = None
    """Why the target falls short of holding today's load (MaxSize), for the step and a human."""


def prescale_target(
    group: str, *, desired: int, max_size: int, serving_in_az: float
) -> PrescaleTarget:
    """With AZRebalance suspended the AZ's instances stay counted in DesiredCapacity, so the
    healthy AZs hold what all AZs held only at desired + the AZ's share: the weighted capacity of
    the InService, Healthy instances really there (aws-semantics ASG-5), not desired / AZs.
    Above MaxSize, raise to MaxSize and say what is missing: a shortfall never blocks the rest."""
    needed = desired + math.ceil(serving_in_az)
    if needed <= max_size:
        return PrescaleTarget(needed)
    return PrescaleTarget(
        max(desired, max_size),
        f"Auto Scaling group {group}: the healthy AZs need desired {needed} to hold today's load "
        f"(desired {desired} + {serving_in_az:g} serving in the AZ), above MaxSize {max_size}; "
        f"raised to {max(desired, max_size)}, short by {needed - max(desired, max_size)}",
    )
