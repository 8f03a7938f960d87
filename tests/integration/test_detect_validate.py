"""`make detect-validate` on moto: every shape is sent with actions disabled under the run's
prefix, a refusal is reported with AWS's message, and whatever happens everything sent is
deleted, read back from moto, and nothing else is touched."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from evacuation.aws.clients import AwsClients, Caller
from evacuation.aws.cloudwatch import AlarmDefinitions
from evacuation.config import parse_config
from evacuation.detection import validate
from evacuation.detection.generate import build_template
from evacuation.retry import Deadline, RetryPolicy
from tests.support.cloudwatch_sandbox import CloudWatchSandbox

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "detection" / "config.example.json"
PREFIX = "azevac-validate-test1-"
ZSCORE = f"{PREFIX}azevac-signal-checkout-use1-az1-latency-zscore"


def _template(**detection: Any) -> dict[str, Any]:
    raw = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    raw["detection"] |= detection
    config = parse_config(raw)
    assert config.detection is not None
    return build_template(config.workload, config.detection)


@pytest.fixture
def aws() -> Iterator[boto3.Session]:
    with mock_aws():
        yield boto3.Session(region_name="us-east-1")


def _target(session: boto3.Session) -> AlarmDefinitions:
    return AlarmDefinitions(
        AwsClients(session), Caller(RetryPolicy(Deadline.within(30), max_attempts=2))
    )


def _ours(session: boto3.Session, prefix: str = PREFIX) -> list[str]:
    cloudwatch = session.client("cloudwatch")
    alarms = cloudwatch.describe_alarms(AlarmNamePrefix=prefix)
    rules = cloudwatch.describe_insight_rules()["InsightRules"]
    return [
        *(a["AlarmName"] for a in alarms["MetricAlarms"]),
        *(a["AlarmName"] for a in alarms["CompositeAlarms"]),
        *(r["Name"] for r in rules if r["Name"].startswith(prefix)),
    ]


def _foreign_alarm(session: boto3.Session, name: str) -> None:
    session.client("cloudwatch").put_metric_alarm(
        AlarmName=name,
        Namespace="other",
        MetricName="m",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanThreshold",
    )


def test_every_shape_is_sent_disabled_under_the_prefix_and_all_of_it_is_deleted(
    aws: boto3.Session,
) -> None:
    # Someone's real alarm, and another run's, must survive.
    _foreign_alarm(aws, "checkout-regional-impact")
    _foreign_alarm(aws, "azevac-validate-other-x")
    sandbox = CloudWatchSandbox()
    sandbox.install(aws)
    template = _template()
    shapes = validate.plan(template, PREFIX, {})

    report = validate.validate(shapes, _target(aws), PREFIX)

    resources = [
        r for r in template["Resources"].values() if r["Type"] != "AWS::CloudWatch::Dashboard"
    ]
    kinds = [r["Type"].split("::")[-1] for r in resources]
    counts = tuple(kinds.count(k) for k in ("Alarm", "CompositeAlarm", "InsightRule"))
    assert counts[0] > 0 and counts[1] > 0 and counts[2] > 0
    assert len(report.outcomes) == len(resources)
    assert report.refused == [] and report.exit_code == 0
    metric, composite = sandbox.sent("PutMetricAlarm"), sandbox.sent("PutCompositeAlarm")
    rules = sandbox.sent("PutInsightRule")
    assert (len(metric), len(composite), len(rules)) == counts
    for request in [*metric, *composite]:
        assert request["AlarmName"].startswith(PREFIX)
        assert request["ActionsEnabled"] is False
        assert not {"AlarmActions", "OKActions", "InsufficientDataActions"} & set(request)
    for request in rules:
        assert request["RuleName"].startswith(PREFIX) and request["RuleState"] == "DISABLED"
        json.loads(request["RuleDefinition"])
    # The same math and M of N as the template; INSIGHT_RULE_METRIC reads the temporary rules.
    by_name = {
        r["Properties"]["AlarmName"]: r["Properties"]
        for r in resources
        if "AlarmName" in r["Properties"]
    }
    for request in metric:
        original = by_name[request["AlarmName"].removeprefix(PREFIX)]
        for key in ("Threshold", "ComparisonOperator", "EvaluationPeriods", "DatapointsToAlarm"):
            assert request[key] == original[key]
        assert [q["Id"] for q in request["Metrics"]] == [q["Id"] for q in original["Metrics"]]
        for query in request["Metrics"]:
            for rule in re.findall(r"INSIGHT_RULE_METRIC\('([^']+)'", query.get("Expression", "")):
                assert rule.startswith(PREFIX)
    # Composites name only temporary alarms, each sent after every alarm it names.
    sent_before: set[str] = {r["AlarmName"] for r in metric}
    for request in composite:
        named = set(re.findall(r'ALARM\("([^"]+)"\)', request["AlarmRule"]))
        assert named and named <= sent_before, request["AlarmName"]
        sent_before.add(request["AlarmName"])
    # Everything sent is gone (read back from moto); the others are untouched.
    assert _ours(aws) == []
    assert sorted(report.deleted) == sorted(s.temp_name for s in shapes)
    assert {a["AlarmName"] for a in aws.client("cloudwatch").describe_alarms()["MetricAlarms"]} == {
        "checkout-regional-impact",
        "azevac-validate-other-x",
    }
    # One composite per DeleteAlarms call (API_DeleteAlarms), parents before children.
    order = [names[0].removeprefix(PREFIX) for names in sandbox.deletes if len(names) == 1]
    assert len(order) == counts[1]
    assert (
        order.index("checkout-regional-impact")
        < order.index("checkout-use1-az1-isolated-impact")
        < order.index("azevac-signal-checkout-use1-az1-impact")
    )
    # then the metric alarms, at most 100 to a call
    assert len(sandbox.deletes) == counts[1] + -(-counts[0] // 100)


def test_a_refused_alarm_is_reported_with_awss_message_and_the_rest_is_still_deleted(
    aws: boto3.Session, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox = CloudWatchSandbox(refuse={ZSCORE: "Invalid expression in query z"})
    sandbox.install(aws)
    template = ROOT / "detection" / "detection.yaml"

    code = validate.main(
        ["--template", str(template), "--prefix", PREFIX], target_for=lambda _: _target(aws)
    )

    assert code == validate.EXIT_REFUSED
    out = capsys.readouterr().out
    assert "REFUSED   metric alarm    azevac-signal-checkout-use1-az1-latency-zscore: " in out
    assert "ValidationError: Invalid expression in query z" in out
    # The composites that name it cannot be made either; both are reported.
    refused = [
        line.split(":")[0].split()[-1] for line in out.splitlines() if line.startswith("REFUSED")
    ]
    assert refused == [
        "azevac-signal-checkout-use1-az1-latency-zscore",
        "checkout-use1-az1-isolated-impact",
        "checkout-regional-impact",
    ]
    shapes = validate.plan(json.loads(template.read_text(encoding="utf-8")), PREFIX, {})
    assert f"{len(shapes) - 3} of {len(shapes)} accepted, 3 refused" in out
    assert _ours(aws) == []


def test_cleanup_runs_when_the_run_dies_midway(aws: boto3.Session) -> None:
    CloudWatchSandbox().install(aws)
    target = _target(aws)
    shapes = validate.plan(_template(), PREFIX, {})
    sent = 0
    put = target.put_metric_alarm

    def dying(request: Any) -> None:
        nonlocal sent
        sent += 1
        if sent == 5:
            raise KeyboardInterrupt
        put(request)

    target.put_metric_alarm = dying  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        validate.validate(shapes, target, PREFIX)
    assert _ours(aws) == []


def test_a_prefix_in_use_sends_nothing(aws: boto3.Session) -> None:
    _foreign_alarm(aws, f"{PREFIX}someone-elses")
    sandbox = CloudWatchSandbox()
    sandbox.install(aws)
    with pytest.raises(validate.PlanError, match="is in use"):
        validate.validate(validate.plan(_template(), PREFIX, {}), _target(aws), PREFIX)
    assert sandbox.requests == [] and sandbox.deletes == []
    assert _ours(aws) == [f"{PREFIX}someone-elses"]


def test_load_balancer_dimensions_come_from_parameters_or_the_configs_default() -> None:
    template = _template(
        signal="load_balancer",
        load_balancer={
            "zones": {"use1-az1": "us-east-1b", "use1-az2": "us-east-1c", "use1-az6": "us-east-1a"}
        },
    )
    with pytest.raises(validate.PlanError, match="give --parameter LoadBalancer="):
        validate.plan(template, PREFIX, {})
    with pytest.raises(validate.PlanError, match="does not match"):
        validate.plan(template, PREFIX, {"LoadBalancer": "checkout-alb"})
    lb = "app/checkout-alb/0123456789abcdef"
    given = validate.plan(template, PREFIX, {"LoadBalancer": lb})
    defaulted = validate.plan(
        _template(
            signal="load_balancer",
            load_balancer={
                "full_name": lb,
                "zones": {
                    "use1-az1": "us-east-1b",
                    "use1-az2": "us-east-1c",
                    "use1-az6": "us-east-1a",
                },
            },
        ),
        PREFIX,
        {},
    )
    for shapes in (given, defaulted):
        values = {
            d["Value"]
            for s in shapes
            for q in s.request.get("Metrics", [])
            for d in q.get("MetricStat", {}).get("Metric", {}).get("Dimensions", [])
            if d["Name"] == "LoadBalancer"
        }
        assert values == {lb}


@pytest.mark.parametrize("prefix", ["checkout-", "azevac-validate-", "azevac-validate-a b-"])
def test_only_an_azevac_validate_prefix_is_accepted(prefix: str) -> None:
    with pytest.raises(validate.PlanError, match="must look like"):
        validate.plan(_template(), prefix, {})


def test_without_aws_access_nothing_is_sent_and_it_says_what_it_needs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    class NoAccess(AlarmDefinitions):
        def __init__(self) -> None:
            pass

        def alarms_named(self, prefix: str) -> dict[str, str]:
            from evacuation.aws.errors import AwsApiError  # noqa: PLC0415

            raise AwsApiError("cloudwatch.DescribeAlarms: NoCredentialsError", "x", 0, {})

    code = validate.main(["--config", str(EXAMPLE)], target_for=lambda _: NoAccess())
    assert code == validate.EXIT_INVALID
    assert "credentials for a sandbox account" in capsys.readouterr().err
