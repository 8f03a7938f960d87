"""The offline evaluator against CloudWatch's documented behaviour.

Each table is the one on "Using Amazon CloudWatch alarms", section "How alarm state is evaluated
when data is missing" (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html):
five datapoints in the evaluation range, oldest first; 0 = not breaching, X = breaching,
- = missing. "keep" = the alarm keeps its current state.
"""

from __future__ import annotations

import pytest

from evacuation.detection.evaluate import (
    MetricAlarm,
    StackEvaluator,
    State,
    UnsupportedError,
    parse_expression,
    parse_rule,
    rule_true,
    window_state,
)

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


def _alarm(expression: str, threshold: float = 0.5, **props: object) -> MetricAlarm:
    spec = {
        "AlarmName": "a",
        "Metrics": [
            {"Id": "m1", "MetricStat": {"Metric": {"Namespace": "n", "MetricName": "m1"},
                                        "Period": 60, "Stat": "Sum"}, "ReturnData": False},
            {"Id": "m2", "MetricStat": {"Metric": {"Namespace": "n", "MetricName": "m2"},
                                        "Period": 60, "Stat": "Sum"}, "ReturnData": False},
            {"Id": "e", "Expression": expression, "ReturnData": True},
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
        # using-metric-math.html: arithmetic point by point; a missing operand, no point
        ("m1 + m2", 2.0, 3.0, 5.0),
        ("m1 + m2", 2.0, None, None),
        ("100 * m1 / m2", 1.0, 4.0, 25.0),
        ("m1 / m2", 1.0, 0.0, None),  # assumption: dividing by zero yields no datapoint
        # FILL replaces missing datapoints with the value
        ("FILL(m1, 0) + FILL(m2, 0)", None, 3.0, 3.0),
        # comparison and logical operators give 1 or 0; IF(condition, true, false)
        ("m1 >= 3 AND m2 < 1", 3.0, 0.0, 1.0),
        ("m1 > 3 || !(m2 == 0)", 3.0, 0.0, 0.0),
        ("IF(m1 >= 10, m2 / m1, 0)", 5.0, 1.0, 0.0),
        ("IF(m1 >= 10, m2 / m1, 0)", 20.0, 5.0, 0.25),
        ("SQRT(m1) - -m2", 9.0, 1.0, 4.0),
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


@pytest.mark.parametrize(
    "expression", ["AVG(m1)", "ANOMALY_DETECTION_BAND(m1)", "m1 ^ 2", "FILL(m1, REPEAT)"]
)
def test_functions_outside_the_subset_are_refused(expression: str) -> None:
    with pytest.raises(UnsupportedError):
        parse_expression(expression)


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
