"""Read everything an evacuation plan needs, once per run, batched and concurrent per service."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from evacuation.aws.autoscaling import AutoScalingGateway, Group
from evacuation.aws.cloudwatch import CloudWatchGateway
from evacuation.aws.ec2 import Ec2Gateway, Zone
from evacuation.aws.route53 import Route53Gateway
from evacuation.aws.zonal_shift import ManagedResource, ZonalShiftGateway
from evacuation.config import Config, RecordSetConfig
from evacuation.errors import EvacuationError

if TYPE_CHECKING:
    from mypy_boto3_route53.type_defs import ResourceRecordSetTypeDef

T = TypeVar("T")


@dataclass(frozen=True)
class Gateways:
    """The per-service gateways of one run."""

    ec2: Ec2Gateway
    zonal_shift: ZonalShiftGateway
    route53: Route53Gateway
    autoscaling: AutoScalingGateway
    cloudwatch: CloudWatchGateway


def record_set_key(record_set: RecordSetConfig) -> str:
    """How a record set is named in steps and logs: zone/name/type."""
    return f"{record_set.hosted_zone_id}/{record_set.name}/{record_set.type}"


@dataclass(frozen=True)
class Observation:
    """What AWS looked like at the start of a run. A read that failed holds its error instead."""

    zones: tuple[Zone, ...]
    resources: Mapping[str, ManagedResource | EvacuationError] = field(default_factory=dict)
    record_sets: Mapping[str, list[ResourceRecordSetTypeDef] | EvacuationError] = field(
        default_factory=dict
    )
    groups: Mapping[str, Group | EvacuationError] = field(default_factory=dict)
    subnet_az: Mapping[str, str] = field(default_factory=dict)

    def workload_az_ids(self, config: Config) -> frozenset[str]:
        """Every AZ the workload is deployed in, as far as the reads and the config tell."""
        ids = set(config.configured_az_ids)
        for resource in self.resources.values():
            if isinstance(resource, ManagedResource):
                ids.update(resource.az_ids)
        for group in self.groups.values():
            if isinstance(group, Group):
                ids.update(self.subnet_az[s] for s in group.subnets if s in self.subnet_az)
        return frozenset(ids)


def _guarded(fn: Callable[[], T]) -> T | EvacuationError:
    try:
        return fn()
    except EvacuationError as exc:
        return exc


def observe(config: Config, gateways: Gateways, zones: tuple[Zone, ...]) -> Observation:
    """Read shifts, record sets and groups concurrently; one failing read fails only its step."""
    workers = config.execution.max_workers_per_service
    resource_arns = config.zonal_shift.resources if config.zonal_shift else []
    group_names = config.autoscaling.groups if config.autoscaling else []
    with (
        ThreadPoolExecutor(workers, thread_name_prefix="observe-arc") as arc_pool,
        ThreadPoolExecutor(workers, thread_name_prefix="observe-r53") as r53_pool,
    ):
        shift_futures = {
            arn: arc_pool.submit(
                _guarded, lambda arn=arn: gateways.zonal_shift.get_managed_resource(arn)
            )
            for arn in resource_arns
        }
        record_futures = {
            record_set_key(rs): r53_pool.submit(
                _guarded,
                lambda rs=rs: gateways.route53.weighted_records(
                    rs.hosted_zone_id, rs.name, rs.type
                ),
            )
            for rs in config.route53
        }
        groups = _observe_groups(gateways, group_names)
    subnet_az: Mapping[str, str] = {}
    found = [g for g in groups.values() if isinstance(g, Group)]
    if found:
        subnet_az = gateways.ec2.subnet_zone_ids(s for g in found for s in g.subnets)
    return Observation(
        zones=zones,
        resources={arn: f.result() for arn, f in shift_futures.items()},
        record_sets={key: f.result() for key, f in record_futures.items()},
        groups=groups,
        subnet_az=subnet_az,
    )


def _observe_groups(gateways: Gateways, names: list[str]) -> dict[str, Group | EvacuationError]:
    if not names:
        return {}
    described = _guarded(lambda: gateways.autoscaling.describe_groups(names))
    if isinstance(described, EvacuationError):
        return dict.fromkeys(names, described)
    missing = EvacuationError("Auto Scaling group not found")
    return {name: described.get(name, missing) for name in names}
