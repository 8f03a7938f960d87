"""Capacity the way Auto Scaling really behaves (aws-semantics §3, §4), asserted on instance
counts per AZ read back from the emulator's Auto Scaling model, not on configuration."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import boto3

from evacuation.aws.clients import AwsClients
from evacuation.config import parse_config
from evacuation.controller import Controller
from evacuation.emulator.autoscaling import AutoScalingModel
from evacuation.emulator.world import CallRecorder, World, snapshot
from evacuation.emulator.zonal_shift import ManualClock
from evacuation.model import Outcome, Status, StepKind
from evacuation.state import StateStore
from tests.conftest import ControllerFactory

AZ = "use1-az1"


def _create(session: boto3.Session, name: str, subnets: list[str], size: int, **extra: Any) -> None:
    session.client("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": "checkout-lt", "Version": "$Latest"},
        MinSize=0,
        MaxSize=12,
        DesiredCapacity=size,
        VPCZoneIdentifier=",".join(subnets),
        **extra,
    )


def _desired(session: boto3.Session, name: str, desired: int) -> None:
    session.client("autoscaling").set_desired_capacity(
        AutoScalingGroupName=name, DesiredCapacity=desired
    )


def _steps(result: Any, resource: str) -> dict[StepKind, Any]:
    return {s.key.kind: s for s in result.steps if s.key.resource == resource}


def test_a_zonal_shift_enabled_group_gets_its_own_shift_and_keeps_its_subnets(
    world: World,
    make_controller: ControllerFactory,
    session: boto3.Session,
    autoscaling_model: AutoScalingModel,
    recorder: CallRecorder,
) -> None:
    # Given a group enabled for ARC zonal shift (IgnoreUnhealthy), one instance per AZ
    _create(
        session,
        "checkout-arc",
        list(world.subnets.values()),
        3,
        AvailabilityZoneImpairmentPolicy={
            "ZonalShiftEnabled": True,
            "ImpairedZoneHealthCheckBehavior": "IgnoreUnhealthy",
        },
    )
    arn = autoscaling_model.register_with_fake("checkout-arc")
    config = world.config()
    config["autoscaling"]["groups"].append("checkout-arc")
    recorder.reset()

    result = make_controller(config).evacuate(AZ, reason="gray")

    # Then its lever is a zonal shift on its ARN: no subnet removed, no process suspended
    assert result.status is Status.EVACUATED, result.to_dict()
    assert _steps(result, arn)[StepKind.ZONAL_SHIFT].outcome is Outcome.APPLIED
    assert "ZonalShiftEnabled" in (_steps(result, arn)[StepKind.ZONAL_SHIFT].reason or "")
    assert _steps(result, "checkout-arc") == {}
    described = session.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=["checkout-arc"]
    )["AutoScalingGroups"][0]
    assert len(described["VPCZoneIdentifier"].split(",")) == 3
    assert described.get("SuspendedProcesses", []) == []
    # and on scale-out the capacity grows in the healthy AZs only
    _desired(session, "checkout-arc", 9)
    spread = autoscaling_model.instances_by_az("checkout-arc")
    assert spread[AZ] == 1 and sum(spread.values()) == 9

    # When it recovers, the group's shift is cancelled before the load balancer's
    recorder.reset()
    recovered = make_controller(config).recover(AZ, reason="healthy")
    assert recovered.status is Status.RECOVERED, recovered.to_dict()
    cancelled = [c for c in world.fake.calls if c[0] == "CancelZonalShift"]
    ids = {s["zonalShiftId"]: s["resourceIdentifier"] for s in world.fake.shifts()}
    assert [ids[c[1]["zonalShiftId"]] for c in cancelled][-2:] == [arn, world.load_balancer_arn]


def test_prescale_sizes_from_the_real_spread_and_lands_nothing_in_the_az(
    world: World,
    make_controller: ControllerFactory,
    session: boto3.Session,
    autoscaling_model: AutoScalingModel,
) -> None:
    # Given an uneven group: 4 instances in the impaired AZ, 1 in each other (4/1/1)
    az_subnet = world.subnets[AZ]
    others = [s for az, s in world.subnets.items() if az != AZ]
    _create(session, "checkout-uneven", [az_subnet], 4)
    autoscaling = session.client("autoscaling")
    autoscaling.suspend_processes(
        AutoScalingGroupName="checkout-uneven", ScalingProcesses=["AZRebalance"]
    )
    autoscaling.update_auto_scaling_group(
        AutoScalingGroupName="checkout-uneven", VPCZoneIdentifier=",".join([az_subnet, *others])
    )
    _desired(session, "checkout-uneven", 6)
    assert sorted(autoscaling_model.instances_by_az("checkout-uneven").values()) == [1, 1, 4]
    config = world.config(safety={"prescale": True})
    config["autoscaling"]["groups"].append("checkout-uneven")

    result = make_controller(config).evacuate(AZ, reason="gray")

    # Then desired is 6 + the 4 really serving in the AZ (not 6 + 6/3), and the new capacity is
    # all in the healthy AZs: the AZ was closed before desired went up
    assert result.status is Status.EVACUATED, result.to_dict()
    capacity = _steps(result, "checkout-uneven")[StepKind.ASG_CAPACITY]
    assert (capacity.before, capacity.after) == (6, 10)
    spread = autoscaling_model.instances_by_az("checkout-uneven")
    assert spread[AZ] == 4 and sum(spread.values()) == 10
    web = autoscaling_model.instances_by_az("checkout-web")
    assert web[AZ] == 1 and sum(web.values()) == 4


def _controller(
    world: World, session: boto3.Session, store: StateStore, clock: ManualClock, **config: Any
) -> Controller:
    """A controller that lives on the emulator's clock: its sleeps move it (instances launched
    with a delay become InService while recover waits) and its timeouts are counted on it."""
    return Controller(
        parse_config(world.config(**config)),
        AwsClients(session, region="us-east-1"),
        store,
        clock=clock,
        monotonic=lambda: clock().timestamp(),
        sleep=lambda seconds: clock.advance(timedelta(seconds=seconds)),
    )


def _lose_the_az_capacity(autoscaling_model: AutoScalingModel, session: boto3.Session) -> None:
    """The gray failure takes the web group's instance in the AZ: unhealthy, and replaced in
    the AZs still enabled (the AZ's subnet is out)."""
    instances = session.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=["checkout-web"]
    )["AutoScalingGroups"][0]["Instances"]
    [lost] = [i["InstanceId"] for i in instances if i["AvailabilityZoneId"] == AZ]
    autoscaling_model.mark_unhealthy(lost)
    assert autoscaling_model.instances_by_az("checkout-web").get(AZ, 0) == 0


