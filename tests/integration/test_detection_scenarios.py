"""Proof on data (issue 16): every library scenario through the generated alarms, evaluated as
CloudWatch does. The targets hold with the service's own metrics and the Contributor Insights
rules; the load balancer alone misses what it cannot see, and says so."""

from __future__ import annotations

import pytest

from evacuation.detection.bench import run
from evacuation.detection.scenarios import SCENARIOS, simulate

ROWS = {(r.mode, r.scenario.name): r for r in run(["service+ci", "alb-only"])}


@pytest.mark.parametrize("scenario", [s.name for s in SCENARIOS])
def test_every_target_is_met_with_service_metrics_and_contributor_insights(scenario: str) -> None:
    row = ROWS[("service+ci", scenario)]
    assert row.met is not False, row.to_dict()


def test_five_percent_and_more_and_the_blackholes_are_detected_within_three_minutes() -> None:
    for name in (
        "az-5pct", "az-20pct", "two-hosts", "cross-zone", "recovery", "blackhole",
        "blackhole-gray",
    ):  # fmt: skip
        assert ROWS[("service+ci", name)].detect_minutes == 3


def test_the_regional_alarm_fires_on_the_regional_event_and_no_isolated_alarm() -> None:
    row = ROWS[("service+ci", "regional")]
    assert (row.regional_fired, row.fired) == (True, [])


def test_a_recovered_az_returns_to_ok_and_flapping_makes_one_episode() -> None:
    assert ROWS[("service+ci", "recovery")].recovered_minutes is not None
    assert ROWS[("service+ci", "flapping")].episodes == 1


@pytest.mark.parametrize(
    ("scenario", "why"),
    [
        ("single-host", "no per-instance signal: one bad host looks like a bad AZ"),
        ("cross-zone", "cross-zone spreads the AZ's faults over every zone's metrics"),
    ],
)
def test_the_load_balancer_alone_misses_what_it_cannot_see(scenario: str, why: str) -> None:
    assert ROWS[("alb-only", scenario)].met is False, why


def test_the_load_balancer_sees_a_blackhole_the_service_cannot_report() -> None:
    # The blackholed AZ's instances publish nothing; the ALB answers 502/504 for them.
    for name in ("blackhole", "blackhole-gray"):
        assert ROWS[("alb-only", name)].detect_minutes == 3, name


def test_scenarios_are_reproducible() -> None:
    first, again = simulate(SCENARIOS[1]), simulate(SCENARIOS[1])
    assert first.series == again.series
    assert first.insights == again.insights
