"""A realistic three-AZ workload on the embedded AWS (moto + the zonal-shift fake), and a reader
that snapshots the AWS state an evacuation touches. Used by the tests and by the drill.

Call everything here inside `moto.mock_aws()`. moto maps us-east-1a/b/c to use1-az6/az1/az2, so
the world is keyed by AZ ID, never by name.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import boto3

from evacuation.emulator.elasticache import ElastiCacheFake
from evacuation.emulator.rds_instances import RdsInstanceFailover
from evacuation.emulator.routing_control import RoutingControlFake
from evacuation.emulator.zonal_shift import ZonalShiftFake

REGION = "us-east-1"
AZ_NAMES = ("us-east-1a", "us-east-1b", "us-east-1c")
READ_PREFIXES = ("Describe", "List", "Get")


_subnet_ip_lock = threading.Lock()


def serialize_moto_subnet_ips() -> None:
    """moto hands out a subnet's IPs from one generator without a lock: two groups launching
    instances into the same subnet at once (prescale sets capacity on groups in parallel) fail
    with "generator already executing". EC2 has no such race, so the emulator must not either.
    Idempotent; wraps moto's method in a lock."""
    from moto.ec2.models.subnets import Subnet  # noqa: PLC0415 - moto only when emulating

    original = Subnet.get_available_subnet_ip
    if getattr(original, "_azevac_serialized", False):
        return

    def get_available_subnet_ip(self: Any, instance: Any) -> str:
        with _subnet_ip_lock:
            return original(self, instance)

    get_available_subnet_ip._azevac_serialized = True  # type: ignore[attr-defined]
    Subnet.get_available_subnet_ip = get_available_subnet_ip  # type: ignore[method-assign]


@dataclass
class World:
    session: boto3.Session
    fake: ZonalShiftFake
    workload: str
    az_ids: tuple[str, ...]
    subnets: dict[str, str]
    """AZ ID -> subnet id."""
    groups: tuple[str, ...]
    zone_id: str
    record_name: str
    set_identifiers: dict[str, str]
    load_balancer_arn: str
    alarms: dict[str, str] = field(default_factory=dict)
    extra_config: dict[str, Any] = field(default_factory=dict)
    """Config sections of resources added to the default workload (`add_dependencies`)."""
    cache_groups: dict[str, str] = field(default_factory=dict)
    """ElastiCache replication group id -> its primary cache cluster when it was created (the
    fake's groups: moto models none that can move a primary)."""
    routing_controls: dict[str, str] = field(default_factory=dict)
    """AZ ID -> ARC routing control ARN (the RoutingControlFake's)."""
    control_endpoints: tuple[tuple[str, str], ...] = ()
    """The routing controls' cluster: (endpoint URL, region) of each Regional endpoint."""

    def add_cache_group(self, cache: ElastiCacheFake, group_id: str) -> None:
        """Read back `group_id` (created on `cache`) in the drill's and the campaigns' state."""
        self.cache_groups[group_id] = cache.primary_of(group_id)[0]

    def add_routing_controls(self, arc: RoutingControlFake, controls: Mapping[str, str]) -> None:
        """Read back the routing controls of `controls` (AZ ID -> ARN, on `arc`)."""
        self.routing_controls.update(controls)
        self.control_endpoints = tuple(arc.endpoints)

    def config(self, **overrides: Any) -> dict[str, Any]:
        """The azevac config a user would write for this workload."""
        config: dict[str, Any] = {
            "workload": self.workload,
            "region": REGION,
            "zonal_shift": {"resources": [self.load_balancer_arn], "expires_in": "6h"},
            "route53": [
                {
                    "hosted_zone_id": self.zone_id,
                    "name": self.record_name,
                    "type": "A",
                    "set_identifiers": self.set_identifiers,
                }
            ],
            "autoscaling": {"groups": list(self.groups), "suspend_processes": ["AZRebalance"]},
            "alarms": self.alarms,
            "execution": {"verify_interval_seconds": 0.01, "backoff_initial_seconds": 0.01},
            # The embedded AWS moves capacity at once: a wait that outlasts this is a finding.
            "recovery": {"capacity_timeout_seconds": 10, "capacity_poll_seconds": 0.05},
        }
        config.update(self.extra_config)
        config.update(overrides)
        return config


