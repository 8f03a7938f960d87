"""CloudWatch's alarm evaluation, offline, for the subset of features the detection kit uses.

Neither moto (no composite alarms, no evaluation at all) nor LocalStack serves: LocalStack's
scheduler evaluates single-metric alarms only (no `Metrics` math) on the wall clock, and its
composite rules support OR and ALARM() only
(localstack-core services/cloudwatch/alarm_scheduler.py and provider_v2.py). So this module
evaluates the generated template itself, minute by minute on synthetic data:

- Metric alarms: EvaluationPeriods N, DatapointsToAlarm M, TreatMissingData, the comparison
  operators, and the evaluation range and missing-data rules of "Using Amazon CloudWatch alarms"
  (`window_state`; https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html).
  Periods of 60 s and whole multiples of it: "For any period of one minute or longer, an alarm is
  evaluated every minute and the evaluation is based on the window of time defined by the Period
  and Evaluation Periods. For example, if the Period is 5 minutes (300 seconds) and Evaluation
  Periods is 1, then at the end of minute 5 the alarm evaluates based on data from minutes 1 to 5.
  Then at the end of minute 6, the alarm is evaluated based on the data from minutes 2 to 6"
  (same page): a datapoint of Period k minutes at minute t is the statistic over minutes
  t-k+1..t, and "each metric must be using the same period". Only statistics that compose
  from one-minute datapoints are windowed
  (Sum, SampleCount, Minimum, Maximum, trimmed counts `TC(x:)`); a windowed percentile is refused.
- Metric math (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html,
  rules DET-5 and DET-6 of aws-semantics.md): numbers, metric ids, `+ - * / ^`, comparisons
  `> >= < <= == !=` (1 or 0), `AND`/`&&`, `OR`/`||`, `IF(c, a, b)`, `FILL(m, number)`, `ABS`,
  `INSIGHT_RULE_METRIC(rule, metric)`. Time series semantics as documented: the result of an
  operation on two series has a datapoint wherever either has one, and "missing values in a time
  series are treated as 0"; a series and a scalar keep the series' timestamps; FILL gives every
  minute a datapoint. Functions that are not on the documented list ("Functions supported for
  metric math": `DOCUMENTED_FUNCTIONS`) and operators metric math does not have (`NOT`, `!`:
  those are composite-alarm syntax) are refused with `UnsupportedError`, as PutMetricAlarm
  refuses them; documented functions the kit does not use are refused too, so the kit cannot
  start using one this evaluator would get wrong.
- Composite alarms (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Create_Composite_Alarm.html):
  `ALARM() OK() INSUFFICIENT_DATA() TRUE FALSE AND OR NOT` and parentheses; ALARM when the rule is
  TRUE, OK otherwise; re-evaluated after the metric alarms of the same minute, children first.
- Ingestion delay (`StackEvaluator.run(..., ingestion_delay=d)`): the evaluation at the end of
  minute t sees only the datapoints of minutes up to t-d; a window's later minutes are absent, as
  the metrics of the last minute are when real CloudWatch evaluates.

"If the value of a data point causes a function to attempt to divide by zero, the data point is
dropped" (using-metric-math.html). *Assumptions* (AWS does not document them): the evaluation
range is N + 2 datapoints (the documented tables use 5 for N = 3); `^` with no real result is
dropped as a division by zero is; a comparison where neither series has a datapoint has none.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]


class UnsupportedError(ValueError):
    """An alarm uses a CloudWatch feature this evaluator does not model, or one CloudWatch does
    not have."""


class State(StrEnum):
    OK = "OK"
    ALARM = "ALARM"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


COMPARISONS: Mapping[str, Callable[[float, float], bool]] = {
    "GreaterThanThreshold": operator.gt,
    "GreaterThanOrEqualToThreshold": operator.ge,
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
}
TREAT_MISSING = frozenset({"missing", "ignore", "breaching", "notBreaching"})


def window_state(
    breaching: Sequence[bool | None],
    datapoints_to_alarm: int,
    evaluation_periods: int,
    treat_missing: str,
    current: State,
) -> State:
    """The state a metric alarm takes from its evaluation range, oldest first (None = missing).

    As "Using Amazon CloudWatch alarms" describes it: with at least N real datapoints in the
    range, the N most recent real ones decide (missing-data treatment unused); with none, the
    treatment alone decides (missing: INSUFFICIENT_DATA, ignore: keep the state); with fewer than
    N, missing points are filled as the treatment says, as few as needed, and every real point
    counts. An alarm goes to ALARM early ("avoiding premature transitions") under missing/ignore
    when every real point is breaching and the oldest is at least M datapoints old.
    """
    if treat_missing not in TREAT_MISSING:
        raise UnsupportedError(f"TreatMissingData {treat_missing!r}")
    m, n = datapoints_to_alarm, evaluation_periods
    real = [b for b in breaching if b is not None]
    if len(real) >= n:
        return State.ALARM if sum(real[-n:]) >= m else State.OK
    if not real:
        return {
            "missing": State.INSUFFICIENT_DATA,
            "ignore": current,
            "breaching": State.ALARM,
            "notBreaching": State.OK,
        }[treat_missing]
    if treat_missing in ("missing", "ignore"):
        oldest = next(i for i, b in enumerate(breaching) if b is not None)
        if all(real) and len(breaching) - oldest >= m:
            return State.ALARM if treat_missing == "missing" else current
        filled = real
    else:
        filled = real + [treat_missing == "breaching"] * (n - len(real))
    return State.ALARM if sum(filled) >= m else State.OK


class MetricSource(Protocol):
    """Datapoints by minute: a metric's statistic, or a Contributor Insights rule's metric.

    A source may also offer `array(namespace, metric, dimensions, stat)` and
    `insight_array(rule, metric)`: every minute's datapoint at once (NaN: none), which `run`
    uses instead of asking minute by minute."""

    def value(
        self, namespace: str, metric: str, dimensions: frozenset[tuple[str, str]], stat: str, t: int
    ) -> float | None: ...

    def insight(self, rule: str, metric: str, t: int) -> float | None: ...


# -- metric math syntax ----------------------------------------------------------------------

DOCUMENTED_FUNCTIONS = frozenset(
    {
        "ABS", "ANOMALY_DETECTION_BAND", "AVG", "CEIL", "DATAPOINT_COUNT", "DB_PERF_INSIGHTS",
        "DIFF", "DIFF_TIME", "FILL", "FIRST", "FLOOR", "IF", "INSIGHT_RULE_METRIC", "LAMBDA",
        "LAST", "LOG", "LOG10", "MAX", "METRIC_COUNT", "METRICS", "MIN", "MINUTE", "HOUR", "DAY",
        "DATE", "MONTH", "YEAR", "EPOCH", "PERIOD", "RATE", "REMOVE_EMPTY", "RUNNING_SUM",
        "SEARCH", "SERVICE_QUOTA", "SLICE", "SORT", "STDDEV", "SUM", "TIME_SERIES",
    }
)  # fmt: skip
""""Functions supported for metric math" (using-metric-math.html; rule DET-5). There is no SQRT:
a square root is `x ^ 0.5`."""
MODELLED_FUNCTIONS: Mapping[str, int] = {"IF": 3, "FILL": 2, "ABS": 1, "INSIGHT_RULE_METRIC": 2}
"""The documented functions this evaluator models, with their number of arguments."""
NOT_METRIC_MATH = frozenset({"NOT", "!"})
"""Composite alarm rules have NOT; metric math has only AND/&& and OR/|| (rule DET-5)."""

TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)|(?P<str>'[^']*'|\"[^\"]*\")"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>>=|<=|==|!=|&&|\|\||[-+*/^()<>,!]))"
)
Node = tuple[Any, ...]


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        match = TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise UnsupportedError(f"cannot read {text[pos:]!r} in {text!r}")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


LOGICAL: Mapping[str, str] = {"AND": "AND", "&&": "AND", "OR": "OR", "||": "OR"}


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.i = 0

    def parse(self) -> Node:
        node = self.or_()
        if self.i != len(self.tokens):
            raise UnsupportedError(f"unexpected {self.tokens[self.i][1]!r} in {self.text!r}")
        return node

    def peek(self) -> str | None:
        return self.tokens[self.i][1] if self.i < len(self.tokens) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        if self.i >= len(self.tokens):
            raise UnsupportedError(f"{self.text!r} ends early")
        token = self.tokens[self.i]
        if expected is not None and token[1] != expected:
            raise UnsupportedError(f"expected {expected!r}, found {token[1]!r} in {self.text!r}")
        self.i += 1
        return token

    def or_(self) -> Node:
        node = self.and_()
        while LOGICAL.get(self.peek() or "") == "OR":
            self.take()
            node = ("or", node, self.and_())
        return node

    def and_(self) -> Node:
        node = self.comparison()
        while LOGICAL.get(self.peek() or "") == "AND":
            self.take()
            node = ("and", node, self.comparison())
        return node

    def comparison(self) -> Node:
        node = self.sum_()
        if self.peek() in (">", ">=", "<", "<=", "==", "!="):
            op = self.take()[1]
            node = ("cmp", op, node, self.sum_())
        return node

    def sum_(self) -> Node:
        node = self.product()
        while self.peek() in ("+", "-"):
            op = self.take()[1]
            node = ("arith", op, node, self.product())
        return node

    def product(self) -> Node:
        node = self.unary()
        while self.peek() in ("*", "/"):
            op = self.take()[1]
            node = ("arith", op, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.peek() == "-":
            self.take()
            return ("arith", "-", ("num", 0.0), self.unary())
        return self.power()

    def power(self) -> Node:
        node = self.primary()
        if self.peek() == "^":
            self.take()
            node = ("arith", "^", node, self.unary())  # right-associative, binds tighter than *
        return node

    def primary(self) -> Node:
        kind, text = self.take()
        if text in NOT_METRIC_MATH or (kind == "name" and text.upper() in NOT_METRIC_MATH):
            raise UnsupportedError(
                f"{text!r} is not a metric math operator (only AND/&& and OR/||; NOT is "
                f"composite-alarm syntax) in {self.text!r}"
            )
        if kind == "num":
            return ("num", float(text))
        if kind == "str":
            return ("str", text[1:-1])
        if text == "(":
            node = self.or_()
            self.take(")")
            return node
        if kind == "name":
            if self.peek() == "(":
                self.take("(")
                args = [] if self.peek() == ")" else [self.or_()]
                while self.peek() == ",":
                    self.take(",")
                    args.append(self.or_())
                self.take(")")
                return ("call", text, args)
            return ("id", text)
        raise UnsupportedError(f"unexpected {text!r} in {self.text!r}")


def parse_expression(text: str) -> Node:
    """A metric math expression, checked against the documented functions and the modelled
    subset."""
    node = _Parser(text).parse()
    _check(node, text)
    return node


def _check(node: Node, text: str) -> None:
    if node[0] == "call":
        name, args = node[1], node[2]
        if name not in DOCUMENTED_FUNCTIONS:
            raise UnsupportedError(
                f"{name}() is not a CloudWatch metric math function (using-metric-math.html, "
                f"'Functions supported for metric math') in {text!r}"
            )
        if MODELLED_FUNCTIONS.get(name) != len(args):
            raise UnsupportedError(
                f"{name}() with {len(args)} arguments is not modelled by the evaluator in {text!r}"
            )
        if name == "FILL" and args[1][0] != "num":
            raise UnsupportedError(f"FILL only with a number in {text!r}")
        if name == "INSIGHT_RULE_METRIC" and any(a[0] != "str" for a in args):
            raise UnsupportedError(f"INSIGHT_RULE_METRIC takes two strings in {text!r}")
    for child in node[1:]:
        if isinstance(child, tuple):
            _check(child, text)
        elif isinstance(child, list):
            for arg in child:
                _check(arg, text)


def expression_ids(node: Node) -> set[str]:
    """The query ids an expression reads."""
    if node[0] == "id":
        return {node[1]}
    found: set[str] = set()
    for child in node[1:]:
        if isinstance(child, tuple):
            found |= expression_ids(child)
        elif isinstance(child, list):
            for arg in child:
                found |= expression_ids(arg)
    return found


# -- time series -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    """One query's datapoints over a run of minutes: `values` is 0 where `present` is False."""

    values: Floats
    present: Bools

    @classmethod
    def of(cls, raw: Floats) -> Series:
        present = ~np.isnan(raw)
        return cls(np.where(present, raw, 0.0), present)


