"""The detection stack: per-AZ impact and outlier alarms, the "more than one host" signal, the
isolated-impact and regional composites, and a dashboard, as one CloudFormation template.

Per AZ `a` (others `o`), every input on one-minute periods, M of N as configured:

    impact_a   = fault-rate_a > T  OR  latency_a (p99) > T                     (composite)
    outlier_a  = fault-share_a >= S  OR  fault-zscore_a >= Z  OR  latency-zscore_a >= Z
    isolated_a = impact_a AND outlier_a [AND faulting-hosts_a] AND NOT any(impact_o)
    regional   = all(impact_x)  OR  (regional-fault-rate AND NOT any(isolated_x))

(aws-semantics.md section 6; the whitepaper's recipe. The composites reference their children by
name; a composite cannot reference one that references it, so "not regional" is NOT any other
AZ's *impact*, not its isolated alarm.) The property names are PutMetricAlarm's and
PutCompositeAlarm's, which CloudFormation's AWS::CloudWatch::Alarm and CompositeAlarm share; the
evaluator (`evaluate.py`) reads this very template.
"""

from __future__ import annotations

import json
import re
from typing import Any

from evacuation.detection.config import AlarmNames, DetectionConfig, alarm_names

PERIOD = 60
AZEVAC_METRICS = (
    "EvacuationsTriggered",
    "EvacuationsRun",
    "EvacuationsRefused",
    "StepsFailed",
    "AlarmsIgnored",
    "ReconcileAlerts",
)
"""azevac's EMF counters (namespace azevac, dimensions service and workload): evacuation/metrics.py,
evacuation/service.py, evacuation/controller.py."""
Template = dict[str, Any]


def logical_id(name: str) -> str:
    """A CloudFormation logical ID from an alarm name: alphanumerics only."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", name) if part)


class _Signals:
    """The MetricDataQuery entries that read one AZ's requests, faults and p99 latency."""

    def __init__(self, detection: DetectionConfig, source: str | None = None) -> None:
        self.d = detection
        self.source = source or detection.source

    def _stat(self, qid: str, namespace: str, metric: str, dims: list[Any], stat: str) -> Any:
        return {
            "Id": qid,
            "MetricStat": {
                "Metric": {"Namespace": namespace, "MetricName": metric, "Dimensions": dims},
                "Period": PERIOD,
                "Stat": stat,
            },
            "ReturnData": False,
        }

    def _lb_dims(self, az: str | None) -> list[Any]:
        lb = self.d.load_balancer
        assert lb is not None
        dims: list[Any] = [{"Name": "LoadBalancer", "Value": {"Ref": "LoadBalancer"}}]
        if az is not None:
            dims.append({"Name": "AvailabilityZone", "Value": lb.zones[az]})
        return dims

    def _svc_dims(self, az: str | None) -> list[Any]:
        service = self.d.service
        assert service is not None
        dims = [{"Name": k, "Value": v} for k, v in sorted(service.dimensions.items())]
        if az is not None:
            dims.append({"Name": service.az_dimension, "Value": az})
        return dims

    def requests_and_faults(self, az: str | None, n: str) -> tuple[list[Any], str, str]:
        """Queries, then the ids of requests (Sum) and faults (an expression, missing = 0)."""
        if self.source == "service":
            service = self.d.service
            assert service is not None
            dims = self._svc_dims(az)
            queries = [
                self._stat(f"req{n}", service.namespace, service.requests_metric, dims, "Sum"),
                self._stat(f"raw{n}", service.namespace, service.faults_metric, dims, "Sum"),
                {"Id": f"flt{n}", "Expression": f"FILL(raw{n}, 0)", "ReturnData": False},
            ]
            return queries, f"req{n}", f"flt{n}"
        lb = self.d.load_balancer
        assert lb is not None
        dims = self._lb_dims(az)
        if lb.type == "application":
            ns, req, faults = (
                "AWS/ApplicationELB",
                "RequestCount",
                ("HTTPCode_Target_5XX_Count", "HTTPCode_ELB_5XX_Count"),
            )
        else:
            ns, req, faults = (
                "AWS/NetworkELB",
                "NewFlowCount",
                ("TCP_Target_Reset_Count", "TCP_ELB_Reset_Count"),
            )
        queries = [
            self._stat(f"req{n}", ns, req, dims, "Sum"),
            self._stat(f"tgt{n}", ns, faults[0], dims, "Sum"),
            self._stat(f"lb{n}", ns, faults[1], dims, "Sum"),
            {
                "Id": f"flt{n}",
                "Expression": f"FILL(tgt{n}, 0) + FILL(lb{n}, 0)",
                "ReturnData": False,
            },
        ]
        return queries, f"req{n}", f"flt{n}"

    def latency_ms(self, az: str, n: str) -> tuple[list[Any], str]:
        """Queries, then the id of the AZ's p99 latency in milliseconds."""
        if self.source == "service":
            service = self.d.service
            assert service is not None and service.latency_metric is not None
            q = self._stat(
                f"p{n}", service.namespace, service.latency_metric, self._svc_dims(az), "p99"
            )
            return [q, {"Id": f"ms{n}", "Expression": f"p{n}", "ReturnData": False}], f"ms{n}"
        # TargetResponseTime is in seconds (aws-semantics 6.3).
        q = self._stat(
            f"p{n}", "AWS/ApplicationELB", "TargetResponseTime", self._lb_dims(az), "p99"
        )
        return [q, {"Id": f"ms{n}", "Expression": f"1000 * p{n}", "ReturnData": False}], f"ms{n}"


