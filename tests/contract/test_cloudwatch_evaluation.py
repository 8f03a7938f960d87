"""The offline evaluator against CloudWatch's documented behaviour.

Each table is the one on "Using Amazon CloudWatch alarms", section "How alarm state is evaluated
when data is missing" (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html):
five datapoints in the evaluation range, oldest first; 0 = not breaching, X = breaching,
- = missing. "keep" = the alarm keeps its current state.
"""

from __future__ import annotations

import json

import pytest

from evacuation.detection.config import DetectionConfig
from evacuation.detection.evaluate import (
    DOCUMENTED_FUNCTIONS,
    MetricAlarm,
    StackEvaluator,
    State,
    UnsupportedError,
    parse_expression,
    parse_rule,
    rule_true,
    window_state,
)
from evacuation.detection.generate import build_template

COLUMNS = ("missing", "ignore", "breaching", "notBreaching")
KEEP = "keep"
# Datapoints to alarm 3, evaluation periods 3.
TABLE_3_OF_3 = [
    ("0 - X - X", ("OK", "OK", "OK", "OK")),
    ("0 - - - -", ("OK", "OK", "OK", "OK")),
    ("- - - - -", ("INSUFFICIENT_DATA", KEEP, "ALARM", "OK")),
    ("0 X X - X", ("ALARM", "ALARM", "ALARM", "ALARM")),
    ("- - X - -", ("ALARM", KEEP, "ALARM", "OK")),
]
# Datapoints to alarm 2, evaluation periods 3 (M out of N).
TABLE_2_OF_3 = [
    ("0 - X - X", ("ALARM", "ALARM", "ALARM", "ALARM")),
    ("0 0 X 0 X", ("ALARM", "ALARM", "ALARM", "ALARM")),
    ("0 - X - -", ("OK", "OK", "ALARM", "OK")),
    ("- - - - 0", ("OK", "OK", "ALARM", "OK")),
    ("- - - X -", ("ALARM", KEEP, "ALARM", "OK")),
]


def _points(row: str) -> list[bool | None]:
    return [{"0": False, "X": True, "-": None}[c] for c in row.split()]


@pytest.mark.parametrize(("m", "table"), [(3, TABLE_3_OF_3), (2, TABLE_2_OF_3)])
@pytest.mark.parametrize("current", list(State))
def test_missing_data_tables_of_the_cloudwatch_docs(
    m: int, table: list[tuple[str, tuple[str, ...]]], current: State
) -> None:
    for row, expected in table:
        for treat, want in zip(COLUMNS, expected, strict=True):
            # When the alarm evaluates this evaluation range with this missing-data treatment
            got = window_state(_points(row), m, 3, treat, current)
            # Then it takes the state the documentation's table gives
            assert got == (current if want == KEEP else State(want)), (m, row, treat)


def _metric(qid: str, period: int = 60, stat: str = "Sum") -> dict[str, object]:
    """A MetricStat query of metric `qid` (namespace n), not returned."""
    metric = {"Metric": {"Namespace": "n", "MetricName": qid}, "Period": period, "Stat": stat}
    return {"Id": qid, "MetricStat": metric, "ReturnData": False}


def _alarm(expression: str, threshold: float = 0.5, **props: object) -> MetricAlarm:
    spec = {
        "AlarmName": "a",
        "Metrics": [
            _metric("m1"), _metric("m2"), {"Id": "e", "Expression": expression, "ReturnData": True}
        ],
        "Threshold": threshold,
        "ComparisonOperator": "GreaterThanThreshold",
        "EvaluationPeriods": 1,
        **props,
    }  # fmt: skip
    return MetricAlarm.from_properties(spec, {})


class Points:
    def __init__(self, **series: dict[int, float]) -> None:
        self.series = series

    def value(self, namespace: str, metric: str, dims: object, stat: str, t: int) -> float | None:
        return self.series.get(metric, {}).get(t)

    def insight(self, rule: str, metric: str, t: int) -> float | None:
        return self.series.get(f"{rule}/{metric}", {}).get(t)


