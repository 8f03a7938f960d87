"""The scenario library: per-AZ metrics at one-minute resolution, seeded and reproducible.

Each scenario simulates a three-AZ service of ten instances per AZ behind an ALB, minute by
minute: requests per instance, faults and slow requests drawn at the instance's rates, and what
CloudWatch would hold for it: the service's own EMF metrics by AZ ID (Requests, Faults, Latency
p99), the ALB's per-AZ metrics by zone name (RequestCount, HTTPCode_Target_5XX_Count, only when
non-zero as ALB publishes them, HTTPCode_ELB_5XX_Count, TargetResponseTime p99 in seconds), and
the Contributor Insights rules' metrics (UniqueContributors, MaxContributorValue, Sum) over the
instances' fault and slow-request log lines.

With cross-zone load balancing on, every ALB node spreads its requests over the targets of all
AZs, so the ALB's per-AZ view shows each target AZ's faults spread evenly over all three zones
(aws-semantics 6.3, inferred); the service's own metrics still carry the instance's AZ ID.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

AZ_IDS = ("use1-az1", "use1-az2", "use1-az6")
ZONES = {"use1-az1": "us-east-1b", "use1-az2": "us-east-1c", "use1-az6": "us-east-1a"}
"""moto's (and this library's) mapping of zone names to IDs."""
IMPAIRED = "use1-az1"
HOSTS = 10
MINUTES = 60
ONSET = 20
LOAD_BALANCER = "app/checkout-alb/0123456789abcdef"
NAMESPACE = "checkout"
SERVICE_DIMS = (("Operation", "all"),)
BASE_FAULT = 0.0005
BASE_MS = 120.0
SLOW_MS = 2500.0
Key = tuple[str, str, frozenset[tuple[str, str]], str]


@dataclass(frozen=True)
class Effect:
    """From `start` to `end` (minutes, end excluded), instances of `az` fault or are slow."""

    az: str
    start: int
    end: int
    fault_rate: float = 0.0
    slow_fraction: float = 0.0
    hosts: tuple[int, ...] | None = None
    """Which instances (0-9); None: all of the AZ's."""
    on_off: tuple[int, int] | None = None
    """(minutes on, minutes off): the effect flaps."""

    def applies(self, az: str, host: int, minute: int) -> bool:
        if az != self.az or not self.start <= minute < self.end:
            return False
        if self.hosts is not None and host not in self.hosts:
            return False
        if self.on_off is not None:
            on, off = self.on_off
            return (minute - self.start) % (on + off) < on
        return True


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    expected: str | None
    """The AZ with isolated impact, or None."""
    effects: tuple[Effect, ...] = ()
    regional: bool = False
    """The regional alarm must fire."""
    target_minutes: int | None = None
    """Detect within this many minutes of the onset (the issue's target), or None."""
    requests_per_host: int = 120
    base_fault: float = BASE_FAULT
    base_slow: float = 0.0
    cross_zone: bool = False
    seed: int = 0
    recovers_at: int | None = None
    max_episodes: int | None = None
    """At most this many ALARM episodes of the expected AZ's alarm (flapping)."""

    @property
    def onset(self) -> int | None:
        return min((e.start for e in self.effects), default=None)


