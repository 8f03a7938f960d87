"""End to end on moto + the zonal-shift fake: evacuate, read AWS back, evacuate again, recover."""

from __future__ import annotations

import pytest

from evacuation.emulator.world import CallRecorder, World, snapshot
from evacuation.emulator.zonal_shift import ZonalShiftFake
from evacuation.errors import InvalidRequestError
from evacuation.model import Outcome, Status, StepKind
from tests.conftest import ControllerFactory

AZ = "use1-az1"  # moto: us-east-1b


def test_evacuate_moves_traffic_then_capacity_out_of_the_az(
    world: World, make_controller: ControllerFactory
) -> None:
    # Given a workload over use1-az6/az1/az2 with weights 50/100/150
    before = snapshot(world)
    assert before["weights"] == {
        "checkout-use1-az6": 50,
        "checkout-use1-az1": 100,
        "checkout-use1-az2": 150,
    }

    # When use1-az1 is evacuated
    result = make_controller().evacuate(AZ, reason="gray failure drill")

    # Then its record has weight 0 and the others keep theirs
    after = snapshot(world)
    assert result.status is Status.EVACUATED, result.to_dict()
    assert after["weights"] == {
        "checkout-use1-az6": 50,
        "checkout-use1-az1": 0,
        "checkout-use1-az2": 150,
    }
    # and the load balancer is shifted away from use1-az1, with the evacuation id in the comment
    shifts = world.fake.shifts(world.load_balancer_arn, status="ACTIVE")
    assert [(s["awayFrom"], s["shiftType"]) for s in shifts] == [(AZ, "ZONAL_SHIFT")]
    assert result.evacuation_id and result.evacuation_id in shifts[0]["comment"]
    # and no group keeps a subnet in use1-az1; AZRebalance is suspended on both
    az1_subnet = world.subnets[AZ]
    for group in world.groups:
        assert az1_subnet not in after["asgs"][group]["subnets"]
        assert len(after["asgs"][group]["subnets"]) == 2
        assert "AZRebalance" in after["asgs"][group]["suspended"]
    # and every step says what it did
    outcomes = {(s.key.kind, s.key.resource): s.outcome for s in result.steps}
    assert outcomes[(StepKind.ZONAL_SHIFT, world.load_balancer_arn)] is Outcome.APPLIED
    assert outcomes[(StepKind.ASG_PROCESSES, "checkout-worker")] is Outcome.UNCHANGED
    assert outcomes[(StepKind.ASG_SUBNETS, "checkout-worker")] is Outcome.APPLIED


def test_zone_name_is_resolved_to_the_zone_id_of_this_account(
    world: World, make_controller: ControllerFactory
) -> None:
    # Given moto maps us-east-1b to use1-az1 (not az2, as the letter order might suggest)
    # When the operator names the zone
    result = make_controller().evacuate("us-east-1b", reason="by name")

    # Then everything is keyed by the ID and use1-az1 is the one evacuated
    assert result.az_id == "use1-az1"
    assert snapshot(world)["weights"]["checkout-use1-az1"] == 0
    assert world.subnets["use1-az1"] not in snapshot(world)["asgs"]["checkout-web"]["subnets"]


def test_second_evacuation_makes_no_mutating_call(
    world: World, make_controller: ControllerFactory, recorder: CallRecorder
) -> None:
    # Given an evacuated AZ
    first = make_controller().evacuate(AZ, reason="first")
    state = snapshot(world)
    recorder.reset()

    # When the evacuation runs again (a re-delivered alarm, a second operator)
    second = make_controller().evacuate(AZ, reason="again")

    # Then it is the same evacuation, nothing is mutated and nothing changed
    assert second.evacuation_id == first.evacuation_id
    assert second.status is Status.EVACUATED
    assert recorder.mutations == []
    assert snapshot(world) == state


def test_recover_restores_exactly_what_was_there(
    world: World, make_controller: ControllerFactory
) -> None:
    # Given non-uniform weights and a process the owners had suspended themselves
    original = snapshot(world)
    assert original["asgs"]["checkout-worker"]["suspended"] == ["AZRebalance"]
    make_controller().evacuate(AZ, reason="drill")

    # When the AZ is recovered
    result = make_controller().recover(AZ, reason="AZ healthy again")

    # Then the state equals the state before, to the weight and the suspended process
    assert result.status is Status.RECOVERED, result.to_dict()
    assert snapshot(world) == original
    assert world.fake.shifts(world.load_balancer_arn, status="ACTIVE") == []


