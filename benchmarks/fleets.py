"""Fleets for the benchmark, built on any AWS endpoint (a moto server here) plus the zonal-shift
fake. Deterministic: the benchmark's worker process rebuilds the fake's side from the spec."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import boto3

from evacuation.emulator.elasticache import ElastiCacheFake
from evacuation.emulator.world import create_az_alarms
from evacuation.emulator.zonal_shift import ZonalShiftFake

REGION = "us-east-1"
AZ_NAMES = ("us-east-1a", "us-east-1b", "us-east-1c")
AZ_IDS = ("use1-az6", "use1-az1", "use1-az2")  # moto's mapping of the three names
ACCOUNT = "123456789012"
WORKLOAD = "fleet"


ECS_SERVICES_PER_CLUSTER = 10
"""DescribeServices reads 10 services of one cluster per call: a cluster per 10 services."""


@dataclass(frozen=True)
class FleetSpec:
    name: str
    shift_resources: int
    hosted_zones: int
    record_sets_per_zone: int
    groups: int
    db_clusters: int = 0
    """Aurora clusters, each with its writer in use1-az1 (the AZ the benchmark evacuates) and
    readers in the other two AZs: every one is failed over."""
    ecs_services: int = 0
    """Fargate services on awsvpc over the three subnets: every one loses use1-az1's subnet."""
    cache_groups: int = 0
    """ElastiCache replication groups (cluster mode disabled), primary in use1-az1, replicas in
    the other two AZs: every one is moved. Every other group runs Multi-AZ, moved by AWS's
    procedure (Multi-AZ off, promote, back on: `caches.suspend_multi_az`)."""

    @property
    def record_sets(self) -> int:
        return self.hosted_zones * self.record_sets_per_zone

    @property
    def ecs_clusters(self) -> int:
        return math.ceil(self.ecs_services / ECS_SERVICES_PER_CLUSTER)

    @property
    def resources(self) -> int:
        return (
            self.shift_resources
            + self.record_sets
            + self.groups
            + self.db_clusters
            + self.ecs_services
            + self.cache_groups
        )

    @property
    def multi_az_cache_groups(self) -> int:
        return len(self.cache_group_ids()[::2])

    def cache_group_ids(self) -> list[str]:
        return [f"{WORKLOAD}-cache-{i:03d}" for i in range(self.cache_groups)]

    def resource_arns(self) -> list[str]:
        return [
            f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:loadbalancer/app/"
            f"{WORKLOAD}-{i:04d}/{i:016x}"
            for i in range(self.shift_resources)
        ]

    def group_names(self) -> list[str]:
        return [f"{WORKLOAD}-asg-{i:04d}" for i in range(self.groups)]


FLEETS = {
    f.name: f
    for f in (
        FleetSpec(
            "small",
            shift_resources=3,
            hosted_zones=2,
            record_sets_per_zone=3,
            groups=4,
            db_clusters=1,
            ecs_services=2,
            cache_groups=1,
        ),
        FleetSpec(
            "medium",
            shift_resources=30,
            hosted_zones=3,
            record_sets_per_zone=10,
            groups=40,
            db_clusters=5,
            ecs_services=10,
            cache_groups=5,
        ),
        FleetSpec(
            "large",
            shift_resources=300,
            hosted_zones=30,
            record_sets_per_zone=10,
            groups=400,
            db_clusters=50,
            ecs_services=100,
            cache_groups=50,
        ),
    )
}


def register_resources(fake: ZonalShiftFake, spec: FleetSpec) -> None:
    """The fleet's load balancers, as ARC's managed resources."""
    for arn in spec.resource_arns():
        fake.register_resource(arn, AZ_IDS)


def register_cache_groups(fake: ElastiCacheFake, spec: FleetSpec) -> None:
    """The fleet's cache groups, in the measured process's ElastiCache fake (moto's ElastiCache
    cannot move a primary): primary in us-east-1b (use1-az1), replicas in 1a and 1c; every other
    group Multi-AZ with automatic failover."""
    multi_az = set(spec.cache_group_ids()[::2])
    for group_id in spec.cache_group_ids():
        fake.create_replication_group(
            group_id,
            [(f"{group_id}-{n}", zone) for n, zone in enumerate(("us-east-1b", *AZ_NAMES[::2]))],
            automatic_failover=group_id in multi_az,
            multi_az=group_id in multi_az,
        )


