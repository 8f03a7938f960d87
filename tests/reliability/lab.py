"""An embedded AWS that a reliability campaign builds once and reuses for many cases: moto, the
zonal-shift fake, a fault injector and a call recorder on one session, and the workload."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
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
from evacuation.emulator.ecs import EcsDeployments
from evacuation.emulator.route53_strict import Route53Strictness
from evacuation.emulator.world import (
    CallRecorder,
    World,
    build_world,
    create_db_cluster,
    create_ecs_service,
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
        read-back, evacuation/drill/probes.py)."""
        return read_aws(self.session, self.world)

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
            clock = ManualClock()
            fake = ZonalShiftFake(clock=clock)
            faults = FaultInjector()
            recorder = CallRecorder()
            session = boto3.Session(region_name="us-east-1")
            faults.install(session)
            recorder.install(session)
            fake.install(session)
            Route53Strictness().install(session)
            autoscaling = AutoScalingModel(fake, clock)
            autoscaling.install(session)
            _atomic_dynamodb(session)
            options = {"pre_suspended": {"checkout-worker": ["AZRebalance"]}, **world_options}
            EcsDeployments().install(session)
            world = build_world(session, fake, **options)
            config = {**world.config(), **_new_kinds(session, world)}
            recorder.reset()
            faults.reset()
            yield Lab(
                session, fake, clock, faults, recorder, world, read_aws(session, world), config,
                autoscaling,
            )  # fmt: skip
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _new_kinds(session: boto3.Session, world: World) -> dict[str, Any]:
    """The issue 15 kinds in the lab: an Aurora cluster whose writer is in the AZ the campaigns
    evacuate (failed back on recover, so that every case ends exactly as it began) and an ECS
    service over the three subnets."""
    cluster = create_db_cluster(
        session, "checkout-orders", [("us-east-1b", 0), ("us-east-1a", 2), ("us-east-1c", 1)]
    )
    service = create_ecs_service(session, list(world.subnets.values()))
    return {
        "databases": {"clusters": [cluster], "fail_back": True},
        "ecs": {"services": [service]},
    }


def _atomic_dynamodb(session: boto3.Session) -> None:
    """DynamoDB decides each request atomically; moto does not under threads."""
    lock = threading.RLock()

    def acquire(**_: object) -> None:
        lock.acquire()

    session.events.register("before-call.dynamodb.*", acquire)
    session.events.register("after-call.dynamodb.*", lambda **_: lock.release())