Value = Series | float


def _union(*operands: Value) -> Bools | None:
    masks = [o.present for o in operands if isinstance(o, Series)]
    if not masks:
        return None
    out = masks[0].copy()
    for mask in masks[1:]:
        out |= mask
    return out


def _values(operand: Value) -> Floats | float:
    return operand.values if isinstance(operand, Series) else operand


def _combine(result: Floats | float, present: Bools | None, valid: Bools | None = None) -> Value:
    if present is None:
        return float(result)
    values = np.broadcast_to(np.asarray(result, dtype=np.float64), present.shape)
    if valid is not None:
        present = present & valid
    return Series(np.where(present, values, 0.0), present)


def _arith(op: str, left: Value, right: Value) -> Value:
    """Point by point; missing values count as 0 (DET-6); the result has a datapoint wherever
    either operand has one, except where it has no value (x / 0, a root of a negative)."""
    present = _union(left, right)
    a, b = _values(left), _values(right)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if op == "/":
            result = np.divide(a, b)
        elif op == "^":
            result = np.power(np.asarray(a, dtype=np.float64), b)
        else:
            result = {"+": np.add, "-": np.subtract, "*": np.multiply}[op](a, b)
    valid = np.isfinite(result)
    if present is None:
        if not bool(np.all(valid)):
            raise UnsupportedError(f"constant {a} {op} {b} has no value")
        return float(result)
    return _combine(np.where(valid, result, 0.0), present, np.broadcast_to(valid, present.shape))


