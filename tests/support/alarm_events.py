"""Alarm events as CloudWatch sends them now: the alarm handler ignores stale events and re-reads
the alarm's state, so a test fires the alarm in CloudWatch and stamps the event with the time."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

ACCOUNT = "123456789012"
REGION = "us-east-1"


def stamp(at: datetime | None = None) -> str:
    """An EventBridge time: 2026-11-22T10:00:00Z."""
    return (at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")


def state_stamp(at: datetime | None = None) -> str:
    """An alarm state timestamp: 2026-11-22T10:00:00.000+0000."""
    moment = at or datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def fresh(event: Any, age: timedelta = timedelta(0)) -> Any:
    """A copy of a sample alarm event (any of the three shapes, or an ARC autoshift event)
    sent `age` ago."""
    if not isinstance(event, dict):
        return event
    event = copy.deepcopy(event)
    at = datetime.now(UTC) - age
    if event.get("source") == "aws.arc-zonal-shift":  # an ARC autoshift event
        event["time"] = stamp(at)
    elif event.get("detail-type") == "CloudWatch Alarm State Change":
        event["time"] = stamp(at)
        if isinstance(event.get("detail", {}).get("state"), dict):
            event["detail"]["state"]["timestamp"] = state_stamp(at)
    elif "alarmData" in event:
        event["time"] = state_stamp(at)
        event["alarmData"]["state"]["timestamp"] = state_stamp(at)
    elif "Records" in event:
        record = event["Records"][0]["Sns"]
        record["Timestamp"] = at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"
        message = json.loads(record["Message"])
        message["StateChangeTime"] = state_stamp(at)
        record["Message"] = json.dumps(message)
    return event


def set_alarm(session: boto3.Session, name: str, state: str = "ALARM") -> None:
    """Put the alarm into `state` in (moto's) CloudWatch, as the world would: through a session
    of its own, so the test's CallRecorder and fault injector do not see it as azevac's call."""
    del session  # same endpoint and region (mock_aws or AWS_ENDPOINT_URL), none of its hooks
    boto3.Session(region_name=REGION).client("cloudwatch").set_alarm_state(
        AlarmName=name, StateValue=state, StateReason="test"
    )


def eventbridge(
    name: str,
    state: str = "ALARM",
    previous: str = "OK",
    *,
    account: str = ACCOUNT,
    region: str = REGION,
    age: timedelta = timedelta(0),
    event_id: str | None = None,
) -> dict[str, Any]:
    """The EventBridge "CloudWatch Alarm State Change" event for `name`, sent `age` ago."""
    at = datetime.now(UTC) - age
    return {
        "version": "0",
        "id": event_id or f"evt-{name}-{state}-{account}-{region}-{int(age.total_seconds())}",
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": account,
        "time": stamp(at),
        "region": region,
        "resources": [f"arn:aws:cloudwatch:{region}:{account}:alarm:{name}"],
        "detail": {
            "alarmName": name,
            "state": {"value": state, "reason": "5xx in one AZ", "timestamp": state_stamp(at)},
            "previousState": {"value": previous, "reason": "", "timestamp": state_stamp(at)},
            "configuration": {"description": "per-AZ isolated impact"},
        },
    }
