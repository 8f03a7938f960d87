"""A crash at any point leaves enough behind to resume or to recover exactly."""

from __future__ import annotations

from datetime import timedelta

import pytest

from evacuation.emulator.world import World, snapshot
from evacuation.emulator.zonal_shift import ManualClock
from evacuation.model import Status
from evacuation.state import InMemoryStateStore
from tests.conftest import ControllerFactory
from tests.support.faults import FaultInjector, SimulatedCrash

AZ = "use1-az1"
# One shift, one Route 53 batch, suspend on web (worker already had it), two subnet updates.
MUTATIONS = 5
CRASH_POINTS = [("before", n) for n in range(1, MUTATIONS + 1)] + [
    ("after", n) for n in range(1, MUTATIONS + 1)
]


def _uninterrupted_end_state(
    world: World, make_controller: ControllerFactory, clock: ManualClock
) -> dict:
    original = snapshot(world)
    make_controller().evacuate(AZ, reason="reference run")
    end = snapshot(world)
    make_controller().recover(AZ)
    assert snapshot(world) == original
    clock.advance(timedelta(minutes=31))  # past the flap-damping cooldown
    return end


def test_reference_run_makes_the_expected_number_of_mutations(
    world: World, make_controller: ControllerFactory, recorder
) -> None:
    make_controller().evacuate(AZ, reason="count")
    assert len(recorder.mutations) == MUTATIONS, recorder.mutations


@pytest.mark.parametrize(("when", "mutation"), CRASH_POINTS)
def test_crash_then_rerun_converges_to_the_uninterrupted_end_state(
    world: World,
    make_controller: ControllerFactory,
    faults: FaultInjector,
    clock: ManualClock,
    when: str,
    mutation: int,
) -> None:
    # Given the end state of an uninterrupted evacuation (then recovered)
    expected = _uninterrupted_end_state(world, make_controller, clock)
    # When the controller dies just before / just after the n-th mutation
    faults.reset()
    setattr(faults, f"crash_{when}_mutation", mutation)
    with pytest.raises(SimulatedCrash):
        make_controller().evacuate(AZ, reason="crashing run")
    setattr(faults, f"crash_{when}_mutation", None)

    # Then a second run resumes the same evacuation and reaches the same end state
    result = make_controller().evacuate(AZ, reason="second run")
    assert result.status is Status.EVACUATED, result.to_dict()
    assert snapshot(world) == expected
    assert len(world.fake.shifts(world.load_balancer_arn, status="ACTIVE")) == 1


@pytest.mark.parametrize(("when", "mutation"), CRASH_POINTS)
def test_recover_after_a_crash_restores_the_original_state(
    world: World,
    make_controller: ControllerFactory,
    faults: FaultInjector,
    when: str,
    mutation: int,
) -> None:
    # Given a controller that died mid-evacuation
    original = snapshot(world)
    setattr(faults, f"crash_{when}_mutation", mutation)
    with pytest.raises(SimulatedCrash):
        make_controller().evacuate(AZ, reason="crashing run")
    setattr(faults, f"crash_{when}_mutation", None)

    # When an operator recovers straight away (no resume)
    result = make_controller().recover(AZ)

    # Then exactly the original state is back
    assert result.status is Status.RECOVERED, result.to_dict()
    assert snapshot(world) == original


class _HardCrashStore(InMemoryStateStore):
    """A process that is killed never runs its `finally`: the lease stays taken."""

    def release_lease(self, evacuation_id: str, owner: str) -> None:
        return None


def test_a_killed_run_holds_its_lease_until_it_expires(
    world: World, make_controller: ControllerFactory, faults: FaultInjector, clock: ManualClock
) -> None:
    # Given a run killed after its first mutation, leaving its lease behind
    store = _HardCrashStore()
    faults.crash_after_mutation = 1
    with pytest.raises(SimulatedCrash):
        make_controller(store=store).evacuate(AZ, reason="killed")
    faults.crash_after_mutation = None

    # When another invocation comes while the lease is still valid, it does not run in parallel
    busy = make_controller(store=store).evacuate(AZ, reason="too soon")
    assert "another invocation" in (busy.reason or "")
    assert busy.status is Status.IN_PROGRESS

    # Then once the lease has expired the evacuation resumes and completes
    clock.advance(timedelta(minutes=15))
    done = make_controller(store=store).evacuate(AZ, reason="later")
    assert done.status is Status.EVACUATED
    assert done.evacuation_id == busy.evacuation_id
