"""What each resource kind contributes to the drill's and the reliability campaigns' read-back:
its part of the AWS state, its checks of the evacuation hypothesis, the exact change an
evacuation makes to that part, the AWS mutations its steps send, and what must always hold.

One probe per kind of `evacuation.kinds.KINDS`, found by the kind's name (`probes()` fails on a
kind without one), so `checks.py` and `tests/reliability` iterate over the registry and name no
kind. Probes read AWS (moto and the fakes through boto3), never the controller's answer. They
live with the drill, outside the deployed artifact.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import boto3
from botocore.exceptions import ClientError

from evacuation.aws.elasticache import CacheMember, ReplicationGroup
from evacuation.aws.rds import Cluster, Member
from evacuation.drill.check import Check, State, fmt, short
from evacuation.emulator.world import REGION, World
from evacuation.kinds import KINDS
from evacuation.kinds.caches import choose_target as choose_cache_target
from evacuation.kinds.caches import unsupported
from evacuation.kinds.databases import choose_target


@dataclass(frozen=True)
class Context:
    """What the hypothesis is about: the world, the AZ evacuated and the config it ran with."""

    world: World
    az_id: str
    suspend: Sequence[str] = ("AZRebalance",)
    config: Mapping[str, Any] = field(default_factory=dict)


class Probe:
    kind: ClassVar[str]
    """The name of its kind in KINDS."""
    mutations: ClassVar[tuple[tuple[str, str], ...]] = ()
    """(boto3 service, operation) of the mutations the kind's steps send on evacuation."""
    traffic: ClassVar[tuple[tuple[str, str], ...]] = ()
    """(boto3 service, operation) of the calls that bring traffic back into an AZ on recover."""

    def read(self, session: boto3.Session, world: World) -> State:
        """Its keys of the state read back: everything of this kind an evacuation could touch."""
        return {}

    def evacuated(self, ctx: Context, before: State, after: State) -> list[Check]:
        """The hypothesis, for this kind: the AZ out of its resources, nothing else changed."""
        return []

    def expect(self, ctx: Context, expected: State) -> None:
        """Apply to `expected` (a copy of the state before) exactly the evacuation's changes."""

    def invariants(self, ctx: Context, state: State, max_azs: int = 1) -> list[str]:
        """What must hold in AWS after any case, faults, crashes or not."""
        return []

    def out_of_service(self, ctx: Context, state: State) -> set[str]:
        """AZ IDs this kind's lever holds out of service in `state`."""
        return set()

    def capacity_short(self, session: boto3.Session, world: World, original: State) -> list[str]:
        """Resources of this kind whose capacity levers are not back as in `original` (recover
        must not return traffic before they are: aws-semantics REC-1)."""
        return []

    def units_in(self, session: boto3.Session, world: World, az_id: str) -> int:
        """Capacity units of this kind running in the AZ (an evacuation must add none)."""
        return 0


# -- ARC zonal shift ------------------------------------------------------------------------------


