"""CloudWatch: the current state of named alarms (metric and composite)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import partial
from typing import Any

from evacuation.aws.clients import AwsClients, Caller

BATCH = 100  # DescribeAlarms takes at most 100 names


class CloudWatchGateway:
    def __init__(self, clients: AwsClients, call: Caller) -> None:
        self._clients = clients
        self._call = call

    def alarm_states(self, names: Iterable[str]) -> Mapping[str, str]:
        """alarm name -> OK | ALARM | INSUFFICIENT_DATA, for the alarms that exist."""
        cloudwatch = self._clients.cloudwatch()
        wanted = sorted(set(names))
        states: dict[str, str] = {}
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
                    states[alarm["AlarmName"]] = alarm["StateValue"]
                if not response.get("NextToken"):
                    break
                kwargs["NextToken"] = response["NextToken"]
        return states
