"""The detection section: validated, and the source of the alarm names azevac acts on; the
generated stack speaks CloudWatch's API shapes and the checked-in detection.yaml is current."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator

from evacuation.config import parse_config
from evacuation.detection.config import DetectionConfig
from evacuation.detection.evaluate import StackEvaluator, State
from evacuation.detection.generate import (
    MAX_EXPRESSIONS,
    MAX_METRIC_STATS,
    DetectionLimitError,
    build_template,
    check_limits,
    render,
)
from evacuation.errors import ConfigurationError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "detection" / "config.example.json"
BASE: dict[str, Any] = {"workload": "checkout", "autoscaling": {"groups": ["web"]}}
DETECTION = {"az_ids": ["use1-az1", "use1-az2"], "service": {"namespace": "checkout"}}


def test_detection_names_become_the_alarms_azevac_acts_on() -> None:
    config = parse_config({**BASE, "detection": DETECTION})

    assert config.alarms == {
        "checkout-use1-az1-isolated-impact": "use1-az1",
        "checkout-use1-az2-isolated-impact": "use1-az2",
    }
    assert config.safety.regional_alarm == "checkout-regional-impact"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"alarms": {"checkout-use1-az1-isolated-impact": "use1-az2"}}, "detection makes it"),
        ({"safety": {"regional_alarm": "other"}}, "detection creates checkout-regional-impact"),
    ],
)
def test_a_config_that_disagrees_with_detection_is_refused(
    extra: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        parse_config({**BASE, **extra, "detection": DETECTION})


@pytest.mark.parametrize(
    ("detection", "message"),
    [
        ({**DETECTION, "az_ids": ["us-east-1a", "use1-az2"]}, "detection.az_ids.0: 'us-east-1a'"),
        ({"az_ids": ["use1-az1", "use1-az2"]}, "names no signal"),
        ({**DETECTION, "threshold": 1}, "detection.threshold: unknown key"),
        (
            {
                "az_ids": ["use1-az1", "use1-az2"],
                "load_balancer": {"zones": {"use1-az1": "us-east-1b", "use1-az3": "us-east-1e"}},
            },
            "must map exactly the az_ids",
        ),
        (
            {
                **DETECTION,
                "load_balancer": {"zones": {"use1-az1": "us-east-1b", "use1-az3": "us-east-1e"}},
            },
            "must map exactly the az_ids",
        ),
        (
            {
                **DETECTION,
                "load_balancer": {
                    "zones": {"use1-az1": "us-east-1b", "use1-az2": "us-east-1c"},
                    "target_group": "app/not-a-target-group/1",
                },
            },
            "detection.load_balancer.target_group",
        ),
        (
            {**DETECTION, "evaluation": {"datapoints_to_alarm": 4, "evaluation_periods": 3}},
            "exceed",
        ),
    ],
)
def test_a_bad_detection_section_names_the_key(detection: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        parse_config({**BASE, "detection": detection})


def _template() -> dict[str, Any]:
    config = parse_config(EXAMPLE.read_text(encoding="utf-8"))
    assert config.detection is not None
    return build_template(config.workload, config.detection)


def test_every_alarm_is_a_valid_put_metric_alarm_or_put_composite_alarm_request() -> None:
    # botocore's own model of the CloudWatch API (aws-facts: the model wins)
    model = botocore.session.get_session().get_service_model("cloudwatch")
    validator = ParamValidator()
    text = json.dumps(_template()).replace('{"Ref": "LoadBalancer"}', '"app/x/1"')
    topic = '"arn:aws:sns:us-east-1:123456789012:t"'
    template = json.loads(text.replace('{"Ref": "NotificationTopicArn"}', topic))
    checked = 0
    for resource in template["Resources"].values():
        operation = {
            "AWS::CloudWatch::Alarm": "PutMetricAlarm",
            "AWS::CloudWatch::CompositeAlarm": "PutCompositeAlarm",
            "AWS::CloudWatch::InsightRule": "PutInsightRule",
        }.get(resource["Type"])
        if operation is None:
            continue
        params = dict(resource["Properties"])
        if operation == "PutInsightRule":
            params["RuleDefinition"] = params.pop("RuleBody")
        shape = model.operation_model(operation).input_shape
        report = validator.validate(params, shape)
        assert not report.has_errors(), report.generate_report()
        if operation == "PutMetricAlarm":
            stats = [q for q in params["Metrics"] if "MetricStat" in q]
            expressions = [q for q in params["Metrics"] if "Expression" in q]
            assert len(stats) <= MAX_METRIC_STATS, params["AlarmName"]
            assert len(expressions) <= MAX_EXPRESSIONS, params["AlarmName"]
            assert params["ActionsEnabled"] is True
        checked += 1
    assert checked >= 30


def test_isolated_and_regional_alarms_notify_and_match_the_alarm_function_prefix() -> None:
    composites = {
        r["Properties"]["AlarmName"]: r["Properties"]
        for r in _template()["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::CompositeAlarm"
    }
    acting = {n: p for n, p in composites.items() if n.startswith("checkout-")}
    assert set(acting) == {
        "checkout-use1-az1-isolated-impact", "checkout-use1-az2-isolated-impact",
        "checkout-use1-az6-isolated-impact", "checkout-regional-impact",
    }  # fmt: skip
    for props in acting.values():
        assert props["ActionsEnabled"] is True
        assert props["AlarmActions"] == [{"Ref": "NotificationTopicArn"}]
        assert props["OKActions"] == [{"Ref": "NotificationTopicArn"}]


def test_the_checked_in_detection_stack_is_the_generated_one() -> None:
    # `azevac alarms --config detection/config.example.json > detection/detection.yaml`
    checked_in = (ROOT / "detection" / "detection.yaml").read_text(encoding="utf-8")
    assert checked_in == render(_template())


ZONE_LETTERS = "bcdefa"


def _config(azs: int, source: str) -> DetectionConfig:
    ids = [f"use1-az{i}" for i in range(1, azs + 1)]
    lb = {
        "zones": {az: f"us-east-1{c}" for az, c in zip(ids, ZONE_LETTERS, strict=False)},
        "target_group": "targetgroup/checkout-tg/0123456789abcdef",
    }
    section: dict[str, Any] = {"az_ids": ids, "load_balancer": lb, "signal": source}
    if source == "service":
        section["service"] = {"namespace": "checkout", "dimensions": {"Operation": "all"}}
        section["contributor_insights"] = {"log_group_names": ["/checkout/service"]}
    return DetectionConfig.model_validate(section)


@pytest.mark.parametrize("source", ["service", "load_balancer"])
@pytest.mark.parametrize("azs", [2, 3, 4, 5, 6])
def test_every_alarm_fits_cloudwatchs_limits_from_two_to_six_azs(azs: int, source: str) -> None:
    # API MetricDataQuery: at most 10 MetricStat and at most 10 Expression structures per alarm
    template = build_template("checkout", _config(azs, source))
    alarms = [r for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    assert alarms
    for alarm in alarms:
        queries = alarm["Properties"]["Metrics"]
        assert sum("MetricStat" in q for q in queries) <= MAX_METRIC_STATS
        assert sum("Expression" in q for q in queries) <= MAX_EXPRESSIONS
    composites = [
        r["Properties"]["AlarmName"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::CompositeAlarm"
    ]
    assert len([n for n in composites if n.endswith("isolated-impact")]) == azs


def _alarm_with(stats: int, expressions: int, insights: int = 0) -> dict[str, Any]:
    stat = {"Metric": {"Namespace": "n", "MetricName": "m"}, "Period": 60, "Stat": "Sum"}
    queries: list[dict[str, Any]] = [{"Id": f"m{i}", "MetricStat": stat} for i in range(stats)]
    queries += [{"Id": f"e{i}", "Expression": "m0"} for i in range(expressions)]
    queries += [
        {"Id": f"i{i}", "Expression": "INSIGHT_RULE_METRIC('r', 'Sum')", "Period": 60}
        for i in range(insights)
    ]
    props = {"AlarmName": "too-big", "Metrics": queries}
    return {"Resources": {"A": {"Type": "AWS::CloudWatch::Alarm", "Properties": props}}}


@pytest.mark.parametrize(
    ("stats", "expressions", "insights", "message"),
    [
        (11, 1, 0, "11 MetricStat queries"),
        (1, 11, 0, "11 Expression queries"),
        # AWS does not say whether INSIGHT_RULE_METRIC is one of the 10 metrics: counted as one
        (8, 0, 3, "11 metrics"),
    ],
)
def test_a_template_over_the_limits_is_refused(
    stats: int, expressions: int, insights: int, message: str
) -> None:
    with pytest.raises(DetectionLimitError, match=message):
        check_limits(_alarm_with(stats, expressions, insights))
    check_limits(_alarm_with(10, 10))  # at the limits: accepted


@pytest.mark.parametrize(
    ("in_alarm", "isolated"),
    [
        # the whitepaper's recipe: availability with availability, latency with latency
        ({"fault-rate", "fault-zscore", "faulting-hosts"}, True),
        ({"fault-rate", "fault-share", "faulting-hosts"}, True),
        ({"latency", "latency-zscore", "faulting-hosts"}, True),
        ({"fault-rate", "latency-zscore", "faulting-hosts"}, False),
        ({"latency", "fault-zscore", "fault-share", "faulting-hosts"}, False),
        # more than one host, and not one host now
        ({"fault-rate", "fault-zscore"}, False),
        ({"fault-rate", "fault-zscore", "faulting-hosts", "one-host"}, False),
        # seen failing from outside its hosts: no host evidence needed
        ({"traffic-vanished"}, True),
        ({"lb-faults"}, False),
        ({"lb-faults", "lb-fault-zscore"}, True),
    ],
)
def test_the_isolated_alarm_pairs_each_impact_with_its_own_outlier(
    in_alarm: set[str], isolated: bool
) -> None:
    template = _template()
    evaluator = StackEvaluator(template, {"LoadBalancer": "app/checkout-alb/0123456789abcdef"})
    az = "use1-az1"
    for name in evaluator.metric_alarms:
        role = name.removeprefix(f"azevac-signal-checkout-{az}-")
        evaluator.states[name] = State.ALARM if role in in_alarm else State.OK
    evaluator._composites(0)  # the composites of this minute, children first
    assert (evaluator.states[f"checkout-{az}-isolated-impact"] is State.ALARM) is isolated
    # and another AZ's impact stops it
    evaluator.states["azevac-signal-checkout-use1-az2-fault-rate"] = State.ALARM
    evaluator._composites(1)
    assert evaluator.states[f"checkout-{az}-isolated-impact"] is State.OK
