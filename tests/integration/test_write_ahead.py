"""A large batch of independent steps (zonal shifts) is recorded and applied chunk by chunk:
each shift is on record before its own StartZonalShift, and the first shift does not wait for
the whole batch's records (executor.WRITE_AHEAD_CHUNK)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import boto3
import pytest

from evacuation.emulator.world import World
from evacuation.emulator.zonal_shift import ZonalShiftFake
from evacuation.executor import WRITE_AHEAD_CHUNK
from evacuation.model import Outcome, Status, StepKind, StepRecord
from evacuation.state import InMemoryStateStore
from tests.conftest import ControllerFactory
from tests.support.faults import FaultInjector, SimulatedCrash

SHIFTS = 3 * WRITE_AHEAD_CHUNK + 5


def _load_balancers(fake: ZonalShiftFake, world: World) -> list[str]:
    """SHIFTS load balancers registered with ARC, in the world's AZs."""
    arns = [
        f"arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/lb-{i:03d}/{i:016x}"
        for i in range(SHIFTS)
    ]
    for arn in arns:
        fake.register_resource(arn, world.az_ids)
    return arns


class Journal:
    """One ordered list of what happened: records written and shifts started."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def add(self, what: str, resource: str) -> None:
        with self._lock:
            self.events.append((what, resource))

    def index(self, what: str, resource: str) -> int:
        return self.events.index((what, resource))


class JournalledStore(InMemoryStateStore):
    def __init__(self, journal: Journal) -> None:
        super().__init__()
        self.journal = journal

    def save_steps(self, evacuation_id: str, steps: Sequence[StepRecord]) -> None:
        super().save_steps(evacuation_id, steps)
        for step in steps:
            if step.key.kind is StepKind.ZONAL_SHIFT and step.outcome is Outcome.IN_PROGRESS:
                self.journal.add("recorded", step.key.resource)


def test_each_shift_is_recorded_before_it_starts_and_the_first_does_not_wait_for_the_rest(
    world: World, fake: ZonalShiftFake, session: boto3.Session,
    make_controller: ControllerFactory,
) -> None:  # fmt: skip
    arns = _load_balancers(fake, world)
    journal = Journal()

    def started(params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name == "StartZonalShift":
            journal.add("started", params["resourceIdentifier"])

    session.events.register("provide-client-params.arc-zonal-shift.*", started)
    config = world.config(zonal_shift={"resources": arns, "expires_in": "6h"})

    result = make_controller(config, store=JournalledStore(journal)).evacuate(
        "use1-az1", reason="gray failure"
    )

    # Every shift applied, as ARC shows
    assert result.status is Status.EVACUATED
    active = {s["resourceIdentifier"] for s in fake.shifts() if s["status"] == "ACTIVE"}
    assert set(arns) <= active
    # Each one on record before its own StartZonalShift
    for arn in arns:
        assert journal.index("recorded", arn) < journal.index("started", arn), arn
    # And the first shift went out before the last records were written
    first_start = min(journal.index("started", arn) for arn in arns)
    last_record = max(journal.index("recorded", arn) for arn in arns)
    assert first_start < last_record


@pytest.mark.parametrize("mutation", [WRITE_AHEAD_CHUNK - 1, WRITE_AHEAD_CHUNK + 7, SHIFTS - 2])
def test_a_crash_inside_a_chunked_batch_resumes_with_one_shift_each_and_recovers_them_all(
    world: World, fake: ZonalShiftFake, faults: FaultInjector,
    make_controller: ControllerFactory, mutation: int,
) -> None:  # fmt: skip
    arns = _load_balancers(fake, world)
    config = world.config(zonal_shift={"resources": arns, "expires_in": "6h"})

    # Given the controller dies just after the n-th mutation, mid-batch
    faults.reset()
    faults.crash_after_mutation = mutation
    with pytest.raises(SimulatedCrash):
        make_controller(config).evacuate("use1-az1", reason="crashing run")
    faults.crash_after_mutation = None

    # Then the next run resumes: every resource has exactly one active shift (none started twice)
    result = make_controller(config).evacuate("use1-az1", reason="second run")
    assert result.status is Status.EVACUATED, result.to_dict()
    for arn in arns:
        assert len(fake.shifts(arn, status="ACTIVE")) == 1, arn

    # And recover cancels every one of them
    assert make_controller(config).recover("use1-az1").status is Status.RECOVERED
    assert not [s for s in fake.shifts() if s["status"] == "ACTIVE"]
