"""The emulator's Auto Scaling placement model, read back through boto3 on moto.

Each test checks one rule of evacuation/emulator/autoscaling.py against instance counts per AZ
ID that DescribeAutoScalingGroups returns. Pages:
- placement and rebalancing: https://docs.aws.amazon.com/autoscaling/ec2/userguide/auto-scaling-benefits.html
  and https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-availability-zone-balanced.html
- suspended processes: https://docs.aws.amazon.com/autoscaling/ec2/userguide/understand-how-suspending-processes-affects-other-processes.html
  and https://docs.aws.amazon.com/autoscaling/ec2/userguide/suspend-resume-considerations.html
- zonal shift: https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-zonal-shift.html
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from evacuation.emulator.autoscaling import AutoScalingModel
from evacuation.emulator.world import World
from evacuation.emulator.zonal_shift import ManualClock, ZonalShiftFake

WEB, WORKER = "checkout-web", "checkout-worker"  # the worker has AZRebalance suspended
LT = {"LaunchTemplateName": "checkout-lt", "Version": "$Latest"}


@pytest.fixture
def autoscaling(session: boto3.Session, world: World) -> Any:
    return session.client("autoscaling", region_name="us-east-1")


def _group(autoscaling: Any, name: str) -> dict[str, Any]:
    groups = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])
    return dict(groups["AutoScalingGroups"][0])


def _by_az(autoscaling: Any, name: str, state: str = "InService") -> dict[str, int]:
    """Instances per AZ ID in ``state``, as DescribeAutoScalingGroups reports them."""
    instances = _group(autoscaling, name)["Instances"]
    return dict(Counter(i["AvailabilityZoneId"] for i in instances if i["LifecycleState"] == state))


def _subnets(world: World, *az_ids: str) -> str:
    return ",".join(world.subnets[az] for az in az_ids)


def _create(autoscaling: Any, name: str, **kwargs: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"MinSize": 0, "MaxSize": 12, "DesiredCapacity": 3, **kwargs}
    autoscaling.create_auto_scaling_group(AutoScalingGroupName=name, LaunchTemplate=LT, **params)
    return _group(autoscaling, name)


def _sizes(model: AutoScalingModel, group: str, start: int) -> list[int]:
    """The group's instance count after each launch or termination the model made."""
    sizes, size = [start], start
    for event in model.events:
        if event.group == group:
            size += 1 if event.action == "launch" else -1
            sizes.append(size)
    return sizes


def _enabled_group(
    autoscaling: Any, world: World, behavior: str = "IgnoreUnhealthy", **kwargs: Any
) -> dict[str, Any]:
    return _create(
        autoscaling,
        "zs",
        VPCZoneIdentifier=_subnets(world, *world.az_ids),
        DesiredCapacity=kwargs.pop("DesiredCapacity", 6),
        AvailabilityZoneImpairmentPolicy={
            "ZonalShiftEnabled": True,
            "ImpairedZoneHealthCheckBehavior": behavior,
        },
        **kwargs,
    )


def _shift(session: boto3.Session, arn: str, away_from: str) -> str:
    arc = session.client("arc-zonal-shift", region_name="us-east-1")
    shift = arc.start_zonal_shift(
        resourceIdentifier=arn, awayFrom=away_from, expiresIn="1h", comment="test"
    )
    return str(shift["zonalShiftId"])


def _cancel(session: boto3.Session, shift_id: str) -> None:
    session.client("arc-zonal-shift", region_name="us-east-1").cancel_zonal_shift(
        zonalShiftId=shift_id
    )


# ---------------------------------------------------------------- rule 1: placement


def test_vpc_group_spreads_across_its_subnets_azs(autoscaling: Any, world: World) -> None:
    a, b, c = world.az_ids
    assert _by_az(autoscaling, WEB) == {a: 1, b: 1, c: 1}  # moto alone: 3 in the first subnet
    autoscaling.set_desired_capacity(AutoScalingGroupName=WEB, DesiredCapacity=7)
    # fewest first, ties by subnet order
    assert _by_az(autoscaling, WEB) == {a: 3, b: 2, c: 2}


