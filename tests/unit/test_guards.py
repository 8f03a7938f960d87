"""Guards are pure: property tests over their whole input space."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from evacuation import guards
from evacuation.aws.zonal_shift import ActiveShift, Autoshift

az_ids = st.sampled_from(["use1-az1", "use1-az2", "use1-az3", "use1-az4", "use1-az5", "use1-az6"])
weights = st.dictionaries(st.text(min_size=1, max_size=8), st.integers(0, 255), max_size=8)


@given(weights)
def test_all_zero_refused_exactly_when_every_weight_is_zero(intended: dict[str, int]) -> None:
    refusal = guards.all_weights_zero("api", intended)
    assert (refusal is not None) == (bool(intended) and all(w == 0 for w in intended.values()))


@given(st.lists(st.text(min_size=1, max_size=5), max_size=4), az_ids)
def test_no_subnet_left_refused_exactly_when_nothing_remains(remaining: list[str], az: str) -> None:
    assert (guards.no_subnet_left("web", az, remaining) is not None) == (not remaining)


shifts = st.builds(
    ActiveShift,
    shift_id=st.text("abc123", min_size=6, max_size=8),
    away_from=az_ids,
    shift_type=st.sampled_from(
        ["ZONAL_SHIFT", "PRACTICE_RUN", "ZONAL_AUTOSHIFT", "FIS_EXPERIMENT"]
    ),
    comment=st.text(max_size=10),
    expiry=st.just(datetime(2026, 1, 1, tzinfo=UTC)),
    applied=st.booleans(),
)


@given(st.lists(shifts, max_size=4), az_ids)
def test_every_shift_but_a_practice_run_away_from_another_az_is_in_the_way(
    active: list[ActiveShift], az: str
) -> None:
    # ARC-2: a customer shift of ours would un-apply a customer, autoshift or FIS shift away
    # from another AZ; a practice run is interrupted, which a real event should do.
    refusals = guards.shifts_in_the_way("arn", az, active)
    expected = [s for s in active if s.shift_type != "PRACTICE_RUN" and s.away_from != az]
    assert len(refusals) == len(expected)
    for refusal, shift in zip(refusals, expected, strict=True):
        assert shift.away_from in refusal and "arn" in refusal


@given(st.lists(az_ids, max_size=4), az_ids)
def test_an_autoshift_away_from_any_other_az_refuses(away: list[str], az: str) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    refusal = guards.autoshifts_elsewhere(az, [Autoshift(a, start) for a in away])
    assert (refusal is not None) == any(a != az for a in away)


@given(
    st.dictionaries(az_ids, st.text(min_size=1, max_size=5), max_size=5), az_ids, st.integers(1, 4)
)
def test_max_azs_counts_only_other_azs(held: dict[str, str], az: str, max_azs: int) -> None:
    refusal = guards.too_many_azs(az, held, max_azs)
    others = len([a for a in held if a != az])
    assert (refusal is not None) == (az not in held and others >= max_azs)


@given(
    st.one_of(
        st.none(),
        st.sampled_from(["enabled", " Enabled ", "disabled", "DISABLED ", "on", "", "enable"]),
        st.text(max_size=12),
    )
)
def test_kill_switch_allows_only_enabled_and_fails_closed(value: str | None) -> None:
    # issue 13 §2: any value other than enabled (or disabled) counts as disabled
    refusal = guards.kill_switch(value, "/azevac/kill-switch")
    assert (refusal is None) == (value is not None and value.strip().lower() == "enabled")


@given(st.dictionaries(st.text(min_size=1, max_size=10), az_ids, max_size=4), st.booleans(), az_ids)
def test_regional_refused_when_any_other_az_or_the_regional_alarm_fires(
    others: dict[str, str], regional: bool, az: str
) -> None:
    refusal = guards.regional_impact(az, others, "region-alarm" if regional else None)
    assert (refusal is not None) == (bool(others) or regional)
    if refusal:
        assert "regional" in refusal


@given(
    st.frozensets(az_ids, min_size=1, max_size=6),
    st.dictionaries(az_ids, st.just("ev"), max_size=3),
    az_ids,
    st.integers(1, 4),
)
def test_min_healthy_counts_what_is_left_in_service(
    workload: frozenset[str], held: dict[str, str], az: str, min_healthy: int
) -> None:
    refusal = guards.too_few_healthy(az, workload, held, min_healthy)
    left = workload - set(held) - {az}
    assert (refusal is not None) == (len(left) < min_healthy)


@given(st.integers(1, 8))
def test_default_min_healthy_is_two_from_three_azs(azs: int) -> None:
    assert guards.default_min_healthy(azs) == (2 if azs >= 3 else 1)


@given(
    st.one_of(st.none(), st.integers(0, 120)),
    st.integers(0, 120),
    st.integers(0, 60),
    st.booleans(),
)
def test_cooldown_refuses_only_inside_the_window_and_never_when_forced(
    recovered_minutes_ago: int | None, _unused: int, cooldown: int, force: bool
) -> None:
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    recovered = (
        None if recovered_minutes_ago is None else now - timedelta(minutes=recovered_minutes_ago)
    )
    refusal = guards.cooldown("use1-az1", recovered, now, cooldown, force)
    inside = recovered_minutes_ago is not None and recovered_minutes_ago < cooldown
    assert (refusal is not None) == (inside and not force)


@given(st.integers(0, 10), st.integers(1, 10))
def test_rate_of_change_refuses_at_the_daily_limit(recent: int, limit: int) -> None:
    assert (guards.rate_of_change(recent, limit) is not None) == (recent >= limit)


@given(st.integers(0, 50), st.integers(0, 80), st.floats(0, 30, allow_nan=False))
def test_prescale_holds_what_the_az_serves_up_to_max_size(
    desired: int, max_size: int, serving: float
) -> None:
    target = guards.prescale_target(
        "web", desired=desired, max_size=max_size, serving_in_az=serving
    )
    needed = desired + math.ceil(serving)
    if needed <= max_size:
        assert target.desired == needed and target.shortfall is None
    else:
        # raised as far as MaxSize allows (never lowered), the shortfall said, never a refusal
        assert target.desired == max(desired, max_size)
        assert target.shortfall and "MaxSize" in target.shortfall
