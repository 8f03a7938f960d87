"""The scenario library and its simulator: per-AZ metrics at one-minute resolution, seeded and
reproducible, from an hour to 30 days.

A scenario is a service in N AZs (`az_ids`, any of use1-az1..az6) of `hosts` instances each (an
AZ may have fewer) behind an ALB, minute by minute: requests per instance (Poisson, the AZ's
traffic per minute spread over its instances that are up), faults and slow requests drawn at the
instance's rates (binomial), and what CloudWatch would hold for it:

- the service's own EMF metrics by AZ ID: `Requests` and `Faults` (Sum), `Latency` p99 (ms) and
  `TC(x:)` (requests slower than x ms); an AZ that served no request in a minute publishes nothing
  that minute (EMF emits nothing);
- the ALB's per-AZ metrics by zone name: `RequestCount`, `HTTPCode_Target_5XX_Count`,
  `HTTPCode_ELB_5XX_Count` and its 502/503/504 parts (Sum, published only when non-zero, as ALB
  does), `TargetResponseTime` p99 and `TC(x:)` (seconds);
- the target group's per-AZ `UnHealthyHostCount` and `HealthyHostCount` (Maximum, Minimum, every
  minute, 0 included);
- the Contributor Insights rules' `UniqueContributors`, `MaxContributorValue` and `Sum` over the
  instances' fault and slow-request log lines: no datapoint in a minute where no log event matched.

Effects (`Effect`): faults and slow requests on an AZ's instances (all or some, flapping, ramping
up over k minutes), or a blackhole: from the onset the instances publish nothing (no EMF, no log
events) while the load balancer still sends them the AZ's share and answers 502/504 for it; its
health checks fail (two consecutive 30 s checks: unhealthy within ~2 minutes), or, in the gray
variant, still pass. Traffic: flat or diurnal (a sine with its trough at 20 % of the peak), and it
may move away from an AZ after the onset (`Shift`). Deployments (`Deployment`) restart instances
one or two at a time, AZ by AZ: the stopping instance fails some in-flight requests, is down
(health checks failing) for two minutes, and is slow on its first minute back.

With cross-zone load balancing on, every ALB node spreads its requests over the targets of all
AZs, so the ALB's per-AZ view shows each target AZ's faults spread evenly over all zones
(aws-semantics 6.3, inferred); the service's own metrics still carry the instance's AZ ID.

Every series is a numpy array (float64, one element per minute, NaN = no datapoint): `MetricData`
answers the evaluator point by point (`value`, `insight`) and as whole arrays (`array`,
`insight_array`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]

ZONE_NAMES = {
    "use1-az1": "us-east-1b",
    "use1-az2": "us-east-1c",
    "use1-az3": "us-east-1d",
    "use1-az4": "us-east-1e",
    "use1-az5": "us-east-1f",
    "use1-az6": "us-east-1a",
}
"""Zone name of each of the six us-east-1 AZ IDs this library uses (moto's mapping for az1, az2
and az6; the others in the same order)."""
AZ_IDS = ("use1-az1", "use1-az2", "use1-az6")
ZONES = {az: ZONE_NAMES[az] for az in AZ_IDS}
"""moto's (and this library's) mapping of zone names to IDs, for the three-AZ library."""
IMPAIRED = "use1-az1"
HOSTS = 10
MINUTES = 60
ONSET = 20
DAY = 1440
LOAD_BALANCER = "app/checkout-alb/0123456789abcdef"
TARGET_GROUP = "targetgroup/checkout-tg/0123456789abcdef"
NAMESPACE = "checkout"
SERVICE_DIMS = (("Operation", "all"),)
BASE_FAULT = 0.0005
BASE_SLOW = 0.002
"""Healthy days' occasional slow requests."""
BASE_MS = 120.0
SLOW_MS = 2500.0
NORMAL_SIGMA = 0.25
"""Normal requests' latency: lognormal around BASE_MS (P(> 1 s) ~ 1e-17); slow ones uniform in
SLOW_MS +- 10 %."""
ELB_SHARE_OF_FAULTS = 0.1
"""Of an instance's faults, the share the ALB answers itself (502: the connection reset)."""
Key = tuple[str, str, frozenset[tuple[str, str]], str]
EffectKind = Literal["faults", "blackhole", "blackhole-gray"]


