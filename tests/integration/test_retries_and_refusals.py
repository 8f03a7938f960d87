"""Retries on throttling and 5xx; a permanent error fails only its step; refusals change nothing."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from evacuation.emulator.faults import FakeHttp
from evacuation.emulator.world import CallRecorder, World, snapshot
from evacuation.model import Outcome, Status, StepKind
from evacuation.state import InMemoryStateStore
from tests.conftest import ControllerFactory
from tests.support.faults import Fault, FaultInjector

AZ = "use1-az1"


def test_throttling_and_server_errors_are_retried_until_they_succeed(
    world: World, make_controller: ControllerFactory, faults: FaultInjector
) -> None:
    # Given every service throttles or fails its first calls
    faults.add("route53", "ChangeResourceRecordSets", Fault.THROTTLE, 1, 2)
    faults.add("arc-zonal-shift", "StartZonalShift", Fault.SERVER_ERROR, 1)
    faults.add("autoscaling", "UpdateAutoScalingGroup", Fault.THROTTLE, 1)
    faults.add("autoscaling", "DescribeAutoScalingGroups", Fault.TIMEOUT, 1)
    faults.add("arc-zonal-shift", "GetManagedResource", Fault.SERVER_ERROR, 2)

    # When the AZ is evacuated
    result = make_controller().evacuate(AZ, reason="under load")

    # Then it converges anyway, and counts the retries it took
    assert result.status is Status.EVACUATED, result.to_dict()
    assert result.retries == len(faults.injected) == 6
    state = snapshot(world)
    assert state["weights"]["checkout-use1-az1"] == 0
    assert len(world.fake.shifts(world.load_balancer_arn, status="ACTIVE")) == 1


def test_access_denied_fails_that_step_only(
    world: World, make_controller: ControllerFactory, faults: FaultInjector
) -> None:
    # Given the controller's role may not change Route 53 records
    faults.add("route53", "ChangeResourceRecordSets", Fault.ACCESS_DENIED, *range(1, 20))

    # When the AZ is evacuated
    result = make_controller().evacuate(AZ, reason="missing permission")

    # Then the Route 53 step failed once (never retried) with a clear error
    assert result.status is Status.DEGRADED
    failed = [s for s in result.steps if s.outcome is Outcome.FAILED]
    assert [s.key.kind for s in failed] == [StepKind.ROUTE53_WEIGHT]
    assert "AccessDenied" in (failed[0].error or "")
    assert [f for f in faults.injected if f[1] == "ChangeResourceRecordSets"] == [
        ("route53", "ChangeResourceRecordSets", Fault.ACCESS_DENIED)
    ]
    # and every other step still converged
    state = snapshot(world)
    assert state["weights"]["checkout-use1-az1"] == 100
    assert len(world.fake.shifts(world.load_balancer_arn, status="ACTIVE")) == 1
    assert world.subnets[AZ] not in state["asgs"]["checkout-web"]["subnets"]


def test_retries_stop_at_the_attempt_budget(
    world: World, make_controller: ControllerFactory, faults: FaultInjector
) -> None:
    # Given Route 53 throttles longer than the retry budget (6 attempts)
    faults.add("route53", "ChangeResourceRecordSets", Fault.THROTTLE, *range(1, 7))

    result = make_controller().evacuate(AZ, reason="storm")

    # Then the step fails with the last error, the others finish, the status says DEGRADED
    assert result.status is Status.DEGRADED
    step = next(s for s in result.steps if s.key.kind is StepKind.ROUTE53_WEIGHT)
    assert step.outcome is Outcome.FAILED
    assert "Throttling" in (step.error or "")
    # and a later run (the reconciler, an operator) completes it
    again = make_controller().evacuate(AZ, reason="retry")
    assert again.status is Status.EVACUATED
    assert snapshot(world)["weights"]["checkout-use1-az1"] == 0


def _set_weights(session, world: World, weights: dict[str, int]) -> None:
    session.client("route53").change_resource_record_sets(
        HostedZoneId=world.zone_id,
        ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": {
            "Name": world.record_name, "Type": "A", "SetIdentifier": sid, "Weight": weight,
            "TTL": 60, "ResourceRecords": [{"Value": f"10.20.{i}.10"}]}}
            for i, (sid, weight) in enumerate(weights.items())]},
    )  # fmt: skip


def test_plan_that_would_zero_every_weight_is_refused(
    world: World, make_controller: ControllerFactory, session, recorder: CallRecorder
) -> None:
    # Given the other AZs' records are already at weight 0
    _set_weights(
        session, world, {"checkout-use1-az6": 0, "checkout-use1-az1": 100, "checkout-use1-az2": 0}
    )
    original = snapshot(world)
    recorder.reset()

    result = make_controller().evacuate(AZ, reason="would blackhole")

    assert result.status is Status.REFUSED
    assert "every weighted record would be at 0" in (result.reason or "")
    assert recorder.mutations == []
    assert snapshot(world) == original


def test_group_left_with_no_subnet_is_skipped_and_traffic_still_moves(
    world: World, make_controller: ControllerFactory, session, recorder: CallRecorder
) -> None:
    # Given a group that lives only in the impaired AZ (this used to refuse the whole
    # evacuation: a control-plane guard must not block the data plane, ASG-9)
    session.client("autoscaling").update_auto_scaling_group(
        AutoScalingGroupName="checkout-worker", VPCZoneIdentifier=world.subnets[AZ]
    )

    result = make_controller().evacuate(AZ, reason="single-AZ group")

    assert result.status is Status.PARTIAL, result.to_dict()
    worker = [s for s in result.steps if s.key.resource == "checkout-worker"]
    assert {s.outcome for s in worker} == {Outcome.SKIPPED}
    assert "checkout-worker has subnets only in use1-az1" in (worker[0].reason or "")
    state = snapshot(world)
    assert state["weights"]["checkout-use1-az1"] == 0
    assert state["asgs"]["checkout-worker"]["subnets"] == [world.subnets[AZ]]


def test_resource_shifted_away_from_another_az_is_refused(
    world: World, make_controller: ControllerFactory, session, recorder: CallRecorder
) -> None:
    # Given someone shifted the load balancer away from use1-az2
    session.client("arc-zonal-shift").start_zonal_shift(
        resourceIdentifier=world.load_balancer_arn, awayFrom="use1-az2", expiresIn="1h",
        comment="other team",
    )  # fmt: skip
    original = snapshot(world)
    recorder.reset()

    result = make_controller().evacuate(AZ, reason="second AZ")

    assert result.status is Status.REFUSED
    assert "away from use1-az2" in (result.reason or "")
    assert recorder.mutations == []
    assert snapshot(world) == original


def test_a_practice_run_does_not_block_a_real_evacuation(
    world: World, make_controller: ControllerFactory
) -> None:
    # Given an autoshift practice run away from another AZ (lower precedence than ours)
    world.fake.start_practice_run(world.load_balancer_arn, "use1-az2")

    result = make_controller().evacuate(AZ, reason="real event")

    assert result.status is Status.EVACUATED


def test_second_az_is_refused_while_one_is_evacuated(
    world: World, make_controller: ControllerFactory, recorder: CallRecorder
) -> None:
    # Given use1-az1 is evacuated (max_evacuated_azs defaults to 1)
    first = make_controller().evacuate(AZ, reason="first")
    state = snapshot(world)
    recorder.reset()

    # When use1-az2 alarms too
    second = make_controller().evacuate("use1-az2", reason="second")

    # Then it is refused, naming the AZ already out, and nothing changes
    assert second.status is Status.REFUSED
    assert first.evacuation_id in (second.reason or "")
    assert recorder.mutations == []
    assert snapshot(world) == state


def test_concurrent_evacuations_of_one_az_end_as_one_record(
    world: World, make_controller: ControllerFactory, recorder: CallRecorder
) -> None:
    store = InMemoryStateStore()
    results = []
    barrier = threading.Barrier(6)

    def run() -> None:
        barrier.wait()
        results.append(make_controller(store=store).evacuate(AZ, reason="race"))

    threads = [threading.Thread(target=run) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len({r.evacuation_id for r in results}) == 1
    assert len(store.list("checkout")) == 1
    assert len(world.fake.shifts(world.load_balancer_arn, status="ACTIVE")) == 1
    starts = [m for m in recorder.mutations if m[1] == "StartZonalShift"]
    assert len(starts) == 1


def test_route53_change_still_pending_at_the_deadline_is_reported_not_failed(
    world: World, make_controller: ControllerFactory, session
) -> None:
    # Given Route 53 keeps answering PENDING for the change (propagation is slow today)
    def pending(**_: object) -> tuple[FakeHttp, dict]:
        info = {"Id": "/change/C1", "Status": "PENDING", "SubmittedAt": datetime.now(UTC)}
        return FakeHttp(200), {"ChangeInfo": info, "ResponseMetadata": {"HTTPStatusCode": 200}}

    session.events.register("before-call.route53.GetChange", pending)
    config = world.config()
    config["execution"]["verify_timeout_seconds"] = 0.05

    # When the AZ is evacuated
    result = make_controller(config).evacuate(AZ, reason="slow propagation")

    # Then the weight step is PENDING (reported, not failed) and the evacuation PARTIAL, not
    # EVACUATED: INSYNC is what says the change reached Route 53's servers (R53-7)
    step = next(s for s in result.steps if s.key.kind is StepKind.ROUTE53_WEIGHT)
    assert step.outcome is Outcome.PENDING
    assert "PENDING" in (step.reason or "")
    assert result.status is Status.PARTIAL
    assert snapshot(world)["weights"]["checkout-use1-az1"] == 0


def test_one_zonal_shift_failing_leaves_the_others_applied_and_read_back_in_one_listing(
    world: World, make_controller: ControllerFactory, faults: FaultInjector, recorder: CallRecorder
) -> None:
    # Given five load balancers, and ARC refusing the third StartZonalShift it receives
    arns = [world.load_balancer_arn] + [
        f"arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/extra-{n}/{n:016x}"
        for n in range(4)
    ]
    for arn in arns[1:]:
        world.fake.register_resource(arn, world.az_ids)
    faults.add("arc-zonal-shift", "StartZonalShift", Fault.ACCESS_DENIED, 3)
    config = world.config(zonal_shift={"resources": arns, "expires_in": "6h"})

    # When the AZ is evacuated
    result = make_controller(config).evacuate(AZ, reason="gray failure")

    # Then exactly that one shift failed, with ARC's error, and the run says DEGRADED
    shifts = [s for s in result.steps if s.key.kind is StepKind.ZONAL_SHIFT]
    failed = [s for s in shifts if s.outcome is Outcome.FAILED]
    assert result.status is Status.DEGRADED
    assert len(failed) == 1 and "AccessDenied" in (failed[0].error or "")
    # and the other four are shifted in ARC and recorded as applied
    active = {arn for arn in arns if world.fake.shifts(arn, status="ACTIVE")}
    assert active == set(arns) - {failed[0].key.resource}
    assert {s.key.resource for s in shifts if s.outcome is Outcome.APPLIED} == active
    # and they were read back with one listing, not a read per resource
    arc_reads = [op for service, op in recorder.calls if service == "arc-zonal-shift"]
    assert arc_reads.count("GetManagedResource") == 0
    assert arc_reads.count("ListManagedResources") == 2  # observe, then verify

    # And a later run (the reconciler) shifts the last one, changing nothing else
    again = make_controller(config).evacuate(AZ, reason="retry")
    assert again.status is Status.EVACUATED
    assert all(world.fake.shifts(arn, status="ACTIVE") for arn in arns)
    assert sum(len(world.fake.shifts(arn, status="ACTIVE")) for arn in arns) == 5