def test_recover_is_idempotent(
    world: World, make_controller: ControllerFactory, recorder: CallRecorder
) -> None:
    # Given a recovered AZ
    original = snapshot(world)
    make_controller().evacuate(AZ, reason="drill")
    make_controller().recover(AZ)
    recorder.reset()

    # When recover runs again
    again = make_controller().recover(AZ)

    # Then it says so and changes nothing
    assert again.status is Status.RECOVERED
    assert recorder.mutations == []
    assert snapshot(world) == original


def test_recover_leaves_a_shift_started_by_someone_else(
    world: World, make_controller: ControllerFactory, session, fake: ZonalShiftFake
) -> None:
    # Given an operator already shifted the load balancer away from the AZ by hand
    arc = session.client("arc-zonal-shift", region_name="us-east-1")
    theirs = arc.start_zonal_shift(
        resourceIdentifier=world.load_balancer_arn, awayFrom=AZ, expiresIn="2h", comment="by hand"
    )["zonalShiftId"]
    result = make_controller().evacuate(AZ, reason="drill")
    shift_step = next(s for s in result.steps if s.key.kind is StepKind.ZONAL_SHIFT)
    assert shift_step.outcome is Outcome.UNCHANGED

    # When azevac recovers
    make_controller().recover(AZ)

    # Then the operator's shift is still active: azevac did not start it
    active = fake.shifts(world.load_balancer_arn, status="ACTIVE")
    assert [s["zonalShiftId"] for s in active] == [theirs]


def test_recover_leaves_a_weight_someone_changed_after_the_evacuation(
    world: World, make_controller: ControllerFactory, session
) -> None:
    # Given an evacuated AZ whose weight an operator then set to 7 by hand
    make_controller().evacuate(AZ, reason="drill")
    route53 = session.client("route53")
    route53.change_resource_record_sets(
        HostedZoneId=world.zone_id,
        ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": {
            "Name": world.record_name, "Type": "A", "SetIdentifier": "checkout-use1-az1",
            "Weight": 7, "TTL": 60, "ResourceRecords": [{"Value": "10.20.1.10"}]}}]},
    )  # fmt: skip

    # When azevac recovers
    result = make_controller().recover(AZ)

    # Then the weight stays as the operator left it, and the step says why
    assert snapshot(world)["weights"]["checkout-use1-az1"] == 7
    step = next(s for s in result.steps if s.key.kind is StepKind.ROUTE53_WEIGHT)
    assert step.outcome is Outcome.SKIPPED
    assert "someone else" in (step.reason or "")


def test_unknown_az_is_refused_before_anything_changes(
    world: World, make_controller: ControllerFactory, recorder: CallRecorder
) -> None:
    original = snapshot(world)
    for bad in ("eu-west-1a", "us-east-1z"):  # names: resolved with EC2, which knows none
        with pytest.raises(InvalidRequestError, match="not in this region"):
            make_controller().evacuate(bad, reason="typo")
    # an AZ ID is taken as given (no EC2 call) and checked against what the workload uses
    with pytest.raises(InvalidRequestError, match="does not use use1-az9"):
        make_controller().evacuate("use1-az9", reason="typo")
    assert recorder.mutations == []
    assert snapshot(world) == original


def test_az_the_workload_does_not_use_is_refused(
    world: World, make_controller: ControllerFactory, recorder: CallRecorder
) -> None:
    # use1-az4 (us-east-1d) exists in the region, but the workload has nothing there
    with pytest.raises(InvalidRequestError, match="does not use use1-az4"):
        make_controller().evacuate("use1-az4", reason="wrong AZ")
    assert recorder.mutations == []


def test_plan_is_a_dry_run(
    world: World, make_controller: ControllerFactory, recorder: CallRecorder
) -> None:
    # When an operator asks for the plan
    result = make_controller().plan(AZ)

    # Then every step is listed with its phase, current and intended value; nothing changed
    assert result.status is Status.PLANNED
    assert recorder.mutations == []
    kinds = [s.key.kind for s in result.steps]
    assert kinds == [
        StepKind.ZONAL_SHIFT, StepKind.ROUTE53_WEIGHT,
        StepKind.ASG_PROCESSES, StepKind.ASG_SUBNETS,
        StepKind.ASG_PROCESSES, StepKind.ASG_SUBNETS,
    ]  # fmt: skip
    weight = next(s for s in result.steps if s.key.kind is StepKind.ROUTE53_WEIGHT)
    assert weight.before["weights"]["checkout-use1-az1"] == 100
    assert weight.after["weights"]["checkout-use1-az1"] == 0
