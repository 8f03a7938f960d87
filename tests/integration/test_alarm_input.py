"""Alarm input is verified, not trusted (issue 13 §3): through the alarm handler on moto, each
event that must not evacuate answers IGNORED with its specific reason, and nothing changes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest

from evacuation import runtime
from evacuation.emulator.world import CallRecorder, World, snapshot
from evacuation.runtime import Runtime
from evacuation.settings import Settings
from handlers import alarm
from tests.support.alarm_events import eventbridge, fresh, set_alarm
from tests.support.lambda_context import FakeLambdaContext

ALARM = "checkout-use1-az1-isolated-impact"


def install(world: World, session: boto3.Session, **config: Any) -> Runtime:
    rt = Runtime(Settings(config_reference=json.dumps(world.config(**config)), table=None), session)
    runtime.install(rt)
    return rt


@pytest.fixture
def deployed(world: World, session: boto3.Session) -> Iterator[Runtime]:
    rt = install(world, session)
    set_alarm(session, ALARM)
    yield rt
    runtime.install(None)


def assert_ignored(
    answer: dict[str, Any], why: str, world: World, recorder: CallRecorder, before: dict[str, Any]
) -> None:
    assert answer["status"] == "IGNORED", answer
    assert why in answer["reason"], answer["reason"]
    assert recorder.mutations == []
    assert snapshot(world) == before


def test_a_verified_event_still_evacuates(world: World, deployed: Runtime) -> None:
    answer = alarm.handler(eventbridge(ALARM), FakeLambdaContext())
    assert answer["status"] == "EVACUATED", answer


@pytest.mark.parametrize(
    ("name", "why"),
    [
        # names an AZ ID of the workload but is not in config.alarms: a disk-space warning
        ("checkout-use1-az1-disk-space-warning", "not mapped in the config"),
        ("forged-use1-az2-impact", "not mapped in the config"),
    ],
)
def test_an_unmapped_alarm_naming_an_az_does_not_evacuate(
    world: World, deployed: Runtime, recorder: CallRecorder, session: boto3.Session,
    name: str, why: str,
) -> None:  # fmt: skip
    before = snapshot(world)
    answer = alarm.handler(eventbridge(name), FakeLambdaContext())
    assert_ignored(answer, why, world, recorder, before)
    assert "alarms_by_name_pattern is off" in answer["reason"]


def test_the_name_pattern_is_opt_in(
    world: World, session: boto3.Session, recorder: CallRecorder
) -> None:
    # Given alarms_by_name_pattern: true and an unmapped alarm naming use1-az1, in ALARM
    install(world, session, alarms_by_name_pattern=True)
    session.client("cloudwatch").put_metric_alarm(
        AlarmName="checkout-use1-az1-latency", Namespace="N", MetricName="M", Statistic="Sum",
        Period=60, EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold",
    )  # fmt: skip
    set_alarm(session, "checkout-use1-az1-latency")
    try:
        answer = alarm.handler(eventbridge("checkout-use1-az1-latency"), FakeLambdaContext())
    finally:
        runtime.install(None)
    assert answer["status"] == "EVACUATED", answer
    assert answer["az_id"] == "use1-az1"


@pytest.mark.parametrize(
    ("event", "why"),
    [
        (eventbridge(ALARM, account="999999999999"), "from account 999999999999"),
        (eventbridge(ALARM, region="eu-west-1"), "from region eu-west-1"),
        (eventbridge(ALARM, age=timedelta(seconds=601)), "stale"),
        (eventbridge(ALARM, age=timedelta(hours=1)), "max_event_age_seconds=600"),
        (eventbridge(ALARM, age=timedelta(hours=-2)), "in the future"),
    ],
    ids=["other-account", "other-region", "stale-601s", "stale-retry-1h", "future"],
)
def test_events_from_elsewhere_or_too_old_are_ignored(
    world: World, deployed: Runtime, recorder: CallRecorder, event: dict[str, Any], why: str
) -> None:
    before = snapshot(world)
    answer = alarm.handler(event, FakeLambdaContext())
    assert_ignored(answer, why, world, recorder, before)


def test_the_function_account_comes_from_the_context_arn(
    world: World, deployed: Runtime, recorder: CallRecorder
) -> None:
    # Given a function deployed in another account than the one the event names
    context = FakeLambdaContext(
        invoked_function_arn="arn:aws:lambda:us-east-1:210987654321:function:azevac-alarm"
    )
    before = snapshot(world)
    answer = alarm.handler(eventbridge(ALARM), context)
    assert_ignored(answer, "not this function's 210987654321", world, recorder, before)


def test_max_event_age_is_configurable(
    world: World, session: boto3.Session, recorder: CallRecorder
) -> None:
    install(world, session, max_event_age_seconds=60)
    set_alarm(session, ALARM)
    before = snapshot(world)
    try:
        answer = alarm.handler(eventbridge(ALARM, age=timedelta(seconds=90)), FakeLambdaContext())
    finally:
        runtime.install(None)
    assert_ignored(answer, "max_event_age_seconds=60", world, recorder, before)


@pytest.mark.parametrize("state", ["OK", "INSUFFICIENT_DATA"])
def test_an_alarm_no_longer_in_alarm_is_ignored(
    world: World, deployed: Runtime, recorder: CallRecorder, session: boto3.Session, state: str
) -> None:
    # Given the event says ALARM but CloudWatch now says otherwise (recovered, or a replay)
    set_alarm(session, ALARM, state)
    before = snapshot(world)
    recorder.reset()
    answer = alarm.handler(eventbridge(ALARM), FakeLambdaContext())
    assert_ignored(answer, f"is {state} now, no longer ALARM", world, recorder, before)
    assert ("cloudwatch", "DescribeAlarms") in recorder.calls


def test_a_mapped_alarm_that_does_not_exist_is_ignored(
    world: World, session: boto3.Session, recorder: CallRecorder
) -> None:
    # Given a config mapping an alarm that CloudWatch does not have (deleted, or forged)
    config = world.config()
    install(world, session, alarms={**config["alarms"], "checkout-ghost": "use1-az2"})
    before = snapshot(world)
    try:
        answer = alarm.handler(eventbridge("checkout-ghost"), FakeLambdaContext())
    finally:
        runtime.install(None)
    assert_ignored(answer, "does not exist in this account and region", world, recorder, before)


@pytest.mark.parametrize("shape", ["alarm-sns", "alarm-lambda-action"])
def test_every_shape_is_checked_for_account_and_age(
    world: World, deployed: Runtime, recorder: CallRecorder, shape: str
) -> None:
    from tests.support.sample_events import EVENTS  # noqa: PLC0415

    path = next(p for p in EVENTS if p.stem == shape)
    before = snapshot(world)
    stale = fresh(json.loads(path.read_text()), age=timedelta(hours=2))
    answer = alarm.handler(stale, FakeLambdaContext())
    assert_ignored(answer, "stale", world, recorder, before)
    other = FakeLambdaContext(invoked_function_arn="arn:aws:lambda:us-east-1:1:function:x")
    answer = alarm.handler(fresh(json.loads(path.read_text())), other)
    assert_ignored(answer, "this function's own account or region is unknown", world, recorder,
                   before)  # fmt: skip
