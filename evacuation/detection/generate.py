"""The detection stack: per-AZ impact and outlier alarms, the "more than one host" signal, the
signals that need nothing from the AZ's own hosts, the isolated-impact and regional composites,
and a dashboard, as one CloudFormation template.

Per AZ `a` (others `o`); impact on one-minute datapoints, M of N as configured; outliers on the
counts of a window of `evaluation.window_minutes` (windowed evidence, evaluated every minute):

    impact_a   = fault-rate_a OR early-impact_a OR latency_a OR blind_a         (composite)
    blind_a    = (lb-faults_a AND lb-fault-zscore_a) OR traffic-vanished_a OR hosts-unhealthy_a
    isolated_a = ( ( (fault-rate_a AND (fault-share_a OR fault-zscore_a))
                     OR (latency_a AND latency-zscore_a) )
                   [AND faulting-hosts_a AND NOT one-host_a]
                   OR blind_a )
                 AND NOT any(impact_o)
    regional   = all(impact_x)  OR  (regional-fault-rate AND NOT any(isolated_x))

(aws-semantics.md section 6 and rules DET-5..DET-7; the whitepaper's recipe, availability paired
with availability and latency with latency. The composites reference their children by name; a
composite cannot reference one that references it, so "not regional" is NOT any other AZ's
*impact*, not its isolated alarm.) `blind_a` is the AZ seen from outside its hosts: an AZ whose
instances die or cannot reach CloudWatch publishes nothing of its own (DET-7, "flying blind"),
while the load balancer still answers its requests with 5xx, its targets fail health checks, or
its share of the traffic vanishes from the service's own count.

The outlier tests are a binomial bound (the whitepaper's statistical test in a form metric math
can compute): with p = this AZ's share of the window's requests and E events (faults, or slow
requests) in the whole region, this AZ's events e are an outlier when
(e - E p - 1/2) / sqrt(E p (1 - p)) >= `outlier.zscore`, and the static share
e / E >= `static_share`.
Both read the region's totals (the service's `[*dimensions]` set, or the load balancer's
`LoadBalancer` set), so an alarm needs the same four metrics however many AZs there are.

The property names are PutMetricAlarm's and PutCompositeAlarm's, which CloudFormation's
AWS::CloudWatch::Alarm and CompositeAlarm share; the evaluator (`evaluate.py`) reads this very
template, and `check_limits` refuses a template CloudWatch would refuse.
"""

from __future__ import annotations

import json
import re
from typing import Any

from evacuation.detection.config import AlarmNames, DetectionConfig, alarm_names

PERIOD = 60
MAX_METRIC_STATS = 10
MAX_EXPRESSIONS = 10
"""Per alarm: "as many as 10 structures that contain a MetricStat parameter to retrieve a
metric, and as many as 10 structures that contain the Expression parameter" (API
MetricDataQuery), and "a math expression used for an alarm can include as many as 10 metrics"
(AlarmThatSendsEmail.html). AWS does not say whether INSIGHT_RULE_METRIC counts as one of those
10 metrics; `check_limits` counts it as both, which cannot let through an alarm AWS refuses."""
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


class DetectionLimitError(ValueError):
    """The template has an alarm CloudWatch refuses."""


def logical_id(name: str) -> str:
    """A CloudFormation logical ID from an alarm name: alphanumerics only."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", name) if part)


def _num(value: float) -> str:
    """A number as metric math reads it (no exponent notation)."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text or "0"