CMP: Mapping[str, Callable[[Any, Any], Any]] = {
    ">": np.greater,
    ">=": np.greater_equal,
    "<": np.less,
    "<=": np.less_equal,
    "==": np.equal,
    "!=": np.not_equal,
}


def _compare(op: str, left: Value, right: Value) -> Value:
    """1 or 0; between two series a missing value counts as 0 (DET-6)."""
    return _combine(CMP[op](_values(left), _values(right)).astype(np.float64), _union(left, right))


def _logical(kind: str, left: Value, right: Value) -> Value:
    a, b = np.asarray(_values(left)) != 0, np.asarray(_values(right)) != 0
    result = np.logical_and(a, b) if kind == "and" else np.logical_or(a, b)
    return _combine(result.astype(np.float64), _union(left, right))


def _if(condition: Value, when_true: Value, when_false: Value) -> Value:
    """IF(condition, trueValue, falseValue), "Using IF expressions": a scalar condition picks a
    branch whole. A series condition is "evaluated separately for every timestamp" it has: a
    true one takes trueValue, and "has the value of 0" where that series has no datapoint; a
    false one takes falseValue, and "is dropped" where that series has none."""
    if not isinstance(condition, Series):
        return when_true if condition != 0 else when_false
    truth = condition.values != 0
    result = np.where(truth, _values(when_true), _values(when_false))
    present = condition.present.copy()
    if isinstance(when_false, Series):
        present &= truth | when_false.present
    return _combine(result, present)


