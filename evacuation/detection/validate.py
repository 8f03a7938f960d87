"""`python -m evacuation.detection.validate` (`make detect-validate`): proves that CloudWatch
accepts every alarm and rule of the detection stack, in a sandbox account, then deletes them.

Neither moto nor LocalStack checks a metric math expression (README "Detection"), and
`cfn-lint` checks only that an Expression is a string; CloudWatch parses it when PutMetricAlarm
is called. So this sends each shape of the generated template to the account the AWS environment
names, under a temporary name, and reports what AWS said:

- every AWS::CloudWatch::InsightRule: PutInsightRule, RuleState DISABLED;
- every AWS::CloudWatch::Alarm: PutMetricAlarm with the same Metrics, threshold and M of N,
  ActionsEnabled false and no actions; INSIGHT_RULE_METRIC names the temporary rules;
- every AWS::CloudWatch::CompositeAlarm: PutCompositeAlarm, ActionsEnabled false, no actions,
  its rule naming the temporary alarms (children first).

Then, in a `finally`, it deletes what it created: composites first (parents before children, one
per DeleteAlarms call: "this total can include no more than one composite alarm",
API_DeleteAlarms), then the metric alarms, then the rules. It touches only names under its own
prefix (`azevac-validate-<random>-`), refuses to start if anything already carries that prefix,
and deletes only names it sent that DescribeAlarms/DescribeInsightRules show exist. Exit 0: every
shape accepted and nothing left; 1: a shape refused or something left behind; 2: nothing was sent
(bad arguments, config, template, or no AWS access).
"""

from __future__ import annotations

import argparse
import functools
import graphlib
import json
import os
import re
import secrets
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import botocore.loaders
import botocore.model
from botocore.exceptions import BotoCoreError

from evacuation.errors import ConfigurationError, EvacuationError

EXIT_OK, EXIT_REFUSED, EXIT_INVALID = 0, 1, 2
PREFIX_ROOT = "azevac-validate-"
ALARM_NAME_MAX, RULE_NAME_MAX = 255, 128  # the botocore model's AlarmName and RuleName
DELETE_BATCH = 100  # DeleteAlarms: "You can delete up to 100 alarms in one operation"
ACTIONS = ("AlarmActions", "OKActions", "InsufficientDataActions")
Kind = Literal["insight rule", "metric alarm", "composite alarm"]
CLOUDFORMATION_TYPES: Mapping[str, Kind] = {
    "AWS::CloudWatch::InsightRule": "insight rule",
    "AWS::CloudWatch::Alarm": "metric alarm",
    "AWS::CloudWatch::CompositeAlarm": "composite alarm",
}
OPERATIONS: Mapping[Kind, str] = {
    "insight rule": "PutInsightRule",
    "metric alarm": "PutMetricAlarm",
    "composite alarm": "PutCompositeAlarm",
}
_RULE_METRIC = re.compile(r"""(INSIGHT_RULE_METRIC\(\s*)(['"])(.*?)\2""")
_STATE_FUNCTION = re.compile(r"""\b(ALARM|OK|INSUFFICIENT_DATA)\(\s*("?)([^")]+?)\2\s*\)""")
_PREFIX = re.compile(r"^azevac-validate-[A-Za-z0-9][A-Za-z0-9-]*-$")


class PlanError(EvacuationError):
    """The template cannot be sent as it is (nothing was sent)."""


@dataclass(frozen=True)
class Shape:
    """One request: what the template calls it and what is sent."""

    kind: Kind
    logical_id: str
    name: str
    temp_name: str
    request: dict[str, Any]


@dataclass
class Outcome:
    shape: Shape
    accepted: bool
    message: str = ""


@dataclass
class Report:
    prefix: str
    outcomes: list[Outcome] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    cleanup_errors: list[str] = field(default_factory=list)
    left_behind: list[str] = field(default_factory=list)

    @property
    def refused(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.accepted]

    @property
    def exit_code(self) -> int:
        problems = self.refused or self.cleanup_errors or self.left_behind
        return EXIT_REFUSED if problems else EXIT_OK


@functools.cache
def _members(operation: str) -> frozenset[str]:
    # The model from botocore's data files, not a session's: no AWS profile is read here.
    data = botocore.loaders.create_loader().load_service_model("cloudwatch", "service-2")
    shape = botocore.model.ServiceModel(data, "cloudwatch").operation_model(operation).input_shape
    assert shape is not None
    return frozenset(shape.members)


def new_prefix() -> str:
    return f"{PREFIX_ROOT}{secrets.token_hex(4)}-"