def az_ids(count: int) -> tuple[str, ...]:
    """The library's AZ IDs for a count: 3 is `AZ_IDS`; 2 its first two; 6 all of use1-az1..6."""
    if count == len(AZ_IDS):
        return AZ_IDS
    if count == 2:
        return AZ_IDS[:2]
    if 2 <= count <= len(ZONE_NAMES):
        return tuple(f"use1-az{i}" for i in range(1, count + 1))
    raise ValueError(f"{count} AZs: the library has 2 to {len(ZONE_NAMES)}")


def zones(ids: tuple[str, ...]) -> dict[str, str]:
    return {az: ZONE_NAMES[az] for az in ids}


@dataclass(frozen=True)
class Effect:
    """From `start` to `end` (minutes, end excluded), instances of `az` fault, are slow, or are
    blackholed."""

    az: str
    start: int
    end: int
    fault_rate: float = 0.0
    slow_fraction: float = 0.0
    hosts: tuple[int, ...] | None = None
    """Which instances (0-based); None: all of the AZ's."""
    on_off: tuple[int, int] | None = None
    """(minutes on, minutes off): the effect flaps."""
    kind: EffectKind = "faults"
    """blackhole: the instances publish nothing and the ALB answers 502/504 for their requests;
    their health checks fail (blackhole-gray: they still pass)."""
    ramp: int = 0
    """The rates rise linearly from rate/ramp at `start` to the full rate `ramp` minutes later."""

    def applies(self, az: str, host: int, minute: int) -> bool:
        if az != self.az or not self.start <= minute < self.end:
            return False
        if self.hosts is not None and host not in self.hosts:
            return False
        if self.on_off is not None:
            on, off = self.on_off
            return (minute - self.start) % (on + off) < on
        return True

    def intensity(self, minutes: npt.NDArray[np.int64]) -> Array:
        """Per minute: 0 where the effect is off, else the fraction of its rate."""
        active = (minutes >= self.start) & (minutes < self.end)
        if self.on_off is not None:
            on, off = self.on_off
            active &= (minutes - self.start) % (on + off) < on
        level = np.ones(len(minutes))
        if self.ramp > 0:
            level = np.clip((minutes - self.start + 1) / self.ramp, 0.0, 1.0)
        return np.where(active, level, 0.0)


@dataclass(frozen=True)
class Shift:
    """Traffic moving away from `az` after `start`: its share falls linearly over `over`
    minutes to `share` of what it was; the other AZs take the rest evenly."""

    az: str
    start: int
    share: float = 0.3
    over: int = 5


