"""ARC's precedence rules, as azevac must live with them (aws-semantics.md §1, ARC-1..ARC-7).

A customer shift (what azevac starts) outranks an AWS autoshift, an FIS experiment and a
practice run on the same resource: starting one must never un-apply somebody else's shift away
from another AZ, and azevac must never report a mitigation ARC does not show.
"""

from __future__ import annotations

from typing import Any

import boto3

from evacuation.emulator.world import CallRecorder, World, snapshot
from evacuation.emulator.zonal_shift import ManualClock
from evacuation.model import Outcome, Status, StepKind, Trigger
from tests.conftest import ControllerFactory
from tests.support.faults import Fault, FaultInjector

AZ = "use1-az1"
OTHER = "use1-az2"


def _arc(session: boto3.Session) -> Any:
    return session.client("arc-zonal-shift", region_name="us-east-1")


def _resource(world: World, session: boto3.Session) -> dict[str, Any]:
    return _arc(session).get_managed_resource(resourceIdentifier=world.load_balancer_arn)  # type: ignore[no-any-return]


def _applied(resource: dict[str, Any]) -> list[tuple[str, str]]:
    """(type, awayFrom) of the one shift ARC applies, read back."""
    shifts = [(s.get("shiftType", "ZONAL_SHIFT"), s) for s in resource["zonalShifts"]]
    shifts += [("ZONAL_AUTOSHIFT", a) for a in resource.get("autoshifts", [])]
    return [(kind, s["awayFrom"]) for kind, s in shifts if s["appliedStatus"] == "APPLIED"]


def test_an_aws_autoshift_away_from_another_az_refuses_and_stays_applied(
    world: World, make_controller: ControllerFactory, recorder: CallRecorder, session: boto3.Session
) -> None:
    # Given AWS is autoshifting the load balancer away from another AZ
    world.fake.start_autoshift(world.load_balancer_arn, OTHER)
    recorder.reset()
    original = snapshot(world)

    # When an alarm fires for our AZ (it now carries the other AZ's load)
    result = make_controller().evacuate(AZ, reason="alarm", trigger=Trigger.ALARM)

    # Then azevac refuses, naming the resource, the shift type and the AZ, and changes nothing
    assert result.status is Status.REFUSED, result.to_dict()
    reason = result.reason or ""
    assert world.load_balancer_arn in reason and "autoshift" in reason and OTHER in reason
    assert recorder.mutations == []
    assert snapshot(world) == original
    # and AWS's autoshift is still the shift ARC applies
    resource = _resource(world, session)
    assert _applied(resource) == [("ZONAL_AUTOSHIFT", OTHER)]
    assert resource["appliedWeights"][OTHER] == 0


def test_an_fis_experiment_away_from_another_az_refuses(
    world: World, make_controller: ControllerFactory, recorder: CallRecorder, session: boto3.Session
) -> None:
    world.fake.start_fis_shift(world.load_balancer_arn, OTHER)
    recorder.reset()

    result = make_controller().evacuate(AZ, reason="alarm", trigger=Trigger.ALARM)

    assert result.status is Status.REFUSED, result.to_dict()
    assert "FIS" in (result.reason or "") and OTHER in (result.reason or "")
    assert recorder.mutations == []
    assert _applied(_resource(world, session)) == [("FIS_EXPERIMENT", OTHER)]


def test_a_region_wide_autoshift_elsewhere_refuses_even_off_our_resources(
    world: World, make_controller: ControllerFactory, recorder: CallRecorder, session: boto3.Session
) -> None:
    # Given AWS autoshifts another resource in the region (ListAutoshifts shows it), not ours
    other_arn = world.load_balancer_arn.replace("checkout-alb", "other-alb")
    world.fake.register_resource(other_arn, world.az_ids, name="other-alb")
    world.fake.start_autoshift(other_arn, OTHER)
    recorder.reset()

    result = make_controller().evacuate(AZ, reason="alarm", trigger=Trigger.ALARM)

    assert result.status is Status.REFUSED, result.to_dict()
    assert "ListAutoshifts" in (result.reason or "")
    assert recorder.mutations == []


