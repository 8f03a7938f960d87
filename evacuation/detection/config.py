"""The `detection` section of the azevac config: which signals say an AZ is impaired, the
thresholds, and the alarm names they produce.

The names are derived here, once: the alarm generator names the alarms it creates with them, and
the azevac config takes its `alarms` map and `safety.regional_alarm` from them, so detection and
action cannot drift (`with_detection_alarms`). See README "Detection".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from evacuation.model import AZ_ID_PATTERN, AZ_NAME_PATTERN

SIGNAL_PREFIX = "azevac-signal-"
"""Child alarms (the inputs of the composites) start with this, not with the workload's alarm
prefix, so azevac's EventBridge rule (AlarmNamePrefix) is not invoked for each of them."""


def _az_id(value: str) -> str:
    if AZ_NAME_PATTERN.match(value) or not AZ_ID_PATTERN.match(value):
        raise ValueError(f"{value!r} is not an AZ ID like use1-az1 (zone names differ per account)")
    return value


def _zone_name(value: str) -> str:
    if not AZ_NAME_PATTERN.match(value):
        raise ValueError(f"{value!r} is not a zone name like us-east-1b")
    return value


AzId = Annotated[str, AfterValidator(_az_id)]
ZoneName = Annotated[str, AfterValidator(_zone_name)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=255, strip_whitespace=True)]
LB_FULL_NAME = r"^(app|net)/[A-Za-z0-9-]{1,32}/[0-9a-f]{1,16}$"
TARGET_GROUP_FULL_NAME = r"^targetgroup/[A-Za-z0-9-]{1,32}/[0-9a-f]{1,16}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class LoadBalancerSource(_Strict):
    """An ALB or NLB's per-AZ metrics (`AWS/ApplicationELB`, `AWS/NetworkELB`, dimension
    `AvailabilityZone`, a zone *name*)."""

    type: Literal["application", "network"] = "application"
    full_name: Annotated[str, StringConstraints(pattern=LB_FULL_NAME)] | None = None
    """The `LoadBalancer` dimension (`app/<name>/<id>`); None: a parameter of the stack."""
    zones: dict[AzId, ZoneName] = Field(min_length=2)
    """AZ ID -> zone name in this account (`aws ec2 describe-availability-zones`)."""
    target_group: Annotated[str, StringConstraints(pattern=TARGET_GROUP_FULL_NAME)] | None = None
    """The `TargetGroup` dimension (`targetgroup/<name>/<id>`) of the service's targets: with it,
    an AZ where most targets are unhealthy is impact the AZ's own hosts need not report."""


class ServiceSource(_Strict):
    """The service's own metrics (EMF), one series per AZ ID: preferred where cross-zone load
    balancing dilutes the load balancer's per-AZ view. Every metric is published with two
    dimension sets, `[*dimensions, az_dimension]` and `[*dimensions]` (the region's total, which
    the outlier tests and the regional alarm read; README "Detection")."""

    namespace: Name
    az_dimension: Name = "AZ-ID"
    dimensions: dict[Name, Name] = Field(default_factory=dict)
    """Other dimensions every series carries (e.g. {"Operation": "all"})."""
    requests_metric: Name = "Requests"
    faults_metric: Name = "Faults"
    latency_metric: Name | None = "Latency"
    """In milliseconds; None: no latency alarms."""


class ContributorInsightsSource(_Strict):
    """A Contributor Insights rule per AZ over the service's JSON logs: which instances fault."""

    log_group_names: list[Name] = Field(min_length=1)
    instance_field: Name = "$.InstanceId"
    az_field: Name = "$.AZ-ID"
    fault_field: Name = "$.Fault"
    """A log event is a fault when this field is greater than 0."""
    latency_field: Name | None = "$.Latency"
    """Milliseconds; a second rule counts instances with requests slower than
    thresholds.latency_p99_ms (None: faults only)."""
    min_hosts: int = Field(default=2, ge=2)
    max_top_host_share: float = Field(default=0.75, gt=0, lt=1)
    """Above this share of an AZ's faults from its single worst host, it is one bad host."""
    one_host_min_events: int = Field(default=4, ge=2)
    """Events (faults or slow requests) in a minute from which one host holding most of them
    blocks the isolated alarm that minute (below, too few to tell one host from chance)."""


