"""The fixed library's table: every library scenario through the generated alarms, evaluated as
CloudWatch does; a table and the issue's targets. `make detect` prints it beside the traffic
matrix (`matrix.py`, which writes benchmarks/detection.json); `python -m
evacuation.detection.bench` runs the library alone.

Two detection configs are run: the recommended one (the service's own metrics by AZ ID plus the
Contributor Insights "more than one host" rules) and the load balancer alone, to show what each
signal buys.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evacuation.detection.config import AlarmNames, DetectionConfig, alarm_names
from evacuation.detection.evaluate import Evaluation, StackEvaluator, State
from evacuation.detection.generate import build_template
from evacuation.detection.scenarios import (
    AZ_IDS,
    LOAD_BALANCER,
    MINUTES,
    NAMESPACE,
    SCENARIOS,
    TARGET_GROUP,
    ZONES,
    Scenario,
    simulate,
)

WORKLOAD = "checkout"
MODES: dict[str, dict[str, Any]] = {
    "service+ci": {
        "az_ids": list(AZ_IDS),
        "load_balancer": {
            "zones": ZONES,
            "full_name": LOAD_BALANCER,
            "target_group": TARGET_GROUP,
        },
        "service": {"namespace": NAMESPACE, "dimensions": {"Operation": "all"}},
        "contributor_insights": {"log_group_names": ["/checkout/service"]},
    },
    "alb-only": {
        "az_ids": list(AZ_IDS),
        "load_balancer": {"zones": ZONES, "full_name": LOAD_BALANCER},
    },
}
"""The example config's detection section (detection/config.example.json) and its ALB-only
variant."""


@dataclass
class Row:
    mode: str
    scenario: Scenario
    fired: list[str]
    regional_fired: bool
    detect_minutes: int | None
    false_alarms: int
    episodes: int
    recovered_minutes: int | None
    target: str
    met: bool | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "scenario": self.scenario.name,
            "title": self.scenario.title,
            "expected": self.scenario.expected or ("regional" if self.scenario.regional else None),
            "fired": self.fired,
            "regional_alarm": self.regional_fired,
            "onset_to_isolated_minutes": self.detect_minutes,
            "false_isolated_alarms": self.false_alarms,
            "alarm_episodes": self.episodes,
            "recovery_to_ok_minutes": self.recovered_minutes,
            "target": self.target,
            "target_met": self.met,
        }


def evaluate_scenario(
    detection: DetectionConfig, scenario: Scenario
) -> tuple[AlarmNames, Evaluation]:
    names = alarm_names(WORKLOAD, detection)
    rules = {az: (names.insight_rules[az], names.slow_rules[az]) for az in detection.az_ids}
    template = build_template(WORKLOAD, detection)
    evaluator = StackEvaluator(template, {"LoadBalancer": LOAD_BALANCER})
    return names, evaluator.run(simulate(scenario, rules), range(MINUTES))


def judge(mode: str, detection: DetectionConfig, scenario: Scenario) -> Row:
    names, result = evaluate_scenario(detection, scenario)
    fired = [az for az, name in names.isolated.items() if result.first(name) is not None]
    regional = result.first(names.regional) is not None
    expected = scenario.expected
    false_alarms = sum(
        result.episodes(name) for az, name in names.isolated.items() if az != expected
    )
    detect = episodes = recovered = None
    if expected is not None and scenario.onset is not None:
        first = result.first(names.isolated[expected], after=scenario.onset - 1)
        detect = None if first is None else first + 1 - scenario.onset
        episodes = result.episodes(names.isolated[expected])
        if scenario.recovers_at is not None and first is not None:
            ok = result.first(names.isolated[expected], State.OK, after=scenario.recovers_at - 1)
            recovered = None if ok is None else ok + 1 - scenario.recovers_at
    target, met = _target(
        scenario,
        fired=fired,
        regional=regional,
        detect=detect,
        false_alarms=false_alarms,
        episodes=episodes,
    )
    return Row(
        mode, scenario, fired, regional, detect, false_alarms, episodes or 0, recovered, target, met
    )


def _target(
    s: Scenario,
    *,
    fired: list[str],
    regional: bool,
    detect: int | None,
    false_alarms: int,
    episodes: int | None,
) -> tuple[str, bool | None]:
    if s.target_minutes is not None:
        ok = detect is not None and detect <= s.target_minutes and false_alarms == 0
        return f"detected in <= {s.target_minutes} min", ok
    if s.regional:
        return "regional alarm, no isolated", regional and not fired
    if s.expected is None:
        return "no isolated alarm", not fired
    if s.max_episodes is not None:
        ok = detect is not None and (episodes or 0) <= s.max_episodes and false_alarms == 0
        return f"detected, <= {s.max_episodes} episode", ok
    return "(no target: reported)", None


def run(modes: Sequence[str]) -> list[Row]:
    rows = []
    for mode in modes:
        detection = DetectionConfig.model_validate(MODES[mode])
        rows += [judge(mode, detection, s) for s in SCENARIOS]
    return rows


def table(rows: list[Row]) -> str:
    head = (
        "| mode | scenario | expected | fired | onset → isolated (min) | false isolated alarms "
        "| regional alarm | target | met |\n|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for r in rows:
        expected = r.scenario.expected or ("regional" if r.scenario.regional else "none")
        fired = ", ".join(r.fired) or "none"
        detect = "-" if r.detect_minutes is None else str(r.detect_minutes)
        met = {True: "yes", False: "**no**", None: "-"}[r.met]
        lines.append(
            f"| {r.mode} | {r.scenario.name} | {expected} | {fired} | {detect} | "
            f"{r.false_alarms} | {'yes' if r.regional_fired else 'no'} | {r.target} | {met} |"
        )
    return head + "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make detect", description=__doc__.split("\n")[0])
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--output", default="benchmarks/detection.json")
    args = parser.parse_args(argv)
    rows = run(args.modes.split(","))
    sys.stdout.write(table(rows))
    recommended = [r for r in rows if r.mode == "service+ci"]
    missed = [r.scenario.name for r in recommended if r.met is False]
    sys.stdout.write(
        f"\nservice+ci: {sum(r.met is True for r in recommended)} of "
        f"{sum(r.met is not None for r in recommended)} targets met"
        + (f"; missed: {', '.join(missed)}\n" if missed else "\n")
    )
    Path(args.output).write_text(
        json.dumps(
            {
                "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "python": platform.python_version(),
                "minutes": MINUTES,
                "rows": [r.to_dict() for r in rows],
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