def test_recovery_waits_for_the_az_capacity_before_any_traffic(
    world: World,
    session: boto3.Session,
    store: StateStore,
    clock: ManualClock,
    autoscaling_model: AutoScalingModel,
) -> None:
    recovery = {"capacity_timeout_seconds": 600, "capacity_poll_seconds": 10}
    assert _controller(world, session, store, clock).evacuate(AZ, reason="gray").status is (
        Status.EVACUATED
    )
    _lose_the_az_capacity(autoscaling_model, session)
    autoscaling_model.set_launch_delay(45)  # new instances take 45 s to be InService
    seen: list[int] = []

    def traffic_call(model: Any, **_: Any) -> None:
        if model.name in ("CancelZonalShift", "ChangeResourceRecordSets"):
            seen.append(autoscaling_model.instances_by_az("checkout-web").get(AZ, 0))

    session.events.register("before-call.*.*", traffic_call)

    result = _controller(world, session, store, clock, recovery=recovery).recover(AZ)

    # Then the AZ had its instance back, InService, before the first traffic call
    assert result.status is Status.RECOVERED, result.to_dict()
    assert seen and min(seen) >= 1, seen


def test_capacity_not_back_in_time_keeps_traffic_out_until_a_later_pass(
    world: World,
    session: boto3.Session,
    store: StateStore,
    clock: ManualClock,
    autoscaling_model: AutoScalingModel,
) -> None:
    assert _controller(world, session, store, clock).evacuate(AZ, reason="gray").status is (
        Status.EVACUATED
    )
    _lose_the_az_capacity(autoscaling_model, session)
    autoscaling_model.set_launch_delay(300)

    # When recover may wait only 60 s
    short = {"capacity_timeout_seconds": 60, "capacity_poll_seconds": 10}
    result = _controller(world, session, store, clock, recovery=short).recover(AZ)

    # Then it stays RECOVERING: capacity restored, traffic still out, the AZ held
    assert result.status is Status.RECOVERING, result.to_dict()
    assert "waiting for the AZ's capacity" in (result.reason or "")
    state = snapshot(world)
    assert state["weights"][world.set_identifiers[AZ]] == 0
    assert state["shifts"] == [(world.load_balancer_arn, AZ, "ZONAL_SHIFT")]
    assert world.subnets[AZ] in state["asgs"]["checkout-web"]["subnets"]

    # When the instance is InService, the next reconcile pass brings the traffic back
    clock.advance(timedelta(minutes=5))
    report = _controller(world, session, store, clock, recovery=short).reconcile()
    assert [r.status for r in report.results] == [Status.RECOVERED], report.to_dict()
    assert snapshot(world)["weights"][world.set_identifiers[AZ]] == 100


