"""The control plane never blocks the data plane (background.md; aws-semantics ASG-9).

Whatever is wrong with an Auto Scaling group or with EC2, traffic still moves: zonal shifts and
weights apply, and only that group's control-plane steps are skipped or failed.
"""

from __future__ import annotations

import boto3

from evacuation.emulator.world import CallRecorder, World, snapshot
from evacuation.model import Outcome, Status, StepKind
from tests.conftest import ControllerFactory
from tests.support.faults import Fault, FaultInjector

AZ = "use1-az1"


def _traffic_moved(world: World) -> None:
    state = snapshot(world)
    assert state["weights"][world.set_identifiers[AZ]] == 0
    assert state["shifts"] == [(world.load_balancer_arn, AZ, "ZONAL_SHIFT")]


def _group(session: boto3.Session, name: str, subnets: list[str], size: int) -> None:
    session.client("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": "checkout-lt", "Version": "$Latest"},
        MinSize=size,
        MaxSize=size,
        DesiredCapacity=size,
        VPCZoneIdentifier=",".join(subnets),
    )


def _subnets(session: boto3.Session, name: str) -> list[str]:
    described = session.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[name]
    )["AutoScalingGroups"][0]
    return sorted(described["VPCZoneIdentifier"].split(","))


def test_a_statically_stable_group_is_evacuated_without_prescale(
    world: World, make_controller: ControllerFactory, session: boto3.Session
) -> None:
    # Given a group with MinSize = MaxSize = DesiredCapacity (static stability), prescale off
    _group(session, "checkout-static", list(world.subnets.values()), 3)
    config = world.config()
    config["autoscaling"]["groups"].append("checkout-static")

    # When the AZ is evacuated
    result = make_controller(config).evacuate(AZ, reason="gray failure")

    # Then it is evacuated: traffic moved, and the group's AZ subnet removed (no capacity check:
    # with AZRebalance suspended, removing subnets changes no capacity)
    assert result.status is Status.EVACUATED, result.to_dict()
    _traffic_moved(world)
    assert world.subnets[AZ] not in _subnets(session, "checkout-static")


def test_a_group_only_in_the_az_is_skipped_and_the_rest_applies(
    world: World, make_controller: ControllerFactory, session: boto3.Session
) -> None:
    # Given a group whose only subnet is in the AZ
    _group(session, "checkout-pinned", [world.subnets[AZ]], 1)
    config = world.config()
    config["autoscaling"]["groups"].append("checkout-pinned")

    result = make_controller(config).evacuate(AZ, reason="gray failure")

    # Then that group's steps are skipped with the reason, everything else is applied: PARTIAL
    assert result.status is Status.PARTIAL, result.to_dict()
    pinned = [s for s in result.steps if s.key.resource == "checkout-pinned"]
    assert {s.outcome for s in pinned} == {Outcome.SKIPPED}
    assert all("only in" in (s.reason or "") for s in pinned)
    _traffic_moved(world)
    assert _subnets(session, "checkout-pinned") == [world.subnets[AZ]]
    assert world.subnets[AZ] not in snapshot(world)["asgs"]["checkout-web"]["subnets"]


def test_a_prescale_over_max_size_goes_to_max_and_says_the_shortfall(
    world: World, make_controller: ControllerFactory, session: boto3.Session
) -> None:
    # Given a statically stable group (3/3/3, one instance per AZ) and prescale on
    _group(session, "checkout-static", list(world.subnets.values()), 3)
    config = world.config()
    config["autoscaling"]["groups"].append("checkout-static")
    config["safety"] = {"prescale": True}

    result = make_controller(config).evacuate(AZ, reason="gray failure")

    # Then desired would need 4 (3 + the AZ's 1), MaxSize allows 3: it stays at MaxSize, the
    # step says what is missing, the evacuation is PARTIAL; traffic and subnets still move
    assert result.status is Status.PARTIAL, result.to_dict()
    capacity = next(
        s
        for s in result.steps
        if s.key.kind is StepKind.ASG_CAPACITY and s.key.resource == "checkout-static"
    )
    assert capacity.outcome is Outcome.UNCHANGED, capacity
    assert "above MaxSize 3" in (capacity.reason or "") and "short by 1" in (capacity.reason or "")
    _traffic_moved(world)
    assert world.subnets[AZ] not in _subnets(session, "checkout-static")


def test_describe_subnets_denied_fails_only_the_group_steps(
    world: World, make_controller: ControllerFactory, faults: FaultInjector
) -> None:
    # Given EC2 denies DescribeSubnets
    faults.add("ec2", "DescribeSubnets", Fault.ACCESS_DENIED, *range(1, 20))

    result = make_controller().evacuate(AZ, reason="gray failure")

    # Then the data plane is applied and the groups' steps failed: DEGRADED
    assert result.status is Status.DEGRADED, result.to_dict()
    _traffic_moved(world)
    failed = {s.key.kind for s in result.steps if s.outcome is Outcome.FAILED}
    assert failed == {StepKind.ASG_PROCESSES, StepKind.ASG_SUBNETS}
    data = [
        s for s in result.steps if s.key.kind in (StepKind.ZONAL_SHIFT, StepKind.ROUTE53_WEIGHT)
    ]
    assert {s.outcome for s in data} == {Outcome.APPLIED}


def test_a_stale_subnet_fails_only_its_group(
    world: World, make_controller: ControllerFactory, session: boto3.Session
) -> None:
    # Given one group names a subnet that no longer exists (DescribeSubnets fails for the batch)
    ec2 = session.client("ec2")
    vpc = ec2.describe_subnets(SubnetIds=[world.subnets[AZ]])["Subnets"][0]["VpcId"]
    doomed = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.200.0/24", AvailabilityZone="us-east-1b")
    _group(session, "checkout-stale", [world.subnets[AZ], doomed["Subnet"]["SubnetId"]], 0)
    ec2.delete_subnet(SubnetId=doomed["Subnet"]["SubnetId"])
    config = world.config()
    config["autoscaling"]["groups"].append("checkout-stale")

    result = make_controller(config).evacuate(AZ, reason="gray failure")

    assert result.status is Status.DEGRADED, result.to_dict()
    failed = {s.key.resource for s in result.steps if s.outcome is Outcome.FAILED}
    assert failed == {"checkout-stale"}
    _traffic_moved(world)
    assert world.subnets[AZ] not in snapshot(world)["asgs"]["checkout-web"]["subnets"]


def test_an_az_id_needs_no_ec2_zone_lookup(
    world: World,
    make_controller: ControllerFactory,
    faults: FaultInjector,
    recorder: CallRecorder,
) -> None:
    # Given DescribeAvailabilityZones is denied
    faults.add("ec2", "DescribeAvailabilityZones", Fault.ACCESS_DENIED, *range(1, 20))

    # When the operator gives an AZ ID, the evacuation and the recovery need no zone lookup
    assert make_controller().evacuate(AZ, reason="by id").status is Status.EVACUATED
    assert make_controller().recover(AZ, reason="healthy").status is Status.RECOVERED
    assert ("ec2", "DescribeAvailabilityZones") not in recorder.calls