def _abs(operand: Value) -> Value:
    if isinstance(operand, Series):
        return Series(np.abs(operand.values), operand.present)
    return abs(operand)


def _fill(operand: Value, number: float) -> Value:
    """FILL(m, value): every minute of the range gets a datapoint; missing ones get the value."""
    if not isinstance(operand, Series):
        return operand
    return Series(np.where(operand.present, operand.values, number), np.ones_like(operand.present))


# -- metric alarms ---------------------------------------------------------------------------

COMPOSABLE = re.compile(r"^(Sum|SampleCount|Minimum|Maximum|TC\([0-9.]*:[0-9.]*\))$")
"""Statistics whose value over k minutes follows from the k one-minute datapoints."""


def _aggregate(stat: str, windows: Floats) -> Floats:
    """One datapoint per row of `windows` (minutes in columns, NaN = none)."""
    present = ~np.isnan(windows)
    any_present = present.any(axis=1)
    if stat == "Minimum":
        out = np.where(present, windows, np.inf).min(axis=1)
    elif stat == "Maximum":
        out = np.where(present, windows, -np.inf).max(axis=1)
    else:
        out = np.where(present, windows, 0.0).sum(axis=1)
    return np.where(any_present, out, np.nan)


class Query:
    """One MetricDataQuery of an alarm."""

    def __init__(self, spec: Mapping[str, Any], parameters: Mapping[str, str]) -> None:
        self.id: str = spec["Id"]
        self.returns = bool(spec.get("ReturnData", True))
        self.expression: Node | None = None
        self.stat: tuple[str, str, frozenset[tuple[str, str]], str] | None = None
        self.insight: tuple[str, str] | None = None
        if "Expression" in spec:
            self.expression = parse_expression(spec["Expression"])
            if self.expression[0] == "call" and self.expression[1] == "INSIGHT_RULE_METRIC":
                args = self.expression[2]
                self.insight = (args[0][1], args[1][1])
            period = spec.get("Period", 60)
        else:
            stat = spec["MetricStat"]
            metric = stat["Metric"]
            dims = frozenset(
                (d["Name"], _resolve(d["Value"], parameters)) for d in metric.get("Dimensions", [])
            )
            self.stat = (metric["Namespace"], metric["MetricName"], dims, stat["Stat"])
            period = stat["Period"]
        if period % 60 or period <= 0:
            raise UnsupportedError(f"query {self.id}: period {period}, only whole minutes")
        self.minutes = period // 60
        if self.minutes > 1 and self.stat is not None and not COMPOSABLE.match(self.stat[3]):
            raise UnsupportedError(
                f"query {self.id}: a {period} s window of {self.stat[3]} cannot be composed "
                "from one-minute datapoints"
            )
        if self.minutes > 1 and self.insight is not None:
            raise UnsupportedError(
                f"query {self.id}: a {period} s Contributor Insights window is not modelled"
            )


