"""Proof at every traffic level (issue 24): the simulator at scale (any AZ count, traffic per
AZ-minute, blackholes, sparse Contributor Insights series, target health, deployments) and the
matrix that runs it through the generated alarms (`make detect --quick` here)."""

from __future__ import annotations

import contextlib
import io
import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from evacuation.detection import matrix
from evacuation.detection.scenarios import (
    BY_NAME,
    IMPAIRED,
    ONSET,
    ZONE_NAMES,
    Deployment,
    Effect,
    MetricData,
    Scenario,
    Shift,
    alb_key,
    az_ids,
    service_key,
    simulate,
    target_group_key,
)

RULES = {az: (f"{az}-faulting", f"{az}-slow") for az in az_ids(6)}


def scenario(**kw: object) -> Scenario:
    base = Scenario("t", "test", IMPAIRED, requests_per_az=1000.0, seed=42)
    return replace(base, **kw)  # type: ignore[arg-type]


def svc(data: MetricData, metric: str, az: str, stat: str = "Sum") -> np.ndarray:
    return data.array(*service_key(metric, stat, az))


def alb(data: MetricData, metric: str, az: str, stat: str = "Sum") -> np.ndarray:
    return data.array(*alb_key(metric, stat, ZONE_NAMES[az]))


def test_the_same_seed_draws_the_same_data_and_another_seed_other_data() -> None:
    s = scenario(effects=(Effect(IMPAIRED, ONSET, 60, fault_rate=0.05),))
    first, again, other = (
        simulate(s, RULES),
        simulate(s, RULES),
        simulate(replace(s, seed=43), RULES),
    )
    assert first.series == again.series and first.insights == again.insights
    assert first.series != other.series


def test_point_reads_match_the_arrays_and_out_of_range_minutes_have_no_datapoint() -> None:
    data = simulate(scenario(effects=(Effect(IMPAIRED, ONSET, 60, fault_rate=0.05),)), RULES)
    key = service_key("Faults", "Sum", IMPAIRED)
    values = data.array(*key)
    assert values.dtype == np.float64 and len(values) == data.minutes
    assert [data.value(*key, t) for t in range(data.minutes)] == [float(v) for v in values]
    assert data.value(*key, -1) is None and data.value(*key, data.minutes) is None
    # the drill reads series as mappings minute -> value
    assert data.series[key].get(ONSET) == values[ONSET] and data.series[key].get(-3) is None


def test_contributor_insights_series_are_sparse_where_no_log_event_matched() -> None:
    data = simulate(scenario(requests_per_az=200.0), RULES)  # 0.05 % faults: most minutes none
    for metric in ("UniqueContributors", "MaxContributorValue", "Sum"):
        values = data.insight_array(f"{IMPAIRED}-faulting", metric)
        assert np.isnan(values).any(), metric
        assert not (values[~np.isnan(values)] == 0).any(), metric
    faults = svc(data, "Faults", IMPAIRED)
    assert np.array_equal(faults > 0, ~np.isnan(data.insight_array(f"{IMPAIRED}-faulting", "Sum")))