def test_method_zonal_shift_says_which_groups_are_not_enabled(
    world: World, make_controller: ControllerFactory
) -> None:
    config = world.config()
    config["autoscaling"]["method"] = "zonal_shift"

    plan = make_controller(config).plan(AZ)
    report = make_controller(config).reconcile()

    # Then the plan skips the groups that cannot take a zonal shift, saying why (PARTIAL when
    # run), and readiness reports each
    skipped = [s for s in plan.steps if s.key.resource == "checkout-web"]
    assert skipped and all("not enabled for zonal shift" in (s.reason or "") for s in skipped)
    assert any("checkout-web: not enabled for zonal shift" in p for p in report.readiness_problems)
    assert make_controller(config).evacuate(AZ, reason="gray").status is Status.PARTIAL


def test_a_prescale_a_policy_scaled_in_since_is_reported_not_fought(
    world: World, make_controller: ControllerFactory, session: boto3.Session
) -> None:
    config = world.config(safety={"prescale": True})
    assert make_controller(config).evacuate(AZ, reason="gray").status is Status.EVACUATED
    assert snapshot(world)["asgs"]["checkout-web"]["desired"] == 4
    # Given a scaling policy scales the web group back in to 3 while the AZ is out
    _desired(session, "checkout-web", 3)

    report = make_controller(config).reconcile()

    # Then the reconciler reports it and leaves it: no SetDesiredCapacity every 5 minutes
    [result] = report.results
    capacity = _steps(result, "checkout-web")[StepKind.ASG_CAPACITY]
    assert "scaled in since" in (capacity.reason or "")
    assert snapshot(world)["asgs"]["checkout-web"]["desired"] == 3
    # and recover leaves the policy's choice alone too
    recovered = make_controller(config).recover(AZ, reason="healthy")
    assert recovered.status is Status.RECOVERED, recovered.to_dict()
    assert snapshot(world)["asgs"]["checkout-web"]["desired"] == 3


def test_a_group_defined_by_az_ids_has_the_az_removed_and_restored(
    world: World,
    make_controller: ControllerFactory,
    session: boto3.Session,
    autoscaling_model: AutoScalingModel,
) -> None:
    # Given a group defined by AvailabilityZoneIds, not subnets (ASG-8: it launches there too)
    session.client("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName="checkout-zones",
        LaunchTemplate={"LaunchTemplateName": "checkout-lt", "Version": "$Latest"},
        MinSize=0,
        MaxSize=9,
        DesiredCapacity=3,
        AvailabilityZoneIds=list(world.az_ids),
    )
    config = world.config()
    config["autoscaling"]["groups"].append("checkout-zones")

    result = make_controller(config).evacuate(AZ, reason="gray")

    # Then its AZ list loses the AZ (never a "no subnet in AZ" skip), and a scale-out lands
    # nothing there
    assert result.status is Status.EVACUATED, result.to_dict()
    zones = _steps(result, "checkout-zones")[StepKind.ASG_ZONES]
    assert zones.outcome is Outcome.APPLIED and AZ not in zones.after
    _desired(session, "checkout-zones", 6)
    assert autoscaling_model.instances_by_az("checkout-zones").get(AZ, 0) == 1
    _desired(session, "checkout-zones", 3)

    assert make_controller(config).recover(AZ, reason="healthy").status is Status.RECOVERED
    described = session.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=["checkout-zones"]
    )["AutoScalingGroups"][0]
    assert sorted(described["AvailabilityZoneIds"]) == sorted(world.az_ids)