def test_an_autoshift_away_from_the_same_az_is_kept_and_left_alone_on_recover(
    world: World, make_controller: ControllerFactory, session: boto3.Session
) -> None:
    # Given AWS autoshifts the resource away from the AZ whose alarm fires
    world.fake.start_autoshift(world.load_balancer_arn, AZ)

    # When azevac evacuates it
    result = make_controller().evacuate(AZ, reason="alarm", trigger=Trigger.ALARM)

    # Then its customer shift is applied (it keeps the AZ out after AWS ends the autoshift)
    assert result.status is Status.EVACUATED, result.to_dict()
    shift = next(s for s in result.steps if s.key.kind is StepKind.ZONAL_SHIFT)
    assert "autoshift" in (shift.reason or "")
    assert _applied(_resource(world, session)) == [("ZONAL_SHIFT", AZ)]

    # When it recovers, it cancels its own shift only: AWS's autoshift is applied again
    recovered = make_controller().recover(AZ, reason="healthy")
    assert recovered.status is Status.RECOVERED, recovered.to_dict()
    resource = _resource(world, session)
    assert _applied(resource) == [("ZONAL_AUTOSHIFT", AZ)]
    assert resource["appliedWeights"][AZ] == 0
    reverted = next(s for s in recovered.steps if s.key.kind is StepKind.ZONAL_SHIFT)
    assert "autoshift" in (reverted.reason or "")


def test_an_fis_shift_away_from_the_same_az_is_replaced_by_ours_and_not_restored(
    world: World, make_controller: ControllerFactory, session: boto3.Session
) -> None:
    fis = world.fake.start_fis_shift(world.load_balancer_arn, AZ)

    result = make_controller().evacuate(AZ, reason="game day alarm", trigger=Trigger.ALARM)

    assert result.status is Status.EVACUATED, result.to_dict()
    assert "FIS" in (
        next(s for s in result.steps if s.key.kind is StepKind.ZONAL_SHIFT).reason or ""
    )
    statuses = {s["zonalShiftId"]: s["status"] for s in world.fake.shifts(world.load_balancer_arn)}
    assert statuses[fis] == "CANCELED"
    assert _applied(_resource(world, session)) == [("ZONAL_SHIFT", AZ)]


def test_a_practice_run_elsewhere_does_not_block_and_the_step_says_so(
    world: World, make_controller: ControllerFactory, session: boto3.Session
) -> None:
    # Given ARC runs a practice run away from another AZ
    practice = world.fake.start_practice_run(world.load_balancer_arn, OTHER)

    result = make_controller().evacuate(AZ, reason="alarm", trigger=Trigger.ALARM)

    # Then the real evacuation goes ahead and says the practice run is interrupted
    assert result.status is Status.EVACUATED, result.to_dict()
    step = next(s for s in result.steps if s.key.kind is StepKind.ZONAL_SHIFT)
    assert "practice run" in (step.reason or "") and OTHER in (step.reason or "")
    outcome = {s["zonalShiftId"]: s.get("practiceRunOutcome") for s in world.fake.shifts()}
    assert outcome[practice] == "INTERRUPTED"
    assert _applied(_resource(world, session)) == [("ZONAL_SHIFT", AZ)]


def test_someone_elses_customer_shift_away_from_the_az_is_adopted_and_never_cancelled(
    world: World, make_controller: ControllerFactory, session: boto3.Session
) -> None:
    # Given an operator already shifted the load balancer away from the AZ by hand
    theirs = _arc(session).start_zonal_shift(
        resourceIdentifier=world.load_balancer_arn,
        awayFrom=AZ,
        expiresIn="2h",
        comment="INC-1 by hand",
    )["zonalShiftId"]

    result = make_controller().evacuate(AZ, reason="alarm", trigger=Trigger.ALARM)
    assert result.status is Status.EVACUATED, result.to_dict()
    step = next(s for s in result.steps if s.key.kind is StepKind.ZONAL_SHIFT)
    assert step.outcome is Outcome.UNCHANGED and "pre-existing" in (step.reason or "")

    make_controller().recover(AZ, reason="healthy")
    active = [s["zonalShiftId"] for s in world.fake.shifts(status="ACTIVE")]
    assert active == [theirs]


