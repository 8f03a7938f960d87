"""Which AZ looks impaired: every configured AZ alarm's state, beside the AZ an operator names.

An alarm-triggered evacuation refuses when another AZ's alarm is in ALARM (the regional guard).
A manual one goes ahead (a human may know better), but never without a word: `plan` and
`evacuate` show every AZ's alarm state, and an evacuation of an AZ whose alarm is quiet while
another AZ's is in ALARM carries a warning naming the AZ that looks impaired (the CLI asks for
confirmation; the manual handler and the runbook put the warning in their answer). Pure apart
from the `alarm_states` reader it is given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from evacuation.config import Config

ALARM = "ALARM"
MISSING = "MISSING"
"""The alarm is configured but CloudWatch has no alarm of that name."""
UNREADABLE = "UNREADABLE"

AlarmStates = Callable[[Iterable[str]], Mapping[str, str]]
"""alarm names -> their current state (CloudWatch DescribeAlarms)."""


@dataclass(frozen=True)
class AzAlarm:
    alarm: str
    az_id: str | None
    """None for the regional alarm."""
    state: str


@dataclass(frozen=True)
class AlarmOverview:
    az_id: str
    """The AZ the operator wants to evacuate."""
    alarms: tuple[AzAlarm, ...]
    error: str | None = None
    """Why the states could not be read, if they could not."""

    @property
    def impaired_elsewhere(self) -> tuple[AzAlarm, ...]:
        return tuple(a for a in self.alarms if a.state == ALARM and a.az_id != self.az_id)

    @property
    def target_in_alarm(self) -> bool:
        return any(a.state == ALARM for a in self.alarms if a.az_id == self.az_id)

    @property
    def warning(self) -> str | None:
        """Why a human should think twice before evacuating `az_id`, or None."""
        if self.error is not None:
            return f"alarm states could not be read ({self.error}): check them before evacuating"
        elsewhere = self.impaired_elsewhere
        if not elsewhere:
            return None
        regional = [a.alarm for a in elsewhere if a.az_id is None]
        if regional:
            return (
                f"the regional alarm {regional[0]} is in ALARM: evacuating {self.az_id} cannot "
                "fix a regional event and removes capacity"
            )
        if self.target_in_alarm:
            others = ", ".join(sorted({a.az_id or "" for a in elsewhere}))
            return (
                f"{others} also alarm(s): this may be a regional event, and evacuating "
                f"{self.az_id} removes capacity"
            )
        impaired = sorted({a.az_id or "" for a in elsewhere})
        names = ", ".join(f"{a.alarm} ({a.az_id})" for a in elsewhere)
        return (
            f"{self.az_id}'s alarm is not in ALARM, but {names} is: "
            f"{' and '.join(impaired)} looks impaired, not {self.az_id}. Evacuating {self.az_id} "
            "removes healthy capacity"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "az_id": self.az_id,
            "alarms": [{"alarm": a.alarm, "az_id": a.az_id, "state": a.state} for a in self.alarms],
            "warning": self.warning,
        }


def alarm_overview(config: Config, az_id: str, alarm_states: AlarmStates) -> AlarmOverview:
    """Every configured AZ alarm (and the regional alarm) with its state now."""
    wanted: list[tuple[str, str | None]] = sorted(
        config.alarms.items(), key=lambda kv: (kv[1], kv[0])
    )
    if config.safety.regional_alarm:
        wanted.append((config.safety.regional_alarm, None))
    if not wanted:
        return AlarmOverview(az_id, ())
    try:
        states = alarm_states([name for name, _ in wanted])
    except Exception as exc:  # noqa: BLE001 - shown to the human; never blocks a manual run
        alarms = tuple(AzAlarm(name, az, UNREADABLE) for name, az in wanted)
        return AlarmOverview(az_id, alarms, error=str(exc))
    return AlarmOverview(
        az_id, tuple(AzAlarm(name, az, states.get(name, MISSING)) for name, az in wanted)
    )


def with_alarm_overview(
    config: Config, answer: Mapping[str, Any], alarm_states: AlarmStates
) -> dict[str, Any]:
    """The keys a plan or evacuate answer gains: `alarm_overview` and, when another AZ looks
    impaired, the warning in `warnings`."""
    az_id = answer.get("az_id")
    if not isinstance(az_id, str):
        return {}
    overview = alarm_overview(config, az_id, alarm_states)
    warnings = [*answer.get("warnings", [])]
    if overview.warning:
        warnings.append(overview.warning)
    return {"alarm_overview": overview.to_dict(), "warnings": warnings}
