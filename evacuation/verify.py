"""`azevac verify --az X` (issue 18 §1): check the evacuation hypothesis against live AWS.

Evacuated: for every step of the plan, AWS shows the AZ's lever in place (a zonal shift applied
with weight 0 for the AZ, the AZ's record at weight 0 and INSYNC, each group's lever, each
dependency moved), as the planner reads it, kind by kind, through the registry: the same reads
and the same comparison of what is there with what the evacuation intends that every run makes.
"Nothing else changed": every changed resource is exactly at its recorded intent. No instance
launched into the AZ since the evacuation started (EC2 launch times).
Recovered (`--recovered`): every resource the evacuation changed is back at its recorded
before-image, and the AZ is released.
The drill runs the same checks on its lab (evacuation/drill/scenarios.py), beside its own
independent read-back, so the two must agree on every scenario.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from evacuation.errors import EvacuationError
from evacuation.kinds import OWNERS
from evacuation.model import Evacuation, Outcome, PlannedStep, StepRecord

EXIT_HOLDS, EXIT_FAILS, EXIT_INVALID = 0, 1, 2


@dataclass(frozen=True)
class Check:
    """One question asked of AWS, what was found, and whether it was what the hypothesis says."""

    name: str
    passed: bool
    found: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "found": self.found}


def evacuated_checks(
    evacuation: Evacuation, steps: Sequence[PlannedStep], launched: Sequence[str]
) -> list[Check]:
    """The hypothesis "the AZ is evacuated" for `evacuation`, from a plan built now from AWS
    with its records (`steps`) and the instances launched into the AZ since it started."""
    az_id = evacuation.az_id
    records = {r.key: r for r in evacuation.steps}
    checks = [
        Check(
            f"azevac holds {az_id}",
            evacuation.status.is_active,
            f"evacuation {evacuation.evacuation_id} is {evacuation.status.value}",
        )
    ]
    for step in steps:
        checks.append(_in_place(step, records.get(step.key)))
    checks.append(
        Check(
            f"no instance launched into {az_id} since the evacuation started",
            not launched,
            ", ".join(launched) or f"none since {evacuation.created_at:%Y-%m-%d %H:%M:%S}Z",
        )
    )
    return checks


def recovered_checks(
    evacuation: Evacuation, steps: Sequence[PlannedStep], held: bool
) -> list[Check]:
    """The hypothesis "the AZ is back as it was": every changed resource at its before-image."""
    current = {s.key: s for s in steps}
    checks = [
        Check(
            f"{evacuation.az_id} is released",
            not held and not evacuation.status.is_active,
            f"evacuation {evacuation.evacuation_id} is {evacuation.status.value}"
            + ("; the AZ is still held" if held else ""),
        )
    ]
    for record in evacuation.steps:
        if record.before is None:
            continue  # nothing was recorded, so nothing was changed
        name = f"{record.key.kind.value} {record.key.resource}: as before the evacuation"
        step = current.get(record.key)
        left = record.outcome in (Outcome.SKIPPED, Outcome.UNCHANGED) and record.reason
        if record.revert_started_at is not None and left and not _same(record, step):
            # recover left it on purpose (a writer without fail_back, a suspension someone
            # else owns now), and said why: the hypothesis is "exactly what it changed"
            name = f"{record.key.kind.value} {record.key.resource}: left as recover decided"
            checks.append(Check(name, True, f"not put back: {record.reason}"))
        elif step is None:
            found = "not in the config any more: cannot be read back here"
            checks.append(Check(name, False, found))
        elif step.error is not None:
            checks.append(Check(name, False, f"cannot read it: {step.error}"))
        else:
            same = _same(record, step)
            found = _show(step.current) + ("" if same else f" (before: {_show(record.before)})")
            checks.append(Check(name, same, found))
    return checks


def answer(evacuation: Evacuation, checks: Sequence[Check], recovered: bool) -> dict[str, Any]:
    """The JSON of a verification (the manual handler's and `azevac verify --json`)."""
    failing = [c for c in checks if not c.passed]
    return {
        "workload": evacuation.workload,
        "az_id": evacuation.az_id,
        "evacuation_id": evacuation.evacuation_id,
        "hypothesis": "recovered" if recovered else "evacuated",
        "status": "HOLDS" if not failing else "FAILS",
        "checks": [c.to_dict() for c in checks],
        "failing": len(failing),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """`azevac verify --az X [--recovered] [--json]`: exit 0 when the hypothesis holds."""
    args = parser().parse_args(argv)
    try:
        body = _controller(args).verify(args.az, recovered=args.recovered)
    except EvacuationError as exc:
        print(f"azevac verify: {exc}", file=sys.stderr)  # noqa: T201 - the CLI's own output
        return EXIT_INVALID
    if args.json:
        sys.stdout.write(json.dumps(body, default=str) + "\n")
    else:
        sys.stdout.write(_table(body))
    return EXIT_HOLDS if body["status"] == "HOLDS" else EXIT_FAILS


def parser() -> argparse.ArgumentParser:
    """`azevac verify`'s arguments."""
    parser = argparse.ArgumentParser(
        prog="azevac verify",
        description="Check an evacuation (or, with --recovered, a recovery) against live AWS.",
    )
    parser.add_argument("--az", required=True, help="AZ ID (use1-az1) or zone name")
    parser.add_argument("--recovered", action="store_true", help="the state after recovery")
    parser.add_argument("--json", action="store_true", help="the answer as JSON")
    parser.add_argument("--config", help="AZEVAC_CONFIG (file, JSON, ssm:NAME or s3://...)")
    parser.add_argument("--table", help="AZEVAC_TABLE: the state table")
    return parser


# -- internals ------------------------------------------------------------------------------


def _in_place(step: PlannedStep, record: StepRecord | None) -> Check:
    name = f"{step.key.kind.value} {step.key.resource}: in place"
    if step.error is not None:
        return Check(name, False, f"cannot read it: {step.error}")
    if step.skip_reason is not None:
        # a resource not in the AZ at all is no gap: nothing to take out of it
        return Check(name, not step.gap, f"skipped: {step.skip_reason}")
    if step.needs_change:
        return Check(name, False, f"{_show(step.current)}, intended {_show(step.intended)}")
    if not step.settled:
        return Check(name, False, f"{_show(step.current)}, not yet in effect as AWS shows it")
    after = record.after if record is not None else None
    if isinstance(after, dict) and after.get("change_id") and not after.get("insync_at"):
        return Check(name, False, f"change {after['change_id']} never seen INSYNC")
    return Check(name, True, _show(step.current))


def _same(record: StepRecord, step: PlannedStep | None) -> bool:
    """Whether AWS now shows the part of `record`'s before-image that recover puts back."""
    if step is None or step.error is not None:
        return False
    restored = OWNERS[record.key.kind].restored_part
    return bool(_comparable(restored(step.current)) == _comparable(restored(record.before)))


def _comparable(value: Any) -> Any:
    """Values compared as sets where order carries no meaning (subnet lists, process names)."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return sorted(value)
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items()}
    return value


def _show(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 160 else text[:157] + "..."


def _table(body: dict[str, Any]) -> str:
    lines = [
        f"{body['workload']} · verify {body['hypothesis']} {body['az_id']} · {body['status']}"
        f" · {body['evacuation_id']}"
    ]
    for check in body["checks"]:
        mark = "PASS" if check["passed"] else "FAIL"
        lines.append(f"{mark}  {check['name']}")
        lines.append(f"      {check['found']}")
    lines.append(
        f"{body['failing']} failing check(s)" if body["failing"] else "the hypothesis holds"
    )
    return "\n".join(lines) + "\n"


def _controller(args: argparse.Namespace) -> Any:
    from evacuation.cli import state_controller  # noqa: PLC0415 - the CLI's, as its commands

    return state_controller(args.config, args.table, "verify")
