"""Read the workload's state back from AWS and check a hypothesis against it.

Every check here looks at AWS (moto and the zonal-shift fake through boto3), never at what the
controller answered: a drill that trusts the controller's own report proves nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import boto3

from evacuation.emulator.world import REGION, World
from evacuation.verify import Check  # one Check for the drill and azevac verify

State = dict[str, Any]


def read_aws(session: boto3.Session, world: World) -> State:
    """Everything an evacuation could touch, read from AWS: every record of the hosted zone,
    every Auto Scaling group (with the AZ ID of each subnet), every zonal shift and the weights
    ARC applies, and the load balancers' zones."""
    return {
        "records": _records(session, world.zone_id),
        "groups": _groups(session),
        "shifts": _shifts(session),
        "applied_weights": _applied_weights(session),
        "load_balancers": _load_balancers(session),
    }


def _records(session: boto3.Session, zone_id: str) -> dict[str, Any]:
    route53 = session.client("route53", region_name=REGION)
    records = route53.list_resource_record_sets(HostedZoneId=zone_id, MaxItems="300")
    return {
        f"{r['Name']} {r['Type']} {r.get('SetIdentifier', '')}".strip(): {
            "weight": r.get("Weight"),
            "ttl": r.get("TTL"),
            "values": sorted(v["Value"] for v in r.get("ResourceRecords", [])),
        }
        for r in records["ResourceRecordSets"]
    }


def _groups(session: boto3.Session) -> dict[str, Any]:
    autoscaling = session.client("autoscaling", region_name=REGION)
    ec2 = session.client("ec2", region_name=REGION)
    groups = autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"]
    subnet_ids = sorted({s for g in groups for s in g["VPCZoneIdentifier"].split(",") if s})
    subnets = ec2.describe_subnets(SubnetIds=subnet_ids)["Subnets"] if subnet_ids else []
    az_of = {s["SubnetId"]: s["AvailabilityZoneId"] for s in subnets}
    return {
        g["AutoScalingGroupName"]: {
            "subnets": {
                s: az_of.get(s, "?") for s in sorted(g["VPCZoneIdentifier"].split(",")) if s
            },
            "suspended": sorted(p["ProcessName"] for p in g.get("SuspendedProcesses", [])),
            "min": g["MinSize"],
            "max": g["MaxSize"],
            "desired": g["DesiredCapacity"],
        }
        for g in groups
    }


def _shifts(session: boto3.Session) -> list[list[str]]:
    arc = session.client("arc-zonal-shift", region_name=REGION)
    shifts = arc.list_zonal_shifts(status="ACTIVE")["items"]
    return sorted(
        [s["resourceIdentifier"], s["awayFrom"], s.get("shiftType", "ZONAL_SHIFT")] for s in shifts
    )


def _applied_weights(session: boto3.Session) -> dict[str, dict[str, float]]:
    arc = session.client("arc-zonal-shift", region_name=REGION)
    resources = arc.list_managed_resources()["items"]
    return {r["arn"]: dict(sorted(r.get("appliedWeights", {}).items())) for r in resources}


def _load_balancers(session: boto3.Session) -> dict[str, list[str]]:
    elbv2 = session.client("elbv2", region_name=REGION)
    return {
        lb["LoadBalancerArn"]: sorted(z["ZoneName"] for z in lb.get("AvailabilityZones", []))
        for lb in elbv2.describe_load_balancers()["LoadBalancers"]
    }


# -- the hypothesis ------------------------------------------------------------------------------


def evacuated(
    world: World, az_id: str, before: State, after: State, suspend: Sequence[str]
) -> list[Check]:
    """After evacuating `az_id`: no traffic weight and no new capacity remain in it, and nothing
    else changed."""
    return [
        *_weights(world, az_id, before, after),
        *_zonal_shift(world, az_id, after),
        *_capacity(az_id, before, after, suspend),
        nothing_else_changed(expected_after(world, az_id, before, suspend), after),
    ]


def _weights(world: World, az_id: str, before: State, after: State) -> list[Check]:
    target = world.set_identifiers[az_id]
    found = {
        sid: after["records"].get(_record_key(world, sid), {}).get("weight")
        for sid in world.set_identifiers.values()
    }
    others = {sid: w for sid, w in found.items() if sid != target}
    was = {sid: before["records"].get(_record_key(world, sid), {}).get("weight") for sid in others}
    return [
        Check(f"Route 53: weight of {target} is 0", found[target] == 0, f"weight {found[target]}"),
        Check(
            "Route 53: the other AZs' weights are unchanged",
            others == was and any(w for w in others.values()),
            f"{_fmt(others)} (before {_fmt(was)})",
        ),
    ]


