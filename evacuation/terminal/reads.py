"""The few reads the CLI adds to an answer for a person: subnet AZs, shift expiry, alarm states.

Read-only, each through the same translated and retried calls as the engine; a read that fails
degrades the output (says so) and never the command.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from evacuation.aws.clients import AwsClients, Caller
from evacuation.aws.cloudwatch import CloudWatchGateway
from evacuation.aws.ec2 import Ec2Gateway
from evacuation.aws.zonal_shift import ZonalShiftGateway
from evacuation.errors import EvacuationError
from evacuation.retry import Deadline, RetryPolicy


def _call() -> Caller:
    return Caller(RetryPolicy(Deadline.within(20.0), max_attempts=4))


def subnet_azs(clients: AwsClients, subnets: Iterable[str]) -> Mapping[str, str]:
    """subnet id -> AZ ID; empty when EC2 cannot be read (the ids are shown alone)."""
    wanted = sorted(set(subnets))
    if not wanted:
        return {}
    try:
        return Ec2Gateway(clients, _call()).subnet_zone_ids(wanted)
    except EvacuationError:
        return {}


def alarm_states(clients: AwsClients) -> Any:
    """A reader of alarm states (evacuation.impairment.AlarmStates) on these clients."""

    def read(names: Iterable[str]) -> Mapping[str, str]:
        return CloudWatchGateway(clients, _call()).alarm_states(names)

    return read


def shifts_of(clients: AwsClients, evacuation: Mapping[str, Any]) -> dict[str, Any]:
    """`shifts`: each zonal shift azevac started for the evacuation, as ARC has it now (status,
    applied or not, expiry), found by its recorded id; `shift_error` if ARC cannot be read."""
    recorded = [
        (s["resource"], s["after"]["shift_id"])
        for s in evacuation.get("steps", [])
        if s.get("kind") == "zonal_shift"
        and isinstance(s.get("after"), Mapping)
        and s["after"].get("shift_id")
    ]
    if not recorded:
        return {"shifts": []}
    gateway = ZonalShiftGateway(clients, _call())
    shifts: list[dict[str, Any]] = []
    try:
        for arn, shift_id in recorded:
            shift = gateway.get_managed_resource(arn).shift(shift_id)
            shifts.append(
                {
                    "resource": arn,
                    "shift_id": shift_id,
                    "status": "ACTIVE" if shift is not None else "NOT_ACTIVE",
                    "applied_status": (
                        ("APPLIED" if shift.applied else "NOT_APPLIED") if shift else None
                    ),
                    "expiry_time": shift.expiry.isoformat() if shift and shift.expiry else None,
                }
            )
    except EvacuationError as exc:
        return {"shifts": shifts, "shift_error": str(exc)}
    return {"shifts": shifts}