def _resolve(value: Any, parameters: Mapping[str, str]) -> str:
    if isinstance(value, Mapping) and set(value) == {"Ref"}:
        return parameters[value["Ref"]]
    if isinstance(value, str):
        return value
    raise UnsupportedError(f"dimension value {value!r}")


class _Fetch:
    """Raw one-minute datapoints of a source for minutes lo..hi-1 (NaN where there is none, and
    before minute 0)."""

    def __init__(self, source: MetricSource, lo: int, hi: int) -> None:
        self.source, self.lo, self.hi = source, lo, hi

    def _padded(self, full: Any) -> Floats:
        out = np.full(self.hi - self.lo, np.nan)
        start, stop = max(self.lo, 0), min(self.hi, len(full))
        if stop > start:
            out[start - self.lo : stop - self.lo] = full[start:stop]
        return out

    def _each(self, read: Callable[[int], float | None]) -> Floats:
        out = np.full(self.hi - self.lo, np.nan)
        for t in range(max(self.lo, 0), self.hi):
            v = read(t)
            if v is not None:
                out[t - self.lo] = v
        return out

    def stat(self, key: tuple[str, str, frozenset[tuple[str, str]], str]) -> Floats:
        array = getattr(self.source, "array", None)
        if array is not None:
            return self._padded(array(*key))
        ns, metric, dims, stat = key
        return self._each(lambda t: self.source.value(ns, metric, dims, stat, t))

    def insight(self, rule: str, metric: str) -> Floats:
        array = getattr(self.source, "insight_array", None)
        if array is not None:
            return self._padded(array(rule, metric))
        return self._each(lambda t: self.source.insight(rule, metric, t))


