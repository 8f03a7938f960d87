"""Is the config still true of AWS? Found by the 5-minute reconciler, not on the day it's needed.
Pure: an observation in, a list of problems out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from evacuation.aws.autoscaling import Group
from evacuation.aws.zonal_shift import ManagedResource
from evacuation.config import Config, RecordSetConfig
from evacuation.errors import EvacuationError
from evacuation.observe import Observation, record_set_key


def readiness_problems(config: Config, observation: Observation) -> list[str]:
    """Every way the workload could not be evacuated as configured, one sentence each."""
    problems: list[str] = []
    workload_azs = observation.workload_az_ids(config)
    for arn, resource in observation.resources.items():
        if isinstance(resource, EvacuationError):
            problems.append(
                f"zonal shift resource {arn}: cannot read it ({resource}); is it registered "
                "for zonal shift (zonal_shift.config.enabled / ZonalShiftEnabled)?"
            )
        elif isinstance(resource, ManagedResource) and len(resource.az_ids) < 2:
            problems.append(f"zonal shift resource {arn}: serves only {sorted(resource.az_ids)}")
    for record_set in config.route53:
        key = record_set_key(record_set)
        records = observation.record_sets[key]
        if isinstance(records, EvacuationError):
            problems.append(f"record set {key}: cannot read it ({records})")
            continue
        present = {r.get("SetIdentifier") for r in records if "Weight" in r}
        for az_id, set_identifier in sorted(record_set.set_identifiers.items()):
            if set_identifier not in present:
                problems.append(f"record set {key}: no weighted record {set_identifier} ({az_id})")
        for az_id in sorted(workload_azs - set(record_set.set_identifiers)):
            problems.append(f"record set {key}: no record configured for {az_id}")
        problems.extend(_health_checked(key, records))
        problems.extend(_unlisted_siblings(config, record_set, observation))
    for name, group in observation.groups.items():
        if not isinstance(group, Group):
            problems.append(f"Auto Scaling group {name}: {group}")
            continue
        problems += _group_lever(config, group)
        if not group.subnets:
            if len(group.zone_ids or group.zones) < 2:
                problems.append(f"Auto Scaling group {name}: in one AZ only")
            continue
        zones = {observation.subnet_az.get(s) for s in group.subnets}
        if None in zones:
            problems.append(f"Auto Scaling group {name}: a subnet cannot be resolved to an AZ")
        if len(zones - {None}) < 2:
            problems.append(f"Auto Scaling group {name}: in one AZ only; evacuation would empty it")
    return problems


def _group_lever(config: Config, group: Group) -> list[str]:
    """ASG-7: the group's own ARC zonal shift is the lever that changes no configuration.
    https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-zonal-shift.html"""
    method = config.autoscaling.method if config.autoscaling else "auto"
    if not group.zonal_shift_enabled:
        if method == "zonal_shift":
            return [
                f"Auto Scaling group {group.name}: not enabled for zonal shift "
                "(AvailabilityZoneImpairmentPolicy.ZonalShiftEnabled) but autoscaling.method is "
                "zonal_shift: an evacuation leaves it launching into the AZ"
            ]
        return []
    if method != "subnets" and group.impaired_health == "ReplaceUnhealthy":
        return [
            f"Auto Scaling group {group.name}: ImpairedZoneHealthCheckBehavior is "
            "ReplaceUnhealthy: during a zonal shift, unhealthy instances in the impaired AZ are "
            "still replaced (IgnoreUnhealthy keeps them, and is what AWS recommends for "
            "prescaled groups)"
        ]
    return []


def _health_checked(key: str, records: Sequence[Mapping[str, Any]]) -> list[str]:
    """R53-1: weight 0 is a soft removal. When every non-zero record is unhealthy, Route 53
    answers with the zero-weight ones, the evacuated AZ's too
    (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/health-checks-how-route-53-chooses-records.html);
    an alias that evaluates its target's health behaves like a health-checked record."""
    checked = sorted(
        str(r.get("SetIdentifier"))
        for r in records
        if "Weight" in r
        and (r.get("HealthCheckId") or r.get("AliasTarget", {}).get("EvaluateTargetHealth"))
    )
    if not checked:
        return []
    return [
        f"record set {key}: records {', '.join(checked)} have health checks "
        "(HealthCheckId or EvaluateTargetHealth); if every non-zero record turns unhealthy, "
        "Route 53 answers with the evacuated AZ's zero-weight record too: watch the survivors' "
        "health while evacuated"
    ]


def _unlisted_siblings(
    config: Config, record_set: RecordSetConfig, observation: Observation
) -> list[str]:
    """R53-3: a config entry covers one name and one type. A weighted set of the same name in
    another type (AAAA beside A) with the same set identifiers keeps its clients in the AZ."""
    key = record_set_key(record_set)
    configured = {
        rs.type for rs in config.route53
        if rs.hosted_zone_id == record_set.hosted_zone_id and rs.name == record_set.name
    }  # fmt: skip
    identifiers = set(record_set.set_identifiers.values())
    by_type: dict[str, set[str]] = {}
    for record in observation.other_types.get(key, []):
        if record["Type"] not in configured and record.get("SetIdentifier") in identifiers:
            by_type.setdefault(record["Type"], set()).add(str(record["SetIdentifier"]))
    return [
        f"record set {key}: the same name has a weighted {kind} set with the same set "
        f"identifiers ({', '.join(sorted(ids))}) that the config does not list; evacuating "
        f"{record_set.type} alone leaves {kind} clients in the AZ"
        for kind, ids in sorted(by_type.items())
    ]
