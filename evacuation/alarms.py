"""Turn the three shapes a CloudWatch alarm reaches Lambda in into one signal, and decide.

Shapes (aws-facts.md section 9): an EventBridge "CloudWatch Alarm State Change" event (metric or
composite), an SNS notification whose Message is the alarm notification JSON, and the payload
CloudWatch sends when a Lambda function is itself the alarm action (`alarmData`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from aws_lambda_powertools.utilities.data_classes import (
    CloudWatchAlarmEvent,
    EventBridgeEvent,
    SNSEvent,
)

from evacuation.config import Config
from evacuation.errors import InvalidRequestError

AZ_ID_IN_NAME = re.compile(r"(?<![a-z0-9])([a-z]{2,5}[0-9]-az[0-9]{1,2})(?![0-9])")


@dataclass(frozen=True)
class AlarmSignal:
    alarm_name: str
    state: str
    previous_state: str | None
    reason: str
    dedupe_key: str
    """Same for every delivery of one state change: the idempotency key."""
    source: str
    account: str | None = None
    """The account the event says the alarm is in (None: the event does not say)."""
    region: str | None = None
    time: str | None = None
    """When the event was emitted (ISO 8601), as the event says."""


class EventOrigin(Protocol):
    """Where and when an event says it was sent: what `verify_origin` checks, for an alarm
    signal and for an ARC autoshift signal (evacuation/autoshift_events.py) alike."""

    @property
    def account(self) -> str | None: ...

    @property
    def region(self) -> str | None: ...

    @property
    def time(self) -> str | None: ...


@dataclass(frozen=True)
class FunctionIdentity:
    """The account and region this function runs in: an alarm event must come from them."""

    account: str | None
    region: str | None


ARN = re.compile(r"^arn:[a-z-]+:[a-z0-9-]+:(?P<region>[a-z0-9-]*):(?P<account>[0-9]{12}):")


def arn_account_region(arn: object) -> tuple[str | None, str | None]:
    """(account, region) of an ARN; (None, None) for anything that is not one."""
    match = ARN.match(arn) if isinstance(arn, str) else None
    if match is None:
        return None, None
    return match.group("account"), match.group("region") or None


@dataclass(frozen=True)
class AlarmDecision:
    az_id: str | None
    """The AZ to evacuate, or None: the signal is logged and nothing changes."""
    why: str


def parse_alarm_event(event: Any) -> AlarmSignal:
    """One AlarmSignal from any of the three shapes; InvalidRequestError names what is wrong."""
    if not isinstance(event, Mapping):
        raise InvalidRequestError(f"event: expected a JSON object, got {type(event).__name__}")
    try:
        if "Records" in event:
            return _from_sns(event)
        if "alarmData" in event:
            return _from_alarm_action(event)
        if event.get("detail-type") == "CloudWatch Alarm State Change":
            return _from_eventbridge(event)
    except (KeyError, TypeError, AttributeError, IndexError) as exc:
        raise InvalidRequestError(f"event: malformed alarm event, missing or bad {exc}") from exc
    raise InvalidRequestError(
        "event: not a CloudWatch alarm event (expected an EventBridge alarm state change, "
        "an SNS alarm notification, or an alarm action payload with alarmData)"
    )


def _text(value: object, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidRequestError(f"event: {what} must be a non-empty string")
    return value


def _optional(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _from_eventbridge(raw: Mapping[str, Any]) -> AlarmSignal:
    event = EventBridgeEvent(dict(raw))
    detail = event.detail
    state = detail["state"]
    previous = detail.get("previousState") or {}
    return AlarmSignal(
        alarm_name=_text(detail.get("alarmName"), "detail.alarmName"),
        state=_text(state.get("value"), "detail.state.value"),
        previous_state=previous.get("value"),
        reason=str(state.get("reason", "")),
        dedupe_key=f"eventbridge:{_text(event.get_id, 'id')}",
        source="eventbridge",
        account=_optional(raw.get("account")),
        region=_optional(raw.get("region")),
        time=_optional(raw.get("time")),
    )


def _from_alarm_action(raw: Mapping[str, Any]) -> AlarmSignal:
    event = CloudWatchAlarmEvent(dict(raw))
    data = event.alarm_data
    name = _text(data.alarm_name, "alarmData.alarmName")
    state = _text(data.state.value, "alarmData.state.value")
    return AlarmSignal(
        alarm_name=name,
        state=state,
        previous_state=data.previous_state.value if data.previous_state else None,
        reason=str(data.state.reason or ""),
        dedupe_key=f"alarm-action:{event.alarm_arn}:{data.state.timestamp}",
        source="alarm-action",
        account=_optional(raw.get("accountId")) or arn_account_region(raw.get("alarmArn"))[0],
        region=_optional(raw.get("region")) or arn_account_region(raw.get("alarmArn"))[1],
        time=_optional(raw.get("time")) or _optional(data.state.timestamp),
    )


def _from_sns(raw: Mapping[str, Any]) -> AlarmSignal:
    records = raw["Records"]
    # SNSEvent.record is next() over Records: an empty list would raise StopIteration.
    if not isinstance(records, list) or not records:
        raise InvalidRequestError("event: Records must be a non-empty list of SNS records")
    event = SNSEvent(dict(raw))
    record = event.record.sns
    try:
        message = json.loads(record.message)
    except json.JSONDecodeError as exc:
        raise InvalidRequestError(f"event: SNS Message is not JSON: {exc.msg}") from exc
    if not isinstance(message, dict):
        raise InvalidRequestError("event: SNS Message is not a JSON object")
    return AlarmSignal(
        alarm_name=_text(message.get("AlarmName"), "Sns.Message.AlarmName"),
        state=_text(message.get("NewStateValue"), "Sns.Message.NewStateValue"),
        previous_state=message.get("OldStateValue"),
        reason=str(message.get("NewStateReason", "")),
        dedupe_key=f"sns:{_text(record.message_id, 'Sns.MessageId')}",
        source="sns",
        # The message's Region is a display name ("US East (N. Virginia)"): the ARN says it.
        account=arn_account_region(message.get("AlarmArn"))[0]
        or _optional(message.get("AWSAccountId")),
        region=arn_account_region(message.get("AlarmArn"))[1],
        time=_optional(message.get("StateChangeTime"))
        or _optional(records[0].get("Sns", {}).get("Timestamp")),
    )


def parse_time(text: str) -> datetime | None:
    """An event timestamp ("2026-11-22T10:04:40Z", "...40.985+0000") as UTC; None if unreadable."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


