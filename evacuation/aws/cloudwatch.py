"""CloudWatch: the current state of named alarms (metric and composite)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from evacuation.aws.clients import AwsClients, Caller

BATCH = 100  # DescribeAlarms takes at most 100 names


@dataclass(frozen=True)
class AlarmState:
    """An alarm's state and since when it has held it."""

    state: str
    since: datetime | None
    """`StateTransitionedTimestamp` ("The date and time that the alarm's StateValue most
    recently changed"), else `StateUpdatedTimestamp` (the last update of the state value or its
    evaluation state: never earlier, so an alarm is never taken as OK for longer than it was;
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricAlarm.html).
    None when DescribeAlarms gives neither."""


class CloudWatchGateway:
    def __init__(self, clients: AwsClients, call: Caller) -> None:
        self._clients = clients
        self._call = call

    def alarm_states(self, names: Iterable[str]) -> Mapping[str, str]:
        """alarm name -> OK | ALARM | INSUFFICIENT_DATA, for the alarms that exist."""
        return {name: alarm["StateValue"] for name, alarm in self._describe(names).items()}

    def alarm_details(self, names: Iterable[str]) -> Mapping[str, AlarmState]:
        """alarm name -> its state and since when, for the alarms that exist."""
        return {
            name: AlarmState(
                alarm["StateValue"],
                alarm.get("StateTransitionedTimestamp") or alarm.get("StateUpdatedTimestamp"),
            )
            for name, alarm in self._describe(names).items()
        }

    def _describe(self, names: Iterable[str]) -> Mapping[str, Mapping[str, Any]]:
        cloudwatch = self._clients.cloudwatch()
        wanted = sorted(set(names))
        states: dict[str, Mapping[str, Any]] = {}
        for start in range(0, len(wanted), BATCH):
            kwargs: dict[str, Any] = {
                "AlarmNames": wanted[start : start + BATCH],
                "AlarmTypes": ["MetricAlarm", "CompositeAlarm"],
            }
            while True:
                response = self._call(
                    "cloudwatch.DescribeAlarms", partial(cloudwatch.describe_alarms, **kwargs)
                )
                for alarm in [
                    *response.get("MetricAlarms", []),
                    *response.get("CompositeAlarms", []),
                ]:
                    states[alarm["AlarmName"]] = alarm
                if not response.get("NextToken"):
                    break
                kwargs["NextToken"] = response["NextToken"]
        return states
