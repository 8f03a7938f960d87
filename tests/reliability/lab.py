"""An embedded AWS that a reliability campaign builds once and reuses for many cases: moto, the
zonal-shift fake, a fault injector and a call recorder on one session, and the workload."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import boto3
from moto import mock_aws

from evacuation.aws.clients import AwsClients
from evacuation.config import parse_config
from evacuation.controller import Controller
from evacuation.drill.checks import read_aws
from evacuation.emulator.autoscaling import AutoScalingModel
from evacuation.emulator.client_cache import cache_clients
from evacuation.emulator.ecs import EcsDeployments
from evacuation.emulator.elasticache import ElastiCacheFake
from evacuation.emulator.rds_instances import RdsInstanceFailover
from evacuation.emulator.route53_strict import Route53Strictness
from evacuation.emulator.routing_control import RoutingControlFake
from evacuation.emulator.world import (
    CallRecorder,
    World,
    build_world,
    create_db_cluster,
    create_ecs_service,
    create_multi_az_instance,
)
from evacuation.emulator.zonal_shift import ManualClock, ZonalShiftFake
from evacuation.state import InMemoryStateStore, StateStore
from tests.support.faults import FaultInjector

AZ = "use1-az1"
FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


class LabClock(ManualClock):
    """The lab's clock; work AWS does asynchronously in the background (an ElastiCache promotion
    takes minutes) is done once the clock moves on by `background_done_after`."""

    def __init__(self, background_done_after: timedelta = timedelta(minutes=5)) -> None:
        super().__init__()
        self.background_done_after = background_done_after
        self.background: list[Callable[[], None]] = []

    def advance(self, delta: timedelta) -> None:
        super().advance(delta)
        if delta >= self.background_done_after:
            for finish in self.background:
                finish()


@dataclass
class Lab:
    session: boto3.Session
    fake: ZonalShiftFake
    clock: ManualClock
    faults: FaultInjector
    recorder: CallRecorder
    world: World
    original: dict[str, Any]
    config: dict[str, Any] = field(default_factory=dict)
    autoscaling: AutoScalingModel | None = None
    cache: ElastiCacheFake | None = None
    arc: RoutingControlFake | None = None

    def controller(self, store: StateStore | None = None, **config: Any) -> Controller:
        merged = {**self.config, **config}
        return Controller(
            parse_config(merged),
            AwsClients(self.session, region="us-east-1"),
            store if store is not None else InMemoryStateStore(),
            clock=self.clock,
            sleep=lambda _s: None,
        )

    def reset(self) -> None:
        """Between cases: no faults armed, counters cleared, past any cooldown."""
        self.faults.clear()
        self.recorder.reset()
        self.clock.advance(timedelta(hours=2))

    def state(self) -> dict[str, Any]:
        """Everything an evacuation may change, each registered kind its part (the drill's
        read-back, evacuation/drill/probes.py), once AWS has finished what it applies
        asynchronously (`settle`)."""
        self.settle()
        return read_aws(self.session, self.world)

    def settle(self, reads: int = 10) -> None:
        """Describe the cache groups until none is `modifying`: ElastiCache promotes a replica
        asynchronously, and a crash can leave a promotion under way. Up to `reads` describes, as
        an operator polling would; a group still modifying after them is left so, and the state
        comparison that follows reports it."""
        if not self.world.cache_groups:
            return
        elasticache = self.session.client("elasticache", region_name="us-east-1")
        for _ in range(reads):
            groups = [
                elasticache.describe_replication_groups(ReplicationGroupId=g)["ReplicationGroups"][
                    0
                ]
                for g in self.world.cache_groups
            ]
            if all(g["Status"] != "modifying" for g in groups):
                return

    def owners_kept(self, state: dict[str, Any]) -> list[str]:
        """What this lab's owners set up stays: checkout-worker's AZRebalance suspension."""
        if "AZRebalance" not in state["groups"]["checkout-worker"]["suspended"]:
            return ["AZRebalance suspended by the owners of checkout-worker was resumed"]
        return []


@contextmanager
def lab(**world_options: Any) -> Iterator[Lab]:
    """Build the lab inside mock_aws with fake credentials; tear it all down after."""
    saved = {k: os.environ.get(k) for k in [*FAKE_ENV, "AWS_PROFILE"]}
    os.environ.update(FAKE_ENV)
    os.environ.pop("AWS_PROFILE", None)
    try:
        with mock_aws():
            clock = LabClock()
            fake = ZonalShiftFake(clock=clock)
            faults = FaultInjector()
            recorder = CallRecorder()
            session = cache_clients(boto3.Session(region_name="us-east-1"))
            faults.install(session)
            recorder.install(session)
            fake.install(session)
            Route53Strictness().install(session)
            autoscaling = AutoScalingModel(fake, clock)
            autoscaling.install(session)
            _atomic_dynamodb(session)
            options = {"pre_suspended": {"checkout-worker": ["AZRebalance"]}, **world_options}
            EcsDeployments().install(session)
            # The fakes answer on before-send, after the injector's and the recorder's
            # before-call hooks: an injected fault answers first, a lost response is raised
            # after the fake applied the call, and every call is counted.
            cache, arc = ElastiCacheFake(), RoutingControlFake()
            cache.install(session)
            arc.install(session)
            rds = RdsInstanceFailover()  # hooks moto's own answers: a Multi-AZ standby
            rds.install(session)
            clock.background += [cache.complete_promotions, rds.complete_reboots]
            world = build_world(session, fake, **options)
            config = {**world.config(), **_new_kinds(session, world, cache, arc, rds)}
            recorder.reset()
            faults.reset()
            yield Lab(
                session, fake, clock, faults, recorder, world, read_aws(session, world), config,
                autoscaling, cache, arc,
            )  # fmt: skip
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _new_kinds(
    session: boto3.Session,
    world: World,
    cache: ElastiCacheFake,
    arc: RoutingControlFake,
    rds: RdsInstanceFailover,
) -> dict[str, Any]:
    """The issue 15 kinds in the lab: an Aurora cluster whose writer, an ElastiCache group and a
    Multi-AZ DB instance whose primaries are in the AZ the campaigns evacuate (all failed back
    on recover, so that every case ends exactly as it began), an ECS service over the three
    subnets, and one ARC routing control per AZ under the safety rule "at least N-1 of N On"."""
    cluster = create_db_cluster(
        session, "checkout-orders", [("us-east-1b", 0), ("us-east-1a", 2), ("us-east-1c", 1)]
    )
    service = create_ecs_service(session, list(world.subnets.values()))
    instance = create_multi_az_instance(session, rds, "checkout-ledger", "us-east-1b", "us-east-1c")
    group = cache.create_replication_group(
        "checkout-sessions",
        [("checkout-sessions-001", "us-east-1b"), ("checkout-sessions-002", "us-east-1c")],
    )
    world.add_cache_group(cache, group)
    controls = {az: arc.create_routing_control(f"checkout-{az}") for az in world.az_ids}
    arc.add_assertion_rule(
        f"checkout-at-least-{len(controls) - 1}-on", list(controls.values()), len(controls) - 1
    )
    world.add_routing_controls(arc, controls)
    return {
        "databases": {"clusters": [cluster], "instances": [instance], "fail_back": True},
        "ecs": {"services": [service]},
        "caches": {"replication_groups": [group], "fail_back": True},
        "routing_controls": {"controls": controls, "cluster_endpoints": arc.endpoint_configs()},
    }


def _atomic_dynamodb(session: boto3.Session) -> None:
    """DynamoDB decides each request atomically; moto does not under threads."""
    lock = threading.RLock()

    def acquire(**_: object) -> None:
        lock.acquire()

    session.events.register("before-call.dynamodb.*", acquire)
    session.events.register("after-call.dynamodb.*", lambda **_: lock.release())