MAX_CLOCK_SKEW_SECONDS = 300
"""An event may carry a time this far ahead of ours (clock skew); further is not believed."""


def verify_origin(
    signal: EventOrigin, identity: FunctionIdentity, now: datetime, max_age_seconds: int
) -> str | None:
    """Why an event must be ignored before anything is read or changed, or None.

    The event must say it comes from this function's own account and region, and be recent:
    an async retry can deliver an event up to an hour late, long after the alarm it reports."""
    if identity.account is None or identity.region is None:
        return "this function's own account or region is unknown, so the event cannot be checked"
    if signal.account != identity.account:
        return f"event is from account {signal.account}, not this function's {identity.account}"
    if signal.region != identity.region:
        return f"event is from region {signal.region}, not this function's {identity.region}"
    if signal.time is None:
        return "event carries no time, so its age cannot be checked"
    emitted = parse_time(signal.time)
    if emitted is None:
        return f"event time {signal.time!r} is not an ISO 8601 timestamp"
    age = (now - emitted).total_seconds()
    if age > max_age_seconds:
        return f"event is stale: {age:.0f}s old, more than max_event_age_seconds={max_age_seconds}"
    if age < -MAX_CLOCK_SKEW_SECONDS:
        return f"event time {signal.time} is {-age:.0f}s in the future"
    return None


def decide(signal: AlarmSignal, config: Config) -> AlarmDecision:
    """Evacuate only on a fresh ALARM from an alarm the config maps to an AZ of this workload
    (or, with alarms_by_name_pattern, that names one)."""
    if signal.state != "ALARM":
        return AlarmDecision(None, f"state is {signal.state}, not ALARM")
    if signal.previous_state == "ALARM":
        return AlarmDecision(None, "ALARM to ALARM repeat (a suppression change), not a new alarm")
    az_id = config.alarms.get(signal.alarm_name)
    if az_id is not None:
        return AlarmDecision(az_id, "alarm is mapped in the config")
    if not config.alarms_by_name_pattern:
        return AlarmDecision(
            None, "alarm is not mapped in the config (alarms) and alarms_by_name_pattern is off"
        )
    match = AZ_ID_IN_NAME.search(signal.alarm_name)
    if match is not None:
        return AlarmDecision(match.group(1), "AZ id found in the alarm name")
    return AlarmDecision(None, "alarm is not mapped in the config and names no AZ id")