def build_template(workload: str, detection: DetectionConfig) -> Template:  # noqa: PLR0915 - one stack, read top to bottom
    """The whole detection stack for one workload."""
    names = alarm_names(workload, detection)
    d = detection
    sig = _Signals(d)
    ev = d.evaluation
    th = d.thresholds
    resources: dict[str, Any] = {}
    azs = list(d.az_ids)

    def metric_alarm(
        name: str, description: str, metrics: list[Any], threshold: float, operator: str
    ) -> None:
        metrics[-1]["ReturnData"] = True
        resources[logical_id(name)] = {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmName": name,
                "AlarmDescription": description[:1024],
                "ActionsEnabled": True,
                "Metrics": metrics,
                "EvaluationPeriods": ev.evaluation_periods,
                "DatapointsToAlarm": ev.datapoints_to_alarm,
                "Threshold": threshold,
                "ComparisonOperator": operator,
                # No requests, no evidence of impact: a quiet AZ is not an impaired one.
                "TreatMissingData": "notBreaching",
            },
        }

    def composite(name: str, description: str, rule: str, children: list[str], act: bool) -> None:
        props: dict[str, Any] = {
            "AlarmName": name,
            "AlarmDescription": description[:1024],
            "AlarmRule": rule,
            "ActionsEnabled": True,
        }
        if act:
            props |= {
                "AlarmActions": [{"Ref": "NotificationTopicArn"}],
                "OKActions": [{"Ref": "NotificationTopicArn"}],
            }
        resources[logical_id(name)] = {
            "Type": "AWS::CloudWatch::CompositeAlarm",
            "DependsOn": sorted({logical_id(c) for c in children}),
            "Properties": props,
        }

    gate = f"{th.min_requests_for_latency}"
    for az in azs:
        queries, req, flt = sig.requests_and_faults(az, "")
        metric_alarm(
            names.fault_rate[az],
            f"Fault rate (%) in {az} above {th.fault_rate_percent} "
            f"({ev.datapoints_to_alarm} of {ev.evaluation_periods} minutes)",
            [
                *queries,
                {
                    "Id": "rate",
                    "Expression": f"IF({req} > 0 AND {flt} >= {th.min_faults_per_minute}, "
                    f"100 * {flt} / {req}, 0)",
                    "Label": f"fault rate % {az}",
                },
            ],
            th.fault_rate_percent,
            "GreaterThanThreshold",
        )
        if d.has_latency:
            lat_q, ms = sig.latency_ms(az, "")
            metric_alarm(
                names.latency[az],
                f"p99 latency in {az} above {th.latency_p99_ms} ms",
                [
                    queries[0],
                    *lat_q,
                    {
                        "Id": "latency",
                        "Expression": f"IF({req} >= {gate}, {ms}, 0)",
                        "Label": f"p99 ms {az}",
                    },
                ],
                float(th.latency_p99_ms or 0),
                "GreaterThanThreshold",
            )
        # Outliers: this AZ against the others (aws-semantics 6.2).
        every = [sig.requests_and_faults(x, str(i)) for i, x in enumerate(azs)]
        me = azs.index(az)
        share_q = [q for qs, _, _ in every for q in qs if q["Id"].startswith(("raw", "tgt", "lb"))]
        fills = [q for qs, _, _ in every for q in qs if q["Id"].startswith("flt")]
        total = " + ".join(f for _, _, f in every)
        metric_alarm(
            names.fault_share[az],
            f"{az}'s share of all faults is at least {d.outlier.static_share}",
            [
                *share_q,
                *fills,
                {"Id": "total", "Expression": total, "ReturnData": False},
                {
                    "Id": "share",
                    "Expression": f"IF(total >= {th.min_faults_per_minute}, flt{me} / total, 0)",
                    "Label": f"fault share {az}",
                },
            ],
            d.outlier.static_share,
            "GreaterThanOrEqualToThreshold",
        )
        rates = [
            {
                "Id": f"r{i}",
                "Expression": f"IF({r} > 0, 100 * {f} / {r}, 0)",
                "ReturnData": False,
            }
            for i, (_, r, f) in enumerate(every)
        ]
        metric_alarm(
            names.fault_zscore[az],
            f"z-score of {az}'s fault rate against the other AZs is at least {d.outlier.zscore}",
            [
                *(q for qs, _, _ in every for q in qs),
                *rates,
                *_zscore(me, len(azs), "r", d.outlier.min_stddev_fault_percent),
            ],
            d.outlier.zscore,
            "GreaterThanOrEqualToThreshold",
        )
        if d.has_latency:
            lats = [sig.latency_ms(x, str(i)) for i, x in enumerate(azs)]
            metric_alarm(
                names.latency_zscore[az],
                f"z-score of {az}'s p99 latency against the other AZs is at least "
                f"{d.outlier.zscore}",
                [
                    *(q for qs, _ in lats for q in qs),
                    *_zscore(me, len(azs), "ms", d.outlier.min_stddev_latency_ms),
                ],
                d.outlier.zscore,
                "GreaterThanOrEqualToThreshold",
            )
        ci = d.contributor_insights
        if ci is not None:
            _faulting_hosts(resources, metric_alarm, d, names, az)
        impact_children = [names.fault_rate[az], *([names.latency[az]] if d.has_latency else [])]
        composite(
            names.impact[az],
            f"Customer impact in {az}: fault rate or p99 latency",
            " OR ".join(f'ALARM("{c}")' for c in impact_children),
            impact_children,
            act=False,
        )
    for az in azs:
        others = [x for x in azs if x != az]
        outliers = [names.fault_share[az], names.fault_zscore[az]]
        if d.has_latency:
            outliers.append(names.latency_zscore[az])
        parts = [
            f'ALARM("{names.impact[az]}")',
            "(" + " OR ".join(f'ALARM("{o}")' for o in outliers) + ")",
        ]
        children = [names.impact[az], *outliers, *(names.impact[o] for o in others)]
        if d.contributor_insights is not None:
            parts.append(f'ALARM("{names.faulting_hosts[az]}")')
            children.append(names.faulting_hosts[az])
        parts.append("NOT (" + " OR ".join(f'ALARM("{names.impact[o]}")' for o in others) + ")")
        composite(
            names.isolated[az],
            f"Isolated impact in {az}: customers fail or wait in {az} only, {az} is an outlier"
            + (", more than one instance" if d.contributor_insights else "")
            + ". azevac evacuates this AZ.",
            " AND ".join(parts),
            children,
            act=True,
        )
    queries, req, flt = sig.requests_and_faults(None, "")
    metric_alarm(
        names.regional_fault_rate,
        f"Fault rate (%) over all AZs above {th.fault_rate_percent}",
        [
            *queries,
            {
                "Id": "rate",
                "Expression": f"IF({req} > 0 AND {flt} >= {th.min_faults_per_minute}, "
                f"100 * {flt} / {req}, 0)",
                "Label": "fault rate % (region)",
            },
        ],
        th.fault_rate_percent,
        "GreaterThanThreshold",
    )
    every_impact = " AND ".join(f'ALARM("{names.impact[x]}")' for x in azs)
    any_isolated = " OR ".join(f'ALARM("{names.isolated[x]}")' for x in azs)
    composite(
        names.regional,
        "Regional impact: every AZ impaired, or impact with no AZ isolated. azevac refuses to "
        "evacuate while this is in ALARM.",
        f'({every_impact}) OR (ALARM("{names.regional_fault_rate}") AND NOT ({any_isolated}))',
        [*names.impact.values(), *names.isolated.values(), names.regional_fault_rate],
        act=True,
    )
    resources["DetectionDashboard"] = _dashboard(workload, d, names)
    lb_default = d.load_balancer.full_name if d.load_balancer else None
    parameters: dict[str, Any] = {
        "NotificationTopicArn": {
            "Type": "String",
            "Description": "SNS topic the isolated-impact and regional alarms notify (azevac's "
            "NotificationTopic); azevac itself is invoked by its EventBridge rule on the alarm "
            "names' prefix.",
        },
    }
    if d.source == "load_balancer" or d.load_balancer is not None:
        parameters["LoadBalancer"] = {
            "Type": "String",
            "AllowedPattern": "^(app|net)/[A-Za-z0-9-]+/[0-9a-f]+$",
            "Description": "The LoadBalancer dimension: app/<name>/<id> (the load balancer's "
            "LoadBalancerFullName attribute)",
            **({"Default": lb_default} if lb_default else {}),
        }
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"azevac detection kit for {workload}: per-AZ isolated-impact alarms "
        f"(generated by `azevac alarms`; do not edit)",
        "Parameters": parameters,
        "Resources": resources,
        "Outputs": {
            "IsolatedImpactAlarms": {"Value": ",".join(names.isolated.values())},
            "RegionalAlarm": {"Value": names.regional},
        },
    }


