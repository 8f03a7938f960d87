"""The drill's and the campaigns' probes of the caches and routing-control kinds
(evacuation/drill/probes.py) read AWS back through boto3 (the ElastiCache and routing-control
fakes) and judge an evacuation from what they read, never from the controller's answer."""

from __future__ import annotations

import boto3
import pytest

from evacuation.drill.checks import evacuated, read_aws
from evacuation.drill.probes import PROBES, Context
from evacuation.emulator.elasticache import ElastiCacheFake
from evacuation.emulator.rds_instances import RdsInstanceFailover
from evacuation.emulator.routing_control import RoutingControlFake
from evacuation.emulator.world import Dependencies, World, add_dependencies
from tests.conftest import ControllerFactory

AZ = "use1-az1"


@pytest.fixture
def deps(session: boto3.Session, world: World) -> Dependencies:
    cache, arc, rds = ElastiCacheFake(), RoutingControlFake(), RdsInstanceFailover()
    for fake in (cache, arc, rds):
        fake.install(session)
    # Given the writer and the primaries in use1-az1, one routing control per AZ, all On
    return add_dependencies(session, world, cache, arc, az_id=AZ, rds=rds)


def test_the_probes_read_the_primary_az_id_and_every_control(
    session: boto3.Session, world: World, deps: Dependencies
) -> None:
    state = read_aws(session, world)

    group = state["cache_groups"][deps.group_id]
    assert (group["primary"], group["primary_az"]) == (f"{deps.group_id}-001", AZ)
    assert group["status"] == "available" and group["pending_primary"] is None
    assert state["routing_controls"] == dict.fromkeys(world.az_ids, "On")


def test_a_control_is_read_through_the_next_endpoint_when_one_is_in_maintenance(
    session: boto3.Session, world: World, deps: Dependencies
) -> None:
    deps.arc.seed_state(deps.controls["use1-az2"], "Off")
    deps.arc.make_unavailable(deps.arc.endpoints[0][0], deps.arc.endpoints[1][0])

    state = read_aws(session, world)

    assert state["routing_controls"]["use1-az2"] == "Off"
    hosts = {host for op, host, _ in deps.arc.calls if op == "GetRoutingControlState"}
    assert len(hosts) == 3  # the two in maintenance answered 503, the third answered


def test_an_evacuation_passes_the_probes_checks_and_keeps_their_invariants(
    session: boto3.Session, world: World, deps: Dependencies, make_controller: ControllerFactory
) -> None:
    before = read_aws(session, world)

    make_controller(world.config()).evacuate(AZ, reason="gray failure")

    after = read_aws(session, world)
    checks = evacuated(world, AZ, before, after, ["AZRebalance"])
    assert [c.name for c in checks if not c.passed] == []
    assert after["cache_groups"][deps.group_id]["primary_az"] != AZ
    assert after["routing_controls"][AZ] == "Off"
    ctx = Context(world, AZ, config=world.config())
    for kind in ("caches", "routing_controls"):
        assert PROBES[kind].invariants(ctx, after) == []
    assert PROBES["routing_controls"].out_of_service(ctx, after) == {AZ}


def test_the_checks_fail_when_aws_did_not_move(
    session: boto3.Session, world: World, deps: Dependencies
) -> None:
    # Given nothing was evacuated: the state after is the state before
    before = read_aws(session, world)

    checks = {c.name: c.passed for c in evacuated(world, AZ, before, before, ["AZRebalance"])}

    failing = [name for name, passed in checks.items() if not passed]
    assert any(name.startswith("ElastiCache: every replication group") for name in failing)
    assert any(name.startswith(f"ARC: {AZ}'s routing control Off") for name in failing)


def test_the_invariants_catch_two_controls_off_and_a_primary_moved_into_the_az(
    session: boto3.Session, world: World, deps: Dependencies
) -> None:
    # Given someone turned two controls Off (seeded: the safety rule is not asked)
    deps.arc.seed_state(deps.controls[AZ], "Off")
    deps.arc.seed_state(deps.controls["use1-az2"], "Off")
    ctx = Context(world, AZ, config=world.config())

    broken = PROBES["routing_controls"].invariants(ctx, read_aws(session, world))

    assert broken == [f"routing controls Off for ['{AZ}', 'use1-az2']: more than 1 AZ"]
    # And with use1-az2 evacuated, a primary there other than the one it began with is caught
    other = Context(world, "use1-az2", config=world.config())
    deps.cache.promote_now(deps.group_id, f"{deps.group_id}-003")  # its member in use1-az2
    caught = PROBES["caches"].invariants(other, read_aws(session, world))
    assert caught == [
        f"replication group {deps.group_id}: {deps.group_id}-003 made primary in use1-az2"
    ]