@pytest.mark.parametrize(
    ("expression", "m1", "m2", "want"),
    [
        # using-metric-math.html: "Missing values in a time series are treated as 0"; the
        # result has a datapoint wherever an operand has one
        ("m1 + m2", 2.0, 3.0, 5.0),
        ("m1 + m2", 2.0, None, 2.0),
        ("m1 + m2", None, None, None),
        ("100 * m1 / m2", 1.0, 4.0, 25.0),
        # "If the value of a data point causes a function to attempt to divide by zero, the
        # data point is dropped."
        ("m1 / m2", 1.0, 0.0, None),
        ("m1 / m2", 1.0, None, None),
        # "Arithmetic operators: + - * / ^"
        ("m1 ^ 0.5 - -m2", 9.0, 1.0, 4.0),
        ("2 ^ 3 ^ 2 + m1", 0.0, None, 512.0),
        # FILL replaces missing datapoints with the value
        ("FILL(m1, 0) + FILL(m2, 0)", None, 3.0, 3.0),
        ("FILL(m1, 7)", None, None, 7.0),
        # comparison and logical operators give 1 or 0
        ("m1 >= 3 AND m2 < 1", 3.0, 0.0, 1.0),
        ("m1 > 3 || m2 == 0", 3.0, 0.0, 1.0),
        ("IF(m1 >= 10, m2 / m1, 0)", 5.0, 1.0, 0.0),
        ("IF(m1 >= 10, m2 / m1, 0)", 20.0, 5.0, 0.25),
        ("ABS(m1 - m2)", 1.0, 4.0, 3.0),
        ("INSIGHT_RULE_METRIC('r', 'UniqueContributors')", None, None, 2.0),
    ],
)
def test_metric_math_functions_the_kit_uses(
    expression: str, m1: float | None, m2: float | None, want: float | None
) -> None:
    source = Points(
        m1={} if m1 is None else {0: m1},
        m2={} if m2 is None else {0: m2},
        **{"r/UniqueContributors": {0: 2.0}},
    )
    assert _alarm(expression).value(source, 0) == want


def _series(values: list[float | None]) -> dict[int, float]:
    return {t: v for t, v in enumerate(values) if v is not None}


def _points_of(expression: str, **series: list[float | None]) -> list[float | None]:
    metrics = [_metric(name) for name in series]
    spec = {
        "AlarmName": "a",
        "Metrics": [*metrics, {"Id": "e", "Expression": expression, "ReturnData": True}],
        "Threshold": 0,
        "ComparisonOperator": "GreaterThanThreshold",
        "EvaluationPeriods": 1,
    }
    alarm = MetricAlarm.from_properties(spec, {})
    source = Points(**{name: _series(v) for name, v in series.items()})
    length = max(len(v) for v in series.values())
    return [alarm.value(source, t) for t in range(length)]


# The worked examples of using-metric-math.html ("-" = no datapoint), quoted in the issue's
# research: comparisons between two series, and the three IF tables.
M1, M2 = [30.0, 20.0, 0.0, 0.0], [20.0, None, 20.0, None]
C, T, F = [1.0, 1.0, 0.0, 0.0, None], [30.0, None, 0.0, 0.0, 30.0], [0.0, 0.0, 20.0, None, 20.0]