def test_scale_in_keeps_the_azs_balanced(autoscaling: Any, world: World) -> None:
    a, b, c = world.az_ids
    autoscaling.set_desired_capacity(AutoScalingGroupName=WEB, DesiredCapacity=8)
    autoscaling.set_desired_capacity(AutoScalingGroupName=WEB, DesiredCapacity=4)
    counts = _by_az(autoscaling, WEB)
    assert sum(counts.values()) == 4
    assert max(counts.values()) - min(counts.values()) <= 1
    assert set(counts) == {a, b, c}


def test_group_defined_by_az_names_spreads(autoscaling: Any, world: World) -> None:
    group = _create(
        autoscaling, "by-name", AvailabilityZones=["us-east-1a", "us-east-1b"], DesiredCapacity=4
    )
    assert "AvailabilityZoneIds" not in group
    assert _by_az(autoscaling, "by-name") == {world.az_ids[0]: 2, world.az_ids[1]: 2}


def test_group_defined_by_az_ids_is_stored_and_spreads(autoscaling: Any, world: World) -> None:
    a, b, c = world.az_ids
    group = _create(autoscaling, "by-id", AvailabilityZoneIds=[b, c], DesiredCapacity=5)
    assert group["AvailabilityZoneIds"] == [b, c]  # moto drops them
    assert group["AvailabilityZones"] == ["us-east-1b", "us-east-1c"]
    assert _by_az(autoscaling, "by-id") == {b: 3, c: 2}
    autoscaling.update_auto_scaling_group(AutoScalingGroupName="by-id", AvailabilityZoneIds=[a, b])
    group = _group(autoscaling, "by-id")
    assert group["AvailabilityZoneIds"] == [a, b]
    assert _by_az(autoscaling, "by-id") == {a: 2, b: 3}  # rebalanced away from c


def test_az_names_and_ids_together_are_a_validation_error(autoscaling: Any, world: World) -> None:
    for call in (
        lambda: _create(
            autoscaling, "both", AvailabilityZones=["us-east-1a"], AvailabilityZoneIds=["use1-az6"]
        ),
        lambda: autoscaling.update_auto_scaling_group(
            AutoScalingGroupName=WEB, AvailabilityZones=["us-east-1a"], AvailabilityZoneIds=["x"]
        ),
    ):
        with pytest.raises(ClientError) as err:
            call()
        assert err.value.response["Error"]["Code"] == "ValidationError"
        assert "both AvailabilityZones and AvailabilityZoneIds" in str(err.value)
    with pytest.raises(ClientError, match="ValidationError"):
        _create(autoscaling, "bogus-id", AvailabilityZoneIds=["use1-az99"])


# -------------------------------------------------------------- rule 2: what Describe says


def test_instances_carry_az_id_lifecycle_and_health(autoscaling: Any, world: World) -> None:
    names = {"us-east-1a": world.az_ids[0], "us-east-1b": world.az_ids[1]}
    names["us-east-1c"] = world.az_ids[2]
    for instance in _group(autoscaling, WEB)["Instances"]:
        assert instance["AvailabilityZoneId"] == names[instance["AvailabilityZone"]]
        assert instance["LifecycleState"] == "InService"
        assert instance["HealthStatus"] == "Healthy"
        assert "WeightedCapacity" not in instance
    listed = autoscaling.describe_auto_scaling_instances()["AutoScalingInstances"]
    assert all("AvailabilityZoneId" in i for i in listed)
    group = _group(autoscaling, WORKER)
    assert [p["ProcessName"] for p in group["SuspendedProcesses"]] == ["AZRebalance"]
    assert "AvailabilityZoneIds" not in group
    assert "AvailabilityZoneImpairmentPolicy" not in group