@pytest.mark.parametrize("gray", [False, True])
def test_a_blackholed_az_publishes_nothing_but_the_load_balancer_answers_502_and_504(
    gray: bool,
) -> None:
    kind = "blackhole-gray" if gray else "blackhole"
    data = simulate(scenario(effects=(Effect(IMPAIRED, ONSET, 60, kind=kind),)), RULES)  # type: ignore[arg-type]
    after = slice(ONSET, None)
    for metric in ("Requests", "Faults"):
        assert np.isnan(svc(data, metric, IMPAIRED)[after]).all(), metric
        assert not np.isnan(svc(data, metric, IMPAIRED)[:ONSET]).any(), metric
    assert np.isnan(svc(data, "Latency", IMPAIRED, "p99")[after]).all()
    for rule in RULES[IMPAIRED]:
        assert np.isnan(data.insight_array(rule, "Sum")[after]).all()
    requests = alb(data, "RequestCount", IMPAIRED)[after]
    e502, e504 = (
        np.nan_to_num(alb(data, f"HTTPCode_ELB_{c}_Count", IMPAIRED)[after]) for c in (502, 504)
    )
    e5xx = alb(data, "HTTPCode_ELB_5XX_Count", IMPAIRED)[after]
    assert np.array_equal(e502 + e504, e5xx) and np.array_equal(e5xx, requests)
    assert e502.sum() > 0 and e504.sum() > 0
    assert np.isnan(alb(data, "HTTPCode_Target_5XX_Count", IMPAIRED)[after]).all()
    assert np.isnan(alb(data, "TargetResponseTime", IMPAIRED, "p99")[after]).all()
    unhealthy = data.array(*target_group_key("UnHealthyHostCount", "Minimum", ZONE_NAMES[IMPAIRED]))
    healthy = data.array(*target_group_key("HealthyHostCount", "Maximum", ZONE_NAMES[IMPAIRED]))
    assert not np.isnan(unhealthy).any() and (unhealthy[:ONSET] == 0).all()
    if gray:
        assert (unhealthy == 0).all() and (healthy == 10).all()
    else:
        assert (unhealthy[ONSET : ONSET + 2] == 0).all() and (unhealthy[ONSET + 2 :] == 10).all()
        assert (healthy[ONSET + 2 :] == 0).all()
    # the other AZs carry on as before
    assert not np.isnan(svc(data, "Requests", "use1-az2")).any()


@pytest.mark.parametrize("level", [20, 1000, 10000])
def test_request_counts_follow_the_traffic_per_az_minute(level: int) -> None:
    data = simulate(scenario(requests_per_az=float(level), minutes=120), RULES)
    for az in ("use1-az1", "use1-az6"):
        mean = np.nanmean(svc(data, "Requests", az))
        assert abs(mean - level) < 5 * math.sqrt(level / 120) + 0.5, (az, mean)
        assert np.array_equal(
            alb(data, "RequestCount", az), svc(data, "Requests", az), equal_nan=True
        )


@pytest.mark.parametrize("count", [2, 3, 6])
def test_n_azs_publish_exactly_their_zones(count: int) -> None:
    ids = az_ids(count)
    data = simulate(scenario(az_ids=ids), RULES)
    zones = {v for (ns, m, dims, _), _ in data.series.items() if m == "RequestCount"
             for k, v in dims if k == "AvailabilityZone"}  # fmt: skip
    assert zones == {ZONE_NAMES[az] for az in ids}
    assert len(ids) == count and ids[0] == IMPAIRED


def test_an_az_without_requests_publishes_no_service_datapoint() -> None:
    data = simulate(scenario(shift=Shift(IMPAIRED, ONSET, share=0.0, over=1)), RULES)
    assert np.isnan(svc(data, "Requests", IMPAIRED)[ONSET:]).all()
    assert np.isnan(svc(data, "Faults", IMPAIRED)[ONSET:]).all()
    assert np.nanmean(svc(data, "Requests", "use1-az2")[ONSET:]) > 1400  # the others take it


def test_tc_counts_the_slow_requests_in_the_stat_unit() -> None:
    data = simulate(scenario(effects=(Effect(IMPAIRED, ONSET, 60, slow_fraction=0.05),)), RULES)
    slow_ms = svc(data, "Latency", IMPAIRED, "TC(1000:)")
    slow_s = alb(data, "TargetResponseTime", IMPAIRED, "TC(1:)")
    requests = svc(data, "Requests", IMPAIRED)
    assert np.array_equal(slow_ms, slow_s)
    assert (slow_ms[:ONSET] < 0.01 * requests[:ONSET]).all()
    share = slow_ms[ONSET:].sum() / requests[ONSET:].sum()
    assert 0.04 < share < 0.06
    assert (svc(data, "Latency", IMPAIRED, "p99")[ONSET:] > 1000).all()


def test_a_rolling_deployment_takes_one_or_two_instances_at_a_time() -> None:
    data = simulate(scenario(minutes=200, deployments=(Deployment(10, batch=2),)), RULES)
    for az in az_ids(3):
        zone = ZONE_NAMES[az]
        unhealthy = data.array(*target_group_key("UnHealthyHostCount", "Maximum", zone))
        assert unhealthy.max() == 2 and (unhealthy[:10] == 0).all()
    # every instance restarts once: 30 instances, 2 at a time, 4 minutes each
    assert (
        data.array(*target_group_key("UnHealthyHostCount", "Maximum", ZONE_NAMES["use1-az6"]))[75:]
        == 0
    ).all()