def plan(template: Mapping[str, Any], prefix: str, parameters: Mapping[str, str]) -> list[Shape]:
    """The requests for every rule and alarm of `template`, in creation order (rules, metric
    alarms, then composites with children before parents), under temporary names."""
    if not _PREFIX.match(prefix):
        raise PlanError(
            f"prefix {prefix!r} must look like {PREFIX_ROOT}<letters, digits, dashes>- "
            "(it is the only thing that marks what this tool may delete)"
        )
    values = _parameter_values(template, parameters)
    resources = {
        logical: resource
        for logical, resource in template.get("Resources", {}).items()
        if resource.get("Type") in CLOUDFORMATION_TYPES
    }
    if not resources:
        raise PlanError("the template has no CloudWatch alarms or Contributor Insights rules")
    names: dict[Kind, dict[str, str]] = {kind: {} for kind in OPERATIONS}
    for logical, resource in resources.items():
        kind = CLOUDFORMATION_TYPES[resource["Type"]]
        key = "RuleName" if kind == "insight rule" else "AlarmName"
        name = resource.get("Properties", {}).get(key)
        if not isinstance(name, str) or not name:
            raise PlanError(f"{logical}: no literal {key} (give the name in the template)")
        names[kind][name] = prefix + name
    alarms = {**names["metric alarm"], **names["composite alarm"]}
    rules = names["insight rule"]
    for temp in alarms.values():
        if len(temp) > ALARM_NAME_MAX:
            raise PlanError(f"{temp}: longer than {ALARM_NAME_MAX} characters with the prefix")
    for temp in rules.values():
        if len(temp) > RULE_NAME_MAX:
            raise PlanError(f"{temp}: longer than {RULE_NAME_MAX} characters with the prefix")

    shapes: dict[Kind, list[Shape]] = {kind: [] for kind in OPERATIONS}
    for logical, resource in resources.items():
        kind = CLOUDFORMATION_TYPES[resource["Type"]]
        # Actions are never sent (ActionsEnabled false, no actions), so their Refs need no value.
        sendable = {
            k: v for k, v in resource.get("Properties", {}).items() if k not in (*ACTIONS, "Tags")
        }
        props = _resolve(sendable, values, logical)
        request = _request(kind, logical, props, alarms, rules)
        key = "RuleName" if kind == "insight rule" else "AlarmName"
        name = resource["Properties"][key]
        shapes[kind].append(Shape(kind, logical, name, request[key], request))
    return [*shapes["insight rule"], *shapes["metric alarm"], *_children_first(shapes)]


def _parameter_values(template: Mapping[str, Any], given: Mapping[str, str]) -> dict[str, str]:
    declared = template.get("Parameters", {})
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise PlanError(f"--parameter {', '.join(unknown)}: not a parameter of the template")
    values: dict[str, str] = {}
    for name, spec in declared.items():
        value = given.get(name, spec.get("Default"))
        if value is None:
            continue
        value = str(value)
        pattern = spec.get("AllowedPattern")
        if pattern and not re.fullmatch(pattern, value):
            raise PlanError(f"parameter {name}={value!r} does not match {pattern}")
        values[name] = value
    return values


def _resolve(value: Any, values: Mapping[str, str], where: str) -> Any:
    """`value` with every {"Ref": parameter} replaced; any other intrinsic is refused."""
    if isinstance(value, dict):
        if len(value) == 1:
            (key, arg), *_ = value.items()
            if key == "Ref":
                if arg not in values:
                    raise PlanError(
                        f"{where}: {{'Ref': {arg!r}}} has no value: give --parameter {arg}=..."
                    )
                return values[arg]
            if key.startswith("Fn::"):
                raise PlanError(f"{where}: {key} is not resolved by this tool")
        return {k: _resolve(v, values, where) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, values, where) for v in value]
    return value


def _request(
    kind: Kind,
    logical: str,
    props: Mapping[str, Any],
    alarms: Mapping[str, str],
    rules: Mapping[str, str],
) -> dict[str, Any]:
    if kind == "insight rule":
        request: dict[str, Any] = {
            "RuleName": rules[props["RuleName"]],
            "RuleState": "DISABLED",
            "RuleDefinition": props.get("RuleBody"),
        }
        if "ApplyOnTransformedLogs" in props:
            request["ApplyOnTransformedLogs"] = props["ApplyOnTransformedLogs"]
        extra = set(props) - {"RuleName", "RuleState", "RuleBody", "Tags", "ApplyOnTransformedLogs"}
    else:
        allowed = _members(OPERATIONS[kind])
        request = {k: v for k, v in props.items() if k not in (*ACTIONS, "Tags")}
        extra = set(request) - allowed
        request["AlarmName"] = alarms[props["AlarmName"]]
        request["ActionsEnabled"] = False
        if kind == "metric alarm":
            request["Metrics"] = [_rename_rules(q, rules) for q in request.get("Metrics", [])]
        else:
            request["AlarmRule"] = _rename_alarms(str(props.get("AlarmRule", "")), alarms)
            if "ActionsSuppressor" in request:
                suppressor = request["ActionsSuppressor"]
                request["ActionsSuppressor"] = alarms.get(suppressor, suppressor)
    if extra:
        raise PlanError(f"{logical}: {', '.join(sorted(extra))}: not a {OPERATIONS[kind]} field")
    return request