class ZonalShiftProbe(Probe):
    kind = "zonal_shift"
    mutations = (("arc-zonal-shift", "StartZonalShift"),)
    traffic = (("arc-zonal-shift", "CancelZonalShift"),)

    def read(self, session: boto3.Session, world: World) -> State:
        """Every zonal shift, the weights ARC applies, and the load balancers' zones."""
        arc = session.client("arc-zonal-shift", region_name=REGION)
        shifts = arc.list_zonal_shifts(status="ACTIVE")["items"]
        resources = arc.list_managed_resources()["items"]
        elbv2 = session.client("elbv2", region_name=REGION)
        return {
            "shifts": sorted(
                [s["resourceIdentifier"], s["awayFrom"], s.get("shiftType", "ZONAL_SHIFT")]
                for s in shifts
            ),
            "applied_weights": {
                r["arn"]: dict(sorted(r.get("appliedWeights", {}).items())) for r in resources
            },
            "load_balancers": {
                lb["LoadBalancerArn"]: sorted(
                    z["ZoneName"] for z in lb.get("AvailabilityZones", [])
                )
                for lb in elbv2.describe_load_balancers()["LoadBalancers"]
            },
        }

    def evacuated(self, ctx: Context, before: State, after: State) -> list[Check]:
        lb, az_id = ctx.world.load_balancer_arn, ctx.az_id
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
                fmt(applied),
            ),
        ]

    def expect(self, ctx: Context, expected: State) -> None:
        lb = ctx.world.load_balancer_arn
        expected["shifts"] = sorted([*expected["shifts"], [lb, ctx.az_id, "ZONAL_SHIFT"]])
        expected["applied_weights"][lb][ctx.az_id] = 0.0

    def invariants(self, ctx: Context, state: State, max_azs: int = 1) -> list[str]:
        away = self.out_of_service(ctx, state)
        if len(away) > max_azs:
            return [f"shifted away from {sorted(away)}: more than {max_azs} AZ"]
        return []

    def out_of_service(self, ctx: Context, state: State) -> set[str]:
        return {s[1] for s in state["shifts"] if s[2] == "ZONAL_SHIFT"}


# -- Route 53 weights -----------------------------------------------------------------------------


def _record_key(world: World, set_identifier: str) -> str:
    return f"{world.record_name} A {set_identifier}"


class Route53Probe(Probe):
    kind = "route53"
    mutations = (("route53", "ChangeResourceRecordSets"),)
    traffic = (("route53", "ChangeResourceRecordSets"),)

    def read(self, session: boto3.Session, world: World) -> State:
        """Every record of the hosted zone."""
        route53 = session.client("route53", region_name=REGION)
        records = route53.list_resource_record_sets(HostedZoneId=world.zone_id, MaxItems="300")
        return {
            "records": {
                f"{r['Name']} {r['Type']} {r.get('SetIdentifier', '')}".strip(): {
                    "weight": r.get("Weight"),
                    "ttl": r.get("TTL"),
                    "values": sorted(v["Value"] for v in r.get("ResourceRecords", [])),
                }
                for r in records["ResourceRecordSets"]
            }
        }

    def evacuated(self, ctx: Context, before: State, after: State) -> list[Check]:
        world = ctx.world
        target = world.set_identifiers[ctx.az_id]
        found = {
            sid: after["records"].get(_record_key(world, sid), {}).get("weight")
            for sid in world.set_identifiers.values()
        }
        others = {sid: w for sid, w in found.items() if sid != target}
        was = {
            sid: before["records"].get(_record_key(world, sid), {}).get("weight") for sid in others
        }
        return [
            Check(
                f"Route 53: weight of {target} is 0", found[target] == 0, f"weight {found[target]}"
            ),
            Check(
                "Route 53: the other AZs' weights are unchanged",
                others == was and any(w for w in others.values()),
                f"{fmt(others)} (before {fmt(was)})",
            ),
        ]

    def expect(self, ctx: Context, expected: State) -> None:
        key = _record_key(ctx.world, ctx.world.set_identifiers[ctx.az_id])
        expected["records"][key]["weight"] = 0

    def invariants(self, ctx: Context, state: State, max_azs: int = 1) -> list[str]:
        weights = [
            state["records"].get(_record_key(ctx.world, sid), {}).get("weight")
            for sid in ctx.world.set_identifiers.values()
        ]
        if weights and all(w == 0 for w in weights):
            return ["every weight of the record set is 0"]
        return []

    def out_of_service(self, ctx: Context, state: State) -> set[str]:
        return {
            az
            for az, sid in ctx.world.set_identifiers.items()
            if state["records"].get(_record_key(ctx.world, sid), {}).get("weight") == 0
        }


# -- Auto Scaling ---------------------------------------------------------------------------------