def test_the_library_keeps_its_scenarios_and_adds_the_blackholes() -> None:
    assert BY_NAME["az-5pct"].seed == 2 and BY_NAME["az-5pct"].target_minutes == 3
    assert BY_NAME["blackhole"].effects[0].kind == "blackhole"
    assert BY_NAME["blackhole-gray"].expected == IMPAIRED


def test_healthy_days_are_diurnal_with_two_deployments_a_day() -> None:
    s = matrix.healthy_days(200, 3, 2, seed=1)
    assert s.minutes == 2 * 1440 and len(s.deployments) == 4 and s.expected is None
    data = simulate(s, RULES)
    requests = svc(data, "Requests", IMPAIRED)
    peak, trough = (
        np.nanmean(requests[960 - 30 : 960 + 30]),
        np.nanmean(requests[240 - 30 : 240 + 30]),
    )
    assert 170 < peak < 230 and 30 < trough < 50


# -- the matrix --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, object], Path, str]:
    out = tmp_path_factory.mktemp("detect")
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = matrix.main(["--quick", "--jobs", "1", "--output", str(out / "d.json"),
                            "--plot", str(out / "d.png")])  # fmt: skip
    assert code == 0
    return (
        json.loads((out / "d.json").read_text(encoding="utf-8")),
        out / "d.png",
        buffer.getvalue(),
    )


def test_make_detect_quick_writes_the_matrix_json_and_plot(
    quick: tuple[dict[str, object], Path, str],
) -> None:
    report, png, stdout = quick
    cells = report["matrix"]
    assert isinstance(cells, list)
    kinds = {c["kind"] for c in cells}
    assert kinds == set(matrix.KIND)
    for cell in cells:
        assert cell["traffic_per_az_minute"] in matrix.QUICK.levels and cell["az_count"] == 3
        assert len(cell["seeds"]) == matrix.QUICK.seeds
        assert set(cell) >= {"detection_probability", "p50_minutes", "p95_minutes",
                             "p50_minutes_delayed", "p95_minutes_delayed", "false_isolated_alarms",
                             "regional_before_isolated", "target", "met", "missing"}  # fmt: skip
        if cell["met"] is False:
            assert cell["missing"], cell  # a miss names what was missing
    assert report["library"] and report["healthy_days"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| kind | AZs | 50 | 1,000 |" in stdout and "Targets:" in stdout


def _cells(report: dict[str, object], kind: str) -> list[dict[str, object]]:
    return [c for c in report["matrix"] if c["kind"] == kind]  # type: ignore[attr-defined]


def test_no_isolated_alarm_on_a_healthy_day_one_bad_host_or_a_dependency_failure(
    quick: tuple[dict[str, object], Path, str],
) -> None:
    report, _, _ = quick
    for healthy in report["healthy_days"]:  # type: ignore[attr-defined]
        assert healthy["false_isolated"] == 0, healthy
    for cell in _cells(report, "one-host-of-three"):
        assert cell["false_isolated_alarms"] == 0 and cell["met"], cell


def test_the_regional_alarm_comes_first_on_a_dependency_failure_at_1000(
    quick: tuple[dict[str, object], Path, str],
) -> None:
    report, _, _ = quick
    (cell,) = (c for c in _cells(report, "dependency") if c["traffic_per_az_minute"] == 1000)
    assert cell["regional_before_isolated"] and cell["met"], cell


def test_targets_follow_the_issue() -> None:
    assert matrix.target_minutes(matrix.KIND["faults-5pct"], 200) == 3
    assert matrix.target_minutes(matrix.KIND["blackhole"], 10000) == 3
    assert matrix.target_minutes(matrix.KIND["faults-5pct"], 20) == 10
    assert matrix.target_minutes(matrix.KIND["faults-2pct"], 1000) is None
    assert matrix.target_minutes(matrix.KIND["diurnal"], 200) == 10  # its trough is 40
    assert matrix.target_minutes(matrix.KIND["slow-ramp"], 1000) == 13
    assert (
        matrix.nearest_rank([1, 2, 3, None], 0.5) == 2
        and matrix.nearest_rank([1, None], 0.95) is None
    )
