"""One runner per kind of step: apply, verify and revert, each through the AWS gateways."""

from evacuation.model import StepKind
from evacuation.steps.autoscaling import (
    CapacityRunner,
    ProcessesRunner,
    SubnetsRunner,
    ZonesRunner,
)
from evacuation.steps.base import Failed, RunContext, StepRunner, Verdict, Verified
from evacuation.steps.route53 import WeightRunner
from evacuation.steps.zonal_shift import ZonalShiftRunner

RUNNERS: dict[StepKind, StepRunner] = {
    StepKind.ZONAL_SHIFT: ZonalShiftRunner(),
    StepKind.ROUTE53_WEIGHT: WeightRunner(),
    StepKind.ASG_CAPACITY: CapacityRunner(),
    StepKind.ASG_PROCESSES: ProcessesRunner(),
    StepKind.ASG_SUBNETS: SubnetsRunner(),
    StepKind.ASG_ZONES: ZonesRunner(),
}

__all__ = ["RUNNERS", "Failed", "RunContext", "StepRunner", "Verdict", "Verified"]
