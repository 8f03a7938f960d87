"""ElastiCache replication groups, cluster mode disabled (issue 15 §2, aws-semantics DB-2): a
primary in the impaired AZ is moved to a replica in a healthy AZ with ModifyReplicationGroup
PrimaryClusterId, read back from the ElastiCache fake; never TestFailover; recover leaves the
primary unless fail_back."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from evacuation.emulator.elasticache import ElastiCacheFake
from evacuation.emulator.world import World
from evacuation.model import Outcome, Status, StepKind
from tests.conftest import ControllerFactory
from tests.support.faults import Fault, FaultInjector

# moto: us-east-1a = use1-az6, 1b = use1-az1, 1c = use1-az2
GROUP = "checkout-sessions"


@pytest.fixture
def cache(session: boto3.Session) -> ElastiCacheFake:
    fake = ElastiCacheFake()
    fake.install(session)
    return fake


@pytest.fixture
def group(cache: ElastiCacheFake) -> str:
    # Given a group whose primary is in use1-az1, replicas in use1-az2 and use1-az6
    return cache.create_replication_group(
        GROUP,
        [
            (f"{GROUP}-001", "us-east-1b"),
            (f"{GROUP}-002", "us-east-1c"),
            (f"{GROUP}-003", "us-east-1a"),
        ],
    )


def _config(world: World, **caches: Any) -> dict[str, Any]:
    return world.config(caches={"replication_groups": [GROUP], **caches})


def _step(result: Any, kind: StepKind = StepKind.CACHE_PRIMARY) -> Any:
    return next(s for s in result.steps if s.key.kind is kind)


def test_primary_in_the_impaired_az_moves_to_a_replica_in_a_healthy_az(
    world: World, cache: ElastiCacheFake, group: str, make_controller: ControllerFactory
) -> None:
    # When use1-az1 is evacuated
    result = make_controller(_config(world)).evacuate("use1-az1", reason="gray failure")

    # Then ElastiCache shows a replica outside use1-az1 as the primary, the step says which
    primary, zone = cache.primary_of(group)
    assert zone != "us-east-1b"
    step = _step(result)
    assert step.outcome is Outcome.APPLIED
    assert step.after["primary"] == primary and step.after["primary_az"] in ("use1-az2", "use1-az6")
    assert result.status is Status.EVACUATED
    # And by the one operational call AWS offers, never TestFailover
    assert "ModifyReplicationGroup" in cache.operations()
    assert "TestFailover" not in cache.operations()


def test_caches_move_after_the_data_plane_and_before_capacity(
    world: World, cache: ElastiCacheFake, group: str, session: boto3.Session,
    make_controller: ControllerFactory,
) -> None:  # fmt: skip
    calls: list[str] = []
    session.events.register("before-call.*.*", lambda model, **_: calls.append(model.name))

    make_controller(_config(world)).evacuate("use1-az1", reason="gray failure")

    promote = calls.index("ModifyReplicationGroup")
    assert calls.index("StartZonalShift") < promote
    assert calls.index("ChangeResourceRecordSets") < promote
    assert promote < calls.index("SuspendProcesses")


def test_a_promotion_still_under_way_is_pending_then_converges(
    world: World, cache: ElastiCacheFake, group: str, make_controller: ControllerFactory
) -> None:
    # Given ElastiCache takes several reads to finish the promotion
    cache.promotion_reads = 3

    result = make_controller(_config(world)).evacuate("use1-az1", reason="gray failure")

    # Then verify polled until the target read back as primary
    assert _step(result).outcome is Outcome.APPLIED
    assert cache.primary_of(group)[1] != "us-east-1b"


def test_primary_elsewhere_is_unchanged(
    world: World, cache: ElastiCacheFake, group: str, make_controller: ControllerFactory
) -> None:
    result = make_controller(_config(world)).evacuate("use1-az2", reason="gray failure")

    assert cache.primary_of(group) == (f"{GROUP}-001", "us-east-1b")
    assert _step(result).outcome is Outcome.UNCHANGED
    assert "ModifyReplicationGroup" not in cache.operations()


def test_no_replica_in_a_healthy_az_skips_and_readiness_says_so(
    world: World, cache: ElastiCacheFake, make_controller: ControllerFactory
) -> None:
    # Given a group whose only replica shares the primary's AZ
    cache.create_replication_group(
        GROUP, [(f"{GROUP}-001", "us-east-1b"), (f"{GROUP}-002", "us-east-1b")]
    )
    controller = make_controller(_config(world))

    problems = controller.reconcile().readiness_problems
    assert any("no replica outside use1-az1" in p for p in problems)

    result = controller.evacuate("use1-az1", reason="gray failure")
    step = _step(result)
    assert step.outcome is Outcome.SKIPPED and "no replica is in another AZ" in (step.reason or "")
    assert result.status is Status.PARTIAL
    assert cache.primary_of(GROUP) == (f"{GROUP}-001", "us-east-1b")


def test_multi_az_group_is_skipped_with_the_reason_aws_gives(
    world: World, cache: ElastiCacheFake, make_controller: ControllerFactory
) -> None:
    # Given Multi-AZ with automatic failover on: AWS refuses a promotion then
    cache.create_replication_group(
        GROUP, [(f"{GROUP}-001", "us-east-1b"), (f"{GROUP}-002", "us-east-1c")],
        automatic_failover=True, multi_az=True,
    )  # fmt: skip
    controller = make_controller(_config(world))

    assert any("Multi-AZ" in p for p in controller.reconcile().readiness_problems)
    result = controller.evacuate("use1-az1", reason="gray failure")
    step = _step(result)
    assert step.outcome is Outcome.SKIPPED and "Replication.PromoteReplica" in (step.reason or "")
    assert result.status is Status.PARTIAL
    assert "ModifyReplicationGroup" not in cache.operations()


def test_cluster_mode_enabled_is_not_supported_and_readiness_explains(
    world: World, cache: ElastiCacheFake, make_controller: ControllerFactory
) -> None:
    cache.create_replication_group(
        GROUP, [(f"{GROUP}-001", "us-east-1b"), (f"{GROUP}-002", "us-east-1c")],
        cluster_mode=True, shards=2,
    )  # fmt: skip
    controller = make_controller(_config(world))

    assert any("cluster mode enabled" in p for p in controller.reconcile().readiness_problems)
    result = controller.evacuate("use1-az1", reason="gray failure")
    step = _step(result)
    assert step.outcome is Outcome.SKIPPED and "not supported" in (step.reason or "")
    assert result.status is Status.PARTIAL


def test_recover_leaves_the_primary_unless_fail_back(
    world: World, cache: ElastiCacheFake, group: str, make_controller: ControllerFactory
) -> None:
    controller = make_controller(_config(world))
    controller.evacuate("use1-az1", reason="gray failure")
    moved = cache.primary_of(group)

    result = controller.recover("use1-az1", reason="healthy")

    assert result.status is Status.RECOVERED
    assert cache.primary_of(group) == moved
    assert _step(result).outcome is Outcome.UNCHANGED


def test_fail_back_promotes_the_original_primary_last(
    world: World, cache: ElastiCacheFake, group: str, session: boto3.Session,
    make_controller: ControllerFactory,
) -> None:  # fmt: skip
    cache.promotion_reads = 0
    calls: list[str] = []
    session.events.register("before-call.*.*", lambda model, **_: calls.append(model.name))
    controller = make_controller(_config(world, fail_back=True))
    controller.evacuate("use1-az1", reason="gray failure")
    calls.clear()

    result = controller.recover("use1-az1", reason="healthy")

    assert result.status is Status.RECOVERED
    assert cache.primary_of(group) == (f"{GROUP}-001", "us-east-1b")
    assert _step(result).outcome is Outcome.REVERTED
    assert calls.index("ChangeResourceRecordSets") < calls.index("ModifyReplicationGroup")


def test_fail_back_leaves_a_primary_someone_moved_since(
    world: World, cache: ElastiCacheFake, group: str, make_controller: ControllerFactory
) -> None:
    controller = make_controller(_config(world, fail_back=True))
    result = controller.evacuate("use1-az1", reason="gray failure")
    ours = _step(result).after["primary"]
    other = next(c for c in (f"{GROUP}-002", f"{GROUP}-003") if c != ours)
    cache.promote_now(group, other)

    result = controller.recover("use1-az1", reason="healthy")

    assert cache.primary_of(group)[0] == other
    assert _step(result).outcome is Outcome.SKIPPED


def test_a_group_that_cannot_be_read_fails_alone(
    world: World, cache: ElastiCacheFake, make_controller: ControllerFactory
) -> None:
    result = make_controller(_config(world)).evacuate("use1-az1", reason="gray failure")

    assert _step(result).outcome is Outcome.FAILED
    assert _step(result, StepKind.ZONAL_SHIFT).outcome is Outcome.APPLIED
    assert result.status is Status.DEGRADED


def test_a_promotion_slower_than_verify_is_pending_then_the_reconciler_converges_it(
    world: World, cache: ElastiCacheFake, group: str, make_controller: ControllerFactory
) -> None:
    # Given ElastiCache is still promoting when verify gives up
    cache.promotion_reads = 10**6
    config = _config(world)
    config["execution"] = {**config["execution"], "verify_timeout_seconds": 0.05}
    controller = make_controller(config)

    result = controller.evacuate("use1-az1", reason="gray failure")

    # Then the step is pending, not success, and the evacuation PARTIAL
    assert _step(result).outcome is Outcome.PENDING
    assert result.status is Status.PARTIAL

    # When ElastiCache finishes and the reconciler runs
    cache.complete_promotions()
    controller.reconcile()

    # Then the evacuation converged without asking ElastiCache a second time
    assert controller.status()[0].status is Status.EVACUATED
    assert cache.operations().count("ModifyReplicationGroup") == 1
    assert cache.primary_of(group)[1] != "us-east-1b"


# -- Multi-AZ groups: AWS's procedure, only when the config says so ----------------------------


@pytest.fixture
def multi_az_group(cache: ElastiCacheFake) -> str:
    # Given a Multi-AZ group with automatic failover, its primary in use1-az1
    return cache.create_replication_group(
        GROUP, [(f"{GROUP}-001", "us-east-1b"), (f"{GROUP}-002", "us-east-1c")],
        automatic_failover=True, multi_az=True,
    )  # fmt: skip


def _modifications(cache: ElastiCacheFake) -> list[dict[str, str]]:
    return [
        {k: v for k, v in params.items() if k != "ReplicationGroupId"}
        for op, params in cache.calls
        if op == "ModifyReplicationGroup"
    ]


def test_with_suspend_multi_az_the_documented_procedure_moves_the_primary(
    world: World, cache: ElastiCacheFake, multi_az_group: str, make_controller: ControllerFactory
) -> None:
    controller = make_controller(_config(world, suspend_multi_az=True))
    assert not any("Multi-AZ" in p for p in controller.reconcile().readiness_problems)

    # When use1-az1 is evacuated
    result = controller.evacuate("use1-az1", reason="gray failure")

    # Then the replica in use1-az2 is the primary and Multi-AZ is back on, as it was
    assert cache.primary_of(multi_az_group) == (f"{GROUP}-002", "us-east-1c")
    assert cache.failover_of(multi_az_group) == ("enabled", "enabled")
    step = _step(result)
    assert step.outcome is Outcome.APPLIED and result.status is Status.EVACUATED
    # By AWS's three steps, in order: Multi-AZ off, promote, Multi-AZ on
    off = {"AutomaticFailoverEnabled": "false", "MultiAZEnabled": "false"}
    on = {"AutomaticFailoverEnabled": "true", "MultiAZEnabled": "true"}
    assert _modifications(cache) == [
        {**off, "ApplyImmediately": "true"},
        {"PrimaryClusterId": f"{GROUP}-002", "ApplyImmediately": "true"},
        {**on, "ApplyImmediately": "true"},
    ]
    # And a second run changes nothing
    cache.calls.clear()
    again = controller.evacuate("use1-az1", reason="gray failure")
    assert again.status is Status.EVACUATED and _modifications(cache) == []


def test_a_promotion_refused_after_multi_az_was_switched_off_switches_it_back_on(
    world: World, cache: ElastiCacheFake, multi_az_group: str, faults: Any,
    make_controller: ControllerFactory,
) -> None:  # fmt: skip
    from tests.support.faults import Fault  # noqa: PLC0415

    # Given the promotion itself is refused (the second ModifyReplicationGroup)
    faults.add("elasticache", "ModifyReplicationGroup", Fault.ACCESS_DENIED, 2)

    result = make_controller(_config(world, suspend_multi_az=True)).evacuate(
        "use1-az1", reason="gray failure"
    )

    # Then the step failed, says so, and the group is as protected as azevac found it
    step = _step(result)
    assert step.outcome is Outcome.FAILED and "AccessDenied" in (step.error or "")
    cache.complete_promotions()
    assert cache.failover_of(multi_az_group) == ("enabled", "enabled")
    assert cache.primary_of(multi_az_group) == (f"{GROUP}-001", "us-east-1b")
    assert result.status is Status.DEGRADED


def test_multi_az_slow_to_switch_off_fails_then_the_reconciler_finishes_the_procedure(
    world: World, cache: ElastiCacheFake, multi_az_group: str, make_controller: ControllerFactory
) -> None:
    # Given ElastiCache is still disabling Multi-AZ when the wait gives up
    cache.promotion_reads = 10**6
    config = _config(world, suspend_multi_az=True)
    config["execution"] = {**config["execution"], "verify_timeout_seconds": 0.05}
    controller = make_controller(config)

    result = controller.evacuate("use1-az1", reason="gray failure")
    step = _step(result)
    assert step.outcome is Outcome.FAILED and "timed out waiting for Multi-AZ" in (step.error or "")

    # When ElastiCache finishes, and the reconciler carries the evacuation on
    cache.complete_promotions()
    cache.promotion_reads = 0
    controller.reconcile()

    # Then the primary moved and Multi-AZ is back on, with no second "off"
    assert cache.primary_of(multi_az_group) == (f"{GROUP}-002", "us-east-1c")
    assert cache.failover_of(multi_az_group) == ("enabled", "enabled")
    assert [m.get("MultiAZEnabled") for m in _modifications(cache)] == ["false", None, "true"]
    assert controller.status()[0].status is Status.EVACUATED


def test_recover_switches_multi_az_back_on_when_a_run_stopped_before_it_could(
    world: World, cache: ElastiCacheFake, multi_az_group: str, faults: Any,
    make_controller: ControllerFactory,
) -> None:  # fmt: skip
    from tests.support.faults import Fault  # noqa: PLC0415

    # Given the call that re-enables Multi-AZ is refused, every time
    cache.promotion_reads = 0
    faults.add("elasticache", "ModifyReplicationGroup", Fault.ACCESS_DENIED, 3, 4, 5, 6)
    controller = make_controller(_config(world, suspend_multi_az=True))
    result = controller.evacuate("use1-az1", reason="gray failure")
    assert _step(result).outcome is Outcome.FAILED
    assert cache.failover_of(multi_az_group) == ("disabled", "disabled")
    faults.clear()

    # When the AZ is recovered (fail_back false: the primary stays)
    recovered = controller.recover("use1-az1", reason="healthy")

    # Then Multi-AZ is as it was before the evacuation, the primary where azevac put it
    assert recovered.status is Status.RECOVERED
    assert cache.failover_of(multi_az_group) == ("enabled", "enabled")
    assert cache.primary_of(multi_az_group) == (f"{GROUP}-002", "us-east-1c")


def test_fail_back_on_a_multi_az_group_follows_the_procedure_again(
    world: World, cache: ElastiCacheFake, multi_az_group: str, make_controller: ControllerFactory
) -> None:
    cache.promotion_reads = 0
    controller = make_controller(_config(world, suspend_multi_az=True, fail_back=True))
    controller.evacuate("use1-az1", reason="gray failure")
    cache.calls.clear()

    result = controller.recover("use1-az1", reason="healthy")

    assert result.status is Status.RECOVERED
    assert cache.primary_of(multi_az_group) == (f"{GROUP}-001", "us-east-1b")
    assert cache.failover_of(multi_az_group) == ("enabled", "enabled")
    assert [m.get("PrimaryClusterId") for m in _modifications(cache)] == [
        None,
        f"{GROUP}-001",
        None,
    ]


def test_a_lost_promotion_response_is_retried_into_our_own_promotion_and_converges(
    world: World, cache: ElastiCacheFake, group: str, faults: FaultInjector,
    make_controller: ControllerFactory,
) -> None:  # fmt: skip
    # Given ElastiCache accepts the promotion but its answer is lost (the retry then finds the
    # group modifying: InvalidReplicationGroupState)
    faults.add("elasticache", "ModifyReplicationGroup", Fault.LOST_RESPONSE, 1)

    result = make_controller(_config(world)).evacuate("use1-az1", reason="gray failure")

    # Then the retry is recognised as our own promotion under way, and it converges
    assert ("elasticache", "ModifyReplicationGroup", Fault.LOST_RESPONSE) in faults.injected
    assert _step(result).outcome is Outcome.APPLIED
    assert result.status is Status.EVACUATED
    assert cache.primary_of(group)[1] != "us-east-1b"
    # (the retries ElastiCache refused as modifying come before the re-read)
    assert cache.operations().count("ModifyReplicationGroup") >= 2


def test_a_group_modifying_towards_another_primary_fails_the_step(
    world: World, cache: ElastiCacheFake, group: str, session: boto3.Session,
    make_controller: ControllerFactory,
) -> None:  # fmt: skip
    # Given someone else is promoting -003 and ElastiCache is still at it
    cache.promotion_reads = 10**6
    session.client("elasticache", region_name="us-east-1").modify_replication_group(
        ReplicationGroupId=group, PrimaryClusterId=f"{GROUP}-003", ApplyImmediately=True
    )

    config = _config(world)
    config["execution"] = {**config["execution"], "verify_timeout_seconds": 0.05}
    result = make_controller(config).evacuate("use1-az1", reason="gray failure")

    # Then azevac's promotion is refused by ElastiCache, and not taken for its own
    step = _step(result)
    assert step.outcome is Outcome.FAILED
    # (it waited for the other promotion, then said why it gave up)
    assert "status modifying" in (step.error or "")
    assert cache.operations().count("ModifyReplicationGroup") == 2  # theirs, and ours refused
    assert result.status is Status.DEGRADED


def test_recover_while_the_evacuation_promotion_is_under_way_still_fails_back(
    world: World, cache: ElastiCacheFake, group: str, make_controller: ControllerFactory
) -> None:
    # Given the evacuation's promotion outlasted verify (PARTIAL, ElastiCache still at it)
    cache.promotion_reads = 10**6
    config = _config(world, fail_back=True)
    config["execution"] = {**config["execution"], "verify_timeout_seconds": 0.05}
    controller = make_controller(config)
    controller.evacuate("use1-az1", reason="gray failure")

    # When the AZ is recovered before ElastiCache finishes
    result = controller.recover("use1-az1", reason="healthy")

    # Then recover does not call the fail back done while the promotion is under way
    assert result.status is Status.RECOVERING
    assert _step(result).outcome is Outcome.FAILED and "waits" in (_step(result).reason or "")

    # When ElastiCache finishes, the reconciler fails back, and ElastiCache finishes that too
    cache.complete_promotions()
    controller.reconcile()
    assert controller.status()[0].status is Status.RECOVERING  # asked, not yet done
    cache.complete_promotions()
    controller.reconcile()

    # Then, fail_back being on, the original primary is the primary again, and only then
    # is the AZ recovered
    assert cache.primary_of(group) == (f"{GROUP}-001", "us-east-1b")
    assert controller.status()[0].status is Status.RECOVERED