def _whole_az(rate: float, **kw: object) -> Effect:
    return Effect(IMPAIRED, ONSET, 50, fault_rate=rate, **kw)  # type: ignore[arg-type]


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("az-2pct", "2 % faults in one AZ", IMPAIRED, (_whole_az(0.02),), seed=1),
    Scenario(
        "az-5pct", "5 % faults in one AZ", IMPAIRED, (_whole_az(0.05),), target_minutes=3, seed=2
    ),
    Scenario(
        "az-20pct", "20 % faults in one AZ", IMPAIRED, (_whole_az(0.2),), target_minutes=3, seed=3
    ),
    Scenario(
        "latency-only",
        "Gray failure, latency only: 5 % of requests take 2.5 s in one AZ",
        IMPAIRED,
        (Effect(IMPAIRED, ONSET, 50, slow_fraction=0.05),),
        seed=4,
    ),
    Scenario(
        "single-host",
        "One bad instance (all its requests fail)",
        None,
        (Effect(IMPAIRED, ONSET, 50, fault_rate=1.0, hosts=(3,)),),
        seed=5,
    ),
    Scenario(
        "two-hosts",
        "Two bad instances in one AZ",
        IMPAIRED,
        (Effect(IMPAIRED, ONSET, 50, fault_rate=1.0, hosts=(3, 7)),),
        target_minutes=3,
        seed=6,
    ),
    Scenario(
        "regional",
        "Regional event: 8 % faults in every AZ",
        None,
        tuple(Effect(az, ONSET, 50, fault_rate=0.08) for az in AZ_IDS),
        regional=True,
        seed=7,
    ),
    Scenario(
        "quiet-night",
        "Quiet night: 2 requests per instance-minute, sporadic errors and slow requests",
        None,
        requests_per_host=2,
        base_fault=0.01,
        base_slow=0.02,
        seed=8,
    ),
    Scenario(
        "deployment-blip",
        "Deployment blip: half of one AZ's instances fail 30 % for 2 minutes",
        None,
        (Effect(IMPAIRED, ONSET, ONSET + 2, fault_rate=0.3, hosts=(0, 1, 2, 3, 4)),),
        seed=9,
    ),
    Scenario(
        "cross-zone",
        "20 % faults in one AZ behind a cross-zone-enabled ALB",
        IMPAIRED,
        (_whole_az(0.2),),
        cross_zone=True,
        target_minutes=3,
        seed=10,
    ),
    Scenario(
        "recovery",
        "20 % faults in one AZ for 15 minutes, then healthy",
        IMPAIRED,
        (Effect(IMPAIRED, ONSET, ONSET + 15, fault_rate=0.2),),
        target_minutes=3,
        recovers_at=ONSET + 15,
        seed=11,
    ),
    Scenario(
        "flapping",
        "10 % faults in one AZ, 2 minutes on, 1 minute off, for 30 minutes",
        IMPAIRED,
        (Effect(IMPAIRED, ONSET, 50, fault_rate=0.1, on_off=(2, 1)),),
        max_episodes=1,
        seed=12,
    ),
)
BY_NAME = {s.name: s for s in SCENARIOS}


def _binomial(rng: random.Random, n: int, p: float) -> int:
    if p <= 0 or n <= 0:
        return 0
    if p >= 1:
        return n
    return sum(1 for _ in range(n) if rng.random() < p)


def _p99(rng: random.Random, requests: int, slow: int) -> float | None:
    """p99 of a minute's latencies: a slow request is in the top 1 % once it is at least 1 %."""
    if requests == 0:
        return None
    if slow > 0 and slow >= requests * 0.01:
        return SLOW_MS * rng.uniform(0.9, 1.1)
    return BASE_MS * rng.uniform(0.85, 1.3)