@dataclass
class MetricAlarm:
    name: str
    queries: dict[str, Query]
    returned: str
    threshold: float
    comparison: Callable[[float, float], bool]
    datapoints_to_alarm: int
    evaluation_periods: int
    treat_missing: str
    period_minutes: int = 1
    _points: dict[int, bool | None] = field(default_factory=dict, repr=False)
    """The minute-by-minute cache of `step` (minute -> breaching)."""

    @classmethod
    def from_properties(cls, props: Mapping[str, Any], parameters: Mapping[str, str]) -> Any:
        if "Metrics" not in props:
            raise UnsupportedError(f"{props['AlarmName']}: only Metrics alarms are modelled")
        queries = {q["Id"]: Query(q, parameters) for q in props["Metrics"]}
        returned = [q.id for q in queries.values() if q.returns]
        if len(returned) != 1:
            raise UnsupportedError(f"{props['AlarmName']}: exactly one query must return data")
        if props["ComparisonOperator"] not in COMPARISONS:
            raise UnsupportedError(f"ComparisonOperator {props['ComparisonOperator']}")
        periods = {q.minutes for q in queries.values() if q.stat is not None or q.insight}
        if len(periods) > 1:
            raise UnsupportedError(f"{props['AlarmName']}: metrics of different periods")
        for query in queries.values():
            if query.expression is not None:
                unknown = expression_ids(query.expression) - set(queries)
                if unknown:
                    raise UnsupportedError(f"{props['AlarmName']}: no query {sorted(unknown)}")
        n = int(props["EvaluationPeriods"])
        return cls(
            name=props["AlarmName"],
            queries=queries,
            returned=returned[0],
            threshold=float(props["Threshold"]),
            comparison=COMPARISONS[props["ComparisonOperator"]],
            datapoints_to_alarm=int(props.get("DatapointsToAlarm", n)),
            evaluation_periods=n,
            treat_missing=props.get("TreatMissingData", "missing"),
            period_minutes=periods.pop() if periods else 1,
        )

    # -- datapoints ---------------------------------------------------------------------------

    def series(
        self,
        source: MetricSource,
        lo: int,
        hi: int,
        qid: str | None = None,
        width: int | None = None,
    ) -> Value:
        """The query's datapoints for minutes lo..hi-1 (the returned query by default): each the
        datapoint of a Period ending at that minute or, with `width`, of only the last `width`
        minutes of it."""
        w = self.period_minutes if width is None else width
        fetch = _Fetch(source, lo - w + 1, hi)
        memo: dict[str, Value] = {}
        return self._query(qid or self.returned, fetch, w, memo)

    def _query(self, qid: str, fetch: _Fetch, width: int, memo: dict[str, Value]) -> Value:
        if qid in memo:
            return memo[qid]
        query = self.queries[qid]
        if query.stat is not None:
            raw = fetch.stat(query.stat)
            memo[qid] = Series.of(self._window(raw, query.stat[3], width))
        elif query.insight is not None:
            memo[qid] = Series.of(self._window(fetch.insight(*query.insight), "Sum", width))
        else:
            assert query.expression is not None
            memo[qid] = self._eval(query.expression, fetch, width, memo)
        return memo[qid]

    @staticmethod
    def _window(raw: Floats, stat: str, width: int) -> Floats:
        if width == 1:
            return raw
        windows = np.lib.stride_tricks.sliding_window_view(raw, width)
        return _aggregate(stat, windows)

    def _eval(self, node: Node, fetch: _Fetch, width: int, memo: dict[str, Value]) -> Value:
        kind = node[0]
        if kind == "num":
            return float(node[1])
        if kind == "id":
            return self._query(node[1], fetch, width, memo)
        if kind == "call":
            name, args = node[1], node[2]
            if name == "INSIGHT_RULE_METRIC":
                raw = fetch.insight(args[0][1], args[1][1])
                return Series.of(self._window(raw, "Sum", width))
            values = [self._eval(a, fetch, width, memo) for a in args]
            if name == "IF":
                return _if(*values)
            if name == "FILL":
                return _fill(values[0], float(args[1][1]))
            return _abs(values[0])
        left = self._eval(node[-2], fetch, width, memo)
        right = self._eval(node[-1], fetch, width, memo)
        if kind in ("and", "or"):
            return _logical(kind, left, right)
        if kind == "cmp":
            return _compare(node[1], left, right)
        return _arith(node[1], left, right)

    def value(self, source: MetricSource, t: int, qid: str | None = None) -> float | None:
        """The query's datapoint at minute t (the returned query by default)."""
        result = self.series(source, t, t + 1, qid)
        if isinstance(result, Series):
            return float(result.values[0]) if bool(result.present[0]) else None
        return result

    def _breaching(self, result: Value, count: int) -> list[bool | None]:
        if not isinstance(result, Series):
            raise UnsupportedError(f"{self.name}: the returned expression is a constant")
        return [
            self.comparison(float(v), self.threshold) if p else None
            for v, p in zip(result.values[:count], result.present[:count], strict=True)
        ]

    def breaching(self, source: MetricSource, t: int) -> bool | None:
        return self._breaching(self.series(source, t, t + 1), 1)[0]

    # -- state --------------------------------------------------------------------------------

    @property
    def span(self) -> int:
        """Datapoints in the evaluation range (see the module docstring)."""
        return self.evaluation_periods + 2

    def _ends(self, t: int) -> range:
        """The minutes at which the datapoints of the evaluation at minute t end, oldest first."""
        k = self.period_minutes
        return range(t - (self.span - 1) * k, t + 1, k)

    def evaluate(self, source: MetricSource, t: int, current: State) -> State:
        """The state at the end of minute t, the source read one minute at a time."""
        window = []
        for end in self._ends(t):
            if end not in self._points:
                self._points[end] = self.breaching(source, end) if end >= 0 else None
            window.append(self._points[end])
        return window_state(
            window, self.datapoints_to_alarm, self.evaluation_periods, self.treat_missing, current
        )

    def timeline(self, source: MetricSource, minutes: range, delay: int) -> Iterable[State]:
        """The state at the end of each minute, every datapoint read at once; with `delay`,
        the evaluation at minute t sees the datapoints of minutes up to t - delay only."""
        k, lo, hi = self.period_minutes, minutes.start, minutes.stop
        start = lo - (self.span - 1) * k
        complete = self._breaching(self.series(source, start, hi), hi - start)
        # Partial windows: a Period ending at minute e, seen at minute t, holds its minutes up
        # to t - delay only: `width` of its k minutes (0: none yet).
        partial: dict[int, list[bool | None]] = {}
        for width in range(max(1, k - delay), k):
            partial[width] = self._breaching(
                self.series(source, start, hi, width=width), hi - start
            )
        empty = self._breaching(self.series(_NoData(), 0, 1), 1)[0]
        state = State.INSUFFICIENT_DATA
        for t in minutes:
            window: list[bool | None] = []
            for end in self._ends(t):
                width = k - max(0, end - (t - delay))
                if end < 0:
                    window.append(None)
                elif width >= k:
                    window.append(complete[end - start])
                elif width <= 0:
                    window.append(empty)
                else:
                    # the last `width` ingested minutes end at t - delay, not at `end`
                    window.append(partial[width][t - delay - start])
            state = window_state(
                window,
                self.datapoints_to_alarm,
                self.evaluation_periods,
                self.treat_missing,
                state,
            )
            yield state