def test_weighted_capacity_is_reported_where_set(autoscaling: Any, world: World) -> None:
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="weighted",
        MinSize=0,
        MaxSize=12,
        DesiredCapacity=4,
        VPCZoneIdentifier=_subnets(world, *world.az_ids),
        MixedInstancesPolicy={
            "LaunchTemplate": {
                "LaunchTemplateSpecification": {"LaunchTemplateName": "checkout-lt"},
                "Overrides": [{"InstanceType": "t3.large", "WeightedCapacity": "2"}],
            }
        },
    )
    instances = _group(autoscaling, "weighted")["Instances"]
    assert len(instances) == 2  # 4 units of weight 2, as moto counts them
    assert {i["WeightedCapacity"] for i in instances} == {"2"}
    assert {i["AvailabilityZoneId"] for i in instances} == set(world.az_ids[:2])


# ------------------------------------------------------------ rule 3: rebalancing, processes


def test_removing_an_az_launches_first_then_terminates(
    autoscaling: Any, world: World, autoscaling_model: AutoScalingModel
) -> None:
    a, b, c = world.az_ids
    autoscaling.set_desired_capacity(AutoScalingGroupName=WEB, DesiredCapacity=6)
    autoscaling_model.events.clear()
    autoscaling.update_auto_scaling_group(
        AutoScalingGroupName=WEB, VPCZoneIdentifier=_subnets(world, b, c)
    )
    assert _by_az(autoscaling, WEB) == {b: 3, c: 3}
    assert _group(autoscaling, WEB)["DesiredCapacity"] == 6  # the update does not change it
    actions = [(e.action, e.az_id) for e in autoscaling_model.events if e.group == WEB]
    assert actions[:2] == [("launch", b), ("launch", c)]
    assert sorted(actions[2:]) == [("terminate", a), ("terminate", a)]
    assert min(_sizes(autoscaling_model, WEB, 6)) >= 6


def test_rebalance_may_exceed_max_size_by_the_margin(
    autoscaling: Any, world: World, autoscaling_model: AutoScalingModel
) -> None:
    a, b, c = world.az_ids
    autoscaling.set_desired_capacity(AutoScalingGroupName=WEB, DesiredCapacity=9)  # MaxSize 9
    assert _by_az(autoscaling, WEB) == {a: 3, b: 3, c: 3}
    autoscaling_model.events.clear()
    autoscaling.update_auto_scaling_group(
        AutoScalingGroupName=WEB, VPCZoneIdentifier=_subnets(world, b, c)
    )
    assert _by_az(autoscaling, WEB) == {b: 5, c: 4}
    sizes = _sizes(autoscaling_model, WEB, 9)
    assert max(sizes) == 10  # 10 % of 9 is less than one instance: one over
    assert min(sizes) >= 9


def test_rebalance_terminates_only_once_replacements_are_in_service(
    autoscaling: Any, world: World, autoscaling_model: AutoScalingModel, clock: ManualClock
) -> None:
    a, b, c = world.az_ids
    autoscaling_model.set_launch_delay(120)
    autoscaling.update_auto_scaling_group(
        AutoScalingGroupName=WEB, VPCZoneIdentifier=_subnets(world, b, c)
    )
    assert _by_az(autoscaling, WEB) == {a: 1, b: 1, c: 1}
    assert _by_az(autoscaling, WEB, "Pending") == {b: 1}
    clock.advance(timedelta(seconds=120))
    assert _by_az(autoscaling, WEB) == {b: 2, c: 1}


def test_with_azrebalance_suspended_the_removed_azs_instances_stay(
    autoscaling: Any, world: World, autoscaling_model: AutoScalingModel
) -> None:
    a, b, c = world.az_ids
    autoscaling.update_auto_scaling_group(
        AutoScalingGroupName=WORKER, VPCZoneIdentifier=_subnets(world, b, c)
    )
    assert _by_az(autoscaling, WORKER) == {a: 1, b: 1, c: 1}  # still InService and counted
    autoscaling.set_desired_capacity(AutoScalingGroupName=WORKER, DesiredCapacity=6)
    assert _by_az(autoscaling, WORKER) == {a: 1, b: 3, c: 2}  # only enabled AZs, balanced
    autoscaling.set_desired_capacity(AutoScalingGroupName=WORKER, DesiredCapacity=4)
    assert _by_az(autoscaling, WORKER) == {b: 2, c: 2}  # the unlisted AZ goes first
    assert autoscaling_model.instances_by_az(WORKER) == {b: 2, c: 2}


