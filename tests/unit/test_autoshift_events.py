"""ARC autoshift events (DET-8): parsing the documented shape, refusing malformed ones, the
origin checks shared with alarm events, and the pure recovery and paging decisions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from evacuation.alarms import FunctionIdentity, verify_origin
from evacuation.autoshift_events import (
    AutoshiftPhase,
    is_autoshift_event,
    not_moved_by_aws,
    parse_autoshift_event,
    recovery_not_due,
)
from evacuation.aws.cloudwatch import AlarmState
from evacuation.config import parse_config
from evacuation.errors import ConfigurationError, InvalidRequestError
from evacuation.model import Outcome, StepKey, StepKind, StepRecord

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
IDENTITY = FunctionIdentity(account="111122223333", region="us-east-1")
DOCUMENTED: dict[str, Any] = {  # the ARC developer guide's example, observer notification on
    "version": "0",
    "id": "05d4d2d5-9c76-bfea-72d2-d4614802adb4",
    "detail-type": "Autoshift In Progress",
    "source": "aws.arc-zonal-shift",
    "account": "111122223333",
    "time": "2026-11-22T09:59:00Z",
    "region": "us-east-1",
    "resources": [],
    "detail": {
        "version": "0.0.1",
        "data": "",
        "metadata": {"awayFrom": "use1-az2", "notes": "AWS has started an autoshift ..."},
    },
}


def _with(**changes: Any) -> dict[str, Any]:
    return {**DOCUMENTED, **changes}


def test_the_documented_event_parses_to_a_started_signal() -> None:
    signal = parse_autoshift_event(DOCUMENTED)

    assert signal.phase is AutoshiftPhase.STARTED
    assert signal.away_from == "use1-az2"
    assert signal.dedupe_key == "eventbridge:05d4d2d5-9c76-bfea-72d2-d4614802adb4"
    assert (signal.account, signal.region) == ("111122223333", "us-east-1")
    assert verify_origin(signal, IDENTITY, NOW, 600) is None


def test_completed_is_the_end_and_other_arc_detail_types_have_no_phase() -> None:
    assert parse_autoshift_event(_with(**{"detail-type": "Autoshift Completed"})).phase is (
        AutoshiftPhase.ENDED
    )
    practice = parse_autoshift_event(_with(**{"detail-type": "Practice Run Started"}))
    assert practice.phase is None
    fis = parse_autoshift_event(_with(**{"detail-type": "FIS Experiment Autoshift In Progress"}))
    assert fis.phase is None


def test_only_arc_events_are_autoshift_events() -> None:
    assert is_autoshift_event(DOCUMENTED)
    assert not is_autoshift_event({**DOCUMENTED, "source": "aws.cloudwatch"})
    assert not is_autoshift_event(["not", "a", "mapping"])


@pytest.mark.parametrize(
    ("event", "why"),
    [
        (_with(detail={"version": "0.0.1", "data": ""}), "without detail.metadata"),
        (_with(detail="x"), "without detail.metadata"),
        (_with(detail={"metadata": {}}), "awayFrom must be a non-empty string"),
        (_with(detail={"metadata": {"awayFrom": 7}}), "awayFrom must be a non-empty string"),
        (_with(detail={"metadata": {"awayFrom": "u" * 21}}), "longer than an AZ ID"),
        (_with(id=""), "id must be a non-empty string"),
        (_with(**{"detail-type": None}), "detail-type must be a non-empty string"),
        (_with(source="aws.cloudwatch"), "not an ARC zonal shift event"),
    ],
)
def test_malformed_events_are_refused_naming_what_is_wrong(event: Any, why: str) -> None:
    with pytest.raises(InvalidRequestError, match=why):
        parse_autoshift_event(event)


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"account": "999999999999"}, "from account 999999999999"),
        ({"region": "eu-west-1"}, "from region eu-west-1"),
        ({"time": "2026-11-22T09:00:00Z"}, "stale"),
        ({"time": "2026-11-22T11:00:00Z"}, "in the future"),
        ({"time": "yesterday"}, "not an ISO 8601 timestamp"),
        ({"time": None}, "carries no time"),
    ],
)
def test_forged_foreign_and_stale_events_fail_the_origin_check(
    changes: dict[str, Any], why: str
) -> None:
    signal = parse_autoshift_event(_with(**changes))
    found = verify_origin(signal, IDENTITY, NOW, 600)
    assert found is not None and why in found, found


def _ok(minutes_ago: float) -> AlarmState:
    return AlarmState("OK", NOW - timedelta(minutes=minutes_ago))


def test_recovery_is_due_only_when_every_alarm_of_the_az_has_been_ok_long_enough() -> None:
    names = ["a", "b"]
    assert recovery_not_due("use1-az1", names, {"a": _ok(31), "b": _ok(30)}, NOW, 30) is None
    waiting = recovery_not_due("use1-az1", names, {"a": _ok(31), "b": _ok(5)}, NOW, 30)
    assert waiting is not None and "b OK since 09:55:00Z (due 10:25:00Z)" in waiting
    alarm = recovery_not_due(
        "use1-az1", names, {"a": _ok(60), "b": AlarmState("ALARM", NOW)}, NOW, 0
    )
    assert alarm == "alarm b of use1-az1 is ALARM, not OK"
    missing = recovery_not_due("use1-az1", names, {"a": _ok(60)}, NOW, 0)
    assert missing == "alarm b of use1-az1 does not exist in CloudWatch"
    untimed = recovery_not_due("use1-az1", ["a"], {"a": AlarmState("OK", None)}, NOW, 0)
    assert untimed is not None and "no time since when" in untimed


def test_an_az_without_alarms_is_never_due() -> None:
    found = recovery_not_due("use1-az1", [], {}, NOW, 0)
    assert found is not None and "cannot tell it is healthy" in found


def _step(kind: StepKind, resource: str, outcome: Outcome = Outcome.PLANNED) -> StepRecord:
    return StepRecord(StepKey(kind, resource), outcome)


def test_the_page_lists_what_arc_does_not_move_and_only_what_would_change() -> None:
    steps = [
        _step(StepKind.ZONAL_SHIFT, "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/a"),
        _step(StepKind.ROUTE53_WEIGHT, "api.example.com. A az1"),
        _step(StepKind.DB_FAILOVER, "orders"),
        _step(StepKind.CACHE_PRIMARY, "sessions", Outcome.UNCHANGED),  # primary elsewhere
        *(_step(StepKind.ASG_SUBNETS, f"group-{n}") for n in range(7)),
    ]

    lines = not_moved_by_aws(steps)

    assert lines == [
        "asg_subnets: 7 (group-0, group-1, group-2, group-3, group-4 and 2 more)",
        "db_failover: 1 (orders)",
        "route53_weight: 1 (api.example.com. A az1)",
    ]


def test_triggers_default_to_notify_without_recovery_and_refuse_other_values() -> None:
    arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/0123abcd"
    base = {"workload": "w", "zonal_shift": {"resources": [arn]}}
    config = parse_config(base)
    assert (config.triggers.aws_autoshift, config.triggers.aws_autoshift_recover) == (
        "notify",
        False,
    )
    with pytest.raises(ConfigurationError, match=r"triggers\.aws_autoshift"):
        parse_config({**base, "triggers": {"aws_autoshift": "yes"}})
    with pytest.raises(ConfigurationError, match=r"triggers\.cooldown_minutes: unknown key"):
        parse_config({**base, "triggers": {"cooldown_minutes": 5}})
    with pytest.raises(ConfigurationError, match=r"triggers\.aws_autoshift_recover"):
        parse_config({**base, "triggers": {"aws_autoshift_recover": "true"}})