class AutoScalingProbe(Probe):
    kind = "autoscaling"
    mutations = (
        ("autoscaling", "SuspendProcesses"),
        ("autoscaling", "UpdateAutoScalingGroup"),
    )

    def read(self, session: boto3.Session, world: World) -> State:
        """Every Auto Scaling group, with the AZ ID of each subnet."""
        autoscaling = session.client("autoscaling", region_name=REGION)
        ec2 = session.client("ec2", region_name=REGION)
        groups = autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"]
        subnet_ids = sorted({s for g in groups for s in g["VPCZoneIdentifier"].split(",") if s})
        subnets = ec2.describe_subnets(SubnetIds=subnet_ids)["Subnets"] if subnet_ids else []
        az_of = {s["SubnetId"]: s["AvailabilityZoneId"] for s in subnets}
        return {
            "groups": {
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
        }

    def evacuated(self, ctx: Context, before: State, after: State) -> list[Check]:
        az_id, suspend = ctx.az_id, ctx.suspend
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
                fmt({n: s or "none" for n, s in in_az.items()}),
            ),
            Check(
                "Auto Scaling: every group keeps its subnets in the other AZs",
                now == kept and all(now.values()),
                fmt({n: len(s) for n, s in now.items()}) + " subnets left",
            ),
            Check(
                f"Auto Scaling: {', '.join(suspend)} suspended on every group",
                bool(missing) and not any(missing.values()),
                fmt({n: after["groups"][n]["suspended"] for n in missing}),
            ),
        ]

    def expect(self, ctx: Context, expected: State) -> None:
        for group in expected["groups"].values():
            group["subnets"] = {s: az for s, az in group["subnets"].items() if az != ctx.az_id}
            group["suspended"] = sorted(set(group["suspended"]) | set(ctx.suspend))

    def invariants(self, ctx: Context, state: State, max_azs: int = 1) -> list[str]:
        return [f"group {n} has no subnet" for n, g in state["groups"].items() if not g["subnets"]]

    @staticmethod
    def _groups(session: boto3.Session, world: World) -> list[dict[str, Any]]:
        autoscaling = session.client("autoscaling", region_name=REGION)
        described = autoscaling.describe_auto_scaling_groups(
            AutoScalingGroupNames=list(world.groups)
        )
        groups: list[dict[str, Any]] = [dict(g) for g in described["AutoScalingGroups"]]
        return groups

    def capacity_short(self, session: boto3.Session, world: World, original: State) -> list[str]:
        was = original["groups"]
        return [
            f"group {g['AutoScalingGroupName']} lacks its subnets"
            for g in self._groups(session, world)
            if sorted(s for s in g["VPCZoneIdentifier"].split(",") if s)
            != sorted(was[g["AutoScalingGroupName"]]["subnets"])
        ]

    def units_in(self, session: boto3.Session, world: World, az_id: str) -> int:
        return sum(
            1
            for g in self._groups(session, world)
            for i in g.get("Instances", [])
            if i.get("AvailabilityZoneId") == az_id
        )


# -- Aurora / RDS DB clusters ---------------------------------------------------------------------