def test_resuming_azrebalance_rebalances(autoscaling: Any, world: World) -> None:
    _, b, c = world.az_ids
    autoscaling.update_auto_scaling_group(
        AutoScalingGroupName=WORKER, VPCZoneIdentifier=_subnets(world, b, c)
    )
    autoscaling.resume_processes(AutoScalingGroupName=WORKER, ScalingProcesses=["AZRebalance"])
    assert _by_az(autoscaling, WORKER) == {b: 2, c: 1}


def test_an_az_added_back_is_rebalanced_into(autoscaling: Any, world: World) -> None:
    a, b, c = world.az_ids
    autoscaling.set_desired_capacity(AutoScalingGroupName=WEB, DesiredCapacity=6)
    autoscaling.update_auto_scaling_group(
        AutoScalingGroupName=WEB, VPCZoneIdentifier=_subnets(world, b, c)
    )
    autoscaling.update_auto_scaling_group(
        AutoScalingGroupName=WEB, VPCZoneIdentifier=_subnets(world, a, b, c)
    )
    assert _by_az(autoscaling, WEB) == {a: 2, b: 2, c: 2}


def test_suspended_launch_launches_nothing(autoscaling: Any, world: World) -> None:
    a, b, c = world.az_ids
    autoscaling.suspend_processes(AutoScalingGroupName=WEB, ScalingProcesses=["Launch"])
    autoscaling.set_desired_capacity(AutoScalingGroupName=WEB, DesiredCapacity=6)
    autoscaling.update_auto_scaling_group(
        AutoScalingGroupName=WEB, VPCZoneIdentifier=_subnets(world, b, c)
    )
    assert _by_az(autoscaling, WEB) == {a: 1, b: 1, c: 1}  # moto alone launched anyway
    autoscaling.resume_processes(AutoScalingGroupName=WEB, ScalingProcesses=["Launch"])
    assert _by_az(autoscaling, WEB) == {b: 3, c: 3}


def test_suspended_terminate_lets_rebalance_grow_past_desired(
    autoscaling: Any, world: World
) -> None:
    a, b, c = world.az_ids
    autoscaling.suspend_processes(AutoScalingGroupName=WEB, ScalingProcesses=["Terminate"])
    autoscaling.update_auto_scaling_group(
        AutoScalingGroupName=WEB, VPCZoneIdentifier=_subnets(world, b, c)
    )
    assert _by_az(autoscaling, WEB) == {a: 1, b: 2, c: 1}  # launched, nothing terminated
    autoscaling.set_desired_capacity(AutoScalingGroupName=WEB, DesiredCapacity=3)
    assert sum(_by_az(autoscaling, WEB).values()) == 4  # no scale-in either
    autoscaling.resume_processes(AutoScalingGroupName=WEB, ScalingProcesses=["Terminate"])
    assert _by_az(autoscaling, WEB) == {b: 2, c: 1}


# ---------------------------------------------------------------- rule 4: process names


def test_unknown_process_names_are_a_validation_error(autoscaling: Any, world: World) -> None:
    for call in (autoscaling.suspend_processes, autoscaling.resume_processes):
        with pytest.raises(ClientError) as err:
            call(AutoScalingGroupName=WEB, ScalingProcesses=["AZRebalance", "Bogus"])
        assert err.value.response["Error"]["Code"] == "ValidationError"
        assert "Bogus" in err.value.response["Error"]["Message"]
    assert _group(autoscaling, WEB)["SuspendedProcesses"] == []  # nothing half-applied