def _zonal_shift(world: World, az_id: str, after: State) -> list[Check]:
    lb = world.load_balancer_arn
    shifts = [s for s in after["shifts"] if s[0] == lb]
    ours = [s for s in shifts if s[1] == az_id and s[2] == "ZONAL_SHIFT"]
    applied = after["applied_weights"].get(lb, {})
    return [
        Check(
            f"ARC: one active zonal shift away from {az_id} on {short(lb)}",
            len(ours) == 1 and len(shifts) == 1,
            "; ".join(f"{s[2]} away from {s[1]}" for s in shifts) or "no active shift",
        ),
        Check(
            f"ARC: {short(lb)} applies weight 0 to {az_id}",
            applied.get(az_id) == 0.0 and any(w > 0 for w in applied.values()),
            _fmt(applied),
        ),
    ]


def _capacity(az_id: str, before: State, after: State, suspend: Sequence[str]) -> list[Check]:
    in_az = {
        name: sorted(s for s, az in group["subnets"].items() if az == az_id)
        for name, group in after["groups"].items()
    }
    kept = {
        name: sorted(s for s, az in group["subnets"].items() if az != az_id)
        for name, group in before["groups"].items()
    }
    now = {
        name: sorted(s for s, az in group["subnets"].items() if az != az_id)
        for name, group in after["groups"].items()
    }
    missing = {
        name: sorted(set(suspend) - set(group["suspended"]))
        for name, group in after["groups"].items()
    }
    return [
        Check(
            f"Auto Scaling: no group has a subnet in {az_id}",
            bool(in_az) and not any(in_az.values()),
            _fmt({n: s or "none" for n, s in in_az.items()}),
        ),
        Check(
            "Auto Scaling: every group keeps its subnets in the other AZs",
            now == kept and all(now.values()),
            _fmt({n: len(s) for n, s in now.items()}) + " subnets left",
        ),
        Check(
            f"Auto Scaling: {', '.join(suspend)} suspended on every group",
            bool(missing) and not any(missing.values()),
            _fmt({n: after["groups"][n]["suspended"] for n in missing}),
        ),
    ]


def expected_after(world: World, az_id: str, before: State, suspend: Sequence[str]) -> State:
    """`before` with exactly the evacuation's changes applied: what AWS must look like."""
    expected = copy.deepcopy(before)
    expected["records"][_record_key(world, world.set_identifiers[az_id])]["weight"] = 0
    for group in expected["groups"].values():
        group["subnets"] = {s: az for s, az in group["subnets"].items() if az != az_id}
        group["suspended"] = sorted(set(group["suspended"]) | set(suspend))
    lb = world.load_balancer_arn
    expected["shifts"] = sorted([*expected["shifts"], [lb, az_id, "ZONAL_SHIFT"]])
    expected["applied_weights"][lb][az_id] = 0.0
    return expected


def nothing_else_changed(expected: State, found: State, name: str = "") -> Check:
    """Compare the whole state; the differences are the finding."""
    differences = list(diff(expected, found))
    return Check(
        name or "Nothing else changed (whole state read back and compared)",
        not differences,
        "; ".join(differences[:6]) + (" ..." if len(differences) > 6 else "")
        if differences
        else "identical",
    )


def diff(expected: Any, found: Any, path: str = "") -> Iterable[str]:
    """Human-readable differences between two JSON-like values."""
    if isinstance(expected, Mapping) and isinstance(found, Mapping):
        for key in sorted(set(expected) | set(found), key=str):
            where = f"{path}.{short(str(key))}" if path else short(str(key))
            if key not in found:
                yield f"{where}: missing (expected {expected[key]!r})"
            elif key not in expected:
                yield f"{where}: unexpected {found[key]!r}"
            else:
                yield from diff(expected[key], found[key], where)
    elif expected != found:
        yield f"{path}: expected {expected!r}, found {found!r}"


def _record_key(world: World, set_identifier: str) -> str:
    return f"{world.record_name} A {set_identifier}"


def short(resource: str) -> str:
    """A readable name: an ALB ARN becomes its name, a Route 53 key drops the zone id."""
    if resource.startswith("arn:") and ":loadbalancer/" in resource:
        return resource.split("/")[-2]
    if resource.startswith("arn:"):
        return resource.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
    parts = resource.split("/")
    if len(parts) == 3:  # a Route 53 record set: zone/name/type
        return f"{parts[1]} {parts[2]}"
    return resource


def _fmt(value: Mapping[str, Any]) -> str:
    return ", ".join(f"{short(str(k))}: {v}" for k, v in value.items())


__all__ = ["Check", "State", "diff", "evacuated", "nothing_else_changed", "read_aws", "short"]
