"""The sample events in events/ (the ones `sam local invoke -e` uses) and the answer each must
get: one expectation, checked in-process (tests/integration/test_events.py) and against the
built Lambda artifact (tests/package/test_artifact_runs.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3

from tests.support.alarm_events import fresh, set_alarm

EVENTS = sorted((Path(__file__).parents[2] / "events").glob("*.json"))
EVACUATED_WEIGHT = "checkout-use1-az1"
"""The world's weighted record in use1-az1 (the AZ every sample event names)."""

SETUP: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "manual-recover": [("manual", {"action": "evacuate", "az": "use1-az1"})],  # to recover
}
"""Invocations (handler, event) that must come first, in the same container."""


ALARM = "checkout-use1-az1-isolated-impact"
"""The alarm every sample alarm event names."""


def load(path: Path) -> Any:
    """A sample event as it would arrive now: the alarm handler ignores stale events, so the
    samples' times are moved to the present (the file keeps a fixed, readable date)."""
    event = json.loads(path.read_text(encoding="utf-8"))
    return fresh(event) if handler_of(path) == "alarm" else event


def fire(session: boto3.Session, path: Path) -> None:
    """Put the world in the state the sample reports: its alarm in ALARM in CloudWatch (the
    handler re-reads it before acting). The OK sample needs nothing."""
    if (
        handler_of(path) == "alarm"
        and path.stem != "alarm-eventbridge-ok"
        and not is_autoshift(path)
    ):
        set_alarm(session, ALARM)


def is_autoshift(path: Path) -> bool:
    """An ARC autoshift event (to the alarm function): it fires no alarm."""
    return path.stem.startswith("alarm-autoshift-")


def handler_of(path: Path) -> str:
    """The handler a sample event is for: "alarm", "manual" or "reconcile"."""
    return path.stem.split("-", 1)[0]


def check_answer(
    stem: str, answer: dict[str, Any], before: dict[str, Any], after: dict[str, Any]
) -> None:
    """Assert the handler's answer, and AWS as read back before and after (world.snapshot)."""
    expected = {
        "alarm-eventbridge-ok": "IGNORED",
        # ARC's autoshift events (the default triggers.aws_autoshift is notify): AWS shows no
        # active autoshift, so the start is not confirmed; the end pages that nothing is held.
        "alarm-autoshift-in-progress": "IGNORED",
        "alarm-autoshift-completed": "NOTIFIED",
        "manual-plan": "PLANNED",
        "manual-recover": "RECOVERED",
        "manual-status": "OK",
    }.get(stem, "EVACUATED")
    if stem == "reconcile-schedule":
        assert answer["readiness_problems"] == [] and answer["evacuations"] == []
        return
    assert answer["status"] == expected, answer
    if expected == "EVACUATED":
        assert after["weights"][EVACUATED_WEIGHT] == 0
    else:
        assert after == before
