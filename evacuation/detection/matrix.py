"""`make detect`: the detection kit's proof at every traffic level (issue 24).

The matrix: each failure kind (`KINDS`) at each traffic level (requests per AZ-minute) and AZ
count, seeds each, through the alarms the kit generates for that AZ count, evaluated as CloudWatch
does (`evaluate.py`), with and without a one-minute ingestion delay; and, per traffic level and AZ
count, days of healthy diurnal traffic with two rolling deployments a day, in which no isolated
alarm may fire. Per cell: detection probability, p50 and p95 minutes from onset to the expected
AZ's isolated-impact alarm (nearest rank over the seeds, an undetected seed counting as never, so
with 10 seeds p95 is the slowest), false isolated alarms, whether the regional alarm came first,
the issue's target and whether it is met; where it is not, the terms of the isolated-impact rule
that were still false at the deadline (which signal is missing).

Onset at minute 20 of 60; minutes are counted to the end of the minute the alarm is evaluated in
(as the library's table does). Targets (issue 24): at >= 200 requests per AZ-minute every isolated
failure of 5 % or more, and the blackhole, within 3 minutes p95; at 20-50, within 10 minutes; no
isolated alarm on a regional event (and the regional alarm before any isolated one), one bad host
of three, or a healthy day. The diurnal cells are judged at their trough's traffic (20 % of the
level, which is the peak), the ramp cells allow the ramp's minutes on top.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
import zlib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np

from evacuation.detection import bench
from evacuation.detection.config import SIGNAL_PREFIX, AlarmNames, DetectionConfig, alarm_names
from evacuation.detection.evaluate import (
    Evaluation,
    Node,
    StackEvaluator,
    State,
    parse_rule,
    rule_true,
)
from evacuation.detection.generate import Template, build_template
from evacuation.detection.scenarios import (
    DAY,
    IMPAIRED,
    LOAD_BALANCER,
    MINUTES,
    ONSET,
    Deployment,
    Effect,
    Scenario,
    Shift,
    az_ids,
    simulate,
    zones,
)

WORKLOAD = bench.WORKLOAD
LEVELS = (20, 50, 200, 1000, 10000)
AZ_COUNTS = (2, 3, 6)
SEEDS = 10
DAYS = 30
DELAY = 1
"""The ingestion delay (minutes) of the second evaluation of every cell."""
Expect = Literal["isolated", "regional", "none"]


@dataclass(frozen=True)
class Kind:
    """A failure kind of the matrix: how to build its scenario for one cell and seed."""

    name: str
    title: str
    expect: Expect
    size: str | None = None
    """The plot's line (failure size); None: not drawn."""
    min_rate: float = 0.0
    """The failure's size: targets apply from 5 %."""
    variant: bool = False
    """Run at three AZs only (the variants of the 5 % failure)."""
    extra_minutes: int = 0
    """Allowed on top of the target (a ramp's minutes)."""
    trough: bool = False
    """Judged at the diurnal trough's traffic."""


KINDS: tuple[Kind, ...] = (
    Kind("faults-2pct", "2 % faults in one AZ", "isolated", "2 % faults", 0.02),
    Kind("faults-5pct", "5 % faults in one AZ", "isolated", "5 % faults", 0.05),
    Kind("faults-20pct", "20 % faults in one AZ", "isolated", "20 % faults", 0.2),
    Kind("latency-5pct", "latency only: 5 % of requests take 2.5 s", "isolated", "latency 5 %",
         0.05),
    Kind("blackhole", "blackhole, health checks failing", "isolated", "blackhole", 1.0),
    Kind("blackhole-gray", "blackhole, health checks passing", "isolated", "blackhole-gray", 1.0),
    Kind("dependency", "dependency failure in every AZ: 30/10/5 %", "regional"),
    Kind("one-host-of-three", "one bad host of three (all its requests fail)", "none"),
    Kind("fewer-instances", "5 % faults in an AZ of 4 instances (others 10)", "isolated",
         min_rate=0.05, variant=True),
    Kind("diurnal", "5 % faults, diurnal traffic (onset over the day)", "isolated",
         min_rate=0.05, variant=True, trough=True),
    Kind("slow-ramp", "faults ramping from 0 to 5 % over 10 minutes", "isolated",
         min_rate=0.05, variant=True, extra_minutes=10),
    Kind("traffic-away", "5 % faults, the AZ's traffic falling to 30 % over 5 minutes",
         "isolated", min_rate=0.05, variant=True),
)  # fmt: skip
KIND = {k.name: k for k in KINDS}
RAMP = 10


