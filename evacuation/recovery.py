"""The order of a recovery: capacity back first, then traffic, then the prescale. Pure.

AWS: "If you are using zonal shift on both Auto Scaling groups and load balancers, cancel the
zonal shift on your Auto Scaling group first", then wait for capacity to balance across the AZs
before cancelling the load balancer's shift
(https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-zonal-shift.html). The
same holds for the subnet lever: traffic sent into an AZ with no capacity fails, or makes the load
balancer fail open (aws-semantics REC-1, REC-2).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from evacuation.aws.autoscaling import Group
from evacuation.model import StepKind, StepRecord


class Stage(StrEnum):
    CAPACITY = "capacity"
    """Groups' own zonal shifts cancelled; subnets (or AZs) restored, then processes resumed."""
    TRAFFIC = "traffic"
    """Load balancer and EKS shifts cancelled, then Route 53 weights restored."""
    PRESCALE = "prescale"
    """Prescaled desired capacity put back, once traffic is back in the AZ."""


def is_group_arn(resource: str) -> bool:
    return resource.startswith("arn:") and resource.split(":")[2:3] == ["autoscaling"]


def stage_of(record: StepRecord) -> Stage:
    kind = record.key.kind
    if kind is StepKind.ASG_CAPACITY:
        return Stage.PRESCALE
    if kind is StepKind.ZONAL_SHIFT:
        return Stage.CAPACITY if is_group_arn(record.key.resource) else Stage.TRAFFIC
    if kind is StepKind.ROUTE53_WEIGHT:
        return Stage.TRAFFIC
    return Stage.CAPACITY


def staged(records: Sequence[StepRecord]) -> dict[Stage, list[StepRecord]]:
    """Records to revert, by stage, in plan order within each."""
    stages: dict[Stage, list[StepRecord]] = {stage: [] for stage in Stage}
    for record in records:
        stages[stage_of(record)].append(record)
    return stages


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
        if stage_of(record) is not Stage.CAPACITY or not isinstance(before, Mapping):
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