class Thresholds(_Strict):
    fault_rate_percent: float = Field(default=1.0, gt=0, le=100)
    latency_p99_ms: float | None = Field(default=1000.0, gt=0)
    """A request slower than this is slow; latency is impact when more than `slow_percent` of
    a minute's requests are slow (1 %: the p99 is above this)."""
    slow_percent: float = Field(default=2.0, gt=0, le=100)
    min_faults_per_minute: int = Field(default=1, ge=1)
    """Below this many faults in a minute the fault rate counts as 0. The evidence that the AZ is
    an outlier is counted over `evaluation.window_minutes` (`outlier.min_events`), so that it
    scales with traffic instead of resting on a per-minute floor."""
    min_requests_for_latency: int = Field(default=1, ge=1)
    """Below this many requests in a minute latency counts as healthy."""
    min_slow_per_minute: int = Field(default=2, ge=1)
    """Below this many slow requests in a minute latency counts as healthy: one slow request of
    ten is 10 %, and slow requests are commoner than faults on a healthy service."""
    vanished_ratio: float = Field(default=0.2, gt=0, lt=1)
    """Traffic vanished: the AZ's requests, as the service counts them (missing counts as 0),
    below this share of the requests the load balancer sent to the AZ (without a load balancer:
    of the other AZs' mean)."""
    vanished_min_requests: int = Field(default=10, ge=1)
    """Requests per minute (sent to the AZ, or the other AZs' mean) below which traffic is too
    low to tell."""
    lb_fault_percent: float = Field(default=50.0, gt=0, le=100)
    """The load balancer's own 5xx (502, 503, 504: targets that do not answer) as a share of the
    AZ's requests above which the AZ fails as seen from outside its hosts: above what one hung
    host of a small AZ can cause (a third of three), since no load balancer metric says which
    target failed."""
    unhealthy_host_share: float = Field(default=0.5, gt=0, le=1)
    """With `load_balancer.target_group`: at least this share of the AZ's targets unhealthy."""


class Outlier(_Strict):
    static_share: float = Field(default=0.7, gt=0, le=1)
    """This AZ's share of all faults in the window (whitepaper: 0.66 for 3 AZs)."""
    zscore: float = Field(default=3.5, gt=0)
    """The binomial test: this AZ's faults (or slow requests) in the window against its share of
    the requests, in standard deviations (the whitepaper's statistical test, in the form metric
    math can compute)."""
    min_events: int = Field(default=5, ge=1)
    """Faults (or slow requests) in the whole region in the window below which no AZ is an
    outlier."""


class Evaluation(_Strict):
    datapoints_to_alarm: int = Field(default=3, ge=1)
    evaluation_periods: int = Field(default=5, ge=1)
    window_minutes: int = Field(default=10, ge=2, le=60)
    """The outlier tests count faults and slow requests over this many minutes (the alarm's
    Period): windowed evidence, evaluated every minute."""

    @model_validator(mode="after")
    def _m_of_n(self) -> Evaluation:
        if self.datapoints_to_alarm > self.evaluation_periods:
            raise ValueError("datapoints_to_alarm must not exceed evaluation_periods")
        return self


class DetectionConfig(_Strict):
    """See README "Detection" for every key."""

    az_ids: list[AzId] = Field(min_length=2)
    signal: Literal["load_balancer", "service"] | None = None
    """Which source drives the alarms; default: service when given, else load_balancer."""
    load_balancer: LoadBalancerSource | None = None
    service: ServiceSource | None = None
    contributor_insights: ContributorInsightsSource | None = None
    thresholds: Thresholds = Thresholds()
    outlier: Outlier = Outlier()
    evaluation: Evaluation = Evaluation()
    alarm_prefix: Annotated[str, StringConstraints(max_length=100)] | None = None
    """Prefix of the isolated-impact and regional alarms; default "<workload>-" (the template's
    AlarmNamePrefix must match it)."""

    @model_validator(mode="after")
    def _sources(self) -> DetectionConfig:
        if len(set(self.az_ids)) != len(self.az_ids):
            raise ValueError("az_ids lists an AZ twice")
        if self.load_balancer is None and self.service is None:
            raise ValueError("names no signal: give load_balancer or service")
        if self.source == "service" and self.service is None:
            raise ValueError("signal is service but no service source is given")
        if self.source == "load_balancer" and self.load_balancer is None:
            raise ValueError("signal is load_balancer but no load_balancer is given")
        if self.load_balancer is not None and set(self.load_balancer.zones) != set(self.az_ids):
            raise ValueError("load_balancer.zones must map exactly the az_ids to zone names")
        return self

    @property
    def source(self) -> Literal["load_balancer", "service"]:
        if self.signal is not None:
            return self.signal
        return "service" if self.service is not None else "load_balancer"

    @property
    def has_latency(self) -> bool:
        if self.thresholds.latency_p99_ms is None:
            return False
        if self.source == "service":
            return self.service is not None and self.service.latency_metric is not None
        return self.load_balancer is not None and self.load_balancer.type == "application"


@dataclass(frozen=True)
class AlarmNames:
    """Every alarm the kit creates, by role. Isolated-impact and regional are what azevac acts on
    (and refuses on); the rest are their inputs."""

    isolated: dict[str, str]
    """AZ ID -> "<prefix><az>-isolated-impact" (the AZ ID in the name: aws-semantics DET-1)."""
    regional: str
    impact: dict[str, str]
    fault_rate: dict[str, str]
    early_impact: dict[str, str]
    """AZ ID -> the fault rate on one datapoint fewer: blocks other AZs, pages regional."""
    latency: dict[str, str]
    fault_share: dict[str, str]
    fault_zscore: dict[str, str]
    latency_zscore: dict[str, str]
    faulting_hosts: dict[str, str]
    one_host: dict[str, str]
    blind: dict[str, str]
    """AZ ID -> the composite of the signals that need nothing from the AZ's own hosts."""
    lb_faults: dict[str, str]
    lb_fault_zscore: dict[str, str]
    vanished: dict[str, str]
    hosts_unhealthy: dict[str, str]
    insight_rules: dict[str, str]
    slow_rules: dict[str, str]
    regional_fault_rate: str
    dashboard: str