@pytest.mark.parametrize(
    ("expression", "series", "want"),
    [
        # "When comparison operators are used between two time series, and only one of the time
        # series has a value for a particular time stamp, the function treats the missing value
        # in the other time series as 0."
        ("metric1 < metric2", {"metric1": M1, "metric2": M2}, [0, 0, 1, 0]),
        ("metric1 > 15 AND metric2 > 15", {"metric1": M1, "metric2": M2}, [1, 0, 0, 0]),
        # IF(metric1, metric2, metric3): 0 where metric1 is TRUE and metric2 has no point;
        # dropped where metric1 is FALSE and metric3 has none (or metric1 has none)
        ("IF(metric1, metric2, metric3)", {"metric1": C, "metric2": T, "metric3": F},
         [30, 0, 20, None, None]),
        # IF(metric1, scalar2, metric3)
        ("IF(metric1, 5, metric3)", {"metric1": C, "metric3": F}, [5, 5, 20, None, None]),
        # IF(metric1, metric2, scalar3): dropped where metric1 has no point
        ("IF(metric1, metric2, 5)", {"metric1": C, "metric2": T}, [30, 0, 5, 5, None]),
    ],
)  # fmt: skip
def test_the_documented_examples_of_series_semantics(
    expression: str, series: dict[str, list[float | None]], want: list[float | None]
) -> None:
    assert _points_of(expression, **series) == want


DOCUMENTED = (
    "ABS ANOMALY_DETECTION_BAND AVG CEIL DATAPOINT_COUNT DIFF DIFF_TIME FILL FIRST LAST FLOOR IF "
    "INSIGHT_RULE_METRIC LOG LOG10 MAX METRIC_COUNT METRICS MIN MINUTE HOUR DAY DATE MONTH YEAR "
    "EPOCH PERIOD RATE REMOVE_EMPTY RUNNING_SUM SEARCH SERVICE_QUOTA SLICE SORT STDDEV SUM "
    "TIME_SERIES"
)
"""The table "Functions supported for metric math" (using-metric-math.html), every row."""


def test_the_evaluator_knows_the_documented_function_list() -> None:
    assert set(DOCUMENTED.split()) <= DOCUMENTED_FUNCTIONS
    assert "SQRT" not in DOCUMENTED_FUNCTIONS


@pytest.mark.parametrize(
    ("expression", "why"),
    [
        # not CloudWatch metric math at all: PutMetricAlarm refuses them
        ("SQRT(m1)", "not a CloudWatch metric math function"),
        ("NOT m1", "not a metric math operator"),
        ("!(m1 == 0)", "not a metric math operator"),
        ("m1 > 3 || !(m2 == 0)", "not a metric math operator"),
        # documented, but not modelled by this evaluator
        ("AVG(m1)", "not modelled"),
        ("ANOMALY_DETECTION_BAND(m1)", "not modelled"),
        ("FILL(m1, REPEAT)", "FILL only with a number"),
    ],
)
def test_what_cloudwatch_or_the_evaluator_does_not_have_is_refused(
    expression: str, why: str
) -> None:
    with pytest.raises(UnsupportedError, match=why):
        parse_expression(expression)


def test_the_generated_stack_uses_only_documented_metric_math() -> None:
    for section in (
        {"az_ids": ["use1-az1", "use1-az2", "use1-az6"],
         "load_balancer": {"zones": {"use1-az1": "us-east-1b", "use1-az2": "us-east-1c",
                                     "use1-az6": "us-east-1a"},
                           "target_group": "targetgroup/t/1"},
         "service": {"namespace": "s"}, "contributor_insights": {"log_group_names": ["/g"]}},
        {"az_ids": ["use1-az1", "use1-az2"],
         "load_balancer": {"zones": {"use1-az1": "us-east-1b", "use1-az2": "us-east-1c"}}},
    ):  # fmt: skip
        template = build_template("w", DetectionConfig.model_validate(section))
        # every expression parses against the documented list: StackEvaluator refuses others
        StackEvaluator(template, {"LoadBalancer": "app/x/1"})
        assert "SQRT" not in json.dumps(template)


def _windowed(stat: str = "Sum", minutes: int = 5) -> MetricAlarm:
    spec = {
        "AlarmName": "w",
        "Metrics": [{**_metric("m1", 60 * minutes, stat), "ReturnData": True}],
        "Threshold": 9.5,
        "ComparisonOperator": "GreaterThanThreshold",
        "EvaluationPeriods": 1,
        "TreatMissingData": "notBreaching",
    }  # fmt: skip
    return MetricAlarm.from_properties(spec, {})