@dataclass(frozen=True)
class Deployment:
    """A rolling deployment from `start`: `batch` instances at a time, AZ by AZ, each batch for
    `minutes_per_batch` minutes: a stopping minute (`stop_fault` of its requests fail), down
    minutes (no traffic, health checks failing) and a first minute back (`cold_slow` slow)."""

    start: int
    batch: int = 2
    minutes_per_batch: int = 4
    stop_fault: float = 0.02
    cold_slow: float = 0.05


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
    """Traffic, when `requests_per_az` is None: per instance-minute times the AZ's instances."""
    base_fault: float = BASE_FAULT
    base_slow: float = 0.0
    cross_zone: bool = False
    seed: int = 0
    recovers_at: int | None = None
    max_episodes: int | None = None
    """At most this many ALARM episodes of the expected AZ's alarm (flapping)."""
    az_ids: tuple[str, ...] = AZ_IDS
    hosts: int = HOSTS
    hosts_per_az: tuple[tuple[str, int], ...] = ()
    """AZs with another number of instances than `hosts`."""
    requests_per_az: float | None = None
    """Mean requests per AZ-minute (at the diurnal peak); the AZ's instances share them."""
    minutes: int = MINUTES
    diurnal: bool = False
    day_offset: int = 0
    """Diurnal: minute 0 is this many minutes after the daily peak (the trough is at 720)."""
    trough: float = 0.2
    shift: Shift | None = None
    deployments: tuple[Deployment, ...] = ()

    @property
    def onset(self) -> int | None:
        return min((e.start for e in self.effects), default=None)

    def hosts_in(self, az: str) -> int:
        return dict(self.hosts_per_az).get(az, self.hosts)

    def traffic_shape(self, minutes: npt.NDArray[np.int64]) -> Array:
        """Traffic relative to the peak, per minute."""
        if not self.diurnal:
            return np.ones(len(minutes))
        phase = 2 * math.pi * (minutes + self.day_offset) / DAY
        return self.trough + (1 - self.trough) * (1 + np.cos(phase)) / 2


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
    Scenario(
        "blackhole",
        "Blackhole: one AZ's instances stop answering (and publishing); the ALB answers 502/504 "
        "and marks them unhealthy",
        IMPAIRED,
        (Effect(IMPAIRED, ONSET, 50, kind="blackhole"),),
        target_minutes=3,
        seed=13,
    ),
    Scenario(
        "blackhole-gray",
        "Gray blackhole: as blackhole, but the instances still pass their health checks",
        IMPAIRED,
        (Effect(IMPAIRED, ONSET, 50, kind="blackhole-gray"),),
        target_minutes=3,
        seed=14,
    ),
)
BY_NAME = {s.name: s for s in SCENARIOS}


# -- the data ---------------------------------------------------------------------------------