class DatabasesProbe(Probe):
    kind = "databases"
    mutations = (("rds", "FailoverDBCluster"), ("rds", "RebootDBInstance"))

    def read(self, session: boto3.Session, world: World) -> State:
        """Every DB cluster: its writer and each member's AZ (name and ID), tier and status;
        every DB instance outside a cluster: its primary's and standby's AZ IDs and status."""
        rds = session.client("rds", region_name=REGION)
        clusters = rds.describe_db_clusters()["DBClusters"]
        described = rds.describe_db_instances()["DBInstances"]
        if not clusters and not described:
            return {"db_clusters": {}, "db_instances": {}}
        instances = {i["DBInstanceIdentifier"]: i for i in described}
        zone_ids = _zone_ids(session)
        alone = {
            i["DBInstanceIdentifier"]: {
                "az": zone_ids.get(i.get("AvailabilityZone", ""), "?"),
                "standby_az": zone_ids.get(i.get("SecondaryAvailabilityZone", "")),
                "status": i.get("DBInstanceStatus", "unknown"),
            }
            for i in described
            if not i.get("DBClusterIdentifier")
        }
        found: dict[str, Any] = {}
        for cluster in clusters:
            members = {}
            writer = None
            for m in cluster.get("DBClusterMembers", []):
                instance = instances.get(m["DBInstanceIdentifier"], {})
                zone = instance.get("AvailabilityZone", "")
                members[m["DBInstanceIdentifier"]] = {
                    "zone": zone,
                    "az": zone_ids.get(zone, "?"),
                    "tier": m.get("PromotionTier", instance.get("PromotionTier", 1)),
                    "status": instance.get("DBInstanceStatus", "unknown"),
                }
                if m.get("IsClusterWriter"):
                    writer = m["DBInstanceIdentifier"]
            found[cluster["DBClusterIdentifier"]] = {"writer": writer, "members": members}
        return {"db_clusters": found, "db_instances": alone}

    @staticmethod
    def _instances(ctx: Context, state: State) -> dict[str, Any]:
        wanted = (ctx.config.get("databases") or {}).get("instances", [])
        return {i: v for i, v in state["db_instances"].items() if i in wanted}

    def _ours(self, ctx: Context, state: State) -> dict[str, Any]:
        wanted = (ctx.config.get("databases") or {}).get("clusters", [])
        return {c: v for c, v in state["db_clusters"].items() if c in wanted}

    def evacuated(self, ctx: Context, before: State, after: State) -> list[Check]:
        expected = copy.deepcopy(before)
        self.expect(ctx, expected)
        checks = []
        if instances := self._instances(ctx, after):
            primaries = {i: v["az"] for i, v in instances.items()}
            checks.append(
                Check(
                    f"RDS: every Multi-AZ DB instance's primary is out of {ctx.az_id}, "
                    "where its standby was, and available",
                    primaries == {i: expected["db_instances"][i]["az"] for i in instances}
                    and all(v["status"] == "available" for v in instances.values()),
                    fmt({i: f"{v['az']} ({v['status']})" for i, v in instances.items()}),
                )
            )
        ours = self._ours(ctx, after)
        if not ours:
            return checks
        writers = {c: v["writer"] for c, v in ours.items()}
        wanted = {c: expected["db_clusters"][c]["writer"] for c in ours}
        return [
            *checks,
            Check(
                f"RDS: every DB cluster with a reader elsewhere has its writer out of {ctx.az_id}",
                writers == wanted,
                fmt(
                    {
                        c: f"{w} ({ours[c]['members'].get(w, {}).get('az')})"
                        for c, w in writers.items()
                    }
                ),
            ),
        ]

    def expect(self, ctx: Context, expected: State) -> None:
        for instance in self._instances(ctx, expected).values():
            # RebootDBInstance ForceFailover: the standby becomes the primary (no target choice)
            if instance["az"] == ctx.az_id and instance["standby_az"] not in (None, ctx.az_id):
                instance["az"], instance["standby_az"] = instance["standby_az"], instance["az"]
                instance["status"] = "available"
        for cluster_id, cluster in self._ours(ctx, expected).items():
            members = cluster["members"]
            writer = cluster["writer"]
            if writer is None or members[writer]["az"] != ctx.az_id:
                continue
            model = Cluster(
                cluster_id,
                "",
                "available",
                tuple(
                    Member(i, i == writer, int(m["tier"]), m["zone"], m["status"])
                    for i, m in members.items()
                ),
            )
            zone_ids = {m["zone"]: m["az"] for m in members.values()}
            target = choose_target(model, zone_ids, ctx.az_id)
            if target is not None:
                cluster["writer"] = target.instance_id

    def invariants(self, ctx: Context, state: State, max_azs: int = 1) -> list[str]:
        return [
            f"DB cluster {c} has no writer"
            for c, v in state["db_clusters"].items()
            if not v["writer"]
        ]