def test_a_suspension_says_who_suspended_and_when(
    autoscaling: Any, world: World, clock: ManualClock
) -> None:
    # SuspendedProcess.SuspensionReason: "The reason that the process was suspended"
    # (https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_SuspendedProcess.html);
    # AWS answers "User suspended at <time>". A later suspension has a later reason.
    autoscaling.suspend_processes(AutoScalingGroupName=WEB, ScalingProcesses=["AZRebalance"])
    [first] = _group(autoscaling, WEB)["SuspendedProcesses"]
    assert first["SuspensionReason"] == f"User suspended at {clock():%Y-%m-%dT%H:%M:%SZ}"
    autoscaling.resume_processes(AutoScalingGroupName=WEB, ScalingProcesses=["AZRebalance"])
    assert _group(autoscaling, WEB)["SuspendedProcesses"] == []
    clock.advance(timedelta(minutes=5))
    autoscaling.suspend_processes(AutoScalingGroupName=WEB, ScalingProcesses=["AZRebalance"])
    [again] = _group(autoscaling, WEB)["SuspendedProcesses"]
    assert again["SuspensionReason"] != first["SuspensionReason"]


def test_processes_of_a_missing_group_are_a_validation_error(autoscaling: Any) -> None:
    for call in (autoscaling.suspend_processes, autoscaling.resume_processes):
        with pytest.raises(ClientError) as err:
            call(AutoScalingGroupName="no-such-group", ScalingProcesses=["AZRebalance"])
        assert err.value.response["Error"]["Code"] == "ValidationError"


def test_an_omitted_list_still_suspends_every_process(autoscaling: Any, world: World) -> None:
    autoscaling.suspend_processes(AutoScalingGroupName=WEB)  # moto was right here
    suspended = {p["ProcessName"] for p in _group(autoscaling, WEB)["SuspendedProcesses"]}
    assert "Launch" in suspended
    assert len(suspended) == 9


# ------------------------------------------------------------------- rule 5: zonal shift


def test_impairment_policy_is_stored_and_returned(autoscaling: Any, world: World) -> None:
    group = _enabled_group(autoscaling, world)
    assert group["AvailabilityZoneImpairmentPolicy"] == {
        "ZonalShiftEnabled": True,
        "ImpairedZoneHealthCheckBehavior": "IgnoreUnhealthy",
    }
    autoscaling.update_auto_scaling_group(
        AutoScalingGroupName="zs",
        AvailabilityZoneImpairmentPolicy={
            "ZonalShiftEnabled": True,
            "ImpairedZoneHealthCheckBehavior": "ReplaceUnhealthy",
        },
    )
    policy = _group(autoscaling, "zs")["AvailabilityZoneImpairmentPolicy"]
    assert policy["ImpairedZoneHealthCheckBehavior"] == "ReplaceUnhealthy"
    autoscaling.update_auto_scaling_group(AutoScalingGroupName="zs", MaxSize=15)  # not sent: kept
    assert _group(autoscaling, "zs")["AvailabilityZoneImpairmentPolicy"] == policy
    with pytest.raises(ClientError, match="ValidationError"):
        autoscaling.update_auto_scaling_group(
            AutoScalingGroupName="zs",
            AvailabilityZoneImpairmentPolicy={"ImpairedZoneHealthCheckBehavior": "Sometimes"},
        )


def test_an_enabled_group_is_a_managed_resource(
    session: boto3.Session, autoscaling: Any, world: World, autoscaling_model: AutoScalingModel
) -> None:
    arn = _enabled_group(autoscaling, world)["AutoScalingGroupARN"]
    arc = session.client("arc-zonal-shift", region_name="us-east-1")
    resource = arc.get_managed_resource(resourceIdentifier=arn)
    assert set(resource["appliedWeights"]) == set(world.az_ids)
    assert autoscaling_model.register_with_fake("zs") == arn  # idempotent


def test_a_shift_launches_new_capacity_only_in_healthy_azs(
    session: boto3.Session, autoscaling: Any, world: World
) -> None:
    a, b, c = world.az_ids
    arn = _enabled_group(autoscaling, world)["AutoScalingGroupARN"]
    _shift(session, arn, a)
    autoscaling.set_desired_capacity(AutoScalingGroupName="zs", DesiredCapacity=10)
    assert _by_az(autoscaling, "zs") == {a: 2, b: 4, c: 4}
    group = _group(autoscaling, "zs")
    assert group["VPCZoneIdentifier"] == _subnets(world, a, b, c)  # nothing rewritten