def _zscore(me: int, count: int, var: str, floor: float) -> list[Any]:
    """(x_me - mean(others)) / (population stddev(others) + floor), in plain arithmetic."""
    others = [i for i in range(count) if i != me]
    n = len(others)
    mean = f"({' + '.join(f'{var}{i}' for i in others)}) / {n}"
    squares = " + ".join(f"({var}{i} - mo) * ({var}{i} - mo)" for i in others)
    return [
        {"Id": "mo", "Expression": mean, "ReturnData": False},
        {"Id": "sd", "Expression": f"SQRT(({squares}) / {n})", "ReturnData": False},
        {"Id": "z", "Expression": f"({var}{me} - mo) / (sd + {floor})", "Label": "z-score"},
    ]


def _faulting_hosts(
    resources: dict[str, Any], metric_alarm: Any, d: DetectionConfig, names: AlarmNames, az: str
) -> None:
    """More than one host: Contributor Insights rules over the service's logs, one counting the
    instances with faults in the AZ, one those with slow requests; the alarm fires when either
    has at least `min_hosts` contributors and the worst one holds at most `max_top_host_share`
    of the events (one bad host is not an AZ). INSIGHT_RULE_METRIC:
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/ContributorInsights-GraphReportData.html"""
    ci = d.contributor_insights
    assert ci is not None
    rules = [("f", names.insight_rules[az], {"Match": ci.fault_field, "GreaterThan": 0})]
    if ci.latency_field is not None and d.thresholds.latency_p99_ms is not None:
        slow = {"Match": ci.latency_field, "GreaterThan": d.thresholds.latency_p99_ms}
        rules.append(("s", names.slow_rules[az], slow))
    metrics: list[Any] = []
    spread = []
    for tag, rule, condition in rules:
        resources[logical_id(rule) + "Rule"] = {
            "Type": "AWS::CloudWatch::InsightRule",
            "Properties": {
                "RuleName": rule,
                "RuleState": "ENABLED",
                "RuleBody": json.dumps(_insight_rule(ci, az, condition), separators=(",", ":")),
            },
        }
        for qid, metric in (
            ("hosts", "UniqueContributors"),
            ("top", "MaxContributorValue"),
            ("all", "Sum"),
        ):
            metrics.append(
                {
                    "Id": f"{qid}{tag}",
                    "Expression": f"INSIGHT_RULE_METRIC('{rule}', '{metric}')",
                    "Period": PERIOD,
                    "ReturnData": False,
                }
            )
        metrics.append(
            {
                "Id": f"spread{tag}",
                "Expression": f"IF(all{tag} > 0, (all{tag} - top{tag}) / all{tag}, 0)",
                "ReturnData": False,
            }
        )
        spread.append(
            f"(hosts{tag} >= {ci.min_hosts} AND "
            f"spread{tag} >= {round(1 - ci.max_top_host_share, 6)})"
        )
    metrics.append(
        {
            "Id": "many",
            "Expression": f"IF({' OR '.join(spread)}, 1, 0)",
            "Label": f"more than one instance {az}",
        }
    )
    metric_alarm(
        names.faulting_hosts[az],
        f"Faults or slow requests in {az} come from at least {ci.min_hosts} instances, and no "
        f"single instance has more than {ci.max_top_host_share:.0%} of them",
        metrics,
        1,
        "GreaterThanOrEqualToThreshold",
    )  # fmt: skip
    resources[logical_id(names.faulting_hosts[az])]["DependsOn"] = sorted(
        logical_id(rule) + "Rule" for _, rule, _ in rules
    )