def build_world(
    session: boto3.Session,
    fake: ZonalShiftFake,
    *,
    workload: str = "checkout",
    weights: Sequence[int] = (50, 100, 150),
    pre_suspended: Mapping[str, Sequence[str]] | None = None,
) -> World:
    """Create the workload: VPC, a subnet per AZ, an ALB with zonal shift on, two ASGs over the
    three subnets, a hosted zone with one weighted record per AZ, and a per-AZ alarm."""
    serialize_moto_subnet_ips()
    ec2 = session.client("ec2", region_name=REGION)
    vpc_id = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets: dict[str, str] = {}
    for index, name in enumerate(AZ_NAMES):
        subnet = ec2.create_subnet(
            # /20: moto never gives a terminated instance's address back, and the Auto Scaling
            # model launches replacements; a reliability campaign runs thousands of cases.
            VpcId=vpc_id,
            CidrBlock=f"10.20.{index * 16}.0/20",
            AvailabilityZone=name,
        )["Subnet"]
        subnets[subnet["AvailabilityZoneId"]] = subnet["SubnetId"]
    az_ids = tuple(subnets)

    elbv2 = session.client("elbv2", region_name=REGION)
    lb = elbv2.create_load_balancer(
        Name=f"{workload}-alb", Subnets=list(subnets.values()), Type="application"
    )["LoadBalancers"][0]
    elbv2.modify_load_balancer_attributes(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Attributes=[{"Key": "zonal_shift.config.enabled", "Value": "true"}],
    )
    fake.register_resource(lb["LoadBalancerArn"], az_ids, name=f"{workload}-alb")

    autoscaling = session.client("autoscaling", region_name=REGION)
    ec2.create_launch_template(
        LaunchTemplateName=f"{workload}-lt",
        LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "t3.micro"},
    )
    groups = (f"{workload}-web", f"{workload}-worker")
    for name in groups:
        autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=name,
            LaunchTemplate={"LaunchTemplateName": f"{workload}-lt", "Version": "$Latest"},
            MinSize=3,
            MaxSize=9,
            DesiredCapacity=3,
            VPCZoneIdentifier=",".join(subnets.values()),
        )
        for process_list in [(pre_suspended or {}).get(name)]:
            if process_list:
                autoscaling.suspend_processes(
                    AutoScalingGroupName=name, ScalingProcesses=list(process_list)
                )

    route53 = session.client("route53", region_name=REGION)
    zone_id = route53.create_hosted_zone(Name="example.com.", CallerReference=f"{workload}-zone")[
        "HostedZone"
    ]["Id"].removeprefix("/hostedzone/")
    record_name = f"api.{workload}.example.com."
    set_identifiers = {az: f"{workload}-{az}" for az in az_ids}
    route53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": {
                        "Name": record_name,
                        "Type": "A",
                        "SetIdentifier": set_identifiers[az],
                        "Weight": weight,
                        "TTL": 60,
                        "ResourceRecords": [{"Value": f"10.20.{index}.10"}],
                    },
                }
                for index, (az, weight) in enumerate(zip(az_ids, weights, strict=True))
            ]
        },
    )

    alarms = create_az_alarms(session, workload, az_ids)
    return World(
        session, fake, workload, az_ids, subnets, groups, zone_id, record_name,
        set_identifiers, lb["LoadBalancerArn"], alarms,
    )  # fmt: skip


def create_az_alarms(
    session: boto3.Session, workload: str, az_ids: Sequence[str]
) -> dict[str, str]:
    """One isolated-impact alarm per AZ (target 5xx in that AZ); returns alarm name -> AZ ID."""
    cloudwatch = session.client("cloudwatch", region_name=REGION)
    alarms: dict[str, str] = {}
    for az in az_ids:
        alarm = f"{workload}-{az}-isolated-impact"
        cloudwatch.put_metric_alarm(
            AlarmName=alarm,
            Namespace="AWS/ApplicationELB",
            MetricName="HTTPCode_Target_5XX_Count",
            Dimensions=[{"Name": "AvailabilityZone", "Value": az}],
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=3,
            Threshold=10,
            ComparisonOperator="GreaterThanThreshold",
        )
        alarms[alarm] = az
    return alarms