class _Signals:
    """The MetricDataQuery entries that read one AZ's (or the region's) requests, faults and slow
    requests from one source."""

    def __init__(self, detection: DetectionConfig, source: str | None = None) -> None:
        self.d = detection
        self.source = source or detection.source

    @staticmethod
    def _stat(
        qid: str, namespace: str, metric: str, dims: list[Any], stat: str, *, period: int
    ) -> Any:
        return {
            "Id": qid,
            "MetricStat": {
                "Metric": {"Namespace": namespace, "MetricName": metric, "Dimensions": dims},
                "Period": period,
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

    def _lb_names(self) -> tuple[str, str, tuple[str, str]]:
        lb = self.d.load_balancer
        assert lb is not None
        if lb.type == "application":
            return "AWS/ApplicationELB", "RequestCount", (
                "HTTPCode_Target_5XX_Count", "HTTPCode_ELB_5XX_Count"
            )  # fmt: skip
        return "AWS/NetworkELB", "NewFlowCount", ("TCP_Target_Reset_Count", "TCP_ELB_Reset_Count")

    def requests(self, az: str | None, qid: str, period: int = PERIOD) -> Any:
        if self.source == "service":
            service = self.d.service
            assert service is not None
            dims = self._svc_dims(az)
            return self._stat(
                qid, service.namespace, service.requests_metric, dims, "Sum", period=period
            )
        ns, req, _ = self._lb_names()
        return self._stat(qid, ns, req, self._lb_dims(az), "Sum", period=period)

    def faults(self, az: str | None, n: str, period: int = PERIOD) -> tuple[list[Any], str]:
        """Queries, then the id of the faults (missing counts as 0 in metric math: DET-6)."""
        if self.source == "service":
            service = self.d.service
            assert service is not None
            dims = self._svc_dims(az)
            q = self._stat(
                f"flt{n}", service.namespace, service.faults_metric, dims, "Sum", period=period
            )
            return [q], f"flt{n}"
        ns, _, (target, elb) = self._lb_names()
        dims = self._lb_dims(az)
        queries = [
            self._stat(f"tgt{n}", ns, target, dims, "Sum", period=period),
            self._stat(f"elb{n}", ns, elb, dims, "Sum", period=period),
            {"Id": f"flt{n}", "Expression": f"tgt{n} + elb{n}", "ReturnData": False},
        ]
        return queries, f"flt{n}"

    def requests_and_faults(self, az: str | None, n: str) -> tuple[list[Any], str, str]:
        """One-minute queries, then the ids of requests and faults (the dashboard's lines)."""
        queries, flt = self.faults(az, n)
        return [self.requests(az, f"req{n}"), *queries], f"req{n}", flt

    def slow(self, az: str | None, qid: str, period: int = PERIOD) -> Any:
        """Requests slower than thresholds.latency_p99_ms: a trimmed count, `TC(x:)` (values
        above x; CloudWatch "Statistics definitions"), which counts at any traffic where a p99
        of a few requests is one request."""
        ms = self.d.thresholds.latency_p99_ms
        assert ms is not None
        if self.source == "service":
            service = self.d.service
            assert service is not None and service.latency_metric is not None
            stat = f"TC({_num(ms)}:)"
            return self._stat(
                qid,
                service.namespace,
                service.latency_metric,
                self._svc_dims(az),
                stat,
                period=period,
            )
        # TargetResponseTime is in seconds (aws-semantics 6.3).
        stat = f"TC({_num(ms / 1000)}:)"
        return self._stat(
            qid,
            "AWS/ApplicationELB",
            "TargetResponseTime",
            self._lb_dims(az),
            stat,
            period=period,
        )

    def latency_ms(self, az: str, n: str) -> tuple[list[Any], str]:
        """Queries, then the id of the AZ's p99 latency in milliseconds (the dashboard's)."""
        if self.source == "service":
            service = self.d.service
            assert service is not None and service.latency_metric is not None
            q = self._stat(
                f"p{n}", service.namespace, service.latency_metric, self._svc_dims(az), "p99",
                period=PERIOD,
            )  # fmt: skip
            return [q, {"Id": f"ms{n}", "Expression": f"p{n}", "ReturnData": False}], f"ms{n}"
        q = self._stat(
            f"p{n}",
            "AWS/ApplicationELB",
            "TargetResponseTime",
            self._lb_dims(az),
            "p99",
            period=PERIOD,
        )
        return [q, {"Id": f"ms{n}", "Expression": f"1000 * p{n}", "ReturnData": False}], f"ms{n}"


def _binomial_z(mine: str, events: str, req: str, total_req: str, min_events: int) -> str:
    """(e - E p - 1/2) / sqrt(E p (1 - p)), p = req / total_req, where the region has at least
    `min_events` events; 0 otherwise. The half is the continuity correction: the counts are
    small at low traffic, where the normal bound is otherwise too eager. The 0.000001 keeps the
    root real when p is 0 or 1."""
    share = f"({req} / {total_req})"
    expected = f"({events} * {share})"
    return (
        f"IF({total_req} > 0 AND {events} >= {min_events}, ({mine} - {expected} - 0.5) / "
        f"(({expected} * (1 - {share}) + 0.000001) ^ 0.5), 0)"
    )


def check_limits(template: Template) -> None:
    """Refuse an alarm CloudWatch would refuse: more than 10 MetricStat queries, more than 10
    Expression queries, or more than 10 metrics (MetricStat and INSIGHT_RULE_METRIC)."""
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::CloudWatch::Alarm":
            continue
        props = resource["Properties"]
        queries = props.get("Metrics", [])
        stats = sum("MetricStat" in q for q in queries)
        expressions = sum("Expression" in q for q in queries)
        insights = sum("INSIGHT_RULE_METRIC" in q.get("Expression", "") for q in queries)
        name = props["AlarmName"]
        if stats > MAX_METRIC_STATS:
            raise DetectionLimitError(
                f"{name}: {stats} MetricStat queries; CloudWatch allows {MAX_METRIC_STATS}"
            )
        if expressions > MAX_EXPRESSIONS:
            raise DetectionLimitError(
                f"{name}: {expressions} Expression queries; CloudWatch allows {MAX_EXPRESSIONS}"
            )
        if stats + insights > MAX_METRIC_STATS:
            raise DetectionLimitError(
                f"{name}: {stats + insights} metrics; CloudWatch allows {MAX_METRIC_STATS}"
            )


def build_template(workload: str, detection: DetectionConfig) -> Template:  # noqa: PLR0915 - one stack, read top to bottom
    """The whole detection stack for one workload."""
    names = alarm_names(workload, detection)
    d = detection
    sig = _Signals(d)
    ev = d.evaluation
    th = d.thresholds
    out = d.outlier
    resources: dict[str, Any] = {}
    azs = list(d.az_ids)
    window = ev.window_minutes * PERIOD
    lb = d.load_balancer

    def metric_alarm(
        name: str,
        description: str,
        metrics: list[Any],
        threshold: float,
        operator: str,
        *,
        windowed: bool = False,
        datapoints: int | None = None,
        periods: int | None = None,
    ) -> None:
        metrics[-1]["ReturnData"] = True
        n = 1 if windowed else (periods or ev.evaluation_periods)
        m = 1 if windowed else (datapoints or ev.datapoints_to_alarm)
        resources[logical_id(name)] = {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmName": name,
                "AlarmDescription": description[:1024],
                "ActionsEnabled": True,
                "Metrics": metrics,
                "EvaluationPeriods": n,
                "DatapointsToAlarm": m,
                "Threshold": threshold,
                "ComparisonOperator": operator,
                # No datapoint, no evidence of impact: a quiet AZ is not an impaired one (an AZ
                # whose hosts publish nothing is the blind signals' job, with FILL).
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

    def rate(req: str, events: str, floor: int, label: str) -> Any:
        return {
            "Id": "rate",
            "Expression": f"IF({req} > 0 AND {events} >= {floor}, 100 * {events} / {req}, 0)",
            "Label": label,
        }

    def alarm(names_: list[str]) -> str:
        return " OR ".join(f'ALARM("{n}")' for n in names_)

    minutes = f"({ev.datapoints_to_alarm} of {ev.evaluation_periods} minutes)"
    per_window = f"(counts of the last {ev.window_minutes} minutes)"
    blind_of: dict[str, list[str]] = {}
    for az in azs:
        # -- impact: the AZ's own rate of faults and of slow requests, minute by minute
        def fault_rate_queries(az: str = az) -> list[Any]:
            """A fresh copy each time: metric_alarm marks the last query as returned."""
            fq, flt = sig.faults(az, "")
            return [
                sig.requests(az, "req"),
                *fq,
                rate("req", flt, th.min_faults_per_minute, f"fault rate % {az}"),
            ]

        metric_alarm(
            names.fault_rate[az],
            f"Fault rate (%) in {az} above {_num(th.fault_rate_percent)} {minutes}",
            fault_rate_queries(),
            th.fault_rate_percent,
            "GreaterThanThreshold",
        )  # fmt: skip
        # The same rate on fewer minutes: the first sign of impact, which only ever blocks
        # (another AZ's isolated alarm, through NOT impact) or pages (regional). An event that
        # hits every AZ, each at its own rate, must stop the worst AZ's isolated alarm before
        # the mildest AZ's own evidence is complete.
        early = max(1, ev.datapoints_to_alarm - 1)
        metric_alarm(
            names.early_impact[az],
            f"Fault rate (%) in {az} above {_num(th.fault_rate_percent)} ({early} of "
            f"{ev.evaluation_periods} minutes): the first sign of impact",
            fault_rate_queries(),
            th.fault_rate_percent,
            "GreaterThanThreshold",
            datapoints=early,
        )  # fmt: skip
        if d.has_latency:
            latency = {
                "Id": "slowpct",
                "Expression": f"IF(req >= {th.min_requests_for_latency} AND "
                f"slow >= {th.min_slow_per_minute}, "
                "100 * slow / req, 0)",
                "Label": f"slow requests % {az}",
            }
            metric_alarm(
                names.latency[az],
                f"More than {_num(th.slow_percent)} % of requests in {az} slower than "
                f"{_num(th.latency_p99_ms or 0)} ms (p99 above it) {minutes}",
                [sig.requests(az, "req"), sig.slow(az, "slow"), latency],
                th.slow_percent,
                "GreaterThanThreshold",
            )
        # -- outliers: this AZ against the region, on the window's counts (aws-semantics 6.2)
        mine_q, mine = sig.faults(az, "", window)
        all_q, every = sig.faults(None, "all", window)
        metric_alarm(
            names.fault_share[az],
            f"{az}'s share of the region's faults is at least {_num(out.static_share)} "
            f"{per_window}",
            [*mine_q, *all_q,
             {"Id": "share",
              "Expression": f"IF({every} >= {out.min_events}, {mine} / {every}, 0)",
              "Label": f"fault share {az}"}],
            out.static_share,
            "GreaterThanOrEqualToThreshold",
            windowed=True,
        )  # fmt: skip
        metric_alarm(
            names.fault_zscore[az],
            f"{az}'s faults against its share of the requests: at least {_num(out.zscore)} "
            f"standard deviations (binomial) {per_window}",
            [sig.requests(az, "req", window), sig.requests(None, "reqall", window),
             *mine_q, *all_q,
             {"Id": "z", "Expression": _binomial_z(mine, every, "req", "reqall", out.min_events),
              "Label": f"fault z {az}"}],
            out.zscore,
            "GreaterThanOrEqualToThreshold",
            windowed=True,
        )  # fmt: skip
        if d.has_latency:
            metric_alarm(
                names.latency_zscore[az],
                f"{az}'s slow requests against its share of the requests: at least "
                f"{_num(out.zscore)} standard deviations (binomial) {per_window}",
                [sig.requests(az, "req", window), sig.requests(None, "reqall", window),
                 sig.slow(az, "slow", window), sig.slow(None, "slowall", window),
                 {"Id": "z",
                  "Expression": _binomial_z("slow", "slowall", "req", "reqall", out.min_events),
                  "Label": f"slow z {az}"}],
                out.zscore,
                "GreaterThanOrEqualToThreshold",
                windowed=True,
            )  # fmt: skip
        if d.contributor_insights is not None:
            _faulting_hosts(resources, metric_alarm, d, names, az)
        # -- blind: what shows the AZ when its own hosts publish nothing (DET-7)
        blind = _blind_signals(d, names, az, metric_alarm, minutes=minutes, per_window=per_window)
        if blind:
            blind_of[az] = blind
            composite(
                names.blind[az],
                f"{az} seen from outside its hosts: the load balancer's 5xx, its targets' "
                f"health or its vanished traffic",
                blind[0] if len(blind) == 1 else " OR ".join(blind),
                _rule_names(" ".join(blind)),
                act=False,
            )
        impact_children = [
            names.fault_rate[az],
            names.early_impact[az],
            *([names.latency[az]] if d.has_latency else []),
        ]
        impact_children += [names.blind[az]] if blind else []
        composite(
            names.impact[az],
            f"Customer impact in {az}: fault rate, slow requests, or seen failing from outside "
            "its hosts",
            alarm(impact_children),
            impact_children,
            act=False,
        )
    for az in azs:
        others = [x for x in azs if x != az]
        availability = (
            f'(ALARM("{names.fault_rate[az]}") AND '
            f'(ALARM("{names.fault_share[az]}") OR ALARM("{names.fault_zscore[az]}")))'
        )
        children = [names.fault_rate[az], names.fault_share[az], names.fault_zscore[az]]
        paired = availability
        if d.has_latency:
            paired = (
                f'({availability} OR (ALARM("{names.latency[az]}") AND '
                f'ALARM("{names.latency_zscore[az]}")))'
            )
            children += [names.latency[az], names.latency_zscore[az]]
        if d.contributor_insights is not None:
            paired = (
                f'({paired} AND ALARM("{names.faulting_hosts[az]}") AND '
                f'NOT ALARM("{names.one_host[az]}"))'
            )
            children += [names.faulting_hosts[az], names.one_host[az]]
        if az in blind_of:
            paired = f'({paired} OR ALARM("{names.blind[az]}"))'
            children.append(names.blind[az])
        not_others = "NOT (" + alarm([names.impact[o] for o in others]) + ")"
        children += [names.impact[o] for o in others]
        composite(
            names.isolated[az],
            f"Isolated impact in {az}: customers fail or wait in {az} only and {az} is an outlier"
            + (", more than one instance" if d.contributor_insights else "")
            + (f"; or {az} fails as seen from outside its hosts" if az in blind_of else "")
            + ". azevac evacuates this AZ.",
            f"{paired} AND {not_others}",
            children,
            act=True,
        )
    rq, regional_flt = sig.faults(None, "")
    metric_alarm(
        names.regional_fault_rate,
        f"Fault rate (%) over all AZs above {_num(th.fault_rate_percent)} {minutes}",
        [sig.requests(None, "req"), *rq,
         rate("req", regional_flt, th.min_faults_per_minute, "fault rate % (region)")],
        th.fault_rate_percent,
        "GreaterThanThreshold",
    )  # fmt: skip
    every_impact = " AND ".join(f'ALARM("{names.impact[x]}")' for x in azs)
    composite(
        names.regional,
        "Regional impact: every AZ impaired, or impact with no AZ isolated. azevac refuses to "
        "evacuate while this is in ALARM.",
        f'({every_impact}) OR (ALARM("{names.regional_fault_rate}") AND NOT '
        f"({alarm(list(names.isolated.values()))}))",
        [*names.impact.values(), *names.isolated.values(), names.regional_fault_rate],
        act=True,
    )
    resources["DetectionDashboard"] = _dashboard(workload, d, names)
    lb_default = lb.full_name if lb else None
    parameters: dict[str, Any] = {
        "NotificationTopicArn": {
            "Type": "String",
            "Description": "SNS topic the isolated-impact and regional alarms notify (azevac's "
            "NotificationTopic); azevac itself is invoked by its EventBridge rule on the alarm "
            "names' prefix.",
        },
    }
    if lb is not None:
        parameters["LoadBalancer"] = {
            "Type": "String",
            "AllowedPattern": "^(app|net)/[A-Za-z0-9-]+/[0-9a-f]+$",
            "Description": "The LoadBalancer dimension: app/<name>/<id> (the load balancer's "
            "LoadBalancerFullName attribute)",
            **({"Default": lb_default} if lb_default else {}),
        }
    template = {
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
    check_limits(template)
    return template


def _rule_names(rule: str) -> list[str]:
    return re.findall(r'ALARM\("([^"]+)"\)', rule)


def _blind_signals(
    d: DetectionConfig,
    names: AlarmNames,
    az: str,
    metric_alarm: Any,
    *,
    minutes: str,
    per_window: str,
) -> list[str]:
    """The AZ's signals that do not come from its own hosts, as terms of the blind composite:
    the load balancer's own 5xx in the AZ (an outlier among the AZs), the AZ's traffic vanished
    from the service's count, and most of its targets unhealthy."""
    th, out = d.thresholds, d.outlier
    lb = d.load_balancer
    terms: list[str] = []
    window = d.evaluation.window_minutes * PERIOD
    if d.source == "service" and lb is not None and lb.type == "application":
        lb_sig = _Signals(d, "load_balancer")
        ns = "AWS/ApplicationELB"
        # The load balancer answers for the targets that no longer answer: 502, 503, 504 are
        # all in HTTPCode_ELB_5XX_Count (load-balancer-cloudwatch-metrics.html).
        elb = lb_sig._stat(
            "elb", ns, "HTTPCode_ELB_5XX_Count", lb_sig._lb_dims(az), "Sum", period=PERIOD
        )
        metric_alarm(
            names.lb_faults[az],
            f"The load balancer's own 5xx (%) in {az} above {_num(th.lb_fault_percent)} "
            f"{minutes}",
            [lb_sig.requests(az, "req"), elb,
             {"Id": "rate",
              "Expression": f"IF(req > 0 AND elb >= {th.min_faults_per_minute}, "
              "100 * elb / req, 0)",
              "Label": f"load balancer 5xx % {az}"}],
            th.lb_fault_percent,
            "GreaterThanThreshold",
        )  # fmt: skip
        metric_alarm(
            names.lb_fault_zscore[az],
            f"The load balancer's 5xx in {az} against {az}'s share of its requests: at least "
            f"{_num(out.zscore)} standard deviations {per_window}",
            [lb_sig.requests(az, "req", window), lb_sig.requests(None, "reqall", window),
             lb_sig._stat("elb", ns, "HTTPCode_ELB_5XX_Count", lb_sig._lb_dims(az), "Sum",
                          period=window),
             lb_sig._stat("elball", ns, "HTTPCode_ELB_5XX_Count", lb_sig._lb_dims(None), "Sum",
                          period=window),
             {"Id": "z",
              "Expression": _binomial_z("elb", "elball", "req", "reqall", out.min_events),
              "Label": f"load balancer 5xx z {az}"}],
            out.zscore,
            "GreaterThanOrEqualToThreshold",
            windowed=True,
        )  # fmt: skip
        terms.append(f'(ALARM("{names.lb_faults[az]}") AND ALARM("{names.lb_fault_zscore[az]}"))')
    if d.source == "service":
        sig = _Signals(d)
        if lb is not None:
            # What the load balancer sent to the AZ and the service never saw. Once the AZ's
            # traffic is shifted away, the load balancer sends it nothing either: no alarm then,
            # so the AZ's alarms can return to OK for the operator's recovery.
            sent = "sent"
            queries = [sig.requests(az, "req"), _Signals(d, "load_balancer").requests(az, sent)]
            against = f"the load balancer's requests to {az}"
        else:
            # Without a load balancer, against the other AZs' mean.
            sent = f"((reqall - req) / {len(d.az_ids) - 1})"
            queries = [sig.requests(az, "req"), sig.requests(None, "reqall")]
            against = "the other AZs' mean while they carry traffic"
        # Missing data breaching (the whitepaper, single-instance zonal resources): FILL makes
        # the AZ's missing count a 0 at every minute, so an AZ that publishes nothing has
        # vanished. TreatMissingData then only applies where the query holds no series at all
        # (no history yet), where it must not flag every AZ: notBreaching.
        metric_alarm(
            names.vanished[az],
            f"{az}'s requests (the service's count) below {_num(th.vanished_ratio)} of {against} "
            f"{minutes}",
            [*queries,
             {"Id": "ratio",
              "Expression": f"IF({sent} >= {th.vanished_min_requests}, "
              f"FILL(req, 0) / {sent}, 1)",
              "Label": f"requests seen vs sent {az}"}],
            th.vanished_ratio,
            "LessThanThreshold",
        )  # fmt: skip
        terms.append(f'ALARM("{names.vanished[az]}")')
    if lb is not None and lb.target_group is not None and lb.type == "application":
        dims = [
            {"Name": "TargetGroup", "Value": lb.target_group},
            {"Name": "LoadBalancer", "Value": {"Ref": "LoadBalancer"}},
            {"Name": "AvailabilityZone", "Value": lb.zones[az]},
        ]
        ns = "AWS/ApplicationELB"
        metric_alarm(
            names.hosts_unhealthy[az],
            f"At least {_num(th.unhealthy_host_share)} of the targets in {az} unhealthy "
            f"{minutes}",
            [_Signals._stat("bad", ns, "UnHealthyHostCount", dims, "Maximum", period=PERIOD),
             _Signals._stat("good", ns, "HealthyHostCount", dims, "Minimum", period=PERIOD),
             {"Id": "share", "Expression": "IF(bad + good > 0, bad / (bad + good), 0)",
              "Label": f"unhealthy share {az}"}],
            th.unhealthy_host_share,
            "GreaterThanOrEqualToThreshold",
        )  # fmt: skip
        terms.append(f'ALARM("{names.hosts_unhealthy[az]}")')
    return terms


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
        # One minute of spread faults among the last N is the evidence: at low traffic two hosts
        # rarely fail in the same minute three times, and the pairing with impact and an outlier
        # test carries the persistence.
        datapoints=1,
    )  # fmt: skip
    # One host now: the worst instance holds most of this minute's events. The evidence of more
    # than one host above has a memory of N minutes (at low traffic it must); this one has none,
    # so the minute one instance takes over, the isolated alarm stops (aws-semantics 6.1: one bad
    # host is not an AZ).
    one = [q for q in metrics if q["Id"][:3] in ("top", "all")]
    dominant = " OR ".join(
        f"(all{tag} >= {ci.one_host_min_events} AND top{tag} > {ci.max_top_host_share} * all{tag})"
        for tag, _, _ in rules
    )
    metric_alarm(
        names.one_host[az],
        f"One instance holds more than {ci.max_top_host_share:.0%} of this minute's faults or "
        f"slow requests in {az}",
        [*(dict(q) for q in one),
         {"Id": "one", "Expression": f"IF({dominant}, 1, 0)", "Label": f"one instance {az}"}],
        1,
        "GreaterThanOrEqualToThreshold",
        datapoints=1,
        periods=1,
    )  # fmt: skip
    for name in (names.faulting_hosts[az], names.one_host[az]):
        resources[logical_id(name)]["DependsOn"] = sorted(
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
