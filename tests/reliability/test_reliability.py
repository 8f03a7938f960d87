"""The reliability properties, with the counts `make test` can afford. `make reliability` runs
the same campaigns with thousands of cases and prints the figures."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evacuation.model import Outcome, Status
from evacuation.state import InMemoryStateStore
from tests.reliability import campaigns
from tests.reliability.lab import AZ, Lab, lab
from tests.support.faults import Fault


@pytest.fixture(scope="module")
def shared_lab() -> Iterator[Lab]:
    with lab() as built:
        yield built


@pytest.fixture(scope="module")
def expected(shared_lab: Lab) -> dict[str, Any]:
    return campaigns.reference_end_state(shared_lab)


def _assert_clean(tally: campaigns.Tally) -> None:
    assert tally.clean, (
        f"{tally.campaign}: {tally.converged}/{tally.cases} converged; "
        f"violations={tally.violations[:5]} unhandled={tally.unhandled[:5]} "
        f"mutations on bad input={tally.mutations_on_bad_input}"
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1))
def test_any_fault_schedule_within_budget_converges_to_the_fault_free_state(
    shared_lab: Lab, expected: dict[str, Any], seed: int
) -> None:
    # hypothesis prints the seed of a failing schedule: rerun it with campaigns.convergence
    tally = campaigns.Tally("convergence")
    campaigns.convergence_case(shared_lab, seed, expected, tally)
    _assert_clean(tally)


@pytest.mark.parametrize("config", [{}, {"safety": {"prescale": True}}], ids=["plain", "prescale"])
def test_a_crash_at_any_point_resumes_or_recovers_exactly(
    shared_lab: Lab, config: dict[str, Any]
) -> None:
    tally = campaigns.crash_points(shared_lab, **config)
    assert tally.cases >= 40
    _assert_clean(tally)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1))
def test_aws_autoshifts_and_practice_runs_never_lose_to_azevac(shared_lab: Lab, seed: int) -> None:
    tally = campaigns.Tally("ARC precedence")
    campaigns.precedence_case(shared_lab, seed, tally)
    _assert_clean(tally)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1))
def test_recovery_never_restores_traffic_before_capacity(shared_lab: Lab, seed: int) -> None:
    tally = campaigns.Tally("recovery order")
    campaigns.recovery_case(shared_lab, seed, tally)
    _assert_clean(tally)


def test_a_lost_response_is_never_applied_twice_in_a_harmful_way(shared_lab: Lab) -> None:
    _assert_clean(campaigns.lost_responses(shared_lab))


def test_faults_beyond_the_budget_fail_that_step_only_and_the_reconciler_completes_it(
    shared_lab: Lab,
) -> None:
    _assert_clean(campaigns.budget(shared_lab))


def test_twenty_concurrent_alarm_invocations_make_one_evacuation(shared_lab: Lab) -> None:
    _assert_clean(campaigns.concurrency(shared_lab, rounds=1, threads=20))


def test_fuzzed_events_never_crash_never_mutate(shared_lab: Lab) -> None:
    rng = random.Random(20261122)
    _assert_clean(campaigns.fuzz(shared_lab, (campaigns.bad_event(rng) for _ in range(300))))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    handler=st.sampled_from(["alarm", "manual"]),
    event=json_values | st.fixed_dictionaries({"action": json_values, "az": json_values}),
)
def test_any_json_event_is_refused_cleanly(shared_lab: Lab, handler: str, event: Any) -> None:
    _assert_clean(campaigns.fuzz(shared_lab, [(handler, event)]))


def test_a_corrupted_state_record_is_a_clear_error_never_a_wrong_recovery(
    shared_lab: Lab,
) -> None:
    _assert_clean(campaigns.corrupted_state(shared_lab))


@pytest.mark.parametrize(
    ("service", "operation", "part"),
    [
        ("elasticache", "ModifyReplicationGroup", "cache_groups"),
        ("route53-recovery-cluster", "UpdateRoutingControlState", "routing_controls"),
    ],
)
def test_faults_armed_on_the_lab_reach_the_elasticache_and_arc_fakes(
    shared_lab: Lab, service: str, operation: str, part: str
) -> None:
    # Given every call of the operation is throttled (the injector answers before the fake)
    shared_lab.reset()
    store = InMemoryStateStore()
    shared_lab.faults.add(service, operation, Fault.THROTTLE, *range(1, 100))

    result = shared_lab.controller(store).evacuate(AZ, reason="storm")
    shared_lab.faults.clear()

    # Then the fake never saw the change: that part of AWS reads back as it began, its step
    # failed with the injected code, and a recover puts the rest back
    assert shared_lab.state()[part] == shared_lab.original[part]
    failed = [s for s in result.steps if s.outcome is Outcome.FAILED]
    assert len(failed) == 1 and "Throttling" in (failed[0].error or "")
    assert shared_lab.controller(store).recover(AZ, reason="reset").status is Status.RECOVERED
    assert shared_lab.state() == shared_lab.original


def _end_every_shift(lab: Lab, arn: str) -> None:
    """The timeline tests' shifts gone (the autoshift completed, the customer shift cancelled), so
    the module's later cases start from the lab's original ARC state."""
    lab.fake.end_autoshift(arn)
    for shift in lab.fake.shifts(arn, status="ACTIVE"):
        lab.fake.cancel_shift(shift["zonalShiftId"])


def test_the_timeline_flags_a_start_after_a_read_that_showed_the_autoshift(shared_lab: Lab) -> None:
    # The precedence campaign's check must be able to fail: a StartZonalShift sent after an ARC
    # read answered with AWS autoshifting away from another AZ is a violation.
    shared_lab.reset()
    arn = shared_lab.world.load_balancer_arn
    shared_lab.fake.start_autoshift(arn, campaigns.OTHER_AZ)
    try:
        with campaigns.Timeline(shared_lab, 1, None) as timeline:
            arc = shared_lab.session.client("arc-zonal-shift")  # made after the hooks: sees them
            arc.list_autoshifts(status="ACTIVE")
            arc.start_zonal_shift(
                resourceIdentifier=arn, awayFrom=AZ, expiresIn="1h", comment="timeline test"
            )
        assert len(timeline.violations) == 1
    finally:
        _end_every_shift(shared_lab, arn)


def test_the_timeline_ignores_a_read_answered_before_the_autoshift_started(
    shared_lab: Lab,
) -> None:
    # Lanes read side by side, so a read can come back after the autoshift started while holding
    # the answer from before it: that read showed nothing, and a start after it is no violation.
    shared_lab.reset()
    arn = shared_lab.world.load_balancer_arn
    events = shared_lab.session.events

    def active() -> list[dict[str, Any]]:  # earlier cases leave COMPLETED autoshifts behind
        return [a for a in shared_lab.fake.autoshifts(arn) if a["status"] == "ACTIVE"]

    def autoshift_starts(**_: Any) -> None:  # after ARC answered, before the answer is seen
        if not active():
            shared_lab.fake.start_autoshift(arn, campaigns.OTHER_AZ)

    answered = "after-call.arc-zonal-shift.ListAutoshifts"
    events.register(answered, autoshift_starts, unique_id="late-answer")
    try:
        with campaigns.Timeline(shared_lab, 1, None) as timeline:
            arc = shared_lab.session.client("arc-zonal-shift")
            arc.list_autoshifts(status="ACTIVE")
            arc.start_zonal_shift(
                resourceIdentifier=arn, awayFrom=AZ, expiresIn="1h", comment="timeline test"
            )
        assert active(), "the autoshift started before the start was sent"
        assert timeline.violations == []
    finally:
        events.unregister(answered, unique_id="late-answer")
        _end_every_shift(shared_lab, arn)
