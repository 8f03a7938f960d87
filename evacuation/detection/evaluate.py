"""CloudWatch's alarm evaluation, offline, for the subset of features the detection kit uses.

Neither moto (no composite alarms, no evaluation at all) nor LocalStack serves: LocalStack's
scheduler evaluates single-metric alarms only (no `Metrics` math) on the wall clock, and its
composite rules support OR and ALARM() only
(localstack-core services/cloudwatch/alarm_scheduler.py and provider_v2.py). So this module
evaluates the generated template itself, minute by minute on synthetic data:

- Metric alarms: Period 60 s only; EvaluationPeriods N, DatapointsToAlarm M, TreatMissingData,
  the comparison operators, and the evaluation range and missing-data rules of "Using Amazon
  CloudWatch alarms" (`window_state`;
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html).
- Metric math (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html):
  numbers, metric ids, `+ - * /`, comparisons `> >= < <= == !=` (1 or 0), `AND OR NOT`
  (`&& || !`), `IF(c, a, b)`, `FILL(m, number)`, `SQRT`, `ABS`, and
  `INSIGHT_RULE_METRIC(rule, metric)`. Every operation is point by point; a missing operand gives
  a missing point. Anything else raises `UnsupportedError`, so the kit cannot start using a
  function this evaluator would get wrong.
- Composite alarms (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Create_Composite_Alarm.html):
  `ALARM() OK() INSUFFICIENT_DATA() TRUE FALSE AND OR NOT` and parentheses; ALARM when the rule is
  TRUE, OK otherwise; re-evaluated after the metric alarms of the same minute, children first.

*Assumptions* (AWS does not document them): the evaluation range is N + 2 datapoints (the
documented tables use 5 for N = 3); a datapoint is evaluated as soon as its minute ends (real
CloudWatch adds its ingestion delay, typically under a minute); dividing by zero gives a missing
point (the kit's expressions guard every division with IF).
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class UnsupportedError(ValueError):
    """An alarm uses a CloudWatch feature this evaluator does not model."""


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
    """Datapoints by minute: a metric's statistic, or a Contributor Insights rule's metric."""

    def value(
        self, namespace: str, metric: str, dimensions: frozenset[tuple[str, str]], stat: str, t: int
    ) -> float | None: ...

    def insight(self, rule: str, metric: str, t: int) -> float | None: ...


# -- metric math -----------------------------------------------------------------------------

TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)|(?P<str>'[^']*'|\"[^\"]*\")"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>>=|<=|==|!=|&&|\|\||[-+*/()<>,!]))"
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
        node = self.not_()
        while LOGICAL.get(self.peek() or "") == "AND":
            self.take()
            node = ("and", node, self.not_())
        return node

    def not_(self) -> Node:
        if self.peek() in ("NOT", "!"):
            self.take()
            return ("not", self.not_())
        return self.comparison()

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
        return self.primary()

    def primary(self) -> Node:
        kind, text = self.take()
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


FUNCTIONS = {"IF": 3, "FILL": 2, "SQRT": 1, "ABS": 1, "INSIGHT_RULE_METRIC": 2}
CMP: Mapping[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}


def parse_expression(text: str) -> Node:
    """A metric math expression, checked against the supported subset."""
    node = _Parser(text).parse()
    _check(node, text)
    return node


def _check(node: Node, text: str) -> None:
    if node[0] == "call":
        name, args = node[1], node[2]
        if FUNCTIONS.get(name) != len(args):
            raise UnsupportedError(f"{name}() with {len(args)} arguments in {text!r}")
        if name == "FILL" and args[1][0] != "num":
            raise UnsupportedError(f"FILL only with a number in {text!r}")
        if name == "INSIGHT_RULE_METRIC" and any(a[0] != "str" for a in args):
            raise UnsupportedError(f"INSIGHT_RULE_METRIC takes two strings in {text!r}")
        for arg in args:
            _check(arg, text)
    for child in node[1:]:
        if isinstance(child, tuple):
            _check(child, text)


def _truth(value: float) -> bool:
    return value != 0


class Query:
    """One MetricDataQuery of an alarm, evaluated at a minute."""

    def __init__(self, spec: Mapping[str, Any], parameters: Mapping[str, str]) -> None:
        self.id = spec["Id"]
        self.returns = bool(spec.get("ReturnData", True))
        self.expression: Node | None = None
        self.stat: tuple[str, str, frozenset[tuple[str, str]], str] | None = None
        if "Expression" in spec:
            self.expression = parse_expression(spec["Expression"])
            period = spec.get("Period", 60)
        else:
            stat = spec["MetricStat"]
            metric = stat["Metric"]
            dims = frozenset(
                (d["Name"], _resolve(d["Value"], parameters)) for d in metric.get("Dimensions", [])
            )
            self.stat = (metric["Namespace"], metric["MetricName"], dims, stat["Stat"])
            period = stat["Period"]
        if period != 60:
            raise UnsupportedError(f"query {self.id}: period {period}, only 60 s is modelled")


def _resolve(value: Any, parameters: Mapping[str, str]) -> str:
    if isinstance(value, Mapping) and set(value) == {"Ref"}:
        return parameters[value["Ref"]]
    if isinstance(value, str):
        return value
    raise UnsupportedError(f"dimension value {value!r}")


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
        )

    def value(self, source: MetricSource, t: int, qid: str | None = None) -> float | None:
        """The query's datapoint for minute t (the returned query by default)."""
        memo: dict[str, float | None] = {}
        return self._query(source, t, qid or self.returned, memo)

    def _query(
        self, source: MetricSource, t: int, qid: str, memo: dict[str, float | None]
    ) -> float | None:
        if qid not in memo:
            query = self.queries.get(qid)
            if query is None:
                raise UnsupportedError(f"{self.name}: no query {qid!r}")
            if query.stat is not None:
                namespace, metric, dims, stat = query.stat
                memo[qid] = source.value(namespace, metric, dims, stat, t)
            else:
                assert query.expression is not None
                memo[qid] = self._eval(query.expression, source, t, memo)
        return memo[qid]

    def _eval(
        self, node: Node, source: MetricSource, t: int, memo: dict[str, float | None]
    ) -> float | None:
        kind = node[0]
        if kind == "num":
            return float(node[1])
        if kind == "id":
            return self._query(source, t, node[1], memo)
        if kind == "call":
            return self._call(node[1], node[2], source, t, memo)
        if kind == "not":
            value = self._eval(node[1], source, t, memo)
            return None if value is None else float(not _truth(value))
        left = self._eval(node[-2], source, t, memo)
        right = self._eval(node[-1], source, t, memo)
        if left is None or right is None:
            return None
        if kind == "and":
            return float(_truth(left) and _truth(right))
        if kind == "or":
            return float(_truth(left) or _truth(right))
        if kind == "cmp":
            return float(CMP[node[1]](left, right))
        op = node[1]
        if op == "/":
            return None if right == 0 else left / right
        return {"+": left + right, "-": left - right, "*": left * right}[op]

    def _call(
        self,
        name: str,
        args: list[Node],
        source: MetricSource,
        t: int,
        memo: dict[str, float | None],
    ) -> float | None:
        if name == "INSIGHT_RULE_METRIC":
            return source.insight(args[0][1], args[1][1], t)
        if name == "IF":
            condition = self._eval(args[0], source, t, memo)
            if condition is None:
                return None
            return self._eval(args[1] if _truth(condition) else args[2], source, t, memo)
        value = self._eval(args[0], source, t, memo)
        if name == "FILL":
            return float(args[1][1]) if value is None else value
        if value is None:
            return None
        if name == "SQRT":
            return math.sqrt(value) if value >= 0 else None
        return abs(value)

    def breaching(self, source: MetricSource, t: int) -> bool | None:
        value = self.value(source, t)
        return None if value is None else self.comparison(value, self.threshold)

    def evaluate(self, source: MetricSource, t: int, current: State) -> State:
        """The state at the end of minute t."""
        span = self.evaluation_periods + 2  # the evaluation range (see the module docstring)
        window = [self.breaching(source, m) for m in range(t - span + 1, t + 1)]
        return window_state(
            window, self.datapoints_to_alarm, self.evaluation_periods, self.treat_missing, current
        )


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
        """Evaluate every alarm at the end of minute t; the changes, in evaluation order."""
        changes = []
        for name, alarm in self.metric_alarms.items():
            changes += self._set(name, alarm.evaluate(source, t, self.states[name]), t)
        for name in self.order:
            state = State.ALARM if rule_true(self.composites[name], self.states) else State.OK
            changes += self._set(name, state, t)
        return changes

    def _set(self, name: str, state: State, t: int) -> list[Transition]:
        old = self.states[name]
        self.states[name] = state
        return [] if old is state else [Transition(t, name, old, state)]

    def run(self, source: MetricSource, minutes: Iterable[int]) -> Evaluation:
        span = range(0, 0)
        result: Evaluation | None = None
        for t in minutes:
            if result is None:
                result = Evaluation(span)
                result.states = {name: [] for name in self.states}
            result.transitions += self.step(source, t)
            for name, state in self.states.items():
                result.states[name].append(state)
            span = range(span.start if span else t, t + 1)
            result.minutes = span
        if result is None:
            raise ValueError("no minutes to evaluate")
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