def test_a_longer_period_is_a_window_ending_at_each_evaluation() -> None:
    # AlarmThatSendsEmail.html: "if the Period is 5 minutes (300 seconds) and Evaluation Periods
    # is 1, then at the end of minute 5 the alarm evaluates based on data from minutes 1 to 5.
    # Then at the end of minute 6, the alarm is evaluated based on the data from minutes 2 to 6."
    source = Points(m1={t: float(t) for t in range(10)})
    alarm = _windowed()
    assert [alarm.value(source, t) for t in (4, 5, 6)] == [10.0, 15.0, 20.0]
    maximum = _windowed("Maximum")
    assert maximum.value(source, 6) == 6.0
    # Minutes with no datapoint add nothing; a window with none has none
    sparse = Points(m1={0: 3.0, 7: 1.0})
    assert [alarm.value(sparse, t) for t in (0, 4, 5, 6, 7)] == [3.0, 3.0, None, None, 1.0]


def test_a_window_of_a_percentile_is_refused() -> None:
    # a p99 of five minutes does not follow from five one-minute p99s
    with pytest.raises(UnsupportedError, match="cannot be composed"):
        _windowed("p99")


def test_metrics_of_different_periods_in_one_alarm_are_refused() -> None:
    # AlarmThatSendsEmail.html: "Each metric must be using the same period."
    spec = {
        "AlarmName": "mixed",
        "Metrics": [_metric("a"), _metric("b", 300), {"Id": "e", "Expression": "a + b"}],
        "Threshold": 0, "ComparisonOperator": "GreaterThanThreshold", "EvaluationPeriods": 1,
    }  # fmt: skip
    with pytest.raises(UnsupportedError, match="different periods"):
        MetricAlarm.from_properties(spec, {})


def _stack(expression: str, period: int = 60, **props: object) -> dict[str, object]:
    alarm = {
        "AlarmName": "m",
        "Metrics": [_metric("m1", period), {"Id": "e", "Expression": expression}],
        "Threshold": 0.5, "ComparisonOperator": "GreaterThanThreshold",
        "EvaluationPeriods": 1, "TreatMissingData": "notBreaching", **props,
    }  # fmt: skip
    return {"Resources": {"M": {"Type": "AWS::CloudWatch::Alarm", "Properties": alarm}}}


def test_an_ingestion_delay_hides_the_last_minute() -> None:
    # Given a metric breaching from minute 3 on
    source = Points(m1={t: (1.0 if t >= 3 else 0.0) for t in range(8)})
    plain = StackEvaluator(_stack("m1"), {}).run(source, range(8))
    delayed = StackEvaluator(_stack("m1"), {}).run(source, range(8), ingestion_delay=1)
    # Then with a 1-minute delay the alarm sees minute 3 only at the end of minute 4
    assert plain.first("m") == 3
    assert delayed.first("m") == 4


def test_an_ingestion_delay_makes_fill_answer_for_the_missing_minute() -> None:
    # using-metric-math.html, FILL: "if your metrics are being published with a slight delay,
    # and the most recent minute never has data ... FILL replaces that missing data point"
    source = Points(m1={t: 1.0 for t in range(8)})
    delayed = StackEvaluator(_stack("FILL(m1, 0)"), {}).run(source, range(8), ingestion_delay=1)
    # the last minute is FILL's 0 at every evaluation: a 1 of 1 alarm never alarms
    assert delayed.first("m") is None
    plain = StackEvaluator(_stack("FILL(m1, 0)"), {}).run(source, range(8))
    assert plain.first("m") == 0


def test_an_ingestion_delay_shortens_the_window_of_a_longer_period() -> None:
    # A 5-minute sum seen 1 minute late holds 4 of its minutes
    source = Points(m1={t: 1.0 for t in range(12)})
    stack = _stack("m1", period=300)
    stack["Resources"]["M"]["Properties"]["Threshold"] = 4.5  # type: ignore[index]
    plain = StackEvaluator(stack, {}).run(source, range(12))
    delayed = StackEvaluator(stack, {}).run(source, range(12), ingestion_delay=1)
    assert plain.first("m") == 4  # minutes 0..4: 5 > 4.5
    assert delayed.first("m") is None  # never more than 4 ingested minutes in the window


