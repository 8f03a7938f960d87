"""EKS clusters as zonal-shift resources (issue 15 §2, aws-semantics EKS-1): readiness checks
the cluster's own zonalShiftConfig; out, the load balancer's shift starts before the cluster's;
back, the cluster's is cancelled before the load balancer's."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from evacuation.emulator.autoscaling import AutoScalingModel
from evacuation.emulator.world import World
from evacuation.emulator.zonal_shift import ZonalShiftFake
from evacuation.model import Status
from tests.conftest import ControllerFactory


def _cluster(session: boto3.Session, world: World, fake: ZonalShiftFake, *, enabled: bool) -> str:
    eks = session.client("eks")
    arn: str = eks.create_cluster(
        name="checkout-eks",
        roleArn="arn:aws:iam::123456789012:role/eks-cluster",
        resourcesVpcConfig={"subnetIds": list(world.subnets.values())},
    )["cluster"]["arn"]
    if enabled:
        eks.update_cluster_config(name="checkout-eks", zonalShiftConfig={"enabled": True})
    fake.register_resource(arn, world.az_ids, name="checkout-eks")
    return arn


def _config(world: World, cluster: str) -> dict[str, Any]:
    return world.config(
        zonal_shift={"resources": [cluster, world.load_balancer_arn], "expires_in": "6h"}
    )


def _shift_order(session: boto3.Session, operation: str, key: str) -> list[str]:
    order: list[str] = []
    session.events.register(
        f"provide-client-params.arc-zonal-shift.{operation}",
        lambda params, **_: order.append(params.get(key, "")),
    )
    return order


@pytest.mark.parametrize("enabled", [False, True])
def test_readiness_reports_a_cluster_without_zonal_shift_config(
    world: World,
    session: boto3.Session,
    fake: ZonalShiftFake,
    make_controller: ControllerFactory,
    enabled: bool,
) -> None:
    cluster = _cluster(session, world, fake, enabled=enabled)
    problems = make_controller(_config(world, cluster)).reconcile().readiness_problems
    flagged = [p for p in problems if cluster in p and "zonalShiftConfig" in p]
    assert bool(flagged) is not enabled


def test_the_load_balancer_shifts_before_the_cluster_and_comes_back_after_it(
    world: World,
    session: boto3.Session,
    fake: ZonalShiftFake,
    make_controller: ControllerFactory,
) -> None:
    # Given the cluster listed before the load balancer in the config
    cluster = _cluster(session, world, fake, enabled=True)
    started = _shift_order(session, "StartZonalShift", "resourceIdentifier")
    cancelled = _shift_order(session, "CancelZonalShift", "zonalShiftId")
    controller = make_controller(_config(world, cluster))

    # When the AZ is evacuated, then recovered
    result = controller.evacuate("use1-az1", reason="gray failure")
    assert result.status is Status.EVACUATED
    shift_ids = {
        s.key.resource: s.after["shift_id"]
        for s in result.steps
        if s.after and "shift_id" in s.after
    }
    recovered = controller.recover("use1-az1", reason="healthy")

    # Then out: load balancer first (the workshop's order); back: cluster first (REC-1)
    assert recovered.status is Status.RECOVERED
    assert started == [world.load_balancer_arn, cluster]
    assert cancelled.index(shift_ids[cluster]) < cancelled.index(shift_ids[world.load_balancer_arn])


def test_the_cluster_comes_back_with_capacity_while_the_load_balancer_waits_for_it(
    world: World,
    session: boto3.Session,
    fake: ZonalShiftFake,
    autoscaling_model: AutoScalingModel,
    make_controller: ControllerFactory,
) -> None:
    # Given an evacuation whose AZ capacity will not come back in time
    cluster = _cluster(session, world, fake, enabled=True)
    config = _config(world, cluster)
    config["recovery"] = {"capacity_timeout_seconds": 0.2, "capacity_poll_seconds": 0.05}
    controller = make_controller(config)
    controller.evacuate("use1-az1", reason="gray failure")
    # the gray failure takes the web group's instance in the AZ; replacements are slow
    instances = session.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=["checkout-web"]
    )["AutoScalingGroups"][0]["Instances"]
    [lost] = [i["InstanceId"] for i in instances if i["AvailabilityZoneId"] == "use1-az1"]
    autoscaling_model.mark_unhealthy(lost)
    autoscaling_model.set_launch_delay(3600)

    # When recover times out waiting for capacity
    result = controller.recover("use1-az1", reason="healthy")

    # Then the cluster's shift is cancelled with the capacity levers (its pods rejoin the
    # endpoints first, EKS-1), while the load balancer's still holds traffic out (REC-1)
    assert result.status is Status.RECOVERING
    assert _active(session, cluster) == []
    assert _active(session, world.load_balancer_arn) == ["use1-az1"]


def _active(session: boto3.Session, arn: str) -> list[str]:
    resource = session.client("arc-zonal-shift").get_managed_resource(resourceIdentifier=arn)
    return [
        s["awayFrom"]
        for s in resource.get("zonalShifts", [])
        if s.get("status", "ACTIVE") == "ACTIVE"
    ]