def _rename_rules(query: Mapping[str, Any], rules: Mapping[str, str]) -> dict[str, Any]:
    query = dict(query)
    if "Expression" in query:
        query["Expression"] = _RULE_METRIC.sub(
            lambda m: f"{m[1]}{m[2]}{rules.get(m[3], m[3])}{m[2]}", query["Expression"]
        )
    return query


def _rename_alarms(rule: str, alarms: Mapping[str, str]) -> str:
    return _STATE_FUNCTION.sub(
        lambda m: f'{m[1]}("{alarms.get(m[3], m[3])}")' if m[3] in alarms else m[0], rule
    )


def _references(rule: str) -> set[str]:
    return {m[3] for m in _STATE_FUNCTION.finditer(rule)}


def _children_first(shapes: Mapping[Kind, list[Shape]]) -> list[Shape]:
    composites = {s.temp_name: s for s in shapes["composite alarm"]}
    graph = {
        name: _references(s.request["AlarmRule"]) & set(composites)
        for name, s in composites.items()
    }
    try:
        order = list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        raise PlanError(f"composite alarms reference each other in a cycle: {exc.args[1]}") from exc
    return [composites[name] for name in order]


class Target(Protocol):
    """What validate() needs from CloudWatch (evacuation.aws.cloudwatch.AlarmDefinitions)."""

    def put_metric_alarm(self, request: Mapping[str, Any]) -> None: ...
    def put_composite_alarm(self, request: Mapping[str, Any]) -> None: ...
    def put_insight_rule(self, request: Mapping[str, Any]) -> None: ...
    def alarms_named(self, prefix: str) -> dict[str, str]: ...
    def insight_rules_named(self, prefix: str) -> set[str]: ...
    def delete_alarms(self, names: Sequence[str]) -> None: ...
    def delete_insight_rules(self, names: Sequence[str]) -> list[str]: ...


def validate(
    shapes: Sequence[Shape],
    target: Target,
    prefix: str,
    say: Callable[[str], None] = lambda line: None,
) -> Report:
    """Send every shape, then delete what exists under `prefix` of what was sent (in a finally:
    an interrupt or a crash still cleans up). Raises PlanError, having sent nothing, when the
    prefix is already in use."""
    in_use = sorted(target.alarms_named(prefix)) + sorted(target.insight_rules_named(prefix))
    if in_use:
        raise PlanError(f"prefix {prefix} is in use ({', '.join(in_use[:3])}...): pick another")
    say(f"sending {len(shapes)} shapes under {prefix} (actions disabled, rules DISABLED)")
    report = Report(prefix)
    try:
        for shape in shapes:
            put = {
                "insight rule": target.put_insight_rule,
                "metric alarm": target.put_metric_alarm,
                "composite alarm": target.put_composite_alarm,
            }[shape.kind]
            try:
                put(shape.request)
            except EvacuationError as exc:  # AWS's answer, translated (evacuation.aws.errors)
                report.outcomes.append(Outcome(shape, accepted=False, message=str(exc)))
                say(f"REFUSED   {shape.kind:<15} {shape.name}: {exc}")
            else:
                report.outcomes.append(Outcome(shape, accepted=True))
                say(f"accepted  {shape.kind:<15} {shape.name}")
    finally:
        _clean_up(shapes, target, prefix, report, say)
    return report