def test_a_shift_blocks_scale_in(
    session: boto3.Session, autoscaling: Any, world: World, autoscaling_model: AutoScalingModel
) -> None:
    a, b, c = world.az_ids
    arn = _enabled_group(autoscaling, world)["AutoScalingGroupARN"]
    shift_id = _shift(session, arn, a)
    # A direct SetDesiredCapacity lower is accepted, but nothing is terminated during the shift.
    autoscaling.set_desired_capacity(AutoScalingGroupName="zs", DesiredCapacity=3)
    assert _group(autoscaling, "zs")["DesiredCapacity"] == 3
    assert _by_az(autoscaling, "zs") == {a: 2, b: 2, c: 2}
    # "Auto Scaling will block scaling policies from decreasing desired capacity."
    autoscaling.set_desired_capacity(AutoScalingGroupName="zs", DesiredCapacity=6)
    autoscaling.put_scaling_policy(
        AutoScalingGroupName="zs",
        PolicyName="in",
        AdjustmentType="ChangeInCapacity",
        ScalingAdjustment=-2,
    )
    autoscaling.execute_policy(AutoScalingGroupName="zs", PolicyName="in")
    assert _group(autoscaling, "zs")["DesiredCapacity"] == 6
    assert autoscaling_model.instances_by_az("zs") == {a: 2, b: 2, c: 2}
    # ... but not from increasing it.
    autoscaling.put_scaling_policy(
        AutoScalingGroupName="zs",
        PolicyName="out",
        AdjustmentType="ChangeInCapacity",
        ScalingAdjustment=2,
    )
    autoscaling.execute_policy(AutoScalingGroupName="zs", PolicyName="out")
    assert _by_az(autoscaling, "zs") == {a: 2, b: 3, c: 3}
    _cancel(session, shift_id)
    autoscaling.set_desired_capacity(AutoScalingGroupName="zs", DesiredCapacity=3)
    assert _by_az(autoscaling, "zs") == {a: 1, b: 1, c: 1}


def test_ignore_unhealthy_keeps_the_shifted_azs_unhealthy_instances(
    session: boto3.Session, autoscaling: Any, world: World, autoscaling_model: AutoScalingModel
) -> None:
    a, b, c = world.az_ids
    group = _enabled_group(autoscaling, world, "IgnoreUnhealthy")
    _shift(session, group["AutoScalingGroupARN"], a)
    in_a = [i["InstanceId"] for i in group["Instances"] if i["AvailabilityZoneId"] == a]
    in_b = [i["InstanceId"] for i in group["Instances"] if i["AvailabilityZoneId"] == b]
    autoscaling_model.mark_unhealthy(in_a[0])
    autoscaling_model.mark_unhealthy(in_b[0])
    instances = {i["InstanceId"]: i for i in _group(autoscaling, "zs")["Instances"]}
    assert instances[in_a[0]]["HealthStatus"] == "Unhealthy"  # not replaced in the shifted AZ
    assert in_b[0] not in instances  # replaced in a healthy AZ
    assert _by_az(autoscaling, "zs") == {a: 2, b: 2, c: 2}


def test_replace_unhealthy_replaces_in_a_healthy_az(
    session: boto3.Session, autoscaling: Any, world: World, autoscaling_model: AutoScalingModel
) -> None:
    a, b, c = world.az_ids
    group = _enabled_group(autoscaling, world, "ReplaceUnhealthy")
    _shift(session, group["AutoScalingGroupARN"], a)
    in_a = [i["InstanceId"] for i in group["Instances"] if i["AvailabilityZoneId"] == a]
    autoscaling_model.mark_unhealthy(in_a[0])
    assert _by_az(autoscaling, "zs") == {a: 1, b: 3, c: 2}


def test_when_the_shift_ends_the_group_rebalances_back(
    session: boto3.Session, autoscaling: Any, world: World, clock: ManualClock
) -> None:
    a, b, c = world.az_ids
    arn = _enabled_group(autoscaling, world)["AutoScalingGroupARN"]
    _shift(session, arn, a)
    autoscaling.set_desired_capacity(AutoScalingGroupName="zs", DesiredCapacity=9)
    assert _by_az(autoscaling, "zs") == {a: 2, b: 4, c: 3}
    clock.advance(timedelta(hours=1))  # the shift expires
    assert _by_az(autoscaling, "zs") == {a: 3, b: 3, c: 3}


