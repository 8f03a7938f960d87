"""Aurora / RDS DB clusters (issue 15 §2, aws-semantics DB-1): a writer in the impaired AZ is
failed over to a reader in a healthy AZ, read back from RDS; recover leaves it unless fail_back."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from evacuation.emulator.world import World, create_db_cluster, writer_of
from evacuation.model import Outcome, Status, StepKind
from tests.conftest import ControllerFactory

# moto: us-east-1a = use1-az6, 1b = use1-az1, 1c = use1-az2 (aws-facts, toolchain facts)
ZONES = {"use1-az6": "us-east-1a", "use1-az1": "us-east-1b", "use1-az2": "us-east-1c"}


def _config(world: World, **databases: Any) -> dict[str, Any]:
    return world.config(databases={"clusters": ["checkout-orders"], **databases})


def _step(result: Any, kind: StepKind = StepKind.DB_FAILOVER) -> Any:
    return next(s for s in result.steps if s.key.kind is kind)


@pytest.fixture
def cluster(session: boto3.Session) -> str:
    # Given an Aurora cluster whose writer is in use1-az1; readers in use1-az6 (tier 2) and
    # use1-az2 (tier 1)
    return create_db_cluster(
        session,
        "checkout-orders",
        [("us-east-1b", 0), ("us-east-1a", 2), ("us-east-1c", 1)],
    )


def test_writer_in_the_impaired_az_fails_over_to_the_highest_tier_reader(
    world: World, cluster: str, session: boto3.Session, make_controller: ControllerFactory
) -> None:
    # When use1-az1 is evacuated
    result = make_controller(_config(world)).evacuate("use1-az1", reason="gray failure")

    # Then RDS shows the tier-1 reader in use1-az2 as the writer, and the step says so
    assert writer_of(session, cluster) == (f"{cluster}-2", "us-east-1c")
    step = _step(result)
    assert step.outcome is Outcome.APPLIED
    assert step.after["writer"] == f"{cluster}-2" and step.after["writer_az"] == "use1-az2"
    assert result.status is Status.EVACUATED


def test_dependencies_move_before_capacity(
    world: World, cluster: str, session: boto3.Session, make_controller: ControllerFactory
) -> None:
    # Given the order of mutations as AWS sees them
    calls: list[str] = []
    session.events.register("before-call.*.*", lambda model, **_: calls.append(model.name))

    # When use1-az1 is evacuated
    make_controller(_config(world)).evacuate("use1-az1", reason="gray failure")

    # Then the failover comes after every data-plane change and before any Auto Scaling change
    failover = calls.index("FailoverDBCluster")
    assert calls.index("StartZonalShift") < failover
    assert calls.index("ChangeResourceRecordSets") < failover
    assert failover < calls.index("SuspendProcesses")


def test_writer_elsewhere_is_unchanged(
    world: World, cluster: str, session: boto3.Session, make_controller: ControllerFactory
) -> None:
    # When use1-az2 (a reader's AZ) is evacuated
    result = make_controller(_config(world)).evacuate("use1-az2", reason="gray failure")

    # Then the writer stays where it is, with no call made
    assert writer_of(session, cluster) == (f"{cluster}-0", "us-east-1b")
    assert _step(result).outcome is Outcome.UNCHANGED


def test_no_reader_in_a_healthy_az_skips_and_readiness_says_so(
    world: World, session: boto3.Session, make_controller: ControllerFactory
) -> None:
    # Given a cluster whose only reader is in the writer's AZ
    create_db_cluster(session, "checkout-orders", [("us-east-1b", 0), ("us-east-1b", 1)])
    controller = make_controller(_config(world))

    # Then readiness reports it before any event
    problems = controller.reconcile().readiness_problems
    assert any("no available reader outside use1-az1" in p for p in problems)

    # And an evacuation of use1-az1 skips the cluster, saying why: PARTIAL, not EVACUATED
    result = controller.evacuate("use1-az1", reason="gray failure")
    step = _step(result)
    assert step.outcome is Outcome.SKIPPED and "no available reader" in (step.reason or "")
    assert result.status is Status.PARTIAL


def test_recover_leaves_the_writer_unless_fail_back(
    world: World, cluster: str, session: boto3.Session, make_controller: ControllerFactory
) -> None:
    controller = make_controller(_config(world))
    controller.evacuate("use1-az1", reason="gray failure")

    # When the AZ is recovered without fail_back
    result = controller.recover("use1-az1", reason="healthy")

    # Then everything else is back, the writer stays in the healthy AZ
    assert result.status is Status.RECOVERED
    assert writer_of(session, cluster) == (f"{cluster}-2", "us-east-1c")
    assert _step(result).outcome is Outcome.UNCHANGED


def test_fail_back_returns_the_writer_last(
    world: World, cluster: str, session: boto3.Session, make_controller: ControllerFactory
) -> None:
    calls: list[str] = []
    session.events.register("before-call.*.*", lambda model, **_: calls.append(model.name))
    controller = make_controller(_config(world, fail_back=True))
    controller.evacuate("use1-az1", reason="gray failure")
    calls.clear()

    # When the AZ is recovered with fail_back
    result = controller.recover("use1-az1", reason="healthy")

    # Then the original writer is the writer again, after traffic came back
    assert result.status is Status.RECOVERED
    assert writer_of(session, cluster) == (f"{cluster}-0", "us-east-1b")
    assert _step(result).outcome is Outcome.REVERTED
    assert calls.index("ChangeResourceRecordSets") < calls.index("FailoverDBCluster")
    assert calls.index("CancelZonalShift") < calls.index("FailoverDBCluster")


def test_fail_back_leaves_a_writer_someone_moved_since(
    world: World, cluster: str, session: boto3.Session, make_controller: ControllerFactory
) -> None:
    controller = make_controller(_config(world, fail_back=True))
    controller.evacuate("use1-az1", reason="gray failure")
    # Given someone moved the writer again meanwhile
    session.client("rds").failover_db_cluster(
        DBClusterIdentifier=cluster, TargetDBInstanceIdentifier=f"{cluster}-1"
    )

    # When the AZ is recovered
    result = controller.recover("use1-az1", reason="healthy")

    # Then azevac leaves their choice alone and says so
    assert writer_of(session, cluster) == (f"{cluster}-1", "us-east-1a")
    assert _step(result).outcome is Outcome.SKIPPED


def test_a_cluster_that_cannot_be_read_fails_alone(
    world: World, make_controller: ControllerFactory
) -> None:
    # Given a configured cluster that does not exist
    result = make_controller(_config(world)).evacuate("use1-az1", reason="gray failure")

    # Then its step fails and the rest of the evacuation went ahead
    assert _step(result).outcome is Outcome.FAILED
    assert _step(result, StepKind.ZONAL_SHIFT).outcome is Outcome.APPLIED
    assert result.status is Status.DEGRADED