def snapshot(world: World) -> dict[str, Any]:
    """Read back everything an evacuation may change: weights, ASG subnets and processes, shifts."""
    route53 = world.session.client("route53", region_name=REGION)
    records = route53.list_resource_record_sets(
        HostedZoneId=world.zone_id,
        StartRecordName=world.record_name,
        StartRecordType="A",
        MaxItems="300",
    )["ResourceRecordSets"]
    weights = {
        r["SetIdentifier"]: r["Weight"]
        for r in records
        if r["Name"] == world.record_name and "SetIdentifier" in r
    }
    autoscaling = world.session.client("autoscaling", region_name=REGION)
    groups = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=list(world.groups))
    asgs = {
        g["AutoScalingGroupName"]: {
            "subnets": sorted(g["VPCZoneIdentifier"].split(",")),
            "suspended": sorted(p["ProcessName"] for p in g.get("SuspendedProcesses", [])),
            "desired": g["DesiredCapacity"],
        }
        for g in groups["AutoScalingGroups"]
    }
    shifts = sorted(
        (s["resourceIdentifier"], s["awayFrom"], s.get("shiftType", "ZONAL_SHIFT"))
        for s in world.fake.shifts(status="ACTIVE")
    )
    return {"weights": weights, "asgs": asgs, "shifts": shifts}


class CallRecorder:
    """Counts every AWS call made through a session (botocore's before-call event)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: list[tuple[str, str]] = []

    def install(self, session: boto3.Session) -> None:
        session.events.register("before-call.*.*", self._record)

    def _record(self, model: Any, **_: Any) -> None:
        with self._lock:
            self.calls.append((model.service_model.service_name, model.name))

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()

    @property
    def mutations(self) -> list[tuple[str, str]]:
        return [c for c in self.calls if not c[1].startswith(READ_PREFIXES)]

    def counts(self) -> Counter[tuple[str, str]]:
        return Counter(self.calls)


def create_db_cluster(
    session: boto3.Session, cluster_id: str, instances: Sequence[tuple[str, int]]
) -> str:
    """An Aurora PostgreSQL cluster with one instance per (AZ name, promotion tier), named
    `<cluster>-<n>`; the first is the writer (moto makes the first member the writer)."""
    rds = session.client("rds", region_name=REGION)
    rds.create_db_cluster(
        DBClusterIdentifier=cluster_id,
        Engine="aurora-postgresql",
        MasterUsername="azevac",
        MasterUserPassword="not-a-secret-1",
    )
    for index, (zone, tier) in enumerate(instances):
        rds.create_db_instance(
            DBInstanceIdentifier=f"{cluster_id}-{index}",
            DBClusterIdentifier=cluster_id,
            Engine="aurora-postgresql",
            DBInstanceClass="db.r6g.large",
            AvailabilityZone=zone,
            PromotionTier=tier,
        )
    return cluster_id


def create_multi_az_instance(
    session: boto3.Session, model: RdsInstanceFailover, name: str, primary: str, standby: str
) -> str:
    """An RDS PostgreSQL Multi-AZ DB instance, its primary and standby placed in these zones
    (names) as RDS might have chosen (RDS takes no AZ for a Multi-AZ instance)."""
    session.client("rds", region_name=REGION).create_db_instance(
        DBInstanceIdentifier=name,
        Engine="postgres",
        DBInstanceClass="db.m6g.large",
        MasterUsername="azevac",
        MasterUserPassword="not-a-secret-1",
        AllocatedStorage=20,
        MultiAZ=True,
    )
    model.place(name, primary, standby)
    return name


def writer_of(session: boto3.Session, cluster_id: str) -> tuple[str, str]:
    """(the writer instance, its AZ name), read from RDS."""
    rds = session.client("rds", region_name=REGION)
    cluster = rds.describe_db_clusters(DBClusterIdentifier=cluster_id)["DBClusters"][0]
    writer = next(m for m in cluster["DBClusterMembers"] if m["IsClusterWriter"])
    instance = rds.describe_db_instances(DBInstanceIdentifier=writer["DBInstanceIdentifier"])
    return writer["DBInstanceIdentifier"], instance["DBInstances"][0]["AvailabilityZone"]


@dataclass(frozen=True)
class Dependencies:
    """What the front door leaves behind, placed so that `az_id` holds the writer and primary."""

    cluster_id: str
    group_id: str
    controls: dict[str, str]
    """AZ ID -> routing control ARN."""
    cache: ElastiCacheFake
    arc: RoutingControlFake
    instance_id: str
    """A Multi-AZ DB instance, primary in `az_id`."""
    rds: RdsInstanceFailover
    service: str
    """An ECS service (`<cluster>/<service>`) over every AZ's subnet."""


