"""Shared fixtures: an embedded AWS (moto + the zonal-shift fake + the Auto Scaling model), a
workload, a controller."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from evacuation.aws.clients import AwsClients
from evacuation.config import parse_config
from evacuation.controller import Controller
from evacuation.emulator.autoscaling import AutoScalingModel
from evacuation.emulator.client_cache import cache_clients
from evacuation.emulator.ecs import EcsDeployments
from evacuation.emulator.eks import EksZonalShiftConfig
from evacuation.emulator.route53_strict import Route53Strictness
from evacuation.emulator.world import CallRecorder, World, build_world
from evacuation.emulator.zonal_shift import ManualClock, ZonalShiftFake
from evacuation.state import InMemoryStateStore, StateStore
from tests.support.faults import FaultInjector


@pytest.fixture(autouse=True)
def _aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # Never reach a real account from a test.
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def fake(clock: ManualClock) -> ZonalShiftFake:
    return ZonalShiftFake(clock=clock)


@pytest.fixture
def recorder() -> CallRecorder:
    return CallRecorder()


@pytest.fixture
def strict_route53() -> Route53Strictness:
    return Route53Strictness()


@pytest.fixture
def autoscaling_model(fake: ZonalShiftFake, clock: ManualClock) -> AutoScalingModel:
    """Auto Scaling's documented placement on moto (instances per AZ, rebalancing, zonal shift)."""
    return AutoScalingModel(fake, clock)


@pytest.fixture
def ecs_deployments() -> EcsDeployments:
    """ECS deployments and their rollout to steady state (moto creates none)."""
    return EcsDeployments()


@pytest.fixture
def faults() -> FaultInjector:
    return FaultInjector()


@pytest.fixture
def session(
    fake: ZonalShiftFake,
    recorder: CallRecorder,
    faults: FaultInjector,
    strict_route53: Route53Strictness,
    autoscaling_model: AutoScalingModel,
    ecs_deployments: EcsDeployments,
) -> Iterator[boto3.Session]:
    with mock_aws():
        session = cache_clients(boto3.Session(region_name="us-east-1"))
        faults.install(session)
        recorder.install(session)
        fake.install(session)
        strict_route53.install(session)
        autoscaling_model.install(session)
        ecs_deployments.install(session)
        EksZonalShiftConfig().install(session)
        yield session


@pytest.fixture
def world(
    session: boto3.Session, fake: ZonalShiftFake, recorder: CallRecorder, faults: FaultInjector
) -> World:
    # The worker group already has AZRebalance suspended by its owners: recover must keep it.
    built = build_world(session, fake, pre_suspended={"checkout-worker": ["AZRebalance"]})
    recorder.reset()  # count only what the controller does
    faults.reset()
    return built


@pytest.fixture
def store() -> StateStore:
    return InMemoryStateStore()


ControllerFactory = Callable[..., Controller]


@pytest.fixture
def make_controller(
    world: World, session: boto3.Session, store: StateStore, clock: ManualClock
) -> ControllerFactory:
    def make(config: dict[str, Any] | None = None, **kwargs: Any) -> Controller:
        kwargs.setdefault("store", store)
        return Controller(
            parse_config(config or world.config()),
            AwsClients(session, region="us-east-1"),
            clock=clock,
            sleep=lambda _seconds: None,
            **kwargs,
        )

    return make