def alarm_names(workload: str, detection: DetectionConfig) -> AlarmNames:
    prefix = detection.alarm_prefix if detection.alarm_prefix is not None else f"{workload}-"
    signal = f"{SIGNAL_PREFIX}{workload}-"

    def per_az(suffix: str, base: str = signal) -> dict[str, str]:
        return {az: f"{base}{az}-{suffix}" for az in detection.az_ids}

    return AlarmNames(
        isolated=per_az("isolated-impact", prefix),
        regional=f"{prefix}regional-impact",
        impact=per_az("impact"),
        fault_rate=per_az("fault-rate"),
        early_impact=per_az("early-impact"),
        latency=per_az("latency"),
        fault_share=per_az("fault-share"),
        fault_zscore=per_az("fault-zscore"),
        latency_zscore=per_az("latency-zscore"),
        faulting_hosts=per_az("faulting-hosts"),
        one_host=per_az("one-host"),
        blind=per_az("blind"),
        lb_faults=per_az("lb-faults"),
        lb_fault_zscore=per_az("lb-fault-zscore"),
        vanished=per_az("traffic-vanished"),
        hosts_unhealthy=per_az("hosts-unhealthy"),
        insight_rules=per_az("faulting-hosts", f"{workload}-"),
        slow_rules=per_az("slow-hosts", f"{workload}-"),
        regional_fault_rate=f"{signal}regional-fault-rate",
        dashboard=f"{workload}-azevac-detection",
    )


def with_detection_alarms(data: Any) -> Any:
    """The raw config with `alarms` and `safety.regional_alarm` taken from its `detection`
    section. A name the config already maps to another AZ, or another regional alarm, is an
    error: the config would act on alarms the kit does not create. Anything malformed is left
    alone for the field validation to report with its key path."""
    if not isinstance(data, Mapping) or data.get("detection") is None:
        return data
    workload, alarms, safety = data.get("workload"), data.get("alarms", {}), data.get("safety", {})
    if not (isinstance(workload, str) and isinstance(alarms, Mapping)):
        return data
    if not isinstance(safety, Mapping):
        return data
    try:
        detection = DetectionConfig.model_validate(data["detection"])
    except ValidationError:
        return data
    names = alarm_names(workload, detection)
    merged = dict(alarms)
    for name, az in ((n, a) for a, n in names.isolated.items()):
        if merged.get(name, az) != az:
            raise ValueError(f"alarms maps {name} to {merged[name]}, detection makes it {az}'s")
        merged[name] = az
    regional = safety.get("regional_alarm")
    if regional not in (None, names.regional):
        raise ValueError(
            f"safety.regional_alarm is {regional}, but detection creates {names.regional}"
        )
    return {**data, "alarms": merged, "safety": {**safety, "regional_alarm": names.regional}}


DimensionSets = Mapping[str, set[frozenset[tuple[str, str]]]]
"""metric name -> the dimension sets CloudWatch lists for it (ListMetrics)."""


def published_metrics(detection: DetectionConfig) -> list[str]:
    """The service's metrics whose dimension sets readiness checks (none in load balancer
    mode: AWS publishes those)."""
    service = detection.service
    if detection.source != "service" or service is None:
        return []
    names = [service.requests_metric, service.faults_metric]
    if detection.has_latency and service.latency_metric is not None:
        names.append(service.latency_metric)
    return names


def missing_dimension_sets(detection: DetectionConfig, found: DimensionSets) -> list[str]:
    """One sentence per dimension set the alarms read that the service has not published in
    the last 3 hours: `[*dimensions, az_dimension]` per AZ and `[*dimensions]` (the region's
    total, which the outlier tests and the regional alarm read). A metric CloudWatch does not
    have is no data for the alarms, not an alarm: the kit would be silent."""
    service = detection.service
    if service is None:
        return []
    base = frozenset(service.dimensions.items())
    problems = []
    for metric in published_metrics(detection):
        sets = found.get(metric, set())
        wanted = {"(no AZ: the region's total)": base} | {
            az: base | {(service.az_dimension, az)} for az in detection.az_ids
        }
        absent = [label for label, dims in wanted.items() if dims not in sets]
        if absent:
            shown = ", ".join(f"{k}={v}" for k, v in sorted(base)) or "no other dimension"
            problems.append(
                f"detection: {service.namespace}/{metric} [{shown}] has not been published in "
                f"the last 3 hours for {', '.join(absent)}: EMF must publish both dimension sets, "
                f"[{', '.join(sorted(service.dimensions))}{', ' if base else ''}"
                f"{service.az_dimension}] and [{', '.join(sorted(service.dimensions))}] "
                "(README Detection)"
            )
    return problems
