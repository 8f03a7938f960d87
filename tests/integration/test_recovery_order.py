"""Recovery brings capacity back before traffic, and never half (aws-semantics REC-1, REC-2).

Order: the groups' own shifts cancelled and their subnets restored (then AZRebalance resumed),
the AZ's capacity back, then the load balancer shifts cancelled and the weights restored, then
the prescale put back. A failed capacity step keeps traffic out and the AZ held.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import boto3

from evacuation.emulator.world import CallRecorder, World, snapshot
from evacuation.emulator.zonal_shift import ManualClock
from evacuation.model import Outcome, Status, StepKind
from tests.conftest import ControllerFactory
from tests.support.faults import Fault, FaultInjector

AZ = "use1-az1"


def _mutations(recorder: CallRecorder) -> list[str]:
    return [op for service, op in recorder.mutations if service != "dynamodb"]


def test_evacuation_suspends_then_removes_the_az_then_prescales(
    world: World, make_controller: ControllerFactory, session: boto3.Session
) -> None:
    # The groups run in parallel lanes, so the order is checked per group, from each call's
    # AutoScalingGroupName (the worker group's owners already suspended AZRebalance)
    calls: list[tuple[str, str]] = []

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        if model.name != "DescribeAutoScalingGroups":
            calls.append((params.get("AutoScalingGroupName", ""), model.name))

    session.events.register("before-parameter-build.autoscaling.*", record)

    make_controller(world.config(safety={"prescale": True})).evacuate(AZ, reason="gray")

    web = [op for group, op in calls if group == "checkout-web"]
    assert web == ["SuspendProcesses", "UpdateAutoScalingGroup", "SetDesiredCapacity"], calls
    worker = [op for group, op in calls if group == "checkout-worker"]
    assert worker == ["UpdateAutoScalingGroup", "SetDesiredCapacity"], calls


def test_recovery_restores_capacity_then_traffic_then_the_prescale(
    world: World, make_controller: ControllerFactory, recorder: CallRecorder
) -> None:
    original = snapshot(world)
    config = world.config(safety={"prescale": True})
    assert make_controller(config).evacuate(AZ, reason="gray").status is Status.EVACUATED
    recorder.reset()

    recovered = make_controller(config).recover(AZ, reason="healthy")

    assert recovered.status is Status.RECOVERED, recovered.to_dict()
    order = _mutations(recorder)
    # subnets back before AZRebalance resumes (resuming first would rebalance against the
    # reduced list and terminate the AZ's instances), and both before any traffic step
    first_traffic = min(order.index("CancelZonalShift"), order.index("ChangeResourceRecordSets"))
    assert order.index("UpdateAutoScalingGroup") < order.index("ResumeProcesses") < first_traffic
    # the prescale comes back last, once traffic is back in the AZ
    assert order.index("SetDesiredCapacity") > max(
        order.index("CancelZonalShift"), order.index("ChangeResourceRecordSets")
    )
    assert snapshot(world) == original


def test_a_failed_capacity_revert_keeps_traffic_out_until_the_reconciler_finishes(
    world: World, make_controller: ControllerFactory, faults: FaultInjector
) -> None:
    assert make_controller().evacuate(AZ, reason="gray").status is Status.EVACUATED
    # Given the controller may no longer update the groups
    faults.add("autoscaling", "UpdateAutoScalingGroup", Fault.ACCESS_DENIED, *range(1, 50))

    result = make_controller().recover(AZ, reason="healthy")

    # Then nothing of the traffic phase ran: the shift stays, the weight stays 0, AZ held
    assert result.status is Status.RECOVERING, result.to_dict()
    assert "traffic stays out" in (result.reason or "")
    state = snapshot(world)
    assert state["weights"]["checkout-use1-az1"] == 0
    assert state["shifts"] == [(world.load_balancer_arn, AZ, "ZONAL_SHIFT")]
    assert make_controller().status_of(AZ) is not None

    # When the fault is gone, the reconciler carries the recovery through
    faults.clear()
    report = make_controller().reconcile()
    assert [r.status for r in report.results] == [Status.RECOVERED], report.to_dict()
    assert snapshot(world)["weights"]["checkout-use1-az1"] == 100
    assert snapshot(world)["shifts"] == []


def test_a_deleted_group_is_skipped_and_recovery_finishes(
    world: World, make_controller: ControllerFactory, session: boto3.Session
) -> None:
    assert make_controller().evacuate(AZ, reason="gray").status is Status.EVACUATED
    session.client("autoscaling").delete_auto_scaling_group(
        AutoScalingGroupName="checkout-web", ForceDelete=True
    )

    result = make_controller().recover(AZ, reason="healthy")

    assert result.status is Status.RECOVERED, result.to_dict()
    web = [s for s in result.steps if s.key.resource == "checkout-web"]
    assert {s.outcome for s in web} == {Outcome.SKIPPED}
    assert all("no longer exists" in (s.reason or "") for s in web)


def test_abandon_releases_the_az_and_lists_what_remains(
    world: World, make_controller: ControllerFactory, faults: FaultInjector
) -> None:
    assert make_controller().evacuate(AZ, reason="gray").status is Status.EVACUATED
    faults.add("autoscaling", "UpdateAutoScalingGroup", Fault.ACCESS_DENIED, *range(1, 50))
    assert make_controller().recover(AZ, reason="try").status is Status.RECOVERING

    abandoned = make_controller().abandon(AZ, reason="INC-7: group owners take over")

    assert abandoned.status is Status.ABANDONED, abandoned.to_dict()
    remaining = {(s.key.kind, s.key.resource) for s in abandoned.steps}
    assert (StepKind.ZONAL_SHIFT, world.load_balancer_arn) in remaining
    assert (StepKind.ASG_SUBNETS, "checkout-web") in remaining
    assert world.load_balancer_arn in (abandoned.reason or "")
    assert make_controller().status_of(AZ) is None  # released
    # and AWS still holds what the answer listed: abandon changes nothing there
    assert snapshot(world)["shifts"] == [(world.load_balancer_arn, AZ, "ZONAL_SHIFT")]


def test_recover_resumes_azrebalance_only_if_still_suspended_by_azevac(
    world: World, make_controller: ControllerFactory, session: boto3.Session, clock: ManualClock
) -> None:
    assert make_controller().evacuate(AZ, reason="gray").status is Status.EVACUATED
    clock.advance(timedelta(minutes=5))
    autoscaling = session.client("autoscaling")
    # Given the web group's owners resumed and suspended AZRebalance again meanwhile
    autoscaling.resume_processes(
        AutoScalingGroupName="checkout-web", ScalingProcesses=["AZRebalance"]
    )
    autoscaling.suspend_processes(
        AutoScalingGroupName="checkout-web", ScalingProcesses=["AZRebalance"]
    )

    # (their resume rebalanced the AZ's instance away, and their suspension keeps it from
    # coming back: traffic comes back without waiting for it, as the operator asks)
    result = make_controller().recover(AZ, reason="healthy", wait=False)

    # Then their suspension (a newer SuspensionReason: who and when) is left alone
    assert result.status is Status.RECOVERED, result.to_dict()
    assert "--no-wait" in (result.reason or "")
    processes = next(
        s
        for s in result.steps
        if s.key.kind is StepKind.ASG_PROCESSES and s.key.resource == "checkout-web"
    )
    assert "suspended again by someone else" in (processes.reason or "")
    assert snapshot(world)["asgs"]["checkout-web"]["suspended"] == ["AZRebalance"]