def build_fleet(session: boto3.Session, spec: FleetSpec) -> dict[str, Any]:
    """Create subnets, groups, hosted zones with one weighted record per AZ per record set, and
    the per-AZ alarms; return the azevac config a user would write for them."""
    ec2 = session.client("ec2", region_name=REGION)
    vpc_id = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    subnets = []
    for index, az_name in enumerate(AZ_NAMES):
        subnet = ec2.create_subnet(
            VpcId=vpc_id, CidrBlock=f"10.30.{index}.0/24", AvailabilityZone=az_name
        )["Subnet"]
        assert subnet["AvailabilityZoneId"] == AZ_IDS[index], subnet["AvailabilityZoneId"]
        subnets.append(subnet["SubnetId"])

    autoscaling = session.client("autoscaling", region_name=REGION)
    ec2.create_launch_template(
        LaunchTemplateName=f"{WORKLOAD}-lt",
        LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "t3.micro"},
    )
    for name in spec.group_names():
        autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=name,
            LaunchTemplate={"LaunchTemplateName": f"{WORKLOAD}-lt", "Version": "$Latest"},
            MinSize=0,
            MaxSize=6,
            DesiredCapacity=0,
            VPCZoneIdentifier=",".join(subnets),
        )

    route53 = session.client("route53", region_name=REGION)
    record_sets = []
    for z in range(spec.hosted_zones):
        domain = f"zone{z:02d}.example.com."
        zone_id = route53.create_hosted_zone(Name=domain, CallerReference=f"{WORKLOAD}-{z}")[
            "HostedZone"
        ]["Id"].removeprefix("/hostedzone/")
        changes = []
        for r in range(spec.record_sets_per_zone):
            name = f"svc{r:02d}.{domain}"
            identifiers = {az: f"{az}-{r}" for az in AZ_IDS}
            record_sets.append(
                {
                    "hosted_zone_id": zone_id,
                    "name": name,
                    "type": "A",
                    "set_identifiers": identifiers,
                }
            )
            changes += [
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": {
                        "Name": name,
                        "Type": "A",
                        "SetIdentifier": identifiers[az],
                        "Weight": 100,
                        "TTL": 60,
                        "ResourceRecords": [{"Value": f"10.30.{i}.{r + 10}"}],
                    },
                }
                for i, az in enumerate(AZ_IDS)
            ]
        route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": changes})

    alarms = create_az_alarms(session, WORKLOAD, AZ_IDS)
    return {
        "workload": WORKLOAD,
        "region": REGION,
        "zonal_shift": {"resources": spec.resource_arns(), "expires_in": "6h"},
        "route53": record_sets,
        "autoscaling": {"groups": spec.group_names(), "suspend_processes": ["AZRebalance"]},
        **build_db_clusters(session, spec),
        **build_ecs_services(session, spec, subnets),
        **build_cache_groups(session, spec),
        "alarms": alarms,
        # A fleet this size is not a mistake: the blast-radius guards are tested elsewhere.
        "execution": {"verify_interval_seconds": 0.5},
    }


def build_db_clusters(session: boto3.Session, spec: FleetSpec) -> dict[str, Any]:
    """Aurora clusters, writer in us-east-1b (use1-az1), readers in 1a and 1c."""
    if not spec.db_clusters:
        return {}
    rds = session.client("rds", region_name=REGION)
    clusters = [f"{WORKLOAD}-db-{i:03d}" for i in range(spec.db_clusters)]
    for cluster in clusters:
        rds.create_db_cluster(
            DBClusterIdentifier=cluster,
            Engine="aurora-postgresql",
            MasterUsername="azevac",
            MasterUserPassword="not-a-secret-1",
        )
        for index, (zone, tier) in enumerate(
            (("us-east-1b", 0), ("us-east-1a", 1), ("us-east-1c", 1))
        ):
            rds.create_db_instance(
                DBInstanceIdentifier=f"{cluster}-{index}",
                DBClusterIdentifier=cluster,
                Engine="aurora-postgresql",
                DBInstanceClass="db.r6g.large",
                AvailabilityZone=zone,
                PromotionTier=tier,
            )
    return {"databases": {"clusters": clusters}}


def build_ecs_services(
    session: boto3.Session, spec: FleetSpec, subnets: list[str]
) -> dict[str, Any]:
    """Fargate services on awsvpc over the three subnets, 10 per cluster."""
    if not spec.ecs_services:
        return {}
    ecs = session.client("ecs", region_name=REGION)
    ec2 = session.client("ec2", region_name=REGION)
    vpc = ec2.describe_subnets(SubnetIds=[subnets[0]])["Subnets"][0]["VpcId"]
    group = ec2.create_security_group(
        GroupName=f"{WORKLOAD}-tasks", Description="benchmark tasks", VpcId=vpc
    )["GroupId"]
    ecs.register_task_definition(
        family=f"{WORKLOAD}-task",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        containerDefinitions=[{"name": "app", "image": "public.ecr.aws/nginx/nginx"}],
    )
    refs = []
    for i in range(spec.ecs_services):
        cluster = f"{WORKLOAD}-ecs-{i // ECS_SERVICES_PER_CLUSTER:02d}"
        if i % ECS_SERVICES_PER_CLUSTER == 0:
            ecs.create_cluster(clusterName=cluster)
        name = f"svc-{i:03d}"
        ecs.create_service(
            cluster=cluster,
            serviceName=name,
            taskDefinition=f"{WORKLOAD}-task",
            desiredCount=3,
            launchType="FARGATE",
            networkConfiguration={
                "awsvpcConfiguration": {"subnets": list(subnets), "securityGroups": [group]}
            },
        )
        refs.append(f"{cluster}/{name}")
    return {"ecs": {"services": refs}}


def build_cache_groups(session: boto3.Session, spec: FleetSpec) -> dict[str, Any]:
    """The config of the fleet's cache groups; the groups themselves live in the measured
    process's fake (`register_cache_groups`), since moto's ElastiCache changes no primary."""
    if not spec.cache_groups:
        return {}
    return {"caches": {"replication_groups": spec.cache_group_ids(), "suspend_multi_az": True}}


def pages(items: int, page_size: int) -> int:
    return max(1, math.ceil(items / page_size))