def _insight_rule(ci: Any, az: str, condition: dict[str, Any]) -> dict[str, Any]:
    """Contributor Insights rule syntax (CloudWatchLogRule, version 1):
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/ContributorInsights-RuleSyntax.html"""
    return {
        "Schema": {"Name": "CloudWatchLogRule", "Version": 1},
        "LogGroupNames": list(ci.log_group_names),
        "LogFormat": "JSON",
        "Contribution": {
            "Keys": [ci.instance_field],
            "Filters": [{"Match": ci.az_field, "In": [az]}, condition],
        },
        "AggregateOn": "Count",
    }


def _dashboard(workload: str, d: DetectionConfig, names: AlarmNames) -> dict[str, Any]:
    """Per-AZ fault rate and latency, the alarms' states, azevac's evacuations and steps."""
    alarm_arn = "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:"

    sources = ["service"] if d.service is not None else []
    sources += ["load_balancer"] if d.load_balancer is not None else []
    widgets: list[Any] = []
    for column, source in enumerate(sources):
        widgets.append(
            _widget(
                f"Fault rate per AZ (%), {source.replace('_', ' ')}",
                _fault_lines(d, _Signals(d, source)),
                12 * column,
                y=0,
            )
        )
    sig = _Signals(d)
    if d.has_latency:
        lat_lines: list[Any] = []
        for i, az in enumerate(d.az_ids):
            (q, expr), _ = sig.latency_ms(az, str(i))
            stat = q["MetricStat"]
            metric = stat["Metric"]
            dims = [x for dim in metric["Dimensions"] for x in (dim["Name"], _sub(dim["Value"]))]
            lat_lines.append(
                [metric["Namespace"], metric["MetricName"], *dims,
                 {"id": q["Id"], "visible": False, "stat": "p99"}]
            )  # fmt: skip
            lat_lines.append(
                [{"expression": expr["Expression"], "label": f"p99 ms {az}", "id": f"l{i}"}]
            )
        widgets.append(
            _widget(f"p99 latency per AZ (ms), {d.source.replace('_', ' ')}", lat_lines, 0, y=6)
        )
    watched = [*names.isolated.values(), names.regional, *names.impact.values()]
    widgets.append(
        {
            "type": "alarm",
            "x": 0,
            "y": 12,
            "width": 24,
            "height": 4,
            "properties": {
                "title": "Isolated impact, regional, per-AZ impact",
                "alarms": [alarm_arn + n for n in watched],
            },
        }
    )
    emf = [
        ["azevac", m, "service", "azevac", "workload", workload, {"stat": "Sum"}]
        for m in AZEVAC_METRICS
    ]
    widgets.append(_widget("azevac: evacuations and steps (EMF)", emf, 0, y=16, width=24))
    body = json.dumps({"widgets": widgets}, separators=(",", ":"))
    return {
        "Type": "AWS::CloudWatch::Dashboard",
        "Properties": {"DashboardName": names.dashboard, "DashboardBody": {"Fn::Sub": body}},
    }