def _zone_ids(session: boto3.Session) -> dict[str, str]:
    ec2 = session.client("ec2", region_name=REGION)
    zones = ec2.describe_availability_zones()["AvailabilityZones"]
    return {z["ZoneName"]: z["ZoneId"] for z in zones}


# -- ECS services ---------------------------------------------------------------------------------


class EcsProbe(Probe):
    kind = "ecs"
    mutations = (("ecs", "UpdateService"),)

    def read(self, session: boto3.Session, world: World) -> State:
        """Every ECS service: its awsvpc subnets (with their AZ IDs) and AZ rebalancing."""
        ecs = session.client("ecs", region_name=REGION)
        ec2 = session.client("ec2", region_name=REGION)
        services: dict[str, Any] = {}
        for cluster_arn in ecs.list_clusters()["clusterArns"]:
            cluster = cluster_arn.rsplit("/", 1)[-1]
            arns = ecs.list_services(cluster=cluster)["serviceArns"]
            for start in range(0, len(arns), 10):
                described = ecs.describe_services(
                    cluster=cluster, services=arns[start : start + 10]
                )
                for s in described["services"]:
                    network = s.get("networkConfiguration", {}).get("awsvpcConfiguration", {})
                    services[f"{cluster}/{s['serviceName']}"] = {
                        "subnets": list(network.get("subnets", [])),
                        "rebalancing": s.get("availabilityZoneRebalancing", "DISABLED"),
                    }
        subnet_ids = sorted({s for v in services.values() for s in v["subnets"]})
        subnets = ec2.describe_subnets(SubnetIds=subnet_ids)["Subnets"] if subnet_ids else []
        az_of = {s["SubnetId"]: s["AvailabilityZoneId"] for s in subnets}
        for value in services.values():
            value["subnets"] = {s: az_of.get(s, "?") for s in sorted(value["subnets"])}
        return {"ecs_services": services}

    def _ours(self, ctx: Context, state: State) -> dict[str, Any]:
        wanted = (ctx.config.get("ecs") or {}).get("services", [])
        return {r: v for r, v in state["ecs_services"].items() if r in wanted}

    def evacuated(self, ctx: Context, before: State, after: State) -> list[Check]:
        ours = self._ours(ctx, after)
        if not ours:
            return []
        in_az = {
            r: sorted(s for s, az in v["subnets"].items() if az == ctx.az_id)
            for r, v in ours.items()
        }
        left = {r: len(v["subnets"]) for r, v in ours.items()}
        return [
            Check(
                f"ECS: no service has a subnet in {ctx.az_id}, every one keeps the others",
                not any(in_az.values()) and all(left.values()),
                fmt({r: f"{left[r]} subnets, in the AZ: {in_az[r] or 'none'}" for r in ours}),
            )
        ]

    def expect(self, ctx: Context, expected: State) -> None:
        disable = (ctx.config.get("ecs") or {}).get("disable_rebalancing", True)
        for service in self._ours(ctx, expected).values():
            kept = {s: az for s, az in service["subnets"].items() if az != ctx.az_id}
            if kept and kept != service["subnets"]:
                service["subnets"] = kept
                if disable:
                    service["rebalancing"] = "DISABLED"

    def invariants(self, ctx: Context, state: State, max_azs: int = 1) -> list[str]:
        return [
            f"ECS service {r} has no subnet"
            for r, v in state["ecs_services"].items()
            if not v["subnets"]
        ]


# -- ElastiCache primaries ------------------------------------------------------------------------


