"""The reconciler keeps an evacuation in force (aws-semantics ARC-8): shifts are extended by the
id azevac recorded, before and regardless of anything else; a lost shift is reported and started
again; one failure never stops the pass; a practice yields to a real signal."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import boto3

from evacuation.emulator.world import World
from evacuation.emulator.zonal_shift import ManualClock
from evacuation.model import Status, StepKind, Trigger
from tests.conftest import ControllerFactory
from tests.support.faults import Fault, FaultInjector

AZ = "use1-az1"
OTHER = "use1-az2"


def _arc(session: boto3.Session) -> Any:
    return session.client("arc-zonal-shift", region_name="us-east-1")


def _our_shift(world: World, arn: str | None = None) -> dict[str, Any]:
    [shift] = world.fake.shifts(arn or world.load_balancer_arn, status="ACTIVE")
    return shift


def test_an_operator_comment_edit_does_not_stop_the_extension(
    world: World, make_controller: ControllerFactory, session: boto3.Session, clock: ManualClock
) -> None:
    # Given an evacuation whose shift an operator re-commented (the evacuation id is gone)
    assert make_controller().evacuate(AZ, reason="gray").status is Status.EVACUATED
    shift = _our_shift(world)
    _arc(session).update_zonal_shift(zonalShiftId=shift["zonalShiftId"], comment="INC-42 ack")

    # When the shift nears its expiry and the reconciler runs
    clock.advance(timedelta(hours=5, minutes=30))
    report = make_controller().reconcile()

    # Then it was extended by the id azevac recorded
    assert report.extended_shifts == (shift["zonalShiftId"],), report.to_dict()
    assert _our_shift(world)["expiryTime"] > clock() + timedelta(hours=5)


def test_a_shift_cancelled_by_someone_is_reported_and_started_again(
    world: World, make_controller: ControllerFactory, session: boto3.Session
) -> None:
    assert make_controller().evacuate(AZ, reason="gray").status is Status.EVACUATED
    cancelled = _our_shift(world)["zonalShiftId"]
    _arc(session).cancel_zonal_shift(zonalShiftId=cancelled)

    report = make_controller().reconcile()

    assert report.restarted_shifts == (world.load_balancer_arn,), report.to_dict()
    assert any(cancelled in alert and "no longer active" in alert for alert in report.alerts)
    restarted = _our_shift(world)
    assert restarted["zonalShiftId"] != cancelled and restarted["awayFrom"] == AZ
    [result] = report.results
    step = next(s for s in result.steps if s.key.kind is StepKind.ZONAL_SHIFT)
    assert step.after["shift_id"] == restarted["zonalShiftId"]
    assert cancelled in (step.reason or "")
    # and recover cancels the new one
    make_controller().recover(AZ, reason="healthy")
    assert world.fake.shifts(status="ACTIVE") == []


def test_one_resource_failing_does_not_stop_the_others_extension(
    world: World,
    make_controller: ControllerFactory,
    faults: FaultInjector,
    clock: ManualClock,
) -> None:
    # Given two shifted resources, both near expiry, and ARC denying the first extension
    second = world.load_balancer_arn.replace("checkout-alb", "checkout-nlb").replace(
        "/app/", "/net/"
    )
    world.fake.register_resource(second, world.az_ids, name="checkout-nlb")
    config = world.config()
    config["zonal_shift"]["resources"].append(second)
    assert make_controller(config).evacuate(AZ, reason="gray").status is Status.EVACUATED
    clock.advance(timedelta(hours=5, minutes=45))
    faults.add("arc-zonal-shift", "UpdateZonalShift", Fault.ACCESS_DENIED, 1)

    report = make_controller(config).reconcile()

    # Then the other one is extended, and the failure is reported with the expiry close
    assert len(report.extended_shifts) == 1, report.to_dict()
    [alert] = [a for a in report.alerts if "cannot extend" in a]
    assert "AccessDenied" in alert and "expires at" in alert


def test_the_kill_switch_stops_drift_repair_but_never_the_extension(
    world: World,
    make_controller: ControllerFactory,
    session: boto3.Session,
    clock: ManualClock,
) -> None:
    session.client("ssm").put_parameter(Name="/azevac/kill", Value="enabled", Type="String")
    config = world.config(safety={"kill_switch_parameter": "/azevac/kill"})
    assert make_controller(config).evacuate(AZ, reason="gray").status is Status.EVACUATED
    session.client("ssm").put_parameter(
        Name="/azevac/kill", Value="disabled", Type="String", Overwrite=True
    )
    clock.advance(timedelta(hours=5, minutes=30))

    report = make_controller(config).reconcile()

    assert len(report.extended_shifts) == 1, report.to_dict()
    assert report.results == ()
    assert any("drift repair skipped" in alert for alert in report.alerts)


def test_a_practice_ends_when_aws_autoshifts_another_az(
    world: World, make_controller: ControllerFactory
) -> None:
    # Given azevac practises evacuating AZ A
    practice = make_controller().practice(AZ, minutes=30)
    assert practice.status is Status.EVACUATED, practice.to_dict()

    # When AWS starts an autoshift away from AZ B and the reconciler runs
    world.fake.start_autoshift(world.load_balancer_arn, OTHER)
    report = make_controller().reconcile()

    # Then the practice is over: recovered, with the reason recorded
    [ended] = report.results
    assert ended.status is Status.RECOVERED, ended.to_dict()
    assert ended.evacuation_id == practice.evacuation_id
    assert [s for s in world.fake.shifts(status="ACTIVE") if s["awayFrom"] == AZ] == []


def test_a_real_alarm_for_another_az_ends_the_practice_and_evacuates(
    world: World, make_controller: ControllerFactory, session: boto3.Session
) -> None:
    # Given azevac practises evacuating AZ A
    practice = make_controller().practice(AZ, minutes=30)
    assert practice.status is Status.EVACUATED

    # When AZ B's alarm fires
    session.client("cloudwatch").set_alarm_state(
        AlarmName=f"checkout-{OTHER}-isolated-impact", StateValue="ALARM", StateReason="5xx"
    )
    result = make_controller().evacuate(OTHER, reason="alarm", trigger=Trigger.ALARM)

    # Then one answer holds both: the practice recovered first, then B evacuated
    assert [p.status for p in result.preempted] == [Status.RECOVERED], result.to_dict()
    assert result.preempted[0].evacuation_id == practice.evacuation_id
    assert result.status is Status.EVACUATED, result.to_dict()
    assert [s["awayFrom"] for s in world.fake.shifts(status="ACTIVE")] == [OTHER]
    assert "preempted" in result.to_dict()


def test_a_real_alarm_for_the_practised_az_makes_the_practice_real(
    world: World, make_controller: ControllerFactory, clock: ManualClock
) -> None:
    # Given azevac practises evacuating AZ A for 30 minutes
    practice = make_controller().practice(AZ, minutes=30)
    assert practice.status is Status.EVACUATED

    # When A's own alarm fires for real
    result = make_controller().evacuate(AZ, reason="real alarm", trigger=Trigger.ALARM)

    # Then the AZ stays out as a real evacuation: the practice's end no longer recovers it
    assert result.evacuation_id == practice.evacuation_id and result.status is Status.EVACUATED
    held = make_controller().status_of(AZ)
    assert held is not None and held.practice_until is None and held.trigger is Trigger.ALARM
    clock.advance(timedelta(minutes=45))
    report = make_controller().reconcile()
    assert [r.status for r in report.results] == [Status.EVACUATED], report.to_dict()
    assert [s["awayFrom"] for s in world.fake.shifts(status="ACTIVE")] == [AZ]
