"""`azevac`: plan, evacuate, recover and status from an operator's terminal.

Runs the engine directly with the operator's credentials (no dependency on the Lambda being
healthy during an incident), or through the deployed manual function with --via-lambda.
Exit code: 0 when everything converged, 1 when a step failed, 2 when refused or invalid.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

import boto3
from rich.console import Console
from rich.table import Table

from evacuation import logs
from evacuation.aws.lambda_ import LambdaGateway
from evacuation.controller import Controller
from evacuation.errors import ConfigurationError, EvacuationError
from evacuation.model import Status, StepRecord
from evacuation.requests import answer, parse_request, run_request
from evacuation.result import Result
from evacuation.runtime import Runtime
from evacuation.settings import Settings

OUTCOME_STYLE = {
    "applied": "green",
    "unchanged": "dim",
    "skipped": "yellow",
    "pending": "cyan",
    "failed": "bold red",
    "reverted": "green",
    "planned": "blue",
    "in_progress": "blue",
    "interrupted": "bold magenta",
}
EXIT_OK, EXIT_FAILED, EXIT_REFUSED, EXIT_IN_PROGRESS = 0, 1, 2, 3


def session_factory() -> boto3.Session | None:
    """Where the CLI's AWS session comes from: None is the default credential chain. Tests and
    the drill replace this function to point the CLI at the embedded AWS."""
    return None


PRACTICE_POLL_SECONDS = 15


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="azevac", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="action", required=True)
    for action in ("plan", "evacuate", "recover", "status", "practice", "abandon"):
        cmd = sub.add_parser(action, help=f"{action} an AZ" if action != "status" else "list")
        if action != "status":
            cmd.add_argument("--az", required=True, help="AZ ID (use1-az1) or name (us-east-1b)")
            cmd.add_argument("--reason", default="", help="why: recorded and sent to humans")
            cmd.add_argument("--dry-run", action="store_true", help="show, change nothing")
        if action == "evacuate":
            cmd.add_argument("--force", action="store_true", help="override flap damping")
        if action == "recover":
            cmd.add_argument(
                "--no-wait",
                action="store_true",
                help="restore traffic without waiting for the AZ's capacity to come back",
            )
        if action == "practice":
            cmd.add_argument("--minutes", type=int, required=True, help="how long, then recover")
            cmd.add_argument(
                "--stop-alarm", action="append", default=[], help="recover if it goes to ALARM"
            )
            cmd.add_argument(
                "--no-wait", action="store_true", help="return at once; the reconciler ends it"
            )
        cmd.add_argument("--json", action="store_true", help="print the manual handler's JSON")
        cmd.add_argument("--config", help="file, inline JSON or ssm:<name> (AZEVAC_CONFIG)")
        cmd.add_argument("--table", help="DynamoDB state table (AZEVAC_TABLE)")
        cmd.add_argument("--via-lambda", metavar="FUNCTION", help="invoke the manual function")
    # Listed for --help only: main() hands `azevac drill ...` to evacuation.drill before parsing.
    sub.add_parser("drill", help="a gray-failure drill on an embedded AWS (azevac drill -h)")
    sub.add_parser("alarms", help="the detection stack for a config (azevac alarms -h)")
    sub.add_parser("report", help="the post-incident report of an evacuation (azevac report -h)")
    return parser


MUTATING = ("evacuate", "recover", "practice", "abandon")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["drill"]:
        return _drill(argv[1:])
    if argv[:1] == ["report"]:
        from evacuation.postmortem import main as report  # noqa: PLC0415 - not in Lambda

        return report(argv[1:])
    if argv[:1] == ["alarms"]:
        from evacuation.detection.cli import main as alarms  # noqa: PLC0415 - not in Lambda

        return alarms(argv[1:])
    args = build_parser().parse_args(argv)
    console = Console(stderr=False)
    logs.configure(json=False, level=os.environ.get("LOG_LEVEL", "WARNING"))
    payload: dict[str, Any] = {"action": args.action}
    if args.action != "status":
        payload |= {"az": args.az, "reason": args.reason, "dry_run": args.dry_run}
    if args.action == "evacuate":
        payload["force"] = args.force
    if args.action == "practice":
        payload |= {"minutes": args.minutes, "stop_alarms": args.stop_alarm}
    if args.action == "recover" and args.no_wait:
        payload["no_wait"] = True
    try:
        request = parse_request(payload)
        if args.via_lambda:
            body = LambdaGateway(session_factory()).invoke(args.via_lambda, request.model_dump())
        else:
            body = _run_locally(args, request, console)
    except EvacuationError as exc:
        console.print(f"[bold red]azevac: {exc}[/]")
        return EXIT_REFUSED
    if args.json:
        console.print_json(json.dumps(body, default=str))
    else:
        _print_human(console, body)
    return _exit_code(body)


def _drill(argv: list[str]) -> int:
    try:
        from evacuation.drill import main as drill_main  # noqa: PLC0415 - needs the drill extra
    except ImportError as exc:
        Console(stderr=True).print(
            f"[bold red]azevac drill needs the embedded AWS: pip install 'azevac[drill]' ({exc})[/]"
        )
        return EXIT_REFUSED
    return drill_main(argv)


def _run_locally(args: argparse.Namespace, request: Any, console: Console) -> dict[str, Any]:
    env = dict(os.environ)
    if args.config:
        env["AZEVAC_CONFIG"] = args.config
    if args.table:
        env["AZEVAC_TABLE"] = args.table
    settings = Settings.from_env(env)
    mutates = request.action in MUTATING and not request.dry_run
    if mutates and settings.table is None:
        raise ConfigurationError(
            f"{request.action} needs the state table (AZEVAC_TABLE or --table): without it the "
            "before-images live only in this process and nothing could recover exactly"
        )
    runtime = Runtime(settings, session_factory())
    show = not args.json

    def progress(step: StepRecord) -> None:
        if show and step.outcome.is_final:
            console.print(f"  {_step_line(step)}")

    controller = runtime.controller(on_step=progress)
    if show and request.action in MUTATING and not request.dry_run:
        console.print(f"[bold]{request.action} {request.az}[/] for {controller.config.workload}")
    outcome = run_request(controller, request)
    if request.action == "practice" and not args.no_wait and not request.dry_run:
        outcome = _wait_and_end_practice(controller, outcome, console, show)
    return answer(controller.config.workload, outcome)


def _wait_and_end_practice(
    controller: Controller, started: Any, console: Console, show: bool
) -> Any:
    """Watch the stop alarms until the time is up, then recover (the reconciler is the
    backstop if this terminal goes away)."""
    running = (Status.EVACUATED, Status.PARTIAL, Status.DEGRADED)
    if not isinstance(started, Result) or started.status not in running:
        return started
    evacuation = controller.status_of(started.az_id)
    while evacuation is not None:
        why = controller.practice_should_end(evacuation)
        if why is not None:
            if show:
                console.print(f"[bold]{why}[/]: recovering {started.az_id}")
            return controller.recover(started.az_id, reason=why)
        time.sleep(PRACTICE_POLL_SECONDS)
    return started


def _step_line(step: StepRecord) -> str:
    style = OUTCOME_STYLE.get(step.outcome.value, "")
    detail = step.error or step.reason or ""
    return f"[{style}]{step.outcome.value:<10}[/] {step.key.kind.value:<15} {step.key.resource}" + (
        f"  ({detail})" if detail else ""
    )


def _print_human(console: Console, body: dict[str, Any]) -> None:
    if "evacuations" in body:
        table = Table("evacuation", "AZ", "status", "trigger", "created", "recovered", "reason")
        for e in body["evacuations"]:
            table.add_row(
                e["evacuation_id"], e["az_id"], e["status"], e["trigger"],
                e["created_at"], e["recovered_at"] or "", e["reason"][:60],
            )  # fmt: skip
        console.print(table)
        return
    table = Table("phase", "kind", "resource", "before → after", "outcome", title=_title(body))
    for step in body.get("steps", []):
        style = OUTCOME_STYLE.get(step["outcome"], "")
        note = step.get("error") or step.get("reason") or ""
        table.add_row(
            step["phase"],
            step["kind"],
            step["resource"],
            f"{_short(step['before'])} → {_short(step['after'])}",
            f"[{style}]{step['outcome']}[/]" + (f"\n{note}" if note else ""),
        )
    console.print(table)
    if body.get("reason"):
        console.print(f"reason: {body['reason']}")


def _title(body: dict[str, Any]) -> str:
    timing = ""
    if body.get("data_plane_seconds") is not None:
        timing = f" · traffic moved in {body['data_plane_seconds']:.2f}s"
    return (
        f"{body.get('workload')} {body.get('az_id')}: {body.get('status')}"
        f" · {body.get('evacuation_id') or 'no evacuation'}{timing}"
    )


def _short(value: Any) -> str:
    if isinstance(value, dict) and "weights" in value:
        return json.dumps(value["weights"])
    if isinstance(value, dict) and "away_from" in value:
        return f"away from {value['away_from']}"
    if isinstance(value, dict) and "weight" in value:
        return f"weight {value['weight']}"
    if isinstance(value, list):
        return ",".join(str(v) for v in value) or "[]"
    text = json.dumps(value, default=str) if value is not None else "-"
    return text if len(text) <= 60 else text[:57] + "..."


def _exit_code(body: dict[str, Any]) -> int:
    if body.get("status") == "REFUSED":
        return EXIT_REFUSED
    if body.get("status") == "IN_PROGRESS":  # another invocation runs it: nothing done here
        return EXIT_IN_PROGRESS
    if any(s.get("outcome") == "failed" for s in body.get("steps", [])):
        return EXIT_FAILED
    return EXIT_OK


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