class _NoData:
    """A source with no datapoint at all: what an alarm sees of a minute not yet ingested."""

    def value(self, *_: object) -> float | None:
        return None

    def insight(self, *_: object) -> float | None:
        return None


# -- composite rules -------------------------------------------------------------------------

RULE_TOKEN = re.compile(
    r"\s*(?:(?P<fn>ALARM|OK|INSUFFICIENT_DATA)\s*\(\s*(?:\"(?P<q>[^\"]+)\"|(?P<u>[^)\s]+))\s*\)"
    r"|(?P<kw>TRUE|FALSE|AND|OR|NOT)\b|(?P<par>[()]))"
)


def parse_rule(rule: str) -> Node:
    """A composite alarm rule as a tree: ("state", fn, name), ("const", bool), and/or/not."""
    tokens: list[tuple[str, str, str]] = []
    pos = 0
    while pos < len(rule.rstrip()):
        match = RULE_TOKEN.match(rule, pos)
        if match is None:
            raise UnsupportedError(f"cannot read {rule[pos:]!r} in the rule {rule!r}")
        if match.group("fn"):
            name = match.group("q") or match.group("u")
            tokens.append(("state", match.group("fn"), name.split(":alarm:")[-1]))
        else:
            tokens.append(("word", match.group("kw") or match.group("par"), ""))
        pos = match.end()
    parser = _RuleParser(tokens, rule)
    node = parser.or_()
    if parser.i != len(tokens):
        raise UnsupportedError(f"unexpected {tokens[parser.i][1]!r} in the rule {rule!r}")
    return node


@dataclass
class _RuleParser:
    tokens: list[tuple[str, str, str]]
    rule: str
    i: int = 0

    def peek(self) -> str | None:
        return self.tokens[self.i][1] if self.i < len(self.tokens) else None

    def or_(self) -> Node:
        node = self.and_()
        while self.peek() == "OR":
            self.i += 1
            node = ("or", node, self.and_())
        return node

    def and_(self) -> Node:
        node = self.not_()
        while self.peek() == "AND":
            self.i += 1
            node = ("and", node, self.not_())
        return node

    def not_(self) -> Node:
        if self.peek() == "NOT":
            self.i += 1
            return ("not", self.not_())
        return self.atom()

    def atom(self) -> Node:
        if self.i >= len(self.tokens):
            raise UnsupportedError(f"the rule {self.rule!r} ends early")
        kind, text, name = self.tokens[self.i]
        self.i += 1
        if kind == "state":
            return ("state", text, name)
        if text in ("TRUE", "FALSE"):
            return ("const", text == "TRUE")
        if text == "(":
            node = self.or_()
            if self.peek() != ")":
                raise UnsupportedError(f"missing ) in the rule {self.rule!r}")
            self.i += 1
            return node
        raise UnsupportedError(f"unexpected {text!r} in the rule {self.rule!r}")


def rule_children(node: Node) -> set[str]:
    if node[0] == "state":
        return {node[2]}
    return set().union(*(rule_children(c) for c in node[1:] if isinstance(c, tuple)))


def rule_true(node: Node, states: Mapping[str, State]) -> bool:
    kind = node[0]
    if kind == "state":
        return states.get(node[2]) is State(node[1])
    if kind == "const":
        return bool(node[1])
    if kind == "not":
        return not rule_true(node[1], states)
    left, right = rule_true(node[1], states), rule_true(node[2], states)
    return (left and right) if kind == "and" else (left or right)