def test_a_weight_already_zero_in_another_az_counts_as_out_of_service(
    world: World, make_controller: ControllerFactory, recorder: CallRecorder, session: boto3.Session
) -> None:
    # Given someone set another AZ's record to weight 0 by hand (2 of 3 AZs left)
    route53 = session.client("route53")
    records = route53.list_resource_record_sets(HostedZoneId=world.zone_id)["ResourceRecordSets"]
    other = next(r for r in records if r.get("SetIdentifier") == world.set_identifiers[OTHER])
    route53.change_resource_record_sets(
        HostedZoneId=world.zone_id,
        ChangeBatch={
            "Changes": [{"Action": "UPSERT", "ResourceRecordSet": {**other, "Weight": 0}}]
        },
    )
    recorder.reset()
    original = snapshot(world)

    # When the AZ is evacuated with min_healthy_azs 2 (the default for 3 AZs)
    result = make_controller().evacuate(AZ, reason="alarm", trigger=Trigger.ALARM)

    # Then it is refused: one AZ would be left; the reason names the lever already pulled
    assert result.status is Status.REFUSED, result.to_dict()
    assert "weight 0" in (result.reason or "") and OTHER in (result.reason or "")
    assert recorder.mutations == []
    assert snapshot(world) == original


def test_a_shift_arc_does_not_show_applied_is_partial_not_evacuated(
    world: World, make_controller: ControllerFactory, clock: ManualClock
) -> None:
    # Given ARC shows a new shift NOT_APPLIED for its first two reads (the verify window holds
    # one: the evacuation's read-back; the next is the reconciler's observation)
    world.fake.delay_apply(reads=2)
    config = world.config()
    config["execution"]["verify_timeout_seconds"] = 0

    result = make_controller(config).evacuate(AZ, reason="alarm")

    # Then the status says so: PARTIAL, with the shift step pending and the AZ still held
    assert result.status is Status.PARTIAL, result.to_dict()
    shift = next(s for s in result.steps if s.key.kind is StepKind.ZONAL_SHIFT)
    assert shift.outcome is Outcome.PENDING
    assert Status.PARTIAL.is_active

    # When ARC applies it and the reconciler runs, the evacuation becomes EVACUATED
    report = make_controller(config).reconcile()
    assert [r.status for r in report.results] == [Status.EVACUATED], report.to_dict()


def test_a_lost_start_response_adopts_our_own_shift(
    world: World, make_controller: ControllerFactory, faults: FaultInjector
) -> None:
    # Given ARC starts the shift but its response is lost (StartZonalShift has no client token)
    faults.add("arc-zonal-shift", "StartZonalShift", Fault.LOST_RESPONSE, 1)

    result = make_controller().evacuate(AZ, reason="alarm")

    # Then the retry's ZonalShiftAlreadyExists names our shift: adopted as ours, not doubled
    assert result.status is Status.EVACUATED, result.to_dict()
    [shift] = world.fake.shifts(world.load_balancer_arn, status="ACTIVE")
    step = next(s for s in result.steps if s.key.kind is StepKind.ZONAL_SHIFT)
    assert step.after == {"shift_id": shift["zonalShiftId"], "ours": True}
    make_controller().recover(AZ, reason="healthy")
    assert world.fake.shifts(status="ACTIVE") == []


def test_simultaneous_shift_conflicts_are_retried_after_a_re_read(
    world: World, make_controller: ControllerFactory
) -> None:
    world.fake.inject_conflict(reason="SimultaneousZonalShiftsConflict", times=2)

    result = make_controller().evacuate(AZ, reason="alarm")

    assert result.status is Status.EVACUATED, result.to_dict()
    assert len(world.fake.shifts(world.load_balancer_arn, status="ACTIVE")) == 1


def test_a_conflict_with_no_shift_to_adopt_fails_the_step_and_says_why(
    world: World, make_controller: ControllerFactory
) -> None:
    # Given ARC answers ZonalShiftAlreadyExists without an id, and no shift ever shows up
    world.fake.inject_conflict(reason="ZonalShiftAlreadyExists", times=1)

    result = make_controller().evacuate(AZ, reason="alarm")

    assert result.status is Status.DEGRADED, result.to_dict()
    step = next(s for s in result.steps if s.key.kind is StepKind.ZONAL_SHIFT)
    assert step.outcome is Outcome.FAILED and "ZonalShiftAlreadyExists" in (step.error or "")
    assert world.fake.shifts(status="ACTIVE") == []
