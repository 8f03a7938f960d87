"""Fleets for the benchmark, built on any AWS endpoint (a moto server here) plus the zonal-shift
fake. Deterministic: the benchmark's worker process rebuilds the fake's side from the spec."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import boto3

from evacuation.emulator.world import create_az_alarms
from evacuation.emulator.zonal_shift import ZonalShiftFake

REGION = "us-east-1"
AZ_NAMES = ("us-east-1a", "us-east-1b", "us-east-1c")
AZ_IDS = ("use1-az6", "use1-az1", "use1-az2")  # moto's mapping of the three names
ACCOUNT = "123456789012"
WORKLOAD = "fleet"


@dataclass(frozen=True)
class FleetSpec:
    name: str
    shift_resources: int
    hosted_zones: int
    record_sets_per_zone: int
    groups: int

    @property
    def record_sets(self) -> int:
        return self.hosted_zones * self.record_sets_per_zone

    @property
    def resources(self) -> int:
        return self.shift_resources + self.record_sets + self.groups

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
        FleetSpec("small", shift_resources=3, hosted_zones=2, record_sets_per_zone=3, groups=4),
        FleetSpec("medium", shift_resources=30, hosted_zones=3, record_sets_per_zone=10, groups=40),
        FleetSpec(
            "large", shift_resources=300, hosted_zones=30, record_sets_per_zone=10, groups=400
        ),
    )
}


def register_resources(fake: ZonalShiftFake, spec: FleetSpec) -> None:
    """The fleet's load balancers, as ARC's managed resources."""
    for arn in spec.resource_arns():
        fake.register_resource(arn, AZ_IDS)


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
        "alarms": alarms,
        # A fleet this size is not a mistake: the blast-radius guards are tested elsewhere.
        "execution": {"verify_interval_seconds": 0.5},
    }


def pages(items: int, page_size: int) -> int:
    return max(1, math.ceil(items / page_size))
