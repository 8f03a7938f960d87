"""The `gray-failure` and `blackhole` drills: they start where an incident starts, with customers
failing in one AZ (`blackhole`: the AZ's instances publish nothing at all, and the load balancer
answers their requests with 5xx).

A scenario of the detection library (5 % faults in the drill's AZ) is replayed minute by minute:
its synthetic metrics drive the detection kit's own alarms through the evaluator; each state
change of an isolated-impact or regional alarm is set in the embedded CloudWatch (moto has no
composite alarms, so each stands in as a metric alarm of the same name, which DescribeAlarms
returns to the alarm handler just the same) and handed to the real alarm handler as the
EventBridge event CloudWatch sends. Once azevac has shifted the AZ's traffic away, that AZ's
metrics carry no requests, so its alarms return to OK; the operator recovers at the end.

Times: onset to detection is simulated minutes (the evaluator's); detection to traffic off is
the controller's real time on the embedded AWS.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from evacuation.detection.bench import MODES, WORKLOAD
from evacuation.detection.config import DetectionConfig, alarm_names
from evacuation.detection.evaluate import StackEvaluator, State
from evacuation.detection.generate import build_template
from evacuation.detection.scenarios import (
    BY_NAME,
    IMPAIRED,
    LOAD_BALANCER,
    MINUTES,
    ZONES,
    MetricData,
    simulate,
)
from evacuation.drill.checks import Check
from evacuation.emulator.world import REGION

SCENARIO = "az-5pct"
RECOVER_AT = 55
"""The simulated minute at which the operator recovers (the library's fault ends at 50)."""


class Shifted:
    """The scenario's metrics, with no traffic in the AZ from the minute its traffic moved."""

    def __init__(self, data: MetricData, az: str) -> None:
        self.data = data
        self.az = az
        self.since: int | None = None
        self.until: int | None = None

    def _gone(self, t: int) -> bool:
        return self.since is not None and t >= self.since and (self.until is None or t < self.until)

    def value(
        self, namespace: str, metric: str, dims: frozenset[tuple[str, str]], stat: str, t: int
    ) -> float | None:
        if not self._gone(t):
            return self.data.value(namespace, metric, dims, stat, t)
        mine = {self.az, ZONES.get(self.az)}
        if any(v in mine for _, v in dims):
            return None  # the AZ serves nothing while its traffic is shifted away
        if stat != "Sum":
            return self.data.value(namespace, metric, dims, stat, t)
        # A region-wide count: what the other AZs served (the shifted load lands there, healthy).
        parts = [
            values.get(t)
            for (ns, name, key_dims, st), values in self.data.series.items()
            if (ns, name, st) == (namespace, metric, stat)
            and key_dims > dims
            and len(key_dims) == len(dims) + 1
            and not any(v in mine for _, v in key_dims - dims)
        ]
        present = [p for p in parts if p is not None]
        return sum(present) if present else None

    def insight(self, rule: str, metric: str, t: int) -> float | None:
        if self._gone(t) and self.az in rule:
            return None
        return self.data.insight(rule, metric, t)


def play(d: Any, library_scenario: str = SCENARIO) -> None:  # noqa: PLR0915 - the incident, minute by minute, in order
    """The scenario (d is a `Drill`): `library_scenario` of the detection library, in the
    drill's AZ."""
    lab, az = d.lab, d.az_id
    before = d.read()
    detection = DetectionConfig.model_validate(
        {**MODES["service+ci"], "az_ids": list(lab.world.az_ids)}
    )
    names = alarm_names(WORKLOAD, detection)
    # The config azevac reads gets the detection section: its alarms come from the kit's names.
    config = {**lab.world.config(), "detection": detection.model_dump(exclude_none=True)}
    lab.config_path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    cloudwatch = lab.session.client("cloudwatch", region_name=REGION)
    stand_ins = {names.regional: None, **{n: a for a, n in names.isolated.items()}}
    for name in stand_ins:
        if name not in lab.world.alarms:
            _stand_in(cloudwatch, name)
    library = BY_NAME[library_scenario]
    effects = tuple(
        dataclasses.replace(e, az=az if e.az == IMPAIRED else e.az) for e in library.effects
    )
    scenario = dataclasses.replace(library, effects=effects)
    rules = {x: (names.insight_rules[x], names.slow_rules[x]) for x in detection.az_ids}
    source = Shifted(simulate(scenario, rules), az)
    evaluator = StackEvaluator(build_template(WORKLOAD, detection), {"LoadBalancer": LOAD_BALANCER})
    onset = scenario.onset or 0
    d.narrator.say(f"Replaying {library_scenario}: {scenario.title}, onset at minute {onset}")
    detected_at: int | None = None
    series: dict[str, list[float | None]] = {x: [] for x in detection.az_ids}
    states: dict[str, list[str]] = {n: [] for n in stand_ins}
    steps_at: list[dict[str, Any]] = []
    for t in range(MINUTES):
        if t == RECOVER_AT and detected_at is not None:
            source.until = t
            payload = {"action": "recover", "az": az, "reason": "drill: the AZ is healthy"}
            d.evacuations.append("recover")  # the recovery is on the timeline too
            recovered = d.manual("recover", payload)
            d.expect_status(recovered, "RECOVERED")
            steps_at.append({"minute": t, "what": "operator recovers"})
        for change in evaluator.step(source, t):
            if change.alarm not in stand_ins:
                continue
            state = change.new.value
            d.narrator.say(f"minute {t}: {change.alarm} {change.old.value} → {state}")
            event = _set_state(lab, cloudwatch, change.alarm, state, f"minute {t}")
            if change.alarm == names.isolated[az] and change.new is State.ALARM:
                if detected_at is None:
                    detected_at = t
                    d.fired = True
                    d.t0 = _now()
                    d.narrator.zero(d.t0)
                invocation = d.deliver(f"alarm minute {t}", event)
                answer = d.expect_status(invocation, "EVACUATED")
                d.expect_steps_ok(invocation)
                d.result.facts.update(
                    evacuation_id=answer.get("evacuation_id"),
                    data_plane_seconds=answer.get("data_plane_seconds"),
                    total_seconds=answer.get("total_seconds"),
                )
                source.since = t + 1  # the shift moves the AZ's traffic from the next minute
                steps_at.append({"minute": t, "what": "azevac evacuates"})
                d.hypothesis(before)
            elif change.new is State.ALARM or change.old is State.ALARM:
                d.deliver(f"{change.alarm} {state} minute {t}", event, evacuates=False)
        for x in detection.az_ids:
            series[x].append(_fault_rate(evaluator, names.fault_rate[x], source, t))
        for name in stand_ins:
            states[name].append(evaluator.states[name].value)
    _checks(d, names, states=states, detected_at=detected_at, onset=onset, before=before)
    d.result.panel = {
        "minutes": MINUTES,
        "onset": onset,
        "detected": detected_at,
        "fault_rate": series,
        "alarm_states": states,
        "events": steps_at,
    }


def _checks(
    d: Any,
    names: Any,
    *,
    states: dict[str, list[str]],
    detected_at: int | None,
    onset: int,
    before: Any,
) -> None:
    from evacuation.drill import checks  # noqa: PLC0415 - the drill's own module

    az = d.az_id
    minutes = None if detected_at is None else detected_at + 1 - onset
    d.check(
        Check(
            f"The isolated-impact alarm of {az} fired within 3 minutes of the onset",
            minutes is not None and minutes <= 3,
            f"{minutes} minutes" if minutes is not None else "it never fired",
        )
    )
    others = [n for x, n in names.isolated.items() if x != az and "ALARM" in states[n]] + (
        [names.regional] if "ALARM" in states[names.regional] else []
    )
    d.check(
        Check(
            "No other AZ's isolated alarm and no regional alarm fired",
            not others,
            ", ".join(others) or "none",
        )
    )
    last = states[names.isolated[az]][-1]
    d.check(
        Check(f"With its traffic shifted away, {az}'s alarm returned to OK", last == "OK", last)
    )
    d.check(checks.nothing_else_changed(before, d.read(), "Recovered: AWS is as it was before"))
    d.result.facts["onset_to_detection_seconds"] = None if minutes is None else minutes * 60


def _fault_rate(evaluator: StackEvaluator, alarm: str, source: Shifted, t: int) -> float | None:
    value = evaluator.metric_alarms[alarm].value(source, t)
    return None if value is None else round(value, 3)


def _stand_in(cloudwatch: Any, name: str) -> None:
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        AlarmDescription="stand-in for the detection kit's composite alarm (moto has none)",
        Namespace="azevac/drill",
        MetricName="StandIn",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="drill start")


def _set_state(lab: Any, cloudwatch: Any, name: str, state: str, why: str) -> dict[str, Any]:
    from evacuation.drill.lab import alarm_state_change_event  # noqa: PLC0415

    previous = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
    cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason=f"detection: {why}")
    alarm = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
    return alarm_state_change_event(alarm, previous)


def _now() -> Any:
    from datetime import UTC, datetime  # noqa: PLC0415

    return datetime.now(UTC)
