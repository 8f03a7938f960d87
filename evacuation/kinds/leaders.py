"""What the dependency kinds share: a leader (a DB cluster's writer, a cache group's primary)
moved out of the impaired AZ, verified by reading it back until it is there or time is up."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from evacuation.errors import EvacuationError
from evacuation.kinds.base import zone_ids
from evacuation.model import PlannedStep, StepKey
from evacuation.steps.base import RunContext, Verdict, Verified

T = TypeVar("T")


@dataclass(frozen=True)
class Leader:
    """A resource's leader as read back."""

    member: str | None
    az_id: str | None
    settled: bool = True
    """False while the resource is still being changed after the move (a cache group's Multi-AZ
    being switched back on): not converged yet."""


def verify_leader_moves(
    ctx: RunContext,
    steps: Sequence[PlannedStep],
    afters: Mapping[StepKey, Any],
    *,
    role: str,
    read: Callable[[list[str]], Mapping[str, T]],
    leader: Callable[[T, Mapping[str, Any], Mapping[str, str]], Leader],
    pending: Callable[[Mapping[str, Any]], str],
) -> Mapping[StepKey, Verified]:
    """Converged when each step's target (`after[role]`) reads back as the leader, settled, in an
    AZ other than the impaired one (its AZ ID kept as `after[role + "_az"]`); a leader read back
    in the impaired AZ diverged; the rest are pending with `pending(after)`, once `ctx.poll`
    gives up. One `read` per poll for all the steps still waiting."""
    zones = zone_ids(ctx.gateways)
    if isinstance(zones, EvacuationError):
        raise zones
    waiting = {step.resource: step.key for step in steps}
    verdicts: dict[StepKey, Verified] = {}

    def check() -> Verified:
        found = read(list(waiting))
        for resource in list(waiting):
            after = afters[waiting[resource]]
            observed = found.get(resource)
            if observed is None:
                verdicts[waiting.pop(resource)] = Verified(Verdict.DIVERGED, "not found")
                continue
            now = leader(observed, after, zones)
            target = str(after[role])
            if now.member != target or not now.settled:
                continue
            if now.az_id == ctx.az_id:
                detail = f"{target} is the {role} but reads back in {now.az_id}"
                verdicts[waiting.pop(resource)] = Verified(Verdict.DIVERGED, detail)
            else:
                moved = {**after, f"{role}_az": now.az_id}
                verdicts[waiting.pop(resource)] = Verified(Verdict.CONVERGED, after=moved)
        return Verified(Verdict.PENDING if waiting else Verdict.CONVERGED)

    ctx.poll(check)
    return {
        step.key: verdicts.get(step.key, Verified(Verdict.PENDING, pending(afters[step.key])))
        for step in steps
    }
