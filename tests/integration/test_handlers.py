"""The Lambda handlers, end to end on moto + the fake: thin parsing, the same engine underneath."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest

from evacuation import runtime
from evacuation.emulator.table import create_state_table
from evacuation.emulator.world import CallRecorder, World, snapshot
from evacuation.emulator.zonal_shift import ManualClock
from evacuation.errors import InvalidRequestError
from evacuation.runtime import Runtime
from evacuation.settings import Settings
from handlers import alarm, manual, reconcile
from tests.support.alarm_events import eventbridge, set_alarm
from tests.support.lambda_context import FakeLambdaContext

AZ = "use1-az1"
ALARM = "checkout-use1-az1-isolated-impact"


@pytest.fixture
def lambda_runtime(world: World, session: boto3.Session) -> Iterator[Runtime]:
    config = world.config()
    rt = Runtime(Settings(config_reference=json.dumps(config), table=None), session)
    runtime.install(rt)
    set_alarm(session, ALARM)  # the gray failure: the AZ's alarm is in ALARM in CloudWatch
    yield rt
    runtime.install(None)


def test_alarm_event_evacuates_the_mapped_az(world: World, lambda_runtime: Runtime) -> None:
    answer = alarm.handler(eventbridge(ALARM), FakeLambdaContext())

    assert answer["status"] == "EVACUATED", answer
    assert answer["az_id"] == AZ
    assert snapshot(world)["weights"]["checkout-use1-az1"] == 0


@pytest.mark.parametrize(
    ("event", "why"),
    [
        (eventbridge(ALARM, state="OK", previous="ALARM"), "not ALARM"),
        (eventbridge(ALARM, state="INSUFFICIENT_DATA"), "not ALARM"),
        (eventbridge(ALARM, previous="ALARM"), "repeat"),
        (eventbridge("checkout-latency-regional"), "not mapped"),
        (eventbridge("other-use1-az4-impact"), "not mapped"),
    ],
)
def test_alarm_events_that_must_not_evacuate_change_nothing(
    world: World, lambda_runtime: Runtime, recorder: CallRecorder, event: dict, why: str
) -> None:
    original = snapshot(world)
    answer = alarm.handler(event, FakeLambdaContext())
    assert answer["status"] == "IGNORED"
    assert why in answer["reason"]
    assert recorder.mutations == []
    assert snapshot(world) == original


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ("not an event", "expected a JSON object"),
        ({"hello": "world"}, "not a CloudWatch alarm event"),
        ({"detail-type": "CloudWatch Alarm State Change", "id": "x", "detail": {}}, "malformed"),
        ({"Records": [{"Sns": {"MessageId": "m", "Message": "{oops"}}]}, "not JSON"),
    ],
)
def test_malformed_alarm_event_is_rejected_with_the_reason(
    lambda_runtime: Runtime, recorder: CallRecorder, event: Any, message: str
) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        alarm.handler(event, FakeLambdaContext())
    assert recorder.mutations == []


def test_manual_evacuate_status_and_recover(world: World, lambda_runtime: Runtime) -> None:
    original = snapshot(world)
    context = FakeLambdaContext()

    planned = manual.handler({"action": "plan", "az": "us-east-1b"}, context)
    assert planned["status"] == "PLANNED" and planned["az_id"] == AZ
    done = manual.handler({"action": "evacuate", "az": AZ, "reason": "runbook"}, context)
    assert done["status"] == "EVACUATED"
    assert {"phase", "kind", "resource", "before", "after", "outcome", "error"} <= set(
        done["steps"][0]
    )
    status = manual.handler({"action": "status"}, context)
    assert [e["status"] for e in status["evacuations"]] == ["EVACUATED"]
    preview = manual.handler({"action": "recover", "az": AZ, "dry_run": True}, context)
    assert preview["status"] == "EVACUATED" and snapshot(world) != original
    recovered = manual.handler({"action": "recover", "az": AZ, "reason": "healthy"}, context)
    assert recovered["status"] == "RECOVERED"
    assert snapshot(world) == original


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"action": "explode", "az": AZ}, "action"),
        ({"action": "evacuate"}, "az is required"),
        ({"action": "evacuate", "az": AZ, "dry_run": "yes"}, "dry_run"),
        ({"action": "evacuate", "az": AZ, "colour": "red"}, "colour: unknown field"),
        ({"action": "evacuate", "az": 5}, "az"),
        ([], "expected a JSON object"),
    ],
)
def test_invalid_manual_payload_names_the_field_and_changes_nothing(
    lambda_runtime: Runtime, recorder: CallRecorder, payload: Any, field: str
) -> None:
    with pytest.raises(InvalidRequestError, match=field):
        manual.handler(payload, FakeLambdaContext())
    assert recorder.mutations == []


def test_reconcile_reapplies_drift_and_extends_expiring_shifts(
    world: World, lambda_runtime: Runtime, session: boto3.Session, clock: ManualClock
) -> None:
    # Given an evacuated AZ
    manual.handler({"action": "evacuate", "az": AZ, "reason": "drill"}, FakeLambdaContext())
    evacuated = snapshot(world)
    # and someone put the AZ's subnet back into the web group
    subnets = ",".join(world.subnets.values())
    session.client("autoscaling").update_auto_scaling_group(
        AutoScalingGroupName="checkout-web", VPCZoneIdentifier=subnets
    )
    # and 5h30m have passed on a 6h shift
    clock.advance(timedelta(hours=5, minutes=30))
    before_expiry = world.fake.shifts(world.load_balancer_arn, status="ACTIVE")[0]["expiryTime"]

    # When the 5-minute reconciler runs
    report = reconcile.handler({"detail-type": "Scheduled Event"}, FakeLambdaContext())

    # Then the drift is undone and the shift now runs 6h from now
    assert snapshot(world) == evacuated
    assert len(report["extended_shifts"]) == 1
    after_expiry = world.fake.shifts(world.load_balancer_arn, status="ACTIVE")[0]["expiryTime"]
    assert after_expiry > before_expiry
    assert report["readiness_problems"] == []


def test_reconcile_reports_readiness_problems(
    world: World, lambda_runtime: Runtime, session: boto3.Session
) -> None:
    # Given the record for use1-az2 was deleted from the weighted set
    session.client("route53").change_resource_record_sets(
        HostedZoneId=world.zone_id,
        ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": {
            "Name": world.record_name, "Type": "A", "SetIdentifier": "checkout-use1-az2",
            "Weight": 150, "TTL": 60, "ResourceRecords": [{"Value": "10.20.2.10"}]}}]},
    )  # fmt: skip

    report = reconcile.handler({}, FakeLambdaContext())

    assert any("checkout-use1-az2" in p for p in report["readiness_problems"])


@pytest.fixture
def dynamodb_runtime(world: World, session: boto3.Session) -> Iterator[Runtime]:
    create_state_table(session.client("dynamodb"), "azevac-state")
    settings = Settings(config_reference=json.dumps(world.config()), table="azevac-state")
    rt = Runtime(settings, session)
    runtime.install(rt)
    set_alarm(session, ALARM)
    yield rt
    runtime.install(None)


def test_duplicate_alarm_event_starts_one_evacuation(
    world: World, dynamodb_runtime: Runtime, recorder: CallRecorder
) -> None:
    # Given the same EventBridge event delivered three times (at-least-once delivery)
    event = eventbridge(ALARM)
    answers = [alarm.handler(event, FakeLambdaContext()) for _ in range(3)]

    # Then one evacuation ran, the replays answered from the idempotency record
    assert {a["evacuation_id"] for a in answers} == {answers[0]["evacuation_id"]}
    starts = [m for m in recorder.mutations if m[1] == "StartZonalShift"]
    assert len(starts) == 1
    status = manual.handler({"action": "status"}, FakeLambdaContext())
    assert len(status["evacuations"]) == 1
    assert snapshot(world)["weights"]["checkout-use1-az1"] == 0


def test_full_cycle_on_the_dynamodb_store(world: World, dynamodb_runtime: Runtime) -> None:
    original = snapshot(world)
    done = alarm.handler(eventbridge(ALARM), FakeLambdaContext())
    assert done["status"] == "EVACUATED"
    recovered = manual.handler({"action": "recover", "az": AZ}, FakeLambdaContext())
    assert recovered["status"] == "RECOVERED"
    assert snapshot(world) == original