def zone_names(session: boto3.Session) -> dict[str, str]:
    """AZ ID -> zone name in this (emulated) account."""
    ec2 = session.client("ec2", region_name=REGION)
    return {
        z["ZoneId"]: z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]
    }


def add_dependencies(
    session: boto3.Session,
    world: World,
    cache: ElastiCacheFake,
    arc: RoutingControlFake,
    *,
    az_id: str,
    rds: RdsInstanceFailover,
) -> Dependencies:
    """Add to the workload an Aurora cluster with its writer in `az_id` (readers in the other
    AZs), a Multi-AZ DB instance with its primary in `az_id`, an ElastiCache group (cluster mode
    disabled, Multi-AZ off) with its primary in `az_id`, one ARC routing control per AZ under the
    rule "at least N-1 of N On", and an ECS service over every AZ's subnet; their config
    sections go into `world.config()`."""
    names = zone_names(session)
    ordered = [az_id, *(az for az in world.az_ids if az != az_id)]
    cluster_id = create_db_cluster(
        session,
        f"{world.workload}-orders",
        [(names[az], tier) for tier, az in enumerate(ordered)],
    )
    group_id = cache.create_replication_group(
        f"{world.workload}-sessions",
        [(f"{world.workload}-sessions-{n:03d}", names[az]) for n, az in enumerate(ordered, 1)],
    )
    controls = {az: arc.create_routing_control(f"{world.workload}-{az}") for az in world.az_ids}
    arc.add_assertion_rule(
        f"{world.workload}-at-least-{len(controls) - 1}-on",
        list(controls.values()),
        len(controls) - 1,
    )
    instance_id = create_multi_az_instance(
        session, rds, f"{world.workload}-ledger", names[ordered[0]], names[ordered[1]]
    )
    service = create_ecs_service(session, list(world.subnets.values()))
    world.add_cache_group(cache, group_id)
    world.add_routing_controls(arc, controls)
    world.extra_config.update(
        databases={"clusters": [cluster_id], "instances": [instance_id]},
        caches={"replication_groups": [group_id]},
        routing_controls={"controls": controls, "cluster_endpoints": arc.endpoint_configs()},
        ecs={"services": [service]},
    )
    return Dependencies(cluster_id, group_id, controls, cache, arc, instance_id, rds, service)


def create_ecs_service(
    session: boto3.Session,
    subnets: Sequence[str],
    ref: str = "checkout/web",
    *,
    desired: int = 3,
    rebalancing: str = "ENABLED",
) -> str:
    """A Fargate service on awsvpc over `subnets`, `<cluster>/<service>` (the cluster created if
    needed); moto needs securityGroups (a raw KeyError without them, aws-facts)."""
    cluster, _, name = ref.partition("/")
    ec2 = session.client("ec2", region_name=REGION)
    ecs = session.client("ecs", region_name=REGION)
    vpc = ec2.describe_subnets(SubnetIds=[subnets[0]])["Subnets"][0]["VpcId"]
    group = ec2.create_security_group(
        GroupName=f"{cluster}-{name}", Description="azevac test service", VpcId=vpc
    )["GroupId"]
    ecs.create_cluster(clusterName=cluster)
    family = f"{cluster}-{name}"
    ecs.register_task_definition(
        family=family,
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        containerDefinitions=[{"name": "app", "image": "public.ecr.aws/nginx/nginx"}],
    )
    ecs.create_service(
        cluster=cluster,
        serviceName=name,
        taskDefinition=family,
        desiredCount=desired,
        launchType="FARGATE",
        networkConfiguration={
            "awsvpcConfiguration": {"subnets": list(subnets), "securityGroups": [group]}
        },
        availabilityZoneRebalancing=rebalancing,
    )
    return ref


def ecs_service(session: boto3.Session, ref: str) -> dict[str, Any]:
    """The service as DescribeServices returns it."""
    cluster, _, name = ref.partition("/")
    ecs = session.client("ecs", region_name=REGION)
    return dict(ecs.describe_services(cluster=cluster, services=[name])["services"][0])
