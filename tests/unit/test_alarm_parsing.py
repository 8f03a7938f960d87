"""parse_alarm_event on any JSON: an AlarmSignal or an InvalidRequestError, nothing else."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evacuation.alarms import AlarmSignal, parse_alarm_event
from evacuation.errors import InvalidRequestError

KEYS = ["Records", "Sns", "Message", "MessageId", "alarmData", "alarmArn", "state", "value",
        "alarmName", "detail", "detail-type", "id", "previousState", "configuration"]  # fmt: skip

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=4), children, max_size=4)
    ),
    max_leaves=20,
)


@given(st.dictionaries(st.sampled_from(KEYS), json_values, max_size=5))
@settings(max_examples=500, deadline=None)
def test_any_json_object_parses_or_is_refused_by_name(event: dict[str, Any]) -> None:
    try:
        assert isinstance(parse_alarm_event(event), AlarmSignal)
    except InvalidRequestError as exc:
        assert str(exc).startswith("event:")


@pytest.mark.parametrize(
    "event",
    [
        # Found by `make reliability` (bad-input campaign): these raised StopIteration.
        {"Records": []},
        {"Records": {}},
        {"Records": "sns"},
    ],
)
def test_sns_event_without_records_is_refused(event: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequestError, match="Records must be a non-empty list"):
        parse_alarm_event(event)


def test_sns_alarm_notification_parses_to_its_signal() -> None:
    message = {"AlarmName": "checkout-use1-az1", "NewStateValue": "ALARM", "OldStateValue": "OK"}
    event = {"Records": [{"Sns": {"MessageId": "m-1", "Message": json.dumps(message)}}]}
    signal = parse_alarm_event(event)
    assert (signal.alarm_name, signal.state, signal.previous_state, signal.dedupe_key) == (
        "checkout-use1-az1",
        "ALARM",
        "OK",
        "sns:m-1",
    )