def _clean_up(
    shapes: Sequence[Shape],
    target: Target,
    prefix: str,
    report: Report,
    say: Callable[[str], None],
) -> None:
    """Delete what was sent and exists: composites one per call (parents first), then metric
    alarms, then rules; then read back that nothing that was sent is left."""
    sent = [s.temp_name for s in shapes if s.temp_name.startswith(prefix)]

    def attempt(what: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - cleanup goes on; every failure is reported
            report.cleanup_errors.append(f"{what}: {exc}")
            return None

    alarms: dict[str, str] = attempt("DescribeAlarms", lambda: target.alarms_named(prefix)) or {}
    composites = [n for n in reversed(sent) if alarms.get(n) == "CompositeAlarm"]
    for name in composites:
        attempt(f"DeleteAlarms {name}", functools.partial(target.delete_alarms, [name]))
    metric = [n for n in sent if alarms.get(n) == "MetricAlarm"]
    for start in range(0, len(metric), DELETE_BATCH):
        batch = metric[start : start + DELETE_BATCH]
        attempt(f"DeleteAlarms {batch[0]}...", functools.partial(target.delete_alarms, batch))
    there: set[str] = attempt("DescribeInsightRules", lambda: target.insight_rules_named(prefix))
    rules = [n for n in sent if n in (there or set())]
    if rules:
        failures = attempt("DeleteInsightRules", lambda: target.delete_insight_rules(rules))
        report.cleanup_errors += [f"DeleteInsightRules {f}" for f in failures or []]
    left: list[str] | None = attempt(
        "read back",
        lambda: sorted(target.alarms_named(prefix)) + sorted(target.insight_rules_named(prefix)),
    )
    if left is None:  # unknown: count nothing as deleted
        report.left_behind = [n for n in sent if n in alarms or n in rules]
    else:
        report.left_behind = [n for n in left if n in sent]
        foreign = [n for n in left if n not in sent]
        if foreign:  # not ours to delete, even under our prefix
            report.cleanup_errors.append(f"not sent by this run, left alone: {', '.join(foreign)}")
    report.deleted = [
        n for n in sent if (n in alarms or n in rules) and n not in report.left_behind
    ]
    say(f"deleted {len(report.deleted)} (prefix {prefix})")
    for line in [*report.cleanup_errors, *(f"LEFT BEHIND {n}" for n in report.left_behind)]:
        say(line)


# -- command line ------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m evacuation.detection.validate", description=__doc__.split("\n")[0]
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--config", help="azevac config (file or inline JSON; AZEVAC_CONFIG)")
    source.add_argument("--template", type=Path, help="a generated template (azevac alarms)")
    parser.add_argument("--prefix", help=f"temporary name prefix (default {PREFIX_ROOT}<random>-)")
    parser.add_argument("--region", help="default: the AWS environment's")
    parser.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a template parameter, e.g. LoadBalancer=app/checkout-alb/0123456789abcdef",
    )
    return parser


def load_template(config: str | None, template: Path | None) -> dict[str, Any]:
    if template is not None:
        try:
            loaded = json.loads(template.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise PlanError(f"{template}: {exc} (azevac alarms writes JSON)") from exc
        if not isinstance(loaded, dict):
            raise PlanError(f"{template}: not a CloudFormation template")
        return loaded
    from evacuation.config import load_config  # noqa: PLC0415 - pydantic only when needed
    from evacuation.detection.generate import build_template  # noqa: PLC0415

    loaded_config = load_config(config or os.environ.get("AZEVAC_CONFIG"))
    if loaded_config.detection is None:
        raise PlanError("the config has no detection section (README: Detection)")
    return build_template(loaded_config.workload, loaded_config.detection)


def _parameters(pairs: Iterable[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise PlanError(f"--parameter {pair!r}: expected NAME=VALUE")
        values[name] = value
    return values


def default_target(region: str | None) -> Target:
    """CloudWatch in the account the AWS environment names, paced below its 3 TPS quotas."""
    from evacuation.aws.clients import AwsClients, Caller  # noqa: PLC0415
    from evacuation.aws.cloudwatch import AlarmDefinitions  # noqa: PLC0415
    from evacuation.config import RateLimit  # noqa: PLC0415
    from evacuation.pacing import Pacer  # noqa: PLC0415
    from evacuation.retry import Deadline, RetryPolicy  # noqa: PLC0415

    retry = RetryPolicy(Deadline.within(600.0), max_attempts=6)
    pacer = Pacer({"cloudwatch": RateLimit(burst=2, per_second=2.0)})
    return AlarmDefinitions(AwsClients(region=region), Caller(retry, pacer))


def main(
    argv: Sequence[str] | None = None, target_for: Callable[[str | None], Target] | None = None
) -> int:
    args = parser().parse_args(argv)

    def out(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    prefix = args.prefix or new_prefix()
    if not prefix.endswith("-"):
        prefix += "-"
    try:
        template = load_template(args.config, args.template)
        shapes = plan(template, prefix, _parameters(args.parameter))
        target = (target_for or default_target)(args.region)
        report = validate(shapes, target, prefix, out)
    except (PlanError, ConfigurationError, BotoCoreError) as exc:
        sys.stderr.write(f"detect-validate: {exc}\n")
        return EXIT_INVALID
    except EvacuationError as exc:  # the prefix check could not read CloudWatch: nothing sent
        sys.stderr.write(
            f"detect-validate: {exc}\n(it needs credentials for a sandbox account: "
            "cloudwatch:PutMetricAlarm, PutCompositeAlarm, PutInsightRule, DescribeAlarms, "
            "DescribeInsightRules, DeleteAlarms, DeleteInsightRules)\n"
        )
        return EXIT_INVALID
    accepted = len(report.outcomes) - len(report.refused)
    out(f"{accepted} of {len(shapes)} accepted, {len(report.refused)} refused")
    return report.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