def test_with_azrebalance_suspended_the_shift_end_leaves_the_imbalance(
    session: boto3.Session, autoscaling: Any, world: World
) -> None:
    a, b, c = world.az_ids
    arn = _enabled_group(autoscaling, world)["AutoScalingGroupARN"]
    shift_id = _shift(session, arn, a)
    autoscaling.suspend_processes(AutoScalingGroupName="zs", ScalingProcesses=["AZRebalance"])
    autoscaling.set_desired_capacity(AutoScalingGroupName="zs", DesiredCapacity=9)
    _cancel(session, shift_id)
    assert _by_az(autoscaling, "zs") == {a: 2, b: 4, c: 3}
    autoscaling.resume_processes(AutoScalingGroupName="zs", ScalingProcesses=["AZRebalance"])
    assert _by_az(autoscaling, "zs") == {a: 3, b: 3, c: 3}


def test_an_autoshift_impairs_the_az_too(
    autoscaling: Any, world: World, fake: ZonalShiftFake
) -> None:
    a, b, c = world.az_ids
    arn = _enabled_group(autoscaling, world)["AutoScalingGroupARN"]
    fake.start_autoshift(arn, c)
    autoscaling.set_desired_capacity(AutoScalingGroupName="zs", DesiredCapacity=8)
    assert _by_az(autoscaling, "zs") == {a: 3, b: 3, c: 2}


def test_a_group_not_enabled_ignores_shifts(
    session: boto3.Session, autoscaling: Any, world: World
) -> None:
    a, b, c = world.az_ids
    arn = _enabled_group(autoscaling, world)["AutoScalingGroupARN"]
    _shift(session, arn, a)
    autoscaling.update_auto_scaling_group(
        AutoScalingGroupName="zs", AvailabilityZoneImpairmentPolicy={"ZonalShiftEnabled": False}
    )
    autoscaling.set_desired_capacity(AutoScalingGroupName="zs", DesiredCapacity=9)
    assert _by_az(autoscaling, "zs") == {a: 3, b: 3, c: 3}


def test_deleting_a_shifted_group_terminates_its_instances(
    session: boto3.Session, autoscaling: Any, world: World
) -> None:
    group = _enabled_group(autoscaling, world)
    _shift(session, group["AutoScalingGroupARN"], world.az_ids[0])
    autoscaling.delete_auto_scaling_group(AutoScalingGroupName="zs", ForceDelete=True)
    ec2 = session.client("ec2", region_name="us-east-1")
    ids = [i["InstanceId"] for i in group["Instances"]]
    states = {
        i["State"]["Name"]
        for r in ec2.describe_instances(InstanceIds=ids)["Reservations"]
        for i in r["Instances"]
    }
    assert states == {"terminated"}


# ------------------------------------------------------------------- rule 6: test controls


def test_an_unhealthy_instance_is_replaced(
    autoscaling: Any, world: World, autoscaling_model: AutoScalingModel
) -> None:
    a, b, c = world.az_ids
    victim = next(
        i["InstanceId"]
        for i in _group(autoscaling, WEB)["Instances"]
        if i["AvailabilityZoneId"] == b
    )
    autoscaling_model.mark_unhealthy(victim)
    instances = _group(autoscaling, WEB)["Instances"]
    assert victim not in {i["InstanceId"] for i in instances}
    assert _by_az(autoscaling, WEB) == {a: 1, b: 1, c: 1}  # the replacement keeps the balance


def test_set_instance_health_through_the_api_is_replaced_too(
    autoscaling: Any, world: World
) -> None:
    victim = _group(autoscaling, WEB)["Instances"][0]["InstanceId"]
    autoscaling.set_instance_health(InstanceId=victim, HealthStatus="Unhealthy")
    assert victim not in {i["InstanceId"] for i in _group(autoscaling, WEB)["Instances"]}


