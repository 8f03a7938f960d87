"""Every sample event in events/ (the ones `sam local invoke -e` uses) runs through its handler."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from evacuation import runtime
from evacuation.emulator.world import World, snapshot
from evacuation.runtime import Runtime
from evacuation.settings import Settings
from handlers import alarm, manual, reconcile
from tests.support.lambda_context import FakeLambdaContext
from tests.support.sample_events import EVENTS, SETUP, check_answer, fire, handler_of, load

HANDLERS = {"alarm": alarm.handler, "manual": manual.handler, "reconcile": reconcile.handler}


@pytest.fixture
def installed(world: World, session: boto3.Session) -> Iterator[Runtime]:
    rt = Runtime(Settings(config_reference=json.dumps(world.config()), table=None), session)
    runtime.install(rt)
    yield rt
    runtime.install(None)


def test_there_is_a_sample_for_every_handler_and_shape() -> None:
    names = {path.stem for path in EVENTS}
    assert {
        "alarm-eventbridge-metric", "alarm-eventbridge-composite", "alarm-sns",
        "alarm-lambda-action", "alarm-eventbridge-ok", "manual-plan", "manual-evacuate",
        "manual-recover", "manual-status", "reconcile-schedule",
        "alarm-autoshift-in-progress", "alarm-autoshift-completed",
    } <= names  # fmt: skip


@pytest.mark.parametrize("path", EVENTS, ids=[p.stem for p in EVENTS])
def test_sample_event_runs_through_its_handler(
    path: Path, world: World, installed: Runtime, session: boto3.Session
) -> None:
    event = load(path)
    fire(session, path)
    original = snapshot(world)
    for name, setup_event in SETUP.get(path.stem, []):
        HANDLERS[name](setup_event, FakeLambdaContext())

    answer = HANDLERS[handler_of(path)](event, FakeLambdaContext())

    check_answer(path.stem, answer, original, snapshot(world))
