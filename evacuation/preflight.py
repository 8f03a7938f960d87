"""Gather what the contextual guards need (kill switch, alarm states, history) and ask them.

Runs before a NEW evacuation only: resuming or reconciling one that already holds the AZ is
never blocked by a guard that would have allowed it to start.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog

from evacuation import guards
from evacuation.aws.cloudwatch import CloudWatchGateway
from evacuation.config import Config
from evacuation.errors import EvacuationError
from evacuation.kinds import KINDS
from evacuation.model import Evacuation, Status, Trigger
from evacuation.observe import Observation

log = structlog.get_logger(__name__)
AUTOMATIC = frozenset({Trigger.ALARM, Trigger.PRACTICE, Trigger.AUTOSHIFT})
REAL_AUTOMATIC = frozenset({Trigger.ALARM, Trigger.AUTOSHIFT})
"""Automatic evacuations for a real event (an alarm, an AWS autoshift): the daily limit counts
and applies to both."""


@dataclass(frozen=True)
class Verdict:
    refusals: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())
    """Said in the result without refusing (a manual run while the kill switch is off)."""
    weighed: tuple[str, ...] = field(default=())
    """The guards asked, by name (recorded with the evacuation: the post-incident report)."""


@dataclass(frozen=True)
class GuardReads:
    """What the contextual guards weigh, read before deciding (and alongside the plan's reads)."""

    history: Sequence[Evacuation]
    """The workload's evacuations of the last 24 hours that were not refused, newest first."""
    alarm_states: Mapping[str, str] | EvacuationError
    """Alarm name -> state for the alarms the regional check and stop conditions watch."""
    kill_switch: str | None = None
    """The kill switch parameter's value; None when there is none or it could not be read."""
    recovered_at: Mapping[str, datetime] = field(default_factory=dict)
    """When each AZ was last recovered, from the lock: flap damping's input, however long ago
    the evacuation began."""


def read_guard_inputs(
    config: Config,
    *,
    az_id: str,
    trigger: Trigger,
    stop_alarms: Sequence[str],
    history: Callable[[], Sequence[Evacuation]],
    cloudwatch: CloudWatchGateway,
    recovered_at: Callable[[], Mapping[str, datetime]] = dict,
    read_parameter: Callable[[str], str],
) -> GuardReads:
    """Read history, alarm states and the kill switch at once: they do not depend on each other."""
    names = _alarm_names(config, az_id, stop_alarms) if trigger in AUTOMATIC else []
    parameter = config.safety.kill_switch_parameter
    with ThreadPoolExecutor(3, thread_name_prefix="guards") as pool:
        states = pool.submit(contextvars.copy_context().run, _alarm_states, cloudwatch, names)
        recovered = pool.submit(contextvars.copy_context().run, recovered_at)
        switch = (
            pool.submit(contextvars.copy_context().run, _read, read_parameter, parameter)
            if parameter
            else None
        )
        return GuardReads(
            history=history(),
            alarm_states=states.result(),
            kill_switch=switch.result() if switch else None,
            recovered_at=recovered.result(),
        )


def preflight(
    config: Config,
    *,
    az_id: str,
    trigger: Trigger,
    force: bool,
    workload_azs: frozenset[str],
    out: Mapping[str, str],
    reads: GuardReads,
    now: datetime,
    observation: Observation | None = None,
    stop_alarms: Sequence[str] = (),
) -> Verdict:
    """The refusals (and notes) for starting an evacuation of `az_id` now.

    `out`: every other AZ already out of service, by azevac or by any other lever.
    `observation`: what AWS shows now; each resource kind says what in it forbids a start.
    """
    safety = config.safety
    history = reads.history
    refusals: list[str] = []
    notes: list[str] = []
    min_healthy = safety.min_healthy_azs or guards.default_min_healthy(len(workload_azs))
    weighed = [f"AZs left in service (at least {min_healthy})", "what AWS shows (ARC precedence)"]
    weighed.append(f"flap damping ({safety.cooldown_minutes} min)")
    refusals += _some(guards.too_few_healthy(az_id, workload_azs, out, min_healthy))
    if observation is not None:
        for kind in KINDS:  # what AWS shows that forbids a start (an autoshift elsewhere: ARC-2)
            said = kind.start_checks(config, observation, az_id, trigger in AUTOMATIC)
            refusals += said[0]
            notes += said[1]
    recovered = [e.recovered_at for e in history if e.az_id == az_id and e.recovered_at]
    if az_id in reads.recovered_at:
        recovered.append(reads.recovered_at[az_id])
    last_recovered = max(recovered, default=None)
    refusals += _some(guards.cooldown(az_id, last_recovered, now, safety.cooldown_minutes, force))
    if force:
        log.warning("guard.forced", az_id=az_id, trigger=trigger.value, cooldown_bypassed=True)
    if safety.kill_switch_parameter:
        weighed.append(f"kill switch {safety.kill_switch_parameter}")
        refusal = guards.kill_switch(reads.kill_switch, safety.kill_switch_parameter)
        if refusal and trigger in AUTOMATIC:
            refusals.append(refusal)
        elif refusal:
            notes.append(f"kill switch is off ({refusal.split(':')[0]}); manual run goes ahead")
    if trigger in AUTOMATIC:
        day_ago = now - timedelta(hours=24)
        automatic = [
            e
            for e in history
            if e.trigger in REAL_AUTOMATIC
            and e.status is not Status.REFUSED
            and e.created_at > day_ago
        ]
        if trigger in REAL_AUTOMATIC:
            weighed.append(f"daily limit ({safety.max_evacuations_per_day} per 24 h)")
            refusals += _some(guards.rate_of_change(len(automatic), safety.max_evacuations_per_day))
        weighed.append("regional impact (the other AZs' and the regional alarms)")
        refusals += _regional(config, az_id, reads.alarm_states, stop_alarms, trigger)
    return Verdict(tuple(refusals), tuple(notes), tuple(weighed))


def _alarm_names(config: Config, az_id: str, stop_alarms: Sequence[str]) -> list[str]:
    others = [name for name, az in config.alarms.items() if az != az_id]
    own = [name for name, az in config.alarms.items() if az == az_id]
    regional = config.safety.regional_alarm
    return [*others, *([regional] if regional else []), *stop_alarms, *own]


def _alarm_states(
    cloudwatch: CloudWatchGateway, names: Sequence[str]
) -> Mapping[str, str] | EvacuationError:
    if not names:
        return {}
    try:
        return cloudwatch.alarm_states(names)
    except EvacuationError as exc:
        return exc


def _regional(
    config: Config,
    az_id: str,
    states: Mapping[str, str] | EvacuationError,
    stop_alarms: Sequence[str],
    trigger: Trigger,
) -> list[str]:
    if isinstance(states, EvacuationError):
        return [
            f"cannot read alarm states to rule out regional impact ({states}); not acting alone"
        ]
    others = {name: az for name, az in config.alarms.items() if az != az_id}
    own = [name for name, az in config.alarms.items() if az == az_id]
    regional = config.safety.regional_alarm
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
