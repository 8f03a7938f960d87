"""ECS services on awsvpc (issue 15 §2, aws-semantics §5.3, ECS-1): the AZ's subnets out of the
service (a deployment replaces its tasks), verified at steady state, AZ rebalancing off while
the AZ is out; all put back on recover before traffic. Asserted on ECS read back from moto and
the deployment fake (evacuation/emulator/ecs.py)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from evacuation.emulator.ecs import EcsDeployments
from evacuation.emulator.world import World, create_ecs_service, ecs_service
from evacuation.model import Outcome, Status, StepKind
from tests.conftest import ControllerFactory

REF = "checkout/web"


def _config(world: World, **ecs: Any) -> dict[str, Any]:
    return world.config(ecs={"services": [REF], **ecs})


def _step(result: Any, kind: StepKind = StepKind.ECS_SUBNETS) -> Any:
    return next(s for s in result.steps if s.key.kind is kind)


def _subnets(session: boto3.Session) -> list[str]:
    network = ecs_service(session, REF)["networkConfiguration"]["awsvpcConfiguration"]
    return list(network["subnets"])


@pytest.fixture
def service(world: World, session: boto3.Session) -> str:
    # Given a Fargate service over the workload's three subnets, AZ rebalancing on
    return create_ecs_service(session, list(world.subnets.values()), REF)


def test_the_az_subnets_leave_the_service_and_the_deployment_reaches_steady_state(
    world: World, service: str, session: boto3.Session, make_controller: ControllerFactory
) -> None:
    # When use1-az1 is evacuated
    result = make_controller(_config(world)).evacuate("use1-az1", reason="gray failure")

    # Then ECS shows the service without the AZ's subnet, rebalancing off, one deployment done
    assert set(_subnets(session)) == {world.subnets["use1-az6"], world.subnets["use1-az2"]}
    read = ecs_service(session, REF)
    assert read["availabilityZoneRebalancing"] == "DISABLED"
    assert [(d["status"], d["rolloutState"]) for d in read["deployments"]] == [
        ("PRIMARY", "COMPLETED")
    ]
    step = _step(result)
    assert step.outcome is Outcome.APPLIED
    assert step.before["rebalancing"] == "ENABLED"
    assert result.status is Status.EVACUATED


def test_the_service_moves_after_the_data_plane(
    world: World, service: str, session: boto3.Session, make_controller: ControllerFactory
) -> None:
    calls: list[str] = []
    session.events.register("before-call.*.*", lambda model, **_: calls.append(model.name))

    make_controller(_config(world)).evacuate("use1-az1", reason="gray failure")

    # Then (ECS-1) the task-replacing change comes after the traffic levers
    update = calls.index("UpdateService")
    assert calls.index("StartZonalShift") < update
    assert calls.index("ChangeResourceRecordSets") < update


def test_a_deployment_not_at_steady_state_is_pending_then_reconciled(
    world: World,
    service: str,
    session: boto3.Session,
    ecs_deployments: EcsDeployments,
    make_controller: ControllerFactory,
) -> None:
    # Given deployments that do not reach steady state before the deadline
    ecs_deployments.hold()
    config = _config(world)
    # a held deployment never converges: the verify poll would spin its full 60 s in real time
    config["execution"] = {**config["execution"], "verify_timeout_seconds": 0.05}
    controller = make_controller(config)

    # When use1-az1 is evacuated
    result = controller.evacuate("use1-az1", reason="gray failure")

    # Then the step is pending (never counted done) and the evacuation PARTIAL
    step = _step(result)
    assert step.outcome is Outcome.PENDING and "IN_PROGRESS" in (step.reason or "")
    assert result.status is Status.PARTIAL

    # And once ECS reaches steady state, the reconciler reads it back as done
    ecs_deployments.hold(False)
    controller.reconcile()
    status = controller.status_of("use1-az1")
    assert status is not None and status.status is Status.EVACUATED


def test_a_failed_rollout_fails_the_step(
    world: World,
    service: str,
    ecs_deployments: EcsDeployments,
    make_controller: ControllerFactory,
) -> None:
    ecs_deployments.fail_next()
    result = make_controller(_config(world)).evacuate("use1-az1", reason="gray failure")
    assert _step(result).outcome is Outcome.FAILED
    assert "FAILED" in (_step(result).error or _step(result).reason or "")
    assert result.status is Status.DEGRADED


def test_a_service_with_subnets_only_in_the_az_is_skipped_and_readiness_says_so(
    world: World, session: boto3.Session, make_controller: ControllerFactory
) -> None:
    # Given a service whose only subnet is in use1-az1
    create_ecs_service(session, [world.subnets["use1-az1"]], REF)
    controller = make_controller(_config(world))

    problems = controller.reconcile().readiness_problems
    assert any(REF in p and "only in ['use1-az1']" in p for p in problems)

    # When use1-az1 is evacuated, the service keeps its subnet, saying why: PARTIAL
    result = controller.evacuate("use1-az1", reason="gray failure")
    step = _step(result)
    assert step.outcome is Outcome.SKIPPED and "nowhere to run tasks" in (step.reason or "")
    assert _subnets(session) == [world.subnets["use1-az1"]]
    assert result.status is Status.PARTIAL


def test_a_service_not_in_the_az_is_unchanged(
    world: World, session: boto3.Session, make_controller: ControllerFactory
) -> None:
    create_ecs_service(session, [world.subnets["use1-az6"], world.subnets["use1-az2"]], REF)
    result = make_controller(_config(world)).evacuate("use1-az1", reason="gray failure")
    assert _step(result).outcome is Outcome.SKIPPED
    assert ecs_service(session, REF)["availabilityZoneRebalancing"] == "ENABLED"
    assert result.status is Status.EVACUATED


def test_recover_restores_subnets_and_rebalancing_before_traffic(
    world: World, service: str, session: boto3.Session, make_controller: ControllerFactory
) -> None:
    before = _subnets(session)
    calls: list[str] = []
    session.events.register("before-call.*.*", lambda model, **_: calls.append(model.name))
    controller = make_controller(_config(world))
    controller.evacuate("use1-az1", reason="gray failure")
    calls.clear()

    # When the AZ is recovered
    result = controller.recover("use1-az1", reason="healthy")

    # Then ECS shows the recorded subnets and rebalancing again, and its tasks came back
    # (steady state) before the load balancer's shift was cancelled (REC-1)
    assert result.status is Status.RECOVERED
    assert set(_subnets(session)) == set(before)
    assert ecs_service(session, REF)["availabilityZoneRebalancing"] == "ENABLED"
    assert _step(result).outcome is Outcome.REVERTED
    update, cancel = calls.index("UpdateService"), calls.index("CancelZonalShift")
    assert update < cancel
    assert "DescribeServices" in calls[update:cancel]  # recover waited for steady state


def test_rebalancing_is_left_alone_when_configured_or_already_off(
    world: World, session: boto3.Session, make_controller: ControllerFactory
) -> None:
    create_ecs_service(session, list(world.subnets.values()), REF, rebalancing="DISABLED")
    controller = make_controller(_config(world))
    controller.evacuate("use1-az1", reason="gray failure")
    controller.recover("use1-az1", reason="healthy")
    # Disabled by its owners: still disabled after recover
    assert ecs_service(session, REF)["availabilityZoneRebalancing"] == "DISABLED"


def test_recover_adds_back_only_our_subnets_when_someone_changed_them(
    world: World, service: str, session: boto3.Session, make_controller: ControllerFactory
) -> None:
    controller = make_controller(_config(world))
    controller.evacuate("use1-az1", reason="gray failure")
    # Given someone removed use1-az2's subnet meanwhile
    network = ecs_service(session, REF)["networkConfiguration"]["awsvpcConfiguration"]
    session.client("ecs").update_service(
        cluster="checkout",
        service="web",
        networkConfiguration={
            "awsvpcConfiguration": {**network, "subnets": [world.subnets["use1-az6"]]}
        },
    )

    result = controller.recover("use1-az1", reason="healthy")

    # Then only the subnet azevac removed comes back; their change stays
    assert set(_subnets(session)) == {world.subnets["use1-az6"], world.subnets["use1-az1"]}
    assert "added back only ours" in (_step(result).reason or "")


def test_a_service_that_cannot_be_read_fails_alone(
    world: World, make_controller: ControllerFactory
) -> None:
    result = make_controller(_config(world)).evacuate("use1-az1", reason="gray failure")
    assert _step(result).outcome is Outcome.FAILED
    assert _step(result, StepKind.ZONAL_SHIFT).outcome is Outcome.APPLIED
    assert result.status is Status.DEGRADED
