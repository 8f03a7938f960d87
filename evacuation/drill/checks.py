"""Read the workload's state back from AWS and check a hypothesis against it.

Every check here looks at AWS (moto and the fakes through boto3), never at what the controller
answered: a drill that trusts the controller's own report proves nothing. What is read and
checked comes from each registered kind's probe (`evacuation/drill/probes.py`): this module
names no kind.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import boto3

from evacuation.drill.check import Check, State, short
from evacuation.drill.probes import Context, probes
from evacuation.emulator.world import World

__all__ = [
    "Check",
    "State",
    "diff",
    "evacuated",
    "expected_after",
    "nothing_else_changed",
    "read_aws",
    "short",
]


def read_aws(session: boto3.Session, world: World) -> State:
    """Everything an evacuation could touch, read from AWS, each kind its part: for example
    every record of the hosted zone, every Auto Scaling group (with the AZ ID of each subnet),
    every zonal shift and the weights ARC applies."""
    state: State = {}
    for probe in probes():
        state.update(probe.read(session, world))
    return state


def _context(
    world: World, az_id: str, suspend: Sequence[str], config: Mapping[str, Any] | None
) -> Context:
    return Context(world, az_id, tuple(suspend), config if config is not None else world.config())


def evacuated(
    world: World,
    az_id: str,
    before: State,
    after: State,
    suspend: Sequence[str],
    *,
    config: Mapping[str, Any] | None = None,
) -> list[Check]:
    """After evacuating `az_id`: no traffic weight and no new capacity remain in it, and nothing
    else changed."""
    ctx = _context(world, az_id, suspend, config)
    return [
        *(check for probe in probes() for check in probe.evacuated(ctx, before, after)),
        nothing_else_changed(expected_after(world, az_id, before, suspend, config=config), after),
    ]


def expected_after(
    world: World,
    az_id: str,
    before: State,
    suspend: Sequence[str],
    *,
    config: Mapping[str, Any] | None = None,
) -> State:
    """`before` with exactly the evacuation's changes applied: what AWS must look like."""
    ctx = _context(world, az_id, suspend, config)
    expected = copy.deepcopy(before)
    for probe in probes():
        probe.expect(ctx, expected)
    return expected


def nothing_else_changed(expected: State, found: State, name: str = "") -> Check:
    """Compare the whole state; the differences are the finding."""
    differences = list(diff(expected, found))
    return Check(
        name or "Nothing else changed (whole state read back and compared)",
        not differences,
        "; ".join(differences[:6]) + (" ..." if len(differences) > 6 else "")
        if differences
        else "identical",
    )


def diff(expected: Any, found: Any, path: str = "") -> Iterable[str]:
    """Human-readable differences between two JSON-like values."""
    if isinstance(expected, Mapping) and isinstance(found, Mapping):
        for key in sorted(set(expected) | set(found), key=str):
            where = f"{path}.{short(str(key))}" if path else short(str(key))
            if key not in found:
                yield f"{where}: missing (expected {expected[key]!r})"
            elif key not in expected:
                yield f"{where}: unexpected {found[key]!r}"
            else:
                yield from diff(expected[key], found[key], where)
    elif expected != found:
        yield f"{path}: expected {expected!r}, found {found!r}"