def test_suspended_health_check_keeps_an_unhealthy_instance(
    autoscaling: Any, world: World, autoscaling_model: AutoScalingModel
) -> None:
    autoscaling.suspend_processes(AutoScalingGroupName=WEB, ScalingProcesses=["ReplaceUnhealthy"])
    victim = _group(autoscaling, WEB)["Instances"][0]["InstanceId"]
    autoscaling_model.mark_unhealthy(victim)
    instances = {i["InstanceId"]: i for i in _group(autoscaling, WEB)["Instances"]}
    assert instances[victim]["HealthStatus"] == "Unhealthy"
    autoscaling.resume_processes(AutoScalingGroupName=WEB, ScalingProcesses=["ReplaceUnhealthy"])
    assert victim not in {i["InstanceId"] for i in _group(autoscaling, WEB)["Instances"]}


def test_launched_instances_are_pending_for_the_launch_delay(
    autoscaling: Any, world: World, autoscaling_model: AutoScalingModel, clock: ManualClock
) -> None:
    a, b, c = world.az_ids
    autoscaling_model.set_launch_delay(90)
    autoscaling.set_desired_capacity(AutoScalingGroupName=WEB, DesiredCapacity=6)
    assert _by_az(autoscaling, WEB, "Pending") == {a: 1, b: 1, c: 1}
    assert autoscaling_model.instances_by_az(WEB) == {a: 1, b: 1, c: 1}  # InService only
    clock.advance(timedelta(seconds=89))
    assert _by_az(autoscaling, WEB, "Pending") == {a: 1, b: 1, c: 1}
    clock.advance(timedelta(seconds=1))
    assert _by_az(autoscaling, WEB) == {a: 2, b: 2, c: 2}


def test_instances_by_az_lists_every_enabled_az(
    autoscaling: Any, world: World, autoscaling_model: AutoScalingModel
) -> None:
    a, b, c = world.az_ids
    autoscaling.set_desired_capacity(AutoScalingGroupName=WEB, DesiredCapacity=1)
    assert autoscaling_model.instances_by_az(WEB) == {a: 1, b: 0, c: 0}


# ---------------------------------------------------------- rule 7: deterministic, scoped


def test_the_model_is_synchronous_and_deterministic() -> None:
    def run() -> list[tuple[str, str, str]]:
        clock = ManualClock()
        model = AutoScalingModel(ZonalShiftFake(clock=clock), clock)
        from moto import mock_aws  # noqa: PLC0415

        from evacuation.emulator.world import build_world  # noqa: PLC0415

        with mock_aws():
            session = boto3.Session(region_name="us-east-1")
            model.install(session)
            model.fake.install(session)  # type: ignore[union-attr]
            inner = build_world(session, model.fake)  # type: ignore[arg-type]
            autoscaling = session.client("autoscaling", region_name="us-east-1")
            autoscaling.set_desired_capacity(AutoScalingGroupName=WEB, DesiredCapacity=8)
            autoscaling.update_auto_scaling_group(
                AutoScalingGroupName=WEB, VPCZoneIdentifier=_subnets(inner, *inner.az_ids[1:])
            )
        return [(e.action, e.group, e.az_id) for e in model.events]

    threads = threading.active_count()
    assert run() == run()
    assert threading.active_count() == threads


def test_a_session_without_the_model_gets_plain_moto(session: boto3.Session, world: World) -> None:
    plain = boto3.Session(region_name="us-east-1").client("autoscaling", region_name="us-east-1")
    plain.create_auto_scaling_group(
        AutoScalingGroupName="plain",
        LaunchTemplate=LT,
        MinSize=0,
        MaxSize=6,
        DesiredCapacity=3,
        VPCZoneIdentifier=_subnets(world, *world.az_ids),
    )
    group = plain.describe_auto_scaling_groups(AutoScalingGroupNames=["plain"])
    instances = group["AutoScalingGroups"][0]["Instances"]
    assert {i["AvailabilityZone"] for i in instances} == {"us-east-1a"}  # moto's first subnet