class Series(Mapping[int, float]):
    """One metric's datapoints: a float64 array by minute, NaN where there is none. Reads as a
    mapping minute -> value of the minutes that have a datapoint (`series.get(t)`)."""

    __slots__ = ("array",)

    def __init__(self, array: Array) -> None:
        self.array = array

    def __getitem__(self, t: int) -> float:
        if not 0 <= t < len(self.array) or math.isnan(v := float(self.array[t])):
            raise KeyError(t)
        return v

    def __iter__(self) -> Iterator[int]:
        return iter(int(t) for t in np.flatnonzero(~np.isnan(self.array)))

    def __len__(self) -> int:
        return int(np.count_nonzero(~np.isnan(self.array)))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Series):
            return bool(np.array_equal(self.array, other.array, equal_nan=True))
        return super().__eq__(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Series({len(self)} of {len(self.array)} minutes)"


TC_STAT = re.compile(r"^TC\((?P<lo>[0-9.]*):(?P<hi>[0-9.]*)\)$")
PERCENTILE = re.compile(r"^p(?P<q>[0-9]+(?:\.[0-9]+)?)$")


@dataclass
class _Latencies:
    """One latency series' per-minute counts: normal and slow requests, for TC and pNN."""

    normal: Array
    slow: Array
    unit_ms: float
    """1 for milliseconds, 1000 for seconds."""


@dataclass
class MetricData:
    """What CloudWatch holds for one scenario: `MetricSource` for the evaluator."""

    series: dict[Key, Series] = field(default_factory=dict)
    insights: dict[tuple[str, str], Series] = field(default_factory=dict)
    minutes: int = MINUTES
    rule_for_az: dict[str, tuple[str, str]] | None = None
    """AZ ID -> (faulting rule, slow rule), as simulated."""
    latencies: dict[tuple[str, str, frozenset[tuple[str, str]]], _Latencies] = field(
        default_factory=dict
    )

    def _missing(self) -> Array:
        return np.full(self.minutes, np.nan)

    def array(
        self, namespace: str, metric: str, dimensions: frozenset[tuple[str, str]], stat: str
    ) -> Array:
        """The whole series (read-only), all NaN when nothing was published."""
        key = (namespace, metric, dimensions, stat)
        found = self.series.get(key)
        if found is None:
            derived = self._derived(key)
            if derived is None:
                return self._missing()
            found = self.series[key] = Series(derived)
        return found.array

    def _derived(self, key: Key) -> Array | None:
        """TC(lo:hi) and pNN of a latency series, from its minutes' normal and slow counts."""
        latency = self.latencies.get((key[0], key[1], key[2]))
        if latency is None:
            return None
        stat = key[3]
        served = latency.normal + latency.slow
        if match := TC_STAT.match(stat):
            lo = float(match["lo"] or 0) * latency.unit_ms
            hi = float(match["hi"]) * latency.unit_ms if match["hi"] else math.inf
            count = latency.normal * (_normal_sf(lo) - _normal_sf(hi))
            count += latency.slow * (_slow_sf(lo) - _slow_sf(hi))
            return np.where(served > 0, np.round(count), np.nan)
        if match := PERCENTILE.match(stat):
            tail = 1 - float(match["q"]) / 100
            slow = (latency.slow > 0) & (latency.slow >= served * tail)
            ms = np.where(slow, SLOW_MS, BASE_MS * 1.05)
            return np.where(served > 0, ms / latency.unit_ms, np.nan)
        return None

    def insight_array(self, rule: str, metric: str) -> Array:
        found = self.insights.get((rule, metric))
        return self._missing() if found is None else found.array

    def value(
        self, namespace: str, metric: str, dimensions: frozenset[tuple[str, str]], stat: str, t: int
    ) -> float | None:
        if not 0 <= t < self.minutes:
            return None
        v = float(self.array(namespace, metric, dimensions, stat)[t])
        return None if math.isnan(v) else v

    def insight(self, rule: str, metric: str, t: int) -> float | None:
        if not 0 <= t < self.minutes:
            return None
        v = float(self.insight_array(rule, metric)[t])
        return None if math.isnan(v) else v

    def put(self, key: Key, values: Array) -> None:
        values = np.asarray(values, dtype=np.float64)
        values.setflags(write=False)
        self.series[key] = Series(values)


def _normal_sf(ms: float) -> float:
    """P(a normal request takes longer than ms)."""
    if ms <= 0:
        return 1.0
    if math.isinf(ms):
        return 0.0
    return 0.5 * math.erfc(math.log(ms / BASE_MS) / (NORMAL_SIGMA * math.sqrt(2)))


def _slow_sf(ms: float) -> float:
    lo, hi = SLOW_MS * 0.9, SLOW_MS * 1.1
    return float(min(1.0, max(0.0, (hi - ms) / (hi - lo))))


def service_key(metric: str, stat: str, az: str | None) -> Key:
    dims = set(SERVICE_DIMS) | ({("AZ-ID", az)} if az else set())
    return (NAMESPACE, metric, frozenset(dims), stat)


def alb_key(metric: str, stat: str, zone: str | None) -> Key:
    dims = {("LoadBalancer", LOAD_BALANCER)} | ({("AvailabilityZone", zone)} if zone else set())
    return ("AWS/ApplicationELB", metric, frozenset(dims), stat)


def target_group_key(metric: str, stat: str, zone: str) -> Key:
    dims = {("TargetGroup", TARGET_GROUP), ("LoadBalancer", LOAD_BALANCER)}
    return ("AWS/ApplicationELB", metric, frozenset(dims | {("AvailabilityZone", zone)}), stat)


def _svc(metric: str, stat: str, az: str | None) -> Key:
    return service_key(metric, stat, az)


def _alb(metric: str, stat: str, az: str | None) -> Key:
    return alb_key(metric, stat, ZONE_NAMES[az] if az else None)


# -- the simulator ----------------------------------------------------------------------------


@dataclass
class _Hosts:
    """Per minute x AZ x instance (T, A, H): what each instance does."""

    exists: npt.NDArray[np.bool_]
    down: npt.NDArray[np.bool_]
    fault_p: Array
    slow_p: Array
    blackhole: npt.NDArray[np.bool_]
    failing_checks: npt.NDArray[np.bool_]


def _hosts(scenario: Scenario, minutes: npt.NDArray[np.int64]) -> _Hosts:
    ids = scenario.az_ids
    counts = [scenario.hosts_in(az) for az in ids]
    t_n, a_n, h_n = len(minutes), len(ids), max(counts)
    exists = np.arange(h_n)[None, :] < np.array(counts)[:, None]
    shape3 = (t_n, a_n, h_n)
    h = _Hosts(
        exists=np.broadcast_to(exists, shape3),
        down=np.zeros(shape3, dtype=bool),
        fault_p=np.full(shape3, scenario.base_fault),
        slow_p=np.full(shape3, scenario.base_slow),
        blackhole=np.zeros(shape3, dtype=bool),
        failing_checks=np.zeros(shape3, dtype=bool),
    )
    for effect in scenario.effects:
        if effect.az not in ids:
            raise ValueError(f"{scenario.name}: effect on {effect.az}, not one of {ids}")
        a = ids.index(effect.az)
        level = effect.intensity(minutes)[:, None]
        on = level[:, 0] > 0
        hosts = np.zeros(h_n, dtype=bool)
        hosts[list(effect.hosts) if effect.hosts is not None else slice(None)] = True
        if effect.kind == "faults":
            h.fault_p[:, a, :] = np.where(
                hosts, np.maximum(h.fault_p[:, a, :], effect.fault_rate * level), h.fault_p[:, a, :]
            )
            h.slow_p[:, a, :] = np.where(
                hosts,
                np.maximum(h.slow_p[:, a, :], effect.slow_fraction * level),
                h.slow_p[:, a, :],
            )
        else:
            h.blackhole[:, a, :] |= on[:, None] & hosts
            if effect.kind == "blackhole":
                h.failing_checks[:, a, :] |= on[:, None] & hosts
    for deployment in scenario.deployments:
        _deploy(scenario, deployment, h, t_n)
    return h


def _deploy(scenario: Scenario, d: Deployment, h: _Hosts, t_n: int) -> None:
    order = [(a, i) for a, az in enumerate(scenario.az_ids) for i in range(scenario.hosts_in(az))]
    for b in range(0, len(order), d.batch):
        t0 = d.start + (b // d.batch) * d.minutes_per_batch
        for a, i in order[b : b + d.batch]:
            if 0 <= t0 < t_n:
                h.fault_p[t0, a, i] = max(h.fault_p[t0, a, i], d.stop_fault)
            for t in range(t0 + 1, t0 + d.minutes_per_batch - 1):
                if 0 <= t < t_n:
                    h.down[t, a, i] = True
                    h.failing_checks[t, a, i] = True
            back = t0 + d.minutes_per_batch - 1
            if 0 <= back < t_n:
                h.slow_p[back, a, i] = max(h.slow_p[back, a, i], d.cold_slow)


def _az_traffic(scenario: Scenario, minutes: npt.NDArray[np.int64]) -> Array:
    """Mean requests per minute per AZ, (T, A)."""
    ids = scenario.az_ids
    if scenario.requests_per_az is not None:
        per_az = np.full(len(ids), float(scenario.requests_per_az))
    else:
        per_az = np.array([scenario.requests_per_host * scenario.hosts_in(az) for az in ids], float)
    traffic: Array = scenario.traffic_shape(minutes)[:, None] * per_az[None, :]
    shift = scenario.shift
    if shift is not None:
        a = ids.index(shift.az)
        progress = np.clip((minutes - shift.start + 1) / max(1, shift.over), 0.0, 1.0)
        moved = traffic[:, a] * (1 - shift.share) * progress
        traffic[:, a] -= moved
        others = [i for i in range(len(ids)) if i != a]
        traffic[:, others] += (moved / len(others))[:, None]
    return traffic


def _p99(rng: np.random.Generator, requests: Array, slow: Array) -> Array:
    """p99 of each minute's latencies (ms): a slow request is in the top 1 % once it is at least
    1 %; NaN where there was no request."""
    u = rng.uniform(size=requests.shape)
    slow_p99 = (slow > 0) & (slow >= requests * 0.01)
    ms = np.where(slow_p99, SLOW_MS * (0.9 + 0.2 * u), BASE_MS * (0.85 + 0.45 * u))
    out: Array = np.where(requests > 0, ms, np.nan)
    return out


def _sparse(counts: Array) -> Array:
    out: Array = np.where(counts > 0, counts, np.nan)
    return out


def simulate(  # noqa: PLR0915 - one pass, every source in the order a reader checks them
    scenario: Scenario, rule_names: Mapping[str, tuple[str, str]] | None = None
) -> MetricData:
    """The scenario's metrics; `rule_names`: AZ ID -> (faulting rule, slow rule) names."""
    rng = np.random.default_rng(scenario.seed)
    ids = scenario.az_ids
    minutes = np.arange(scenario.minutes, dtype=np.int64)
    h = _hosts(scenario, minutes)
    up = h.exists & ~h.down
    n_up = up.sum(axis=2)
    traffic = _az_traffic(scenario, minutes)
    per_host = np.where(up, (traffic / np.maximum(n_up, 1))[:, :, None], 0.0)
    n = rng.poisson(per_host).astype(np.float64)
    f = rng.binomial(n.astype(np.int64), np.clip(h.fault_p, 0, 1)).astype(np.float64)
    s = rng.binomial((n - f).astype(np.int64), np.clip(h.slow_p, 0, 1)).astype(np.float64)
    served = ~h.blackhole
    host_req, host_flt, host_slow = n * served, f * served, s * served
    req, flt, slow = host_req.sum(2), host_flt.sum(2), host_slow.sum(2)  # (T, A): what EMF sees
    lb_req = n.sum(2)
    bh_req = (n * h.blackhole).sum(2)
    data = MetricData(minutes=scenario.minutes, rule_for_az=dict(rule_names or {}))
    svc_p99 = _p99(rng, req, slow)
    for a, az in enumerate(ids):
        present = req[:, a] > 0
        data.put(_svc("Requests", "Sum", az), np.where(present, req[:, a], np.nan))
        data.put(_svc("Faults", "Sum", az), np.where(present, flt[:, a], np.nan))
        data.put(_svc("Latency", "p99", az), svc_p99[:, a])
        data.latencies[_svc("Latency", "", az)[:3]] = _Latencies(
            req[:, a] - slow[:, a], slow[:, a], 1.0
        )
        if rule_names and az in rule_names:
            for rule, counts in zip(rule_names[az], (host_flt, host_slow), strict=True):
                per = counts[:, a, :]
                total = per.sum(1)
                matched = total > 0
                data.insights[(rule, "UniqueContributors")] = Series(
                    np.where(matched, (per > 0).sum(1), np.nan)
                )
                data.insights[(rule, "MaxContributorValue")] = Series(
                    np.where(matched, per.max(1), np.nan)
                )
                data.insights[(rule, "Sum")] = Series(np.where(matched, total, np.nan))
    total_req, total_flt = req.sum(1), flt.sum(1)
    data.put(_svc("Requests", "Sum", None), np.where(total_req > 0, total_req, np.nan))
    data.put(_svc("Faults", "Sum", None), np.where(total_req > 0, total_flt, np.nan))
    # EMF publishes every value under both dimension sets: the region's latency is all of them.
    data.latencies[_svc("Latency", "", None)[:3]] = _Latencies(
        (req - slow).sum(1), slow.sum(1), 1.0
    )
    # The ALB's view: by the zone of the node that handled the request.
    if scenario.cross_zone:
        share = [1 / len(ids)] * len(ids)
        view = {
            k: rng.multinomial(v.sum(1).astype(np.int64), share).astype(np.float64)
            for k, v in {"req": req, "flt": flt, "slow": slow, "lb": lb_req, "bh": bh_req}.items()
        }
    else:
        view = {"req": req, "flt": flt, "slow": slow, "lb": lb_req, "bh": bh_req}
    elb = rng.binomial(view["flt"].astype(np.int64), ELB_SHARE_OF_FAULTS).astype(np.float64)
    bh_502 = rng.binomial(view["bh"].astype(np.int64), 0.5).astype(np.float64)
    bh_504 = view["bh"] - bh_502
    alb_p99 = _p99(rng, view["req"], view["slow"]) / 1000
    failing = h.failing_checks & h.exists
    # Unhealthy after two consecutive failed 30 s checks: the Maximum shows it in the minute after
    # the checks start failing, the Minimum from the minute after that.
    prev1 = np.zeros_like(failing)
    prev1[1:] = failing[:-1]
    prev2 = np.zeros_like(failing)
    prev2[2:] = failing[:-2]
    unhealthy_max = (failing & prev1).sum(2).astype(np.float64)
    unhealthy_min = (failing & prev1 & prev2).sum(2).astype(np.float64)
    registered = h.exists[0].sum(1).astype(np.float64)
    for a, az in enumerate(ids):
        zone = ZONE_NAMES[az]
        data.put(_alb("RequestCount", "Sum", az), _sparse(view["lb"][:, a]))
        data.put(
            _alb("HTTPCode_Target_5XX_Count", "Sum", az), _sparse(view["flt"][:, a] - elb[:, a])
        )
        e502, e504 = elb[:, a] + bh_502[:, a], bh_504[:, a]
        data.put(_alb("HTTPCode_ELB_5XX_Count", "Sum", az), _sparse(e502 + e504))
        data.put(_alb("HTTPCode_ELB_502_Count", "Sum", az), _sparse(e502))
        data.put(_alb("HTTPCode_ELB_503_Count", "Sum", az), np.full(scenario.minutes, np.nan))
        data.put(_alb("HTTPCode_ELB_504_Count", "Sum", az), _sparse(e504))
        data.put(_alb("TargetResponseTime", "p99", az), alb_p99[:, a])
        data.latencies[_alb("TargetResponseTime", "", az)[:3]] = _Latencies(
            view["req"][:, a] - view["slow"][:, a], view["slow"][:, a], 1000.0
        )
        for stat, unhealthy in (("Maximum", unhealthy_max), ("Minimum", unhealthy_min)):
            data.put(target_group_key("UnHealthyHostCount", stat, zone), unhealthy[:, a])
        for stat, unhealthy in (("Maximum", unhealthy_min), ("Minimum", unhealthy_max)):
            data.put(
                target_group_key("HealthyHostCount", stat, zone), registered[a] - unhealthy[:, a]
            )
    all_lb, all_flt, all_bh = view["lb"].sum(1), view["flt"].sum(1), view["bh"].sum(1)
    all_elb = elb.sum(1)
    data.put(_alb("RequestCount", "Sum", None), _sparse(all_lb))
    data.put(_alb("HTTPCode_Target_5XX_Count", "Sum", None), _sparse(all_flt - all_elb))
    data.put(_alb("HTTPCode_ELB_5XX_Count", "Sum", None), _sparse(all_elb + all_bh))
    data.latencies[_alb("TargetResponseTime", "", None)[:3]] = _Latencies(
        (view["req"] - view["slow"]).sum(1), view["slow"].sum(1), 1000.0
    )
    return data
