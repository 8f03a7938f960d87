"""Gather what the contextual guards need (kill switch, alarm states, history) and ask them.

Runs before a NEW evacuation only: resuming or reconciling one that already holds the AZ is
never blocked by a guard that would have allowed it to start.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog

from evacuation import guards
from evacuation.aws.cloudwatch import CloudWatchGateway
from evacuation.config import Config
from evacuation.errors import EvacuationError
from evacuation.model import Evacuation, Status, Trigger

log = structlog.get_logger(__name__)
AUTOMATIC = frozenset({Trigger.ALARM, Trigger.PRACTICE})


@dataclass(frozen=True)
class Verdict:
    refusals: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())
    """Said in the result without refusing (a manual run while the kill switch is off)."""


def preflight(
    config: Config,
    *,
    az_id: str,
    trigger: Trigger,
    force: bool,
    workload_azs: frozenset[str],
    held: Mapping[str, str],
    history: Sequence[Evacuation],
    cloudwatch: CloudWatchGateway,
    read_parameter: Callable[[str], str],
    now: datetime,
    stop_alarms: Sequence[str] = (),
) -> Verdict:
    """The refusals (and notes) for starting an evacuation of `az_id` now."""
    safety = config.safety
    refusals: list[str] = []
    notes: list[str] = []
    min_healthy = safety.min_healthy_azs or guards.default_min_healthy(len(workload_azs))
    refusals += _some(guards.too_few_healthy(az_id, workload_azs, held, min_healthy))
    last_recovered = max(
        (e.recovered_at for e in history if e.az_id == az_id and e.recovered_at), default=None
    )
    refusals += _some(guards.cooldown(az_id, last_recovered, now, safety.cooldown_minutes, force))
    if force:
        log.warning("guard.forced", az_id=az_id, trigger=trigger.value, cooldown_bypassed=True)
    if safety.kill_switch_parameter:
        value = _read(read_parameter, safety.kill_switch_parameter)
        refusal = guards.kill_switch(value, safety.kill_switch_parameter)
        if refusal and trigger in AUTOMATIC:
            refusals.append(refusal)
        elif refusal:
            notes.append(f"kill switch is off ({refusal.split(':')[0]}); manual run goes ahead")
    if trigger in AUTOMATIC:
        day_ago = now - timedelta(hours=24)
        automatic = [
            e
            for e in history
            if e.trigger is Trigger.ALARM
            and e.status is not Status.REFUSED
            and e.created_at > day_ago
        ]
        if trigger is Trigger.ALARM:
            refusals += _some(guards.rate_of_change(len(automatic), safety.max_evacuations_per_day))
        refusals += _regional(config, az_id, cloudwatch, stop_alarms, trigger)
    return Verdict(tuple(refusals), tuple(notes))


def _regional(
    config: Config,
    az_id: str,
    cloudwatch: CloudWatchGateway,
    stop_alarms: Sequence[str],
    trigger: Trigger,
) -> list[str]:
    others = {name: az for name, az in config.alarms.items() if az != az_id}
    own = [name for name, az in config.alarms.items() if az == az_id]
    regional = config.safety.regional_alarm
    names = [*others, *([regional] if regional else []), *stop_alarms, *own]
    if not names:
        return []
    try:
        states = cloudwatch.alarm_states(names)
    except EvacuationError as exc:
        return [f"cannot read alarm states to rule out regional impact ({exc}); not acting alone"]
    in_alarm = {name: az for name, az in others.items() if states.get(name) == "ALARM"}
    regional_in_alarm = regional if regional and states.get(regional) == "ALARM" else None
    refusals = _some(guards.regional_impact(az_id, in_alarm, regional_in_alarm))
    if trigger is Trigger.PRACTICE:
        firing = [n for n in [*stop_alarms, *own] if states.get(n) == "ALARM"]
        if firing:
            refusals.append(f"practice run needs a healthy AZ; in ALARM now: {', '.join(firing)}")
    return refusals


def _read(read_parameter: Callable[[str], str], name: str) -> str | None:
    try:
        return read_parameter(name)
    except EvacuationError as exc:
        log.error("guard.kill_switch.unreadable", parameter=name, error=str(exc))
        return None


def _some(refusal: str | None) -> list[str]:
    return [refusal] if refusal else []