class CachesProbe(Probe):
    """The primaries of the world's replication groups (the ElastiCacheFake's: moto cannot move
    one), read with DescribeReplicationGroups, each member's zone name mapped to its AZ ID."""

    kind = "caches"
    mutations = (("elasticache", "ModifyReplicationGroup"),)

    def read(self, session: boto3.Session, world: World) -> State:
        """Each group: its primary and that primary's AZ ID, every member's zone and role, its
        status and a promotion under way (PendingModifiedValues.PrimaryClusterId)."""
        if not world.cache_groups:
            return {"cache_groups": {}}
        elasticache = session.client("elasticache", region_name=REGION)
        zone_ids = _zone_ids(session)
        found: dict[str, Any] = {}
        for group_id in sorted(world.cache_groups):
            described = elasticache.describe_replication_groups(ReplicationGroupId=group_id)
            group = described["ReplicationGroups"][0]
            members = {
                m["CacheClusterId"]: {
                    "zone": m.get("PreferredAvailabilityZone", ""),
                    "az": zone_ids.get(m.get("PreferredAvailabilityZone", ""), "?"),
                    "role": m.get("CurrentRole"),
                }
                for node_group in group.get("NodeGroups", [])
                for m in node_group.get("NodeGroupMembers", [])
            }
            primary = next((c for c, m in members.items() if m["role"] == "primary"), None)
            found[group_id] = {
                "primary": primary,
                "primary_az": members[primary]["az"] if primary else None,
                "members": members,
                "status": group.get("Status"),
                "pending_primary": group.get("PendingModifiedValues", {}).get("PrimaryClusterId"),
                "cluster_mode": bool(group.get("ClusterEnabled", False)),
                "automatic_failover": group.get("AutomaticFailover", "disabled"),
                "multi_az": group.get("MultiAZ", "disabled"),
            }
        return {"cache_groups": found}

    def _ours(self, ctx: Context, state: State) -> dict[str, Any]:
        wanted = (ctx.config.get("caches") or {}).get("replication_groups", [])
        return {g: v for g, v in state["cache_groups"].items() if g in wanted}

    def evacuated(self, ctx: Context, before: State, after: State) -> list[Check]:
        ours = self._ours(ctx, after)
        if not ours:
            return []
        expected = copy.deepcopy(before)
        self.expect(ctx, expected)
        primaries = {g: (v["primary"], v["primary_az"]) for g, v in ours.items()}
        wanted = {
            g: (expected["cache_groups"][g]["primary"], expected["cache_groups"][g]["primary_az"])
            for g in ours
        }
        settled = {g: v["status"] for g, v in ours.items()}
        return [
            Check(
                "ElastiCache: every replication group with a replica elsewhere has its primary "
                f"out of {ctx.az_id} (CurrentRole, PreferredAvailabilityZone)",
                primaries == wanted,
                fmt({g: f"{p} ({az})" for g, (p, az) in primaries.items()}),
            ),
            Check(
                "ElastiCache: no promotion still under way",
                all(s == "available" for s in settled.values())
                and not any(v["pending_primary"] for v in ours.values()),
                fmt(settled),
            ),
        ]

    def expect(self, ctx: Context, expected: State) -> None:
        for group in self._ours(ctx, expected).values():
            if group["primary_az"] != ctx.az_id:
                continue
            model = ReplicationGroup(
                "",
                str(group["status"]),
                bool(group["cluster_mode"]),
                str(group["automatic_failover"]),
                str(group["multi_az"]),
                tuple(CacheMember(c, m["role"], m["zone"]) for c, m in group["members"].items()),
            )
            if unsupported(model) is not None:
                continue
            zone_ids = {m["zone"]: m["az"] for m in group["members"].values()}
            target = choose_cache_target(model, zone_ids, ctx.az_id)
            if target is None:
                continue
            for cluster_id, member in group["members"].items():
                member["role"] = "primary" if cluster_id == target.cluster_id else "replica"
            group["primary"] = target.cluster_id
            group["primary_az"] = group["members"][target.cluster_id]["az"]

    def invariants(self, ctx: Context, state: State, max_azs: int = 1) -> list[str]:
        """Every group has a primary; none was moved (or is being moved) INTO the evacuated AZ:
        a primary there is the one the group began with."""
        broken = []
        for group_id, group in state["cache_groups"].items():
            if not group["primary"]:
                broken.append(f"replication group {group_id} has no primary")
            began = ctx.world.cache_groups.get(group_id)
            for cluster_id in (group["primary"], group["pending_primary"]):
                member = group["members"].get(cluster_id) if cluster_id else None
                if member and member["az"] == ctx.az_id and cluster_id != began:
                    broken.append(
                        f"replication group {group_id}: {cluster_id} made primary in {ctx.az_id}"
                    )
        return broken


