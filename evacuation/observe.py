"""Read everything an evacuation plan needs, once per run, batched and concurrent per service."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, TypeVar

import structlog

from evacuation.aws.autoscaling import AutoScalingGateway, Group
from evacuation.aws.cloudwatch import CloudWatchGateway
from evacuation.aws.ec2 import Ec2Gateway
from evacuation.aws.route53 import Route53Gateway
from evacuation.aws.zonal_shift import Autoshift, ManagedResource, ZonalShiftGateway
from evacuation.config import Config, RecordSetConfig
from evacuation.errors import EvacuationError

log = structlog.get_logger(__name__)

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

    resources: Mapping[str, ManagedResource | EvacuationError] = field(default_factory=dict)
    record_sets: Mapping[str, list[ResourceRecordSetTypeDef] | EvacuationError] = field(
        default_factory=dict
    )
    groups: Mapping[str, Group | EvacuationError] = field(default_factory=dict)
    subnet_az: Mapping[str, str] = field(default_factory=dict)
    """subnet id -> AZ ID, for every subnet that could be resolved."""
    subnet_errors: Mapping[str, EvacuationError] = field(default_factory=dict)
    """group name -> why its subnets could not be resolved (only that group's steps fail)."""
    zone_ids: Mapping[str, str] | None = field(default_factory=dict)
    """AZ name -> ID, read only when a group is defined by AZ names; None if that read failed."""
    autoshifts: Sequence[Autoshift] | EvacuationError = ()
    """AWS's region-wide autoshifts in progress (ListAutoshifts), or why they could not be read."""
    other_types: Mapping[str, list[ResourceRecordSetTypeDef]] = field(default_factory=dict)
    """Per configured record set (its key): the records of the same name in other types, read
    with it (absent where the read failed)."""

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


def observe(config: Config, gateways: Gateways) -> Observation:
    """Read shifts, record sets and groups concurrently; one failing read fails only its step."""
    workers = config.execution.max_workers_per_service
    resource_arns = config.zonal_shift.resources if config.zonal_shift else []
    group_names = config.autoscaling.groups if config.autoscaling else []
    with ThreadPoolExecutor(3, thread_name_prefix="observe") as pool:
        resources = pool.submit(read_managed_resources, gateways, resource_arns, workers)
        record_sets = pool.submit(read_record_sets, gateways, config.route53, workers)
        # One region-wide listing, not a read per resource: an autoshift is per AZ.
        autoshifts = (
            pool.submit(_guarded, gateways.zonal_shift.active_autoshifts) if resource_arns else None
        )
        groups = _observe_groups(gateways, group_names)
        # Groups that take ARC zonal shifts are read from ARC too: their ARNs are known only now.
        shifted = [
            g.arn
            for g in groups.values()
            if isinstance(g, Group)
            and g.zonal_shift_enabled
            and g.arn
            and g.arn not in resource_arns
        ]
        group_resources = pool.submit(read_managed_resources, gateways, shifted, workers)
        zone_ids = _zone_ids(gateways, groups)
        subnet_az, subnet_errors = _resolve_subnets(gateways, groups, workers)
    records, other_types = record_sets.result()
    return Observation(
        resources={**resources.result(), **group_resources.result()},
        zone_ids=zone_ids,
        record_sets=records,
        groups=groups,
        subnet_az=subnet_az,
        subnet_errors=subnet_errors,
        autoshifts=autoshifts.result() if autoshifts else (),
        other_types=other_types,
    )


def _zone_ids(
    gateways: Gateways, groups: Mapping[str, Group | EvacuationError]
) -> Mapping[str, str] | None:
    """The zone map, read only for groups defined by AZ names (no subnets, no AZ IDs)."""
    by_name = [
        g for g in groups.values() if isinstance(g, Group) and not g.subnets and not g.zone_ids
    ]
    if not by_name:
        return {}
    zones = _guarded(gateways.ec2.availability_zones)
    if isinstance(zones, EvacuationError):
        log.warning("observe.zones_failed", service="ec2", error=str(zones))
        return None
    return {z.name: z.zone_id for z in zones}


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
    everything = _guarded(
        lambda: gateways.ec2.subnet_zone_ids(s for g in found.values() for s in g.subnets)
    )
    if not isinstance(everything, EvacuationError):
        return dict(everything), {}
    log.warning("observe.subnets_failed", service="ec2", error=str(everything))
    if len(found) == 1:
        return {}, dict.fromkeys(found, everything)
    per_group = _each(
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


def page_budget(wanted: int) -> int:
    """Pages a batched read may spend before reading the rest one by one: at most half as many
    as there are items, so even an account where listing finds nothing costs at most 1.5 reads
    per item (and a fleet that fits a page costs one read in all)."""
    return max(1, wanted // 2)


def read_managed_resources(
    gateways: Gateways, arns: list[str], workers: int
) -> dict[str, ManagedResource | EvacuationError]:
    """Each resource as ARC shows it now: listed (a page per 100, within the page budget), the
    rest read one by one, `workers` at a time; a read that failed holds its error."""
    listed: Mapping[str, ManagedResource] = {}
    if len(arns) > 1:
        batch = _guarded(
            lambda: gateways.zonal_shift.list_managed_resources(arns, page_budget(len(arns)))
        )
        if isinstance(batch, EvacuationError):
            log.warning("observe.list_failed", service="arc-zonal-shift", error=str(batch))
        else:
            listed = batch
    rest = [arn for arn in arns if arn not in listed]
    read = {**listed, **_each(rest, gateways.zonal_shift.get_managed_resource, workers)}
    return {arn: read[arn] for arn in arns}


RecordSetReads = tuple[
    dict[str, list["ResourceRecordSetTypeDef"] | EvacuationError],
    dict[str, list["ResourceRecordSetTypeDef"]],
]


def read_record_sets(
    gateways: Gateways, record_sets: list[RecordSetConfig], workers: int
) -> RecordSetReads:
    """Each record set's records, and its name's records of other types, by record set key.

    A zone holding several of the sets is listed from its start (within the page budget); the
    rest are read one name at a time, which returns every type of the name in the same read."""
    by_zone: dict[str, list[RecordSetConfig]] = {}
    for record_set in record_sets:
        by_zone.setdefault(record_set.hosted_zone_id, []).append(record_set)
    batched = {zone: sets for zone, sets in by_zone.items() if len(sets) > 1}

    def list_zone(zone: str) -> Mapping[tuple[str, str], list[ResourceRecordSetTypeDef]]:
        wanted = [(rs.name, rs.type) for rs in batched[zone]]
        listed = _guarded(
            lambda: gateways.route53.zone_records(zone, wanted, page_budget(len(wanted)))
        )
        if isinstance(listed, EvacuationError):
            log.warning("observe.list_failed", service="route53", zone=zone, error=str(listed))
            return {}
        return listed

    zones = _each(list(batched), list_zone, workers)
    found: dict[str, list[ResourceRecordSetTypeDef] | EvacuationError] = {}
    others: dict[str, list[ResourceRecordSetTypeDef]] = {}
    rest: dict[str, RecordSetConfig] = {}
    for record_set in record_sets:
        zone_records = zones.get(record_set.hosted_zone_id, {})
        name = record_set.name.rstrip(".").lower()
        if isinstance(zone_records, Mapping) and (name, record_set.type) in zone_records:
            key = record_set_key(record_set)
            found[key] = list(zone_records[(name, record_set.type)])
            others[key] = [
                r for (n, t), rs in zone_records.items() if n == name and t != record_set.type
                for r in rs
            ]  # fmt: skip
        else:
            rest[record_set_key(record_set)] = record_set

    def read_one(key: str) -> list[ResourceRecordSetTypeDef]:
        rs = rest[key]
        return gateways.route53.name_records(rs.hosted_zone_id, rs.name)

    for key, read in _each(list(rest), read_one, workers).items():
        if isinstance(read, EvacuationError):
            found[key] = read
            continue
        found[key] = [r for r in read if r["Type"] == rest[key].type]
        others[key] = [r for r in read if r["Type"] != rest[key].type]
    return {key: found[key] for key in map(record_set_key, record_sets)}, others


def _each(
    keys: list[str], read: Callable[[str], T], workers: int
) -> dict[str, T | EvacuationError]:
    """read(key) for every key, `workers` at a time; a read that fails holds its error."""
    if not keys:
        return {}
    with ThreadPoolExecutor(min(workers, len(keys)), thread_name_prefix="observe") as pool:
        futures = {
            key: pool.submit(contextvars.copy_context().run, _guarded, partial(read, key))
            for key in keys
        }
        return {key: future.result() for key, future in futures.items()}


def _observe_groups(gateways: Gateways, names: list[str]) -> dict[str, Group | EvacuationError]:
    if not names:
        return {}
    described = _guarded(lambda: gateways.autoscaling.describe_groups(names))
    if isinstance(described, EvacuationError):
        return dict.fromkeys(names, described)
    missing = EvacuationError("Auto Scaling group not found")
    return {name: described.get(name, missing) for name in names}