@dataclass
class MetricData:
    """What CloudWatch holds for one scenario: `MetricSource` for the evaluator."""

    series: dict[Key, dict[int, float]] = field(default_factory=lambda: defaultdict(dict))
    insights: dict[tuple[str, str], dict[int, float]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    minutes: int = MINUTES
    rule_for_az: Callable[[str, str], str] | None = None

    def value(
        self, namespace: str, metric: str, dimensions: frozenset[tuple[str, str]], stat: str, t: int
    ) -> float | None:
        return self.series.get((namespace, metric, dimensions, stat), {}).get(t)

    def insight(self, rule: str, metric: str, t: int) -> float | None:
        return self.insights.get((rule, metric), {}).get(t)

    def put(self, key: Key, t: int, value: float | None) -> None:
        if value is not None:
            self.series[key][t] = value


def _svc(metric: str, stat: str, az: str | None) -> Key:
    dims = set(SERVICE_DIMS) | ({("AZ-ID", az)} if az else set())
    return (NAMESPACE, metric, frozenset(dims), stat)


def _alb(metric: str, stat: str, az: str | None) -> Key:
    dims = {("LoadBalancer", LOAD_BALANCER)} | ({("AvailabilityZone", ZONES[az])} if az else set())
    return ("AWS/ApplicationELB", metric, frozenset(dims), stat)


def simulate(
    scenario: Scenario, rule_names: dict[str, tuple[str, str]] | None = None
) -> MetricData:
    """The scenario's metrics; `rule_names`: AZ ID -> (faulting rule, slow rule) names."""
    rng = random.Random(scenario.seed)  # noqa: S311 - synthetic data, not security
    data = MetricData(minutes=MINUTES)
    for t in range(MINUTES):
        totals = {"req": 0, "flt": 0, "slow": 0}
        per_az: dict[str, dict[str, int]] = {}
        for az in AZ_IDS:
            req = flt = slow = 0
            host_faults: list[int] = []
            host_slow: list[int] = []
            for host in range(HOSTS):
                n = max(
                    0, round(rng.gauss(scenario.requests_per_host, scenario.requests_per_host**0.5))
                )
                fault_p, slow_p = scenario.base_fault, scenario.base_slow
                for effect in scenario.effects:
                    if effect.applies(az, host, t):
                        fault_p = max(fault_p, effect.fault_rate)
                        slow_p = max(slow_p, effect.slow_fraction)
                f = _binomial(rng, n, fault_p)
                s = _binomial(rng, n - f, slow_p)
                req, flt, slow = req + n, flt + f, slow + s
                host_faults.append(f)
                host_slow.append(s)
            per_az[az] = {"req": req, "flt": flt, "slow": slow}
            for k, v in per_az[az].items():
                totals[k] += v
            data.put(_svc("Requests", "Sum", az), t, req)
            data.put(_svc("Faults", "Sum", az), t, flt)
            data.put(_svc("Latency", "p99", az), t, _p99(rng, req, slow))
            if rule_names and az in rule_names:
                for rule, counts in zip(rule_names[az], (host_faults, host_slow), strict=True):
                    data.insights[(rule, "UniqueContributors")][t] = sum(1 for c in counts if c)
                    data.insights[(rule, "MaxContributorValue")][t] = max(counts)
                    data.insights[(rule, "Sum")][t] = sum(counts)
        data.put(_svc("Requests", "Sum", None), t, totals["req"])
        data.put(_svc("Faults", "Sum", None), t, totals["flt"])
        # The ALB's view: by the zone of the node that handled the request.
        for az in AZ_IDS:
            if scenario.cross_zone:
                share = 1 / len(AZ_IDS)
                req = round(totals["req"] * share)
                flt = (
                    _binomial(rng, totals["flt"], share)
                    if totals["flt"] < 5000
                    else round(totals["flt"] * share)
                )
                slow = round(totals["slow"] * share)
            else:
                req, flt, slow = (per_az[az][k] for k in ("req", "flt", "slow"))
            elb = _binomial(rng, flt, 0.1)
            data.put(_alb("RequestCount", "Sum", az), t, req or None)
            data.put(_alb("HTTPCode_Target_5XX_Count", "Sum", az), t, (flt - elb) or None)
            data.put(_alb("HTTPCode_ELB_5XX_Count", "Sum", az), t, elb or None)
            p99 = _p99(rng, req, slow)
            data.put(_alb("TargetResponseTime", "p99", az), t, None if p99 is None else p99 / 1000)
        data.put(_alb("RequestCount", "Sum", None), t, totals["req"] or None)
        elb = _binomial(rng, totals["flt"], 0.1)
        data.put(_alb("HTTPCode_Target_5XX_Count", "Sum", None), t, (totals["flt"] - elb) or None)
        data.put(_alb("HTTPCode_ELB_5XX_Count", "Sum", None), t, elb or None)
    return data