# -- ARC routing controls -------------------------------------------------------------------------


class RoutingControlsProbe(Probe):
    """The world's ARC routing controls (the RoutingControlFake's: moto has no backend), read
    with GetRoutingControlState through the cluster's Regional endpoints, each in turn."""

    kind = "routing_controls"
    mutations = (("route53-recovery-cluster", "UpdateRoutingControlState"),)
    traffic = (("route53-recovery-cluster", "UpdateRoutingControlState"),)

    def read(self, session: boto3.Session, world: World) -> State:
        """Each AZ's control state, On or Off."""
        if not world.routing_controls:
            return {"routing_controls": {}}
        return {
            "routing_controls": {
                az: _control_state(session, world, arn)
                for az, arn in sorted(world.routing_controls.items())
            }
        }

    def _ours(self, ctx: Context) -> dict[str, str]:
        controls = (ctx.config.get("routing_controls") or {}).get("controls", {})
        return dict(controls)

    def evacuated(self, ctx: Context, before: State, after: State) -> list[Check]:
        ours = self._ours(ctx)
        if not ours:
            return []
        expected = copy.deepcopy(before)
        self.expect(ctx, expected)
        found = {az: after["routing_controls"].get(az) for az in ours}
        wanted = {az: expected["routing_controls"].get(az) for az in ours}
        return [
            Check(
                f"ARC: {ctx.az_id}'s routing control Off, the others as before "
                "(GetRoutingControlState)",
                found == wanted and found.get(ctx.az_id) == "Off",
                ", ".join(f"{az} {state}" for az, state in sorted(found.items())),
            )
        ]

    def expect(self, ctx: Context, expected: State) -> None:
        if ctx.az_id in self._ours(ctx) and ctx.az_id in expected["routing_controls"]:
            expected["routing_controls"][ctx.az_id] = "Off"

    def invariants(self, ctx: Context, state: State, max_azs: int = 1) -> list[str]:
        controls = state["routing_controls"]
        off = self.out_of_service(ctx, state)
        broken = []
        if len(off) > max_azs:
            broken.append(f"routing controls Off for {sorted(off)}: more than {max_azs} AZ")
        if controls and len(off) == len(controls):
            broken.append("every routing control is Off")
        return broken

    def out_of_service(self, ctx: Context, state: State) -> set[str]:
        return {az for az, s in state["routing_controls"].items() if s == "Off"}


def _control_state(session: boto3.Session, world: World, arn: str) -> str:
    """GetRoutingControlState, trying the cluster's endpoints in turn as ARC asks callers to."""
    last: ClientError | None = None
    for url, region in world.control_endpoints:
        client = session.client("route53-recovery-cluster", region_name=region, endpoint_url=url)
        try:
            return str(
                client.get_routing_control_state(RoutingControlArn=arn)["RoutingControlState"]
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "EndpointTemporarilyUnavailableException":
                raise
            last = exc
    raise last or ValueError(f"{arn}: the world lists no cluster endpoint")


PROBES: Mapping[str, Probe] = {
    p.kind: p
    for p in (
        ZonalShiftProbe(),
        Route53Probe(),
        AutoScalingProbe(),
        DatabasesProbe(),
        EcsProbe(),
        CachesProbe(),
        RoutingControlsProbe(),
    )
}


def probes() -> list[Probe]:
    """The probe of every registered kind, in the registry's order. A kind without one reads
    and checks nothing here (tests/unit/test_drill_probes.py fails until it has one)."""
    return [PROBES.get(kind.name, Probe()) for kind in KINDS]


def mutations() -> list[tuple[str, str]]:
    """Every registered kind's evacuation mutations."""
    return [m for probe in probes() for m in probe.mutations]
