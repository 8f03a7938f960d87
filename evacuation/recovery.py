"""The order of a recovery: capacity back first, then traffic, then the prescale, then the
dependencies configured to fail back. Pure; each kind of step names its stage
(`evacuation/kinds/`).

AWS: "If you are using zonal shift on both Auto Scaling groups and load balancers, cancel the
zonal shift on your Auto Scaling group first", then wait for capacity to balance across the AZs
before cancelling the load balancer's shift
(https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-zonal-shift.html). The
same holds for the subnet lever: traffic sent into an AZ with no capacity fails, or makes the load
balancer fail open (aws-semantics REC-1, REC-2).
"""

from __future__ import annotations

from collections.abc import Sequence

from evacuation.kinds import spec_of
from evacuation.kinds.autoscaling import CapacityWanted, capacity_missing, capacity_wanted
from evacuation.kinds.base import Stage
from evacuation.kinds.zonal_shift import is_group_arn
from evacuation.model import StepRecord

__all__ = [
    "CapacityWanted",
    "Stage",
    "capacity_missing",
    "capacity_wanted",
    "is_group_arn",
    "stage_of",
    "staged",
]


def stage_of(record: StepRecord) -> Stage:
    return spec_of(record.key.kind).stage(record.key)


def staged(records: Sequence[StepRecord]) -> dict[Stage, list[StepRecord]]:
    """Records to revert, by stage, in plan order within each."""
    stages: dict[Stage, list[StepRecord]] = {stage: [] for stage in Stage}
    for record in records:
        stages[stage_of(record)].append(record)
    return stages