def cell_seeds(kind: str, level: int, azs: int, seeds: int) -> list[int]:
    """Stable seeds of a cell: the same cell draws the same data on every run and machine."""
    base = zlib.crc32(f"{kind}/{level}/{azs}".encode()) % 100_000
    return [base * 100 + i for i in range(seeds)]


def build_scenario(
    kind: str, level: int, azs: int, seed: int, *, index: int = 0, of: int = 1
) -> Scenario:
    """The scenario of one seed of a cell (`index` of `of` seeds: the diurnal onset's phase)."""
    ids = az_ids(azs)
    common: dict[str, Any] = {
        "az_ids": ids,
        "requests_per_az": float(level),
        "seed": seed,
        "minutes": MINUTES,
    }
    end = MINUTES
    name = f"{kind}@{level}x{azs}"

    def isolated(effect: Effect, title: str, **kw: Any) -> Scenario:
        return Scenario(name, title, IMPAIRED, (effect,), **(common | kw))

    k = KIND[kind]
    if kind.startswith("faults-") or kind in ("fewer-instances", "diurnal", "traffic-away"):
        rate = k.min_rate
        effect = Effect(IMPAIRED, ONSET, end, fault_rate=rate)
        if kind == "fewer-instances":
            return isolated(effect, k.title, hosts_per_az=((IMPAIRED, 4),))
        if kind == "diurnal":
            # The onset (minute 20) at phase index/of of the day.
            offset = (index * DAY // max(1, of) - ONSET) % DAY
            return isolated(effect, k.title, diurnal=True, day_offset=offset)
        if kind == "traffic-away":
            return isolated(effect, k.title, shift=Shift(IMPAIRED, ONSET, share=0.3, over=5))
        return isolated(effect, k.title)
    if kind == "slow-ramp":
        return isolated(Effect(IMPAIRED, ONSET, end, fault_rate=0.05, ramp=RAMP), k.title)
    if kind == "latency-5pct":
        return isolated(Effect(IMPAIRED, ONSET, end, slow_fraction=0.05), k.title)
    if kind in ("blackhole", "blackhole-gray"):
        return isolated(Effect(IMPAIRED, ONSET, end, kind=kind), k.title)  # type: ignore[arg-type]
    if kind == "dependency":
        rates = [0.30, 0.10, 0.05] + [0.05] * (azs - 3)
        effects = tuple(
            Effect(az, ONSET, end, fault_rate=r) for az, r in zip(ids, rates, strict=False)
        )
        return Scenario(name, k.title, None, effects, regional=True, **common)
    if kind == "one-host-of-three":
        effect = Effect(IMPAIRED, ONSET, end, fault_rate=1.0, hosts=(0,))
        return Scenario(name, k.title, None, (effect,), hosts=3, **common)
    raise ValueError(f"unknown kind {kind!r}")


def healthy_days(level: int, azs: int, days: float, seed: int) -> Scenario:
    """Healthy days: diurnal traffic (peak = level, trough 20 % at 04:00), 0.05 % faults, 0.2 %
    slow requests, and two rolling deployments a day (one or two instances at a time) in
    business hours."""
    minutes = max(1, round(days * DAY))
    rng = np.random.default_rng(seed)
    deployments = []
    for day in range(math.ceil(minutes / DAY)):
        for lo, hi in ((9 * 60, 12 * 60), (14 * 60, 17 * 60)):
            start = day * DAY + int(rng.integers(lo, hi))
            deployments.append(Deployment(start, batch=int(rng.choice([1, 2]))))
    return Scenario(
        f"healthy@{level}x{azs}",
        f"{days:g} healthy days at {level} requests per AZ-minute (peak)",
        None,
        az_ids=az_ids(azs),
        requests_per_az=float(level),
        minutes=minutes,
        diurnal=True,
        day_offset=8 * 60,  # minute 0 is midnight, 8 h after the 16:00 peak
        base_slow=0.002,
        deployments=tuple(deployments),
        seed=seed,
    )


# -- evaluation -------------------------------------------------------------------------------


def detection_config(azs: int) -> DetectionConfig:
    """The recommended config (bench.MODES["service+ci"]) for this many AZs."""
    ids = az_ids(azs)
    mode = bench.MODES["service+ci"]
    return DetectionConfig.model_validate(
        {
            **mode,
            "az_ids": list(ids),
            "load_balancer": {**mode["load_balancer"], "zones": zones(ids)},
        }
    )


@dataclass(frozen=True)
class Stack:
    names: AlarmNames
    template: Template
    rules: dict[str, Node]
    """Composite alarm name -> its parsed rule."""


@lru_cache(maxsize=8)
def stack(azs: int) -> Stack:
    detection = detection_config(azs)
    template = build_template(WORKLOAD, detection)
    rules = {
        r["Properties"]["AlarmName"]: parse_rule(r["Properties"]["AlarmRule"])
        for r in template["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::CompositeAlarm"
    }
    return Stack(alarm_names(WORKLOAD, detection), template, rules)


def evaluate(azs: int, scenario: Scenario, delay: int) -> Evaluation:
    s = stack(azs)
    rules = {az: (s.names.insight_rules[az], s.names.slow_rules[az]) for az in scenario.az_ids}
    data = simulate(scenario, rules)
    evaluator = StackEvaluator(s.template, {"LoadBalancer": LOAD_BALANCER})
    return evaluator.run(data, range(scenario.minutes), ingestion_delay=delay)


def _short(name: str, az: str) -> str:
    for prefix in (f"{SIGNAL_PREFIX}{WORKLOAD}-", f"{WORKLOAD}-"):
        name = name.removeprefix(prefix)
    return name.removeprefix(f"{az}-")


def describe(node: Node, az: str) -> str:
    kind = node[0]
    if kind == "state":
        return _short(node[2], az) if node[1] == "ALARM" else f"{node[1]}({_short(node[2], az)})"
    if kind == "const":
        return str(node[1]).upper()
    if kind == "not":
        return f"NOT {describe(node[1], az)}"
    inner = f" {kind.upper()} ".join(describe(c, az) for c in _flatten(node, kind))
    return f"({inner})"


def _flatten(node: Node, kind: str) -> list[Node]:
    if node[0] != kind:
        return [node]
    return [*_flatten(node[1], kind), *_flatten(node[2], kind)]


def failing_terms(rule: Node, states: Mapping[str, State], az: str) -> list[str]:
    """The terms of an AND rule that are false (the whole rule when it is not an AND)."""
    terms = _flatten(rule, "and")
    return [describe(t, az) for t in terms if not rule_true(t, states)]


def _states_at(result: Evaluation, minute: int) -> dict[str, State]:
    i = min(max(0, minute - result.minutes.start), len(result.minutes) - 1)
    return {name: states[i] for name, states in result.states.items()}


class Task(NamedTuple):
    """One seed of one cell."""

    kind: str
    level: int
    azs: int
    seed: int
    position: int
    of: int


@dataclass
class SeedResult:
    seed: int
    detect: int | None = None
    """Minutes from onset to the expected AZ's isolated alarm (None: never)."""
    detect_delayed: int | None = None
    delayed: bool = False
    """Whether the delayed evaluation ran."""
    false_isolated: int = 0
    """ALARM episodes of isolated alarms that should not fire (other AZs; the expected AZ before
    the onset; every AZ when none is expected)."""
    regional_first: int | None = None
    isolated_first: int | None = None
    """First minute any isolated alarm was in ALARM."""
    regional_at_detection: bool = False
    """The regional alarm was in ALARM when the expected AZ's isolated alarm fired (azevac
    refuses then)."""
    missing: list[str] = field(default_factory=list)
    """Terms of the isolated rule false at the deadline (a miss), or true at a false alarm."""


def _judge(
    s: Stack, scenario: Scenario, result: Evaluation, deadline: int | None
) -> tuple[int | None, int, int | None, int | None, bool, list[str]]:
    onset = scenario.onset if scenario.onset is not None else 0
    names = s.names
    expected = scenario.expected
    false = 0
    for az in scenario.az_ids:
        name = names.isolated[az]
        if az != expected:
            false += result.episodes(name)
        elif result.first(name) is not None and result.first(name) < onset:  # type: ignore[operator]
            false += 1
    firsts = [result.first(names.isolated[az]) for az in scenario.az_ids]
    isolated_first = min((f for f in firsts if f is not None), default=None)
    regional_first = result.first(names.regional)
    detect = None
    blocked = False
    missing: list[str] = []
    if expected is not None:
        first = result.first(names.isolated[expected], after=onset - 1)
        detect = None if first is None else first + 1 - onset
        if first is not None:
            blocked = result.states[names.regional][first - result.minutes.start] is State.ALARM
        if detect is None or (deadline is not None and detect > deadline):
            at = onset + (deadline if deadline is not None else len(result.minutes)) - 1
            missing = failing_terms(
                s.rules[names.isolated[expected]], _states_at(result, at), expected
            )
    return detect, false, regional_first, isolated_first, blocked, missing


def _false_alarm_terms(s: Stack, result: Evaluation, azs: Sequence[str]) -> list[str]:
    """At each false alarm: which AZ, when, and which terms of its rule were true then."""
    out = []
    for az in azs:
        name = s.names.isolated[az]
        minute = result.first(name)
        if minute is not None:
            states = _states_at(result, minute)
            terms = _flatten(s.rules[name], "and")
            true = [describe(t, az) for t in terms if rule_true(t, states)]
            out.append(f"{az} at minute {minute}: {' AND '.join(true)}")
    return out


def run_seed(task: Task, delay: bool) -> SeedResult:
    kind, level, azs, seed, position, of = task
    scenario = build_scenario(kind, level, azs, seed, index=position, of=of)
    s = stack(azs)
    deadline = target_minutes(KIND[kind], level)
    result = evaluate(azs, scenario, 0)
    detect, false, regional, isolated, blocked, missing = _judge(s, scenario, result, deadline)
    if scenario.expected is None and false:
        missing = _false_alarm_terms(s, result, scenario.az_ids)
    out = SeedResult(
        seed,
        detect,
        false_isolated=false,
        regional_first=regional,
        isolated_first=isolated,
        regional_at_detection=blocked,
        missing=missing,
    )
    if delay:
        delayed = evaluate(azs, scenario, DELAY)
        out.detect_delayed = _judge(s, scenario, delayed, deadline)[0]
        out.delayed = True
    return out


@dataclass
class HealthyResult:
    level: int
    azs: int
    days: float
    seed: int
    minutes: int
    false_isolated: int
    false_isolated_delayed: int | None
    alarms: list[str]
    seconds: float

    @property
    def per_day(self) -> float:
        return self.false_isolated / self.days if self.days else 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {
            "false_isolated_per_day": round(self.per_day, 4),
            "target": "no isolated alarm",
            "met": self.false_isolated == 0 and not self.false_isolated_delayed,
        }


def run_healthy(level: int, azs: int, days: float, delay: bool) -> HealthyResult:
    started = time.perf_counter()
    seed = zlib.crc32(f"healthy/{level}/{azs}".encode()) % 100_000
    scenario = healthy_days(level, azs, days, seed)
    s = stack(azs)
    result = evaluate(azs, scenario, 0)
    false = sum(result.episodes(s.names.isolated[az]) for az in scenario.az_ids)
    alarms = _false_alarm_terms(s, result, scenario.az_ids)[:10]
    delayed = None
    if delay:
        d = evaluate(azs, scenario, DELAY)
        delayed = sum(d.episodes(s.names.isolated[az]) for az in scenario.az_ids)
    return HealthyResult(
        level,
        azs,
        days,
        seed,
        scenario.minutes,
        false,
        delayed,
        alarms,
        round(time.perf_counter() - started, 2),
    )


# -- cells, targets ----------------------------------------------------------------------------


def target_minutes(kind: Kind, level: int) -> int | None:
    """The issue's detection target for an isolated failure at this level, or None."""
    if kind.expect != "isolated" or kind.min_rate < 0.05:
        return None
    traffic = level * 0.2 if kind.trough else level
    if traffic >= 200:
        base = 3
    elif traffic >= 20:
        base = 10
    else:
        return None
    return base + kind.extra_minutes


def nearest_rank(values: Sequence[int | None], q: float) -> float | None:
    """The q-quantile by nearest rank, None counting as never (inf); None if that is never."""
    if not values:
        return None
    ordered = sorted(math.inf if v is None else float(v) for v in values)
    v = ordered[max(0, math.ceil(q * len(ordered)) - 1)]
    return None if math.isinf(v) else v


@dataclass
class Cell:
    kind: Kind
    level: int
    azs: int
    seeds: list[SeedResult]
    refused: str | None = None
    """The config cannot be built for this AZ count (the reason)."""

    @property
    def target(self) -> str:
        if self.kind.expect == "regional":
            return "regional alarm before any isolated, no isolated"
        if self.kind.expect == "none":
            return "no isolated alarm"
        minutes = target_minutes(self.kind, self.level)
        return "(no target: reported)" if minutes is None else f"p95 <= {minutes} min"

    def p(self, q: float, delayed: bool = False) -> float | None:
        return nearest_rank([s.detect_delayed if delayed else s.detect for s in self.seeds], q)

    @property
    def probability(self) -> float | None:
        if self.kind.expect != "isolated" or not self.seeds:
            return None
        return sum(s.detect is not None for s in self.seeds) / len(self.seeds)

    @property
    def false_isolated(self) -> int:
        return sum(s.false_isolated for s in self.seeds)

    @property
    def regional_before_isolated(self) -> bool | None:
        if self.kind.expect != "regional" or not self.seeds:
            return None
        return all(
            s.regional_first is not None
            and (s.isolated_first is None or s.regional_first < s.isolated_first)
            for s in self.seeds
        )

    @property
    def met(self) -> bool | None:
        if self.refused is not None:
            return False
        if self.kind.expect == "regional":
            return bool(self.regional_before_isolated) and self.false_isolated == 0
        if self.kind.expect == "none":
            return self.false_isolated == 0
        minutes = target_minutes(self.kind, self.level)
        if minutes is None:
            return None
        p95 = self.p(0.95)
        return p95 is not None and p95 <= minutes and self.false_isolated == 0

    @property
    def met_delayed(self) -> bool | None:
        """The detection target with the ingestion delay (None where it was not evaluated)."""
        minutes = target_minutes(self.kind, self.level)
        if minutes is None or not _delayed(self):
            return None
        p95 = self.p(0.95, delayed=True)
        return p95 is not None and p95 <= minutes and self.false_isolated == 0

    @property
    def missing(self) -> list[dict[str, Any]]:
        if self.refused is not None:
            return [{"term": f"config refused: {self.refused}", "seeds": len(self.seeds)}]
        counts = Counter(term for s in self.seeds for term in s.missing)
        return [{"term": t, "seeds": n} for t, n in counts.most_common()]

    def to_dict(self) -> dict[str, Any]:
        def rounded(v: float | None) -> float | None:
            return None if v is None else round(v, 2)

        return {
            "kind": self.kind.name,
            "scenario": self.kind.title,
            "expected": self.kind.expect,
            "traffic_per_az_minute": self.level,
            "az_count": self.azs,
            "config": "service+ci",
            "seeds": [s.seed for s in self.seeds],
            "detection_probability": self.probability,
            "p50_minutes": rounded(self.p(0.5)) if self.kind.expect == "isolated" else None,
            "p95_minutes": rounded(self.p(0.95)) if self.kind.expect == "isolated" else None,
            "p50_minutes_delayed": rounded(self.p(0.5, True)) if _delayed(self) else None,
            "p95_minutes_delayed": rounded(self.p(0.95, True)) if _delayed(self) else None,
            "detect_minutes": [s.detect for s in self.seeds],
            "detect_minutes_delayed": [s.detect_delayed for s in self.seeds],
            "false_isolated_alarms": self.false_isolated,
            "regional_before_isolated": self.regional_before_isolated,
            "regional_at_detection": sum(s.regional_at_detection for s in self.seeds),
            "target": self.target,
            "met": self.met,
            "met_with_delay": self.met_delayed,
            "missing": self.missing,
            "refused": self.refused,
        }


def _delayed(cell: Cell) -> bool:
    return cell.kind.expect == "isolated" and any(s.delayed for s in cell.seeds)


def missing_signal(cell: Cell) -> str:
    """A reading of the failing terms: which signal the cell lacks."""
    if cell.refused is not None:
        return f"config refused at {cell.azs} AZs: {cell.refused}"
    if cell.kind.expect == "isolated":
        top = cell.missing
        if not top:
            return "late detection (every term true by the deadline in no seed)"
        terms = "; ".join(f"{m['term']} ({m['seeds']}/{len(cell.seeds)} seeds)" for m in top[:3])
        hints = []
        text = " ".join(m["term"] for m in top)
        if cell.kind.name.startswith("blackhole") and "impact" in text:
            hints.append("the AZ's hosts publish nothing: needs the load balancer's 5xx/target "
                         "health per AZ (DET-7)")  # fmt: skip
        elif cell.level < 200 and "impact" in text:
            hints.append("too few faults (or requests) per minute: needs windowed low-traffic "
                         "evidence")  # fmt: skip
        if "faulting-hosts" in text:
            hints.append("no 'more than one host' evidence")
        if "NOT" in text:
            hints.append("another AZ's impact alarm is in ALARM")
        return terms + (" -> " + "; ".join(hints) if hints else "")
    fired = [t for s in cell.seeds for t in s.missing][:2]
    return f"{cell.false_isolated} false isolated alarm(s): " + (" | ".join(fired) or "-")


# -- the run -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    levels: tuple[int, ...] = LEVELS
    azs: tuple[int, ...] = AZ_COUNTS
    seeds: int = SEEDS
    days: float = DAYS
    kinds: tuple[str, ...] = tuple(k.name for k in KINDS)
    jobs: int = 1
    delay: bool = True


QUICK = Options(levels=(50, 1000), azs=(3,), seeds=2, days=0.125)
"""`--quick`: every kind at two levels, three AZs, two seeds, three healthy hours."""


def _refusal(azs: int) -> str | None:
    try:
        stack(azs)
    except ValueError as error:  # pydantic's ValidationError is a ValueError
        text = " ".join(str(error).split())
        text = text.split("Value error, ", 1)[-1].split(" [type=", 1)[0]
        return text[:300]
    return None


def _tasks(options: Options) -> list[Task]:
    tasks = []
    for azs in options.azs:
        if _refusal(azs) is not None:
            continue
        for kind in options.kinds:
            if KIND[kind].variant and azs != 3:
                continue
            for level in options.levels:
                seeds = cell_seeds(kind, level, azs, options.seeds)
                tasks += [
                    Task(kind, level, azs, seed, i, len(seeds)) for i, seed in enumerate(seeds)
                ]
    return tasks


def _seed_task(args: tuple[Task, bool]) -> SeedResult:
    return run_seed(*args)


def _healthy_task(args: tuple[int, int, float, bool]) -> HealthyResult:
    return run_healthy(*args)


def _map(fn: Callable[[Any], Any], items: Sequence[Any], jobs: int) -> list[Any]:
    if jobs <= 1 or len(items) <= 1:
        return [fn(i) for i in items]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(fn, items, chunksize=max(1, len(items) // (jobs * 8))))


@dataclass
class Matrix:
    options: Options
    cells: list[Cell]
    healthy: list[HealthyResult]
    delayed: bool
    """Each cell was also run with the ingestion delay."""
    seconds: float = 0.0


def run(options: Options) -> Matrix:
    started = time.perf_counter()
    delay = options.delay
    healthy_items = [
        (level, azs, options.days, delay)
        for azs in options.azs
        if _refusal(azs) is None
        for level in options.levels
        if options.days > 0
    ]
    tasks = _tasks(options)
    # The healthy days are the long runs: first, so that the pool finishes together.
    healthy = _map(_healthy_task, healthy_items, options.jobs)
    results = _map(_seed_task, [(t, delay) for t in tasks], options.jobs)
    by_cell: dict[tuple[str, int, int], list[SeedResult]] = {}
    for (kind, level, azs, *_), result in zip(tasks, results, strict=True):
        by_cell.setdefault((kind, level, azs), []).append(result)
    cells = []
    for azs in options.azs:
        refused = _refusal(azs)
        for kind in options.kinds:
            if KIND[kind].variant and azs != 3:
                continue
            for level in options.levels:
                cells.append(
                    Cell(KIND[kind], level, azs, by_cell.get((kind, level, azs), []), refused)
                )
    return Matrix(options, cells, healthy, delay, round(time.perf_counter() - started, 1))


# -- the report --------------------------------------------------------------------------------


def _fmt(v: float | None) -> str:
    return "never" if v is None else f"{v:g}"


def _cell_text(cell: Cell) -> str:
    mark = {True: " ✓", False: " ✗", None: ""}[cell.met]
    if cell.refused is not None:
        return "refused ✗"
    if cell.kind.expect == "isolated":
        prob = cell.probability or 0.0
        text = _fmt(cell.p(0.95))
        if _delayed(cell):
            text += f" ({_fmt(cell.p(0.95, True))})"
        if prob < 1:
            text += f" {prob:.0%}"
        return text + (f" F{cell.false_isolated}" if cell.false_isolated else "") + mark
    if cell.kind.expect == "regional":
        text = "regional first" if cell.regional_before_isolated else "regional late/missing"
        return text + (f" F{cell.false_isolated}" if cell.false_isolated else "") + mark
    return (f"F{cell.false_isolated}" if cell.false_isolated else "none") + mark


def table(matrix: Matrix) -> str:
    levels = matrix.options.levels
    head = "| kind | AZs | " + " | ".join(f"{lv:,}" for lv in levels) + " |\n"
    head += "|---|---|" + "---|" * len(levels) + "\n"
    rows = []
    cells = {(c.kind.name, c.level, c.azs): c for c in matrix.cells}
    for azs in matrix.options.azs:
        for kind in matrix.options.kinds:
            if KIND[kind].variant and azs != 3:
                continue
            texts = [_cell_text(cells[(kind, lv, azs)]) for lv in levels]
            rows.append(f"| {kind} | {azs} | " + " | ".join(texts) + " |")
        healthy = {(h.level, h.azs): h for h in matrix.healthy}
        if any((lv, azs) in healthy for lv in levels):
            days = next(h.days for h in matrix.healthy if h.azs == azs)
            texts = []
            for lv in levels:
                h = healthy.get((lv, azs))
                if h is None:
                    texts.append("-")
                    continue
                ok = h.false_isolated == 0 and not h.false_isolated_delayed
                texts.append(f"{h.per_day:.2g}/day {'✓' if ok else '✗'}")
            rows.append(f"| healthy {days:g} d | {azs} | " + " | ".join(texts) + " |")
    legend = (
        "\nisolated kinds: p95 minutes onset → isolated alarm"
        + (
            f" (with the {DELAY}-minute ingestion delay)"
            if matrix.delayed
            else " (run without the ingestion delay)"
        )
        + ", detection probability when below 100 %, F<n> false isolated alarms; "
        "healthy: false isolated alarms per simulated day; ✓/✗ target met/missed, no mark: no "
        "target.\n"
    )
    return head + "\n".join(rows) + "\n" + legend


def summary(matrix: Matrix) -> tuple[list[str], list[str]]:
    met, missed = [], []
    refused = Counter(c.azs for c in matrix.cells if c.refused is not None)
    for azs, count in refused.items():
        reason = next(c.refused for c in matrix.cells if c.azs == azs and c.refused)
        missed.append(f"all {count} cells at {azs} AZs: config refused: {reason}")
    for cell in matrix.cells:
        label = f"{cell.kind.name} at {cell.level:,}/AZ-min, {cell.azs} AZs ({cell.target})"
        if cell.refused is not None:
            continue
        if cell.met is True:
            met.append(label)
        elif cell.met is False:
            missed.append(f"{label}: {missing_signal(cell)}")
    for h in matrix.healthy:
        label = f"healthy {h.days:g} days at {h.level:,}/AZ-min, {h.azs} AZs"
        if h.false_isolated == 0 and not h.false_isolated_delayed:
            met.append(label)
        else:
            missed.append(
                f"{label}: {h.false_isolated} false isolated alarm(s)"
                + (f"; first: {h.alarms[0]}" if h.alarms else "")
            )
    return met, missed


def report(matrix: Matrix, library: list[bench.Row]) -> dict[str, Any]:
    met, missed = summary(matrix)
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "seconds": matrix.seconds,
        "options": asdict(matrix.options),
        "onset_minute": ONSET,
        "minutes": MINUTES,
        "ingestion_delay_minutes": DELAY if matrix.delayed else None,
        "refused_az_counts": {
            str(azs): reason for azs in matrix.options.azs if (reason := _refusal(azs))
        },
        "targets": {
            "met": len(met),
            "missed": sum(c.met is False for c in matrix.cells)
            + sum(not h.to_dict()["met"] for h in matrix.healthy),
            "missed_cells": missed,
        },
        "matrix": [c.to_dict() for c in matrix.cells],
        "healthy_days": [h.to_dict() for h in matrix.healthy],
        "library": [r.to_dict() for r in library],
        # The library's rows under their old key, for readers of the issue-16 file.
        "rows": [r.to_dict() for r in library],
    }


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(x.replace(",", "").replace("_", "")) for x in text.split(",") if x)


def parse(argv: Sequence[str] | None) -> tuple[Options, argparse.Namespace]:
    parser = argparse.ArgumentParser(prog="make detect", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small subset (tests)")
    parser.add_argument("--seeds", type=int, help=f"seeds per cell (default {SEEDS})")
    parser.add_argument("--days", type=float, help=f"healthy days per level (default {DAYS})")
    parser.add_argument("--levels", type=_ints, help="requests per AZ-minute, e.g. 20,200")
    parser.add_argument("--azs", type=_ints, help="AZ counts, e.g. 2,3,6")
    parser.add_argument("--kinds", help="comma-separated kinds: " + ",".join(KIND))
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes")
    parser.add_argument("--no-delay", action="store_true", help="skip the delayed evaluation")
    parser.add_argument("--output", default="benchmarks/detection.json")
    parser.add_argument("--plot", default="benchmarks/detection.png")
    args = parser.parse_args(argv)
    options = QUICK if args.quick else Options()
    changes: dict[str, Any] = {"jobs": max(1, args.jobs), "delay": not args.no_delay}
    for name in ("seeds", "days", "levels", "azs"):
        if getattr(args, name) is not None:
            changes[name] = getattr(args, name)
    if args.kinds:
        kinds = tuple(k for k in args.kinds.split(",") if k)
        unknown = [k for k in kinds if k not in KIND]
        if unknown:
            parser.error(f"unknown kinds {unknown}; known: {', '.join(KIND)}")
        changes["kinds"] = kinds
    for az_count in changes.get("azs", ()):
        try:
            az_ids(az_count)
        except ValueError as error:
            parser.error(str(error))
    return replace(options, **changes), args


def main(argv: Sequence[str] | None = None) -> int:
    options, args = parse(argv)
    library = bench.run(list(bench.MODES))
    sys.stdout.write("Library (3 AZs, 1,200 requests per AZ-minute):\n\n" + bench.table(library))
    matrix = run(options)
    sys.stdout.write(f"\nMatrix ({options.seeds} seeds per cell, config service+ci):\n\n")
    sys.stdout.write(table(matrix))
    met, missed = summary(matrix)
    total_missed = sum(c.met is False for c in matrix.cells) + sum(
        not h.to_dict()["met"] for h in matrix.healthy
    )
    sys.stdout.write(f"\nTargets: {len(met)} met, {total_missed} missed\n")
    for line in missed:
        sys.stdout.write(f"- missed: {line}\n")
    Path(args.output).write_text(json.dumps(report(matrix, library), indent=2) + "\n", "utf-8")
    if args.plot:
        from evacuation.detection.plot import draw  # noqa: PLC0415 - matplotlib only here

        draw(matrix, Path(args.plot))
    sys.stdout.write(
        f"\nwrote {args.output}" + (f" and {args.plot}" if args.plot else "") + f" in "
        f"{matrix.seconds:g} s\n"
    )
    return 0
