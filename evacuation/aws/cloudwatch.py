"""CloudWatch: the current state of named alarms (metric and composite); and, for the detection
kit's sandbox check only, creating and deleting alarm definitions and Contributor Insights rules."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
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

    def dimension_sets(
        self, namespace: str, metric: str, dimensions: Mapping[str, str]
    ) -> set[frozenset[tuple[str, str]]]:
        """The dimension sets `metric` was published with in the last 3 hours, among those that
        carry `dimensions` (ListMetrics, RecentlyActive PT3H; a set that carries more
        dimensions is listed too)."""
        cloudwatch = self._clients.cloudwatch()
        kwargs: dict[str, Any] = {
            "Namespace": namespace,
            "MetricName": metric,
            "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(dimensions.items())],
            "RecentlyActive": "PT3H",
        }
        found: set[frozenset[tuple[str, str]]] = set()
        while True:
            response = self._call(
                "cloudwatch.ListMetrics", partial(cloudwatch.list_metrics, **kwargs)
            )
            for listed in response.get("Metrics", []):
                found.add(frozenset((d["Name"], d["Value"]) for d in listed.get("Dimensions", [])))
            if not response.get("NextToken"):
                return found
            kwargs["NextToken"] = response["NextToken"]

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


class AlarmDefinitions:
    """Creates and deletes alarm definitions and Contributor Insights rules: only for
    `evacuation.detection.validate` (`make detect-validate`), which proves the detection stack's
    shapes against a sandbox account. azevac itself never writes alarms.

    PutMetricAlarm, PutCompositeAlarm and DeleteAlarms are 3 TPS per Region
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_limits.html):
    pace the Caller below that."""

    def __init__(self, clients: AwsClients, call: Caller) -> None:
        self._clients = clients
        self._call = call

    def put_metric_alarm(self, request: Mapping[str, Any]) -> None:
        cloudwatch = self._clients.cloudwatch()
        self._call("cloudwatch.PutMetricAlarm", partial(cloudwatch.put_metric_alarm, **request))

    def put_composite_alarm(self, request: Mapping[str, Any]) -> None:
        cloudwatch = self._clients.cloudwatch()
        self._call(
            "cloudwatch.PutCompositeAlarm", partial(cloudwatch.put_composite_alarm, **request)
        )

    def put_insight_rule(self, request: Mapping[str, Any]) -> None:
        cloudwatch = self._clients.cloudwatch()
        self._call("cloudwatch.PutInsightRule", partial(cloudwatch.put_insight_rule, **request))

    def alarms_named(self, prefix: str) -> dict[str, str]:
        """name -> MetricAlarm | CompositeAlarm, for every alarm whose name starts with `prefix`."""
        cloudwatch = self._clients.cloudwatch()
        kwargs: dict[str, Any] = {
            "AlarmNamePrefix": prefix,
            "AlarmTypes": ["MetricAlarm", "CompositeAlarm"],
        }
        found: dict[str, str] = {}
        while True:
            response = self._call(
                "cloudwatch.DescribeAlarms", partial(cloudwatch.describe_alarms, **kwargs)
            )
            for alarm in response.get("MetricAlarms", []):
                found[alarm["AlarmName"]] = "MetricAlarm"
            for composite in response.get("CompositeAlarms", []):
                found[composite["AlarmName"]] = "CompositeAlarm"
            if not response.get("NextToken"):
                return found
            kwargs["NextToken"] = response["NextToken"]

    def insight_rules_named(self, prefix: str) -> set[str]:
        """The Contributor Insights rules whose name starts with `prefix` (DescribeInsightRules
        has no name filter: it lists every rule)."""
        cloudwatch = self._clients.cloudwatch()
        kwargs: dict[str, Any] = {}
        found: set[str] = set()
        while True:
            response = self._call(
                "cloudwatch.DescribeInsightRules",
                partial(cloudwatch.describe_insight_rules, **kwargs),
            )
            found |= {
                r["Name"] for r in response.get("InsightRules", []) if r["Name"].startswith(prefix)
            }
            if not response.get("NextToken"):
                return found
            kwargs["NextToken"] = response["NextToken"]

    def delete_alarms(self, names: Sequence[str]) -> None:
        """One DeleteAlarms call: up to 100 names, at most one of them a composite alarm
        (API_DeleteAlarms)."""
        cloudwatch = self._clients.cloudwatch()
        self._call(
            "cloudwatch.DeleteAlarms", partial(cloudwatch.delete_alarms, AlarmNames=list(names))
        )

    def delete_insight_rules(self, names: Sequence[str]) -> list[str]:
        """Deletes the rules; returns AWS's failures, one line per rule it did not delete."""
        cloudwatch = self._clients.cloudwatch()
        response = self._call(
            "cloudwatch.DeleteInsightRules",
            partial(cloudwatch.delete_insight_rules, RuleNames=list(names)),
        )
        return [
            " ".join(
                (f"{f.get('FailureResource', '?')}:", f.get("ExceptionType", ""),
                 f.get("FailureDescription", ""))
            ).strip()
            for f in response.get("Failures", [])
        ]  # fmt: skip