# -- the whole stack ---------------------------------------------------------------------------


@dataclass
class Transition:
    minute: int
    alarm: str
    old: State
    new: State


@dataclass
class Evaluation:
    """Every alarm's state at the end of every minute, and each state change."""

    minutes: range
    states: dict[str, list[State]] = field(default_factory=dict)
    transitions: list[Transition] = field(default_factory=list)

    def first(self, alarm: str, state: State = State.ALARM, after: int = -1) -> int | None:
        """The first minute (> after) at whose end the alarm is in `state`."""
        for minute, s in zip(self.minutes, self.states[alarm], strict=True):
            if minute > after and s is state:
                return minute
        return None

    def episodes(self, alarm: str) -> int:
        """How many times the alarm went into ALARM."""
        return sum(1 for t in self.transitions if t.alarm == alarm and t.new is State.ALARM)


class StackEvaluator:
    """Evaluates every AWS::CloudWatch::Alarm and CompositeAlarm of a template, minute by minute."""

    def __init__(self, template: Mapping[str, Any], parameters: Mapping[str, str]) -> None:
        self.metric_alarms: dict[str, MetricAlarm] = {}
        self.composites: dict[str, Node] = {}
        for resource in template["Resources"].values():
            props = resource.get("Properties", {})
            if resource["Type"] == "AWS::CloudWatch::Alarm":
                alarm = MetricAlarm.from_properties(props, parameters)
                self.metric_alarms[alarm.name] = alarm
            elif resource["Type"] == "AWS::CloudWatch::CompositeAlarm":
                self.composites[props["AlarmName"]] = parse_rule(props["AlarmRule"])
        self.order = _children_first(self.composites, set(self.metric_alarms))
        self.states: dict[str, State] = {
            name: State.INSUFFICIENT_DATA for name in [*self.metric_alarms, *self.order]
        }

    def step(self, source: MetricSource, t: int) -> list[Transition]:
        """Evaluate every alarm at the end of minute t; the changes, in evaluation order. The
        source is read for minute t once (a source that changes with what happens, as the
        drill's does, is read as it is at that minute)."""
        changes = []
        for name, alarm in self.metric_alarms.items():
            changes += self._set(name, alarm.evaluate(source, t, self.states[name]), t)
        changes += self._composites(t)
        return changes

    def _composites(self, t: int) -> list[Transition]:
        changes = []
        for name in self.order:
            state = State.ALARM if rule_true(self.composites[name], self.states) else State.OK
            changes += self._set(name, state, t)
        return changes

    def _set(self, name: str, state: State, t: int) -> list[Transition]:
        old = self.states[name]
        self.states[name] = state
        return [] if old is state else [Transition(t, name, old, state)]

    def run(
        self, source: MetricSource, minutes: Iterable[int], ingestion_delay: int = 0
    ) -> Evaluation:
        """Every minute of a fixed source at once (`step` is for a source that reacts)."""
        span = list(minutes)
        if not span:
            raise ValueError("no minutes to evaluate")
        if span != list(range(span[0], span[-1] + 1)):
            raise ValueError("minutes must be consecutive")
        if ingestion_delay < 0:
            raise ValueError("ingestion_delay must not be negative")
        window = range(span[0], span[-1] + 1)
        result = Evaluation(window, {name: [] for name in self.states})
        timelines = {
            name: iter(alarm.timeline(source, window, ingestion_delay))
            for name, alarm in self.metric_alarms.items()
        }
        for t in window:
            for name, timeline in timelines.items():
                result.transitions += self._set(name, next(timeline), t)
            result.transitions += self._composites(t)
            for name, state in self.states.items():
                result.states[name].append(state)
        return result


def _children_first(composites: Mapping[str, Node], leaves: set[str]) -> list[str]:
    """Composite names so that each comes after the composites its rule names; a cycle or an
    unknown alarm is an error (CloudWatch refuses both)."""
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in order:
            return
        if name in visiting:
            raise UnsupportedError(f"composite alarm {name} is part of a cycle")
        visiting.add(name)
        for child in sorted(rule_children(composites[name])):
            if child in composites:
                visit(child)
            elif child not in leaves:
                raise UnsupportedError(f"composite alarm {name} names unknown alarm {child}")
        visiting.discard(name)
        order.append(name)

    for name in composites:
        visit(name)
    return order
