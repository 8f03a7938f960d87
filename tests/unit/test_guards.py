"""Guards are pure: property tests over their whole input space."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from evacuation import guards
from evacuation.aws.zonal_shift import ActiveShift

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
def test_refused_exactly_when_a_customer_shift_is_away_from_another_az(
    active: list[ActiveShift], az: str
) -> None:
    refusal = guards.shifted_from_other_az("arn", az, active)
    expected = any(s.shift_type == "ZONAL_SHIFT" and s.away_from != az for s in active)
    assert (refusal is not None) == expected


@given(
    st.dictionaries(az_ids, st.text(min_size=1, max_size=5), max_size=5), az_ids, st.integers(1, 4)
)
def test_max_azs_counts_only_other_azs(held: dict[str, str], az: str, max_azs: int) -> None:
    refusal = guards.too_many_azs(az, held, max_azs)
    others = len([a for a in held if a != az])
    assert (refusal is not None) == (az not in held and others >= max_azs)
