"""Refusals that keep an evacuation from making an incident worse. Pure: inputs in, reason out.

Each returns None when the plan may go ahead, or a sentence a human on call can act on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from evacuation.aws.zonal_shift import ActiveShift


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


def shifted_from_other_az(resource: str, az_id: str, shifts: Sequence[ActiveShift]) -> str | None:
    """One AZ per resource: a customer shift away from another AZ means someone is evacuating
    that one; shifting this resource again would take two AZs out of service."""
    for shift in shifts:
        if shift.is_customer and shift.away_from != az_id:
            return (
                f"{resource} already has zonal shift {shift.shift_id} away from "
                f"{shift.away_from} ({shift.comment!r}); refusing to shift it from {az_id} too"
            )
    return None


def too_many_azs(az_id: str, held: Mapping[str, str], max_azs: int) -> str | None:
    """At most `max_azs` AZs evacuated per workload at once."""
    others = {az: evacuation for az, evacuation in held.items() if az != az_id}
    if az_id not in held and len(others) >= max_azs:
        listing = ", ".join(f"{az} ({evacuation})" for az, evacuation in sorted(others.items()))
        return (
            f"{listing} already evacuated and safety.max_evacuated_azs is {max_azs}; "
            f"recover it first, or raise the limit if losing {len(others) + 1} AZs is really safe"
        )
    return None