def _fault_lines(d: DetectionConfig, sig: _Signals) -> list[Any]:
    lines: list[Any] = []
    for i, az in enumerate(d.az_ids):
        queries, req, flt = sig.requests_and_faults(az, str(i))
        for q in queries:
            if "MetricStat" in q:
                stat = q["MetricStat"]
                metric = stat["Metric"]
                dims = [
                    x for dim in metric["Dimensions"] for x in (dim["Name"], _sub(dim["Value"]))
                ]
                lines.append(
                    [metric["Namespace"], metric["MetricName"], *dims,
                     {"id": q["Id"], "visible": False, "stat": stat["Stat"]}]
                )  # fmt: skip
            else:
                lines.append([{"expression": q["Expression"], "id": q["Id"], "visible": False}])
        lines.append(
            [{"expression": f"100 * {flt} / {req}", "label": f"fault % {az}", "id": f"e{i}"}]
        )
    return lines


def _sub(value: Any) -> str:
    """A dimension value inside the dashboard's Fn::Sub body: a parameter becomes ${Name}."""
    return "${" + value["Ref"] + "}" if isinstance(value, dict) else str(value)


def _widget(title: str, metrics: list[Any], x: int, y: int = 0, width: int = 12) -> Any:
    return {
        "type": "metric",
        "x": x,
        "y": y,
        "width": width,
        "height": 6,
        "properties": {
            "title": title,
            "metrics": metrics,
            "view": "timeSeries",
            "stat": "Sum",
            "period": PERIOD,
            "region": "${AWS::Region}",
        },
    }


def render(template: Template) -> str:
    """JSON, which is also YAML: `azevac alarms ... > detection.yaml` needs no YAML library."""
    return json.dumps(template, indent=2) + "\n"