def test_run_and_step_agree() -> None:
    source = Points(m1={t: float(t % 4) for t in range(20)})
    stack = _stack("IF(m1 >= 2, m1, 0)", EvaluationPeriods=3, DatapointsToAlarm=2)
    ran = StackEvaluator(stack, {}).run(source, range(20))
    stepper = StackEvaluator(stack, {})
    stepped = []
    for t in range(20):
        stepper.step(source, t)
        stepped.append(stepper.states["m"])
    assert ran.states["m"] == stepped


def test_m_out_of_n_over_minutes() -> None:
    # Given an alarm of 3 out of 5 one-minute datapoints, breaching at minutes 2, 3 and 5
    alarm = _alarm("m1", EvaluationPeriods=5, DatapointsToAlarm=3, TreatMissingData="notBreaching")
    source = Points(m1={t: (1.0 if t in (2, 3, 5) else 0.0) for t in range(10)}, m2={})
    states = []
    state = State.INSUFFICIENT_DATA
    for t in range(10):
        state = alarm.evaluate(source, t, state)
        states.append(state)
    # Then it alarms at the end of minute 5 (2, 3, 5 of 1..5), stays at 6 (2..6) and is OK at 7
    assert [s.value for s in states] == ["OK"] * 5 + ["ALARM"] * 2 + ["OK"] * 3


@pytest.mark.parametrize(
    ("rule", "want"),
    [
        # Create_Composite_Alarm.html: ALARM(), OK(), INSUFFICIENT_DATA(), TRUE, FALSE, AND, OR,
        # NOT and parentheses; names quoted or not, or ARNs
        ('ALARM("a") AND NOT (ALARM("b") OR ALARM("c"))', True),
        ('ALARM("a") AND ALARM("b")', False),
        ("OK(b) AND INSUFFICIENT_DATA(c)", True),
        ('ALARM("arn:aws:cloudwatch:us-east-1:123456789012:alarm:a") AND TRUE', True),
        ("NOT ALARM(a) OR FALSE", False),
    ],
)
def test_composite_rules(rule: str, want: bool) -> None:
    states = {"a": State.ALARM, "b": State.OK, "c": State.INSUFFICIENT_DATA}
    assert rule_true(parse_rule(rule), states) is want


def test_composites_are_evaluated_after_their_children_and_refuse_cycles() -> None:
    def composite(name: str, rule: str) -> dict[str, object]:
        return {"Type": "AWS::CloudWatch::CompositeAlarm",
                "Properties": {"AlarmName": name, "AlarmRule": rule}}  # fmt: skip

    query = {"Id": "x", "MetricStat": {"Metric": {"Namespace": "n", "MetricName": "m1"},
                                       "Period": 60, "Stat": "Sum"}}  # fmt: skip
    metric = {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {"AlarmName": "m", "Threshold": 0.5, "EvaluationPeriods": 1,
                       "ComparisonOperator": "GreaterThanThreshold", "Metrics": [query]},
    }  # fmt: skip
    template = {
        "Resources": {
            "Outer": composite("outer", 'ALARM("inner")'),
            "Inner": composite("inner", 'ALARM("m")'),
            "M": metric,
        }
    }
    evaluator = StackEvaluator(template, {})
    changes = evaluator.step(Points(m1={0: 1.0}), 0)
    # the same minute's metric state reaches the composite of a composite
    assert [(c.alarm, c.new.value) for c in changes] == [
        ("m", "ALARM"), ("inner", "ALARM"), ("outer", "ALARM")
    ]  # fmt: skip
    cyclic = {"Resources": {"A": composite("a", 'ALARM("b")'), "B": composite("b", 'ALARM("a")')}}
    with pytest.raises(UnsupportedError, match="cycle"):
        StackEvaluator(cyclic, {})
