"""`azevac`: plan, evacuate, recover, status and reconcile from an operator's terminal.

Runs the engine directly with the operator's credentials (no dependency on the Lambda being
healthy during an incident), or through the deployed manual function with --via-lambda.
Exit code: 0 when everything converged, 1 when a step failed, 2 when refused or invalid
(a usage, config or environment problem too: one line, never a traceback).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError
from rich.console import Console
from rich.text import Text

from evacuation import logs, service
from evacuation.aws.clients import Caller
from evacuation.aws.ec2 import Ec2Gateway
from evacuation.aws.lambda_ import LambdaGateway
from evacuation.azs import resolve_az_id
from evacuation.controller import Controller
from evacuation.errors import ConfigurationError, EvacuationError, InvalidRequestError
from evacuation.impairment import AlarmOverview, alarm_overview
from evacuation.model import Status, StepRecord
from evacuation.requests import ManualRequest, answer, parse_request, run_request
from evacuation.result import Result, evacuation_dict
from evacuation.retry import Deadline, RetryPolicy
from evacuation.runtime import Runtime
from evacuation.settings import Settings
from evacuation.terminal import reads, render

EXIT_OK, EXIT_FAILED, EXIT_REFUSED, EXIT_IN_PROGRESS = 0, 1, 2, 3
SCHEMA_VERSION = 1
"""The version of schemas/cli-output.schema.json that every --json output follows."""
PRACTICE_POLL_SECONDS = 15
MUTATING = ("evacuate", "recover", "practice", "abandon")
_AZ_ID = re.compile(r"^[a-z]{2,}[0-9]+-az[0-9]+$")


def session_factory() -> boto3.Session | None:
    """Where the CLI's AWS session comes from: None is the default credential chain. Tests and
    the drill replace this function to point the CLI at the embedded AWS."""
    return None


# -- commands: one registry, so a new subcommand is one entry -----------------------------------


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    takes_az: bool = True
    """--az (required unless `az_optional`), --reason, --dry-run."""
    az_optional: bool = False
    needs_state: bool = True
    """Reads or changes the state table: refused without AZEVAC_TABLE / --table."""
    arguments: Callable[[argparse.ArgumentParser], None] | None = None
    """Adds the command's own flags."""


def _evacuate_args(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("--force", action="store_true", help="override flap damping")
    cmd.add_argument(
        "--yes", "-y", action="store_true", help="do not ask when another AZ looks impaired"
    )


def _recover_args(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument(
        "--no-wait",
        action="store_true",
        help="restore traffic without waiting for the AZ's capacity to come back",
    )


def _practice_args(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("--minutes", type=int, required=True, help="how long, then recover")
    cmd.add_argument("--stop-alarm", action="append", default=[], help="recover if it alarms")
    cmd.add_argument(
        "--no-wait", action="store_true", help="return at once; the reconciler ends it"
    )


COMMANDS: dict[str, Command] = {
    c.name: c
    for c in (
        Command("plan", "every step an evacuation would take; changes nothing",
                needs_state=False),
        Command("evacuate", "evacuate an AZ (data plane, then control plane)",
                arguments=_evacuate_args),
        Command("recover", "put back everything the AZ's evacuation changed",
                arguments=_recover_args),
        Command("status", "evacuations; --az: one with every step and shift expiry",
                az_optional=True),
        Command("practice", "evacuate a healthy AZ for a while, then recover",
                arguments=_practice_args),
        Command("abandon", "release an AZ whose recovery cannot finish; lists what remains"),
        Command("reconcile", "one pass of the scheduled reconciler, now", takes_az=False),
    )
}  # fmt: skip
HANDED_OFF = {
    "drill": "a gray-failure drill on an embedded AWS (azevac drill -h)",
    "sandbox": "an embedded AWS to rehearse on, until stopped (azevac sandbox -h)",
    "completion": "print the bash or zsh completion script (azevac completion bash|zsh)",
    "alarms": "the detection stack for a config (azevac alarms -h)",
    "report": "the post-incident report of an evacuation, as HTML (azevac report -h)",
    "verify": "check an evacuation (or --recovered) against live AWS (azevac verify -h)",
}
"""Subcommands with parsers of their own: main() hands their arguments over before parsing."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="azevac", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="action", required=True, metavar="COMMAND")
    for command in COMMANDS.values():
        cmd = sub.add_parser(command.name, help=command.help, description=command.help)
        if command.takes_az:
            cmd.add_argument(
                "--az",
                required=not command.az_optional,
                help="AZ ID (use1-az1) or name (us-east-1b)",
            )
            if command.name != "status":
                cmd.add_argument("--reason", default="", help="why: recorded and sent to humans")
                cmd.add_argument("--dry-run", action="store_true", help="show, change nothing")
        if command.arguments is not None:
            command.arguments(cmd)
        cmd.add_argument("--json", action="store_true", help="print JSON (schemas/cli-output)")
        cmd.add_argument("--wide", action="store_true", help="full ARNs and ids, every row")
        cmd.add_argument("--config", help="file, inline JSON or ssm:<name> (AZEVAC_CONFIG)")
        cmd.add_argument("--table", help="DynamoDB state table (AZEVAC_TABLE)")
        cmd.add_argument("--via-lambda", metavar="FUNCTION", help="invoke the manual function")
    for name, text in HANDED_OFF.items():
        sub.add_parser(name, help=text, add_help=False)
    return parser


# -- main -------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["drill"]:
        return _drill(argv[1:])
    if argv[:1] == ["sandbox"]:
        from evacuation.terminal import sandbox  # noqa: PLC0415 - needs the embedded AWS

        return sandbox.main(argv[1:])
    if argv[:1] == ["alarms"]:
        from evacuation.detection.cli import main as alarms  # noqa: PLC0415 - not in Lambda

        return alarms(argv[1:])
    if argv[:1] == ["verify"]:
        from evacuation.verify import main as verify  # noqa: PLC0415

        return verify(argv[1:])
    if argv[:1] == ["report"]:
        from evacuation.postmortem import main as report  # noqa: PLC0415 - not in Lambda

        return report(argv[1:])
    if argv[:1] == ["completion"]:
        from evacuation.terminal import completion  # noqa: PLC0415

        return completion.main(argv[1:], build_parser())
    args = build_parser().parse_args(argv)
    console = Console(highlight=False, soft_wrap=False)
    if not console.is_terminal:
        console.width = 100
    errors = Console(stderr=True, highlight=False)
    logs.configure(json=False, level=os.environ.get("LOG_LEVEL", "ERROR"))
    # A pipe or a file gets the 100-column layout; a terminal its own width, up to 100.
    view = render.View(wide=args.wide, columns=console.width if console.is_terminal else 100)
    try:
        body, hints = _run(args, console, errors)
    except EvacuationError as exc:
        errors.print(Text(f"azevac: {exc}", "bold red"), soft_wrap=True)
        return EXIT_REFUSED
    except BotoCoreError as exc:  # the environment (credentials, profile), not our code
        errors.print(Text(f"azevac: AWS environment: {exc}", "bold red"), soft_wrap=True)
        return EXIT_REFUSED
    except KeyboardInterrupt:
        errors.print(Text("azevac: interrupted", "bold red"))
        return 130
    if args.json:
        sys.stdout.write(json.dumps({"schema_version": SCHEMA_VERSION, **body}, default=str))
        sys.stdout.write("\n")
    else:
        view = replace(view, subnet_azs=hints.subnet_azs, run_started=hints.run_started)
        render.print_lines(console, _human(args, body, view), wide=args.wide)
    return _exit_code(body)


def _payload(args: argparse.Namespace) -> dict[str, Any]:
    payload: dict[str, Any] = {"action": args.action}
    if COMMANDS[args.action].takes_az and args.action != "status":
        payload |= {"az": args.az, "reason": args.reason, "dry_run": args.dry_run}
    if args.action == "evacuate":
        payload["force"] = args.force
    if args.action == "practice":
        payload |= {"minutes": args.minutes, "stop_alarms": args.stop_alarm}
    if args.action == "recover" and args.no_wait:
        payload["no_wait"] = True
    return payload


@dataclass
class Hints:
    """What the human output knows beyond the answer: subnet AZs, when this run started."""

    subnet_azs: dict[str, str] = field(default_factory=dict)
    run_started: datetime | None = None


def _run(
    args: argparse.Namespace, console: Console, errors: Console
) -> tuple[dict[str, Any], Hints]:
    if args.action == "reconcile":
        if args.via_lambda:
            raise InvalidRequestError("reconcile runs locally; the deployed one is scheduled")
        return _reconcile(args), Hints()
    request = parse_request(_payload(args)) if args.action != "status" or not args.az else None
    if args.via_lambda:
        if request is None:
            raise InvalidRequestError("status --az runs locally (it reads ARC for shift expiry)")
        body = LambdaGateway(session_factory()).invoke(args.via_lambda, request.model_dump())
        return body, Hints()
    return _run_locally(args, request, console, errors)


def _settings(config: str | None, table: str | None) -> Settings:
    """The environment's settings, with --config and --table over AZEVAC_CONFIG/AZEVAC_TABLE."""
    env = dict(os.environ)
    if config:
        env["AZEVAC_CONFIG"] = config
    if table:
        env["AZEVAC_TABLE"] = table
    return Settings.from_env(env)


def state_controller(config: str | None, table: str | None, command: str) -> Controller:
    """The controller of a command that reads the state table (verify, report): refused
    without one, as every state command is."""
    settings = _settings(config, table)
    if settings.table is None:
        raise ConfigurationError(f"{command} needs the state table (AZEVAC_TABLE or --table)")
    return Runtime(settings, session_factory()).controller()


def _runtime(args: argparse.Namespace) -> Runtime:
    settings = _settings(args.config, args.table)
    command = COMMANDS[args.action]
    reads_state = command.needs_state and not (args.action == "evacuate" and args.dry_run)
    if reads_state and settings.table is None:
        raise ConfigurationError(
            f"{args.action} needs the state table (AZEVAC_TABLE or --table): without it azevac "
            "cannot see what is evacuated, and before-images would live only in this process. "
            "Only plan runs without one"
        )
    return Runtime(settings, session_factory())


def _run_locally(
    args: argparse.Namespace,
    request: ManualRequest | None,
    console: Console,
    errors: Console,
) -> tuple[dict[str, Any], Hints]:
    runtime = _runtime(args)
    show = not args.json
    done: list[StepRecord] = []
    status = None
    if show and console.is_terminal and args.action in MUTATING and not args.dry_run:
        status = console.status(f"{args.action} {args.az}: starting")

    def progress(step: StepRecord) -> None:
        if step.outcome.is_final:
            done.append(step)
            if status is not None:
                status.update(f"{args.action} {args.az}: {len(done)} step(s) done, last: "
                              f"{step.outcome.value} {step.key.kind.value}")  # fmt: skip

    controller = runtime.controller(on_step=progress)
    if request is None:  # status --az
        body = _detail(controller, runtime, args.az)
        return body, _hints(runtime, body, show, None)
    overview: AlarmOverview | None = None
    if request.action in ("plan", "evacuate"):
        overview = alarm_overview(
            controller.config, _az_id(runtime, args.az), reads.alarm_states(runtime.clients)
        )
    if request.action == "evacuate" and not request.dry_run and overview and overview.warning:
        _confirm(args, overview, console if show else errors)
    if status is not None:
        status.start()
    body_started = datetime.now(UTC)
    try:
        outcome = run_request(controller, request)
        if request.action in MUTATING and not request.dry_run and isinstance(outcome, Result):
            # a change made by hand is news to the team as much as an automatic one
            service.announce(controller, runtime.notifier(), _metrics(), outcome, request.action)
        if request.action == "practice" and not args.no_wait and not request.dry_run:
            outcome = _wait_and_end_practice(controller, outcome, console, show)
    finally:
        if status is not None:
            status.stop()
    body = answer(controller.config.workload, outcome)
    if overview is not None and isinstance(body.get("az_id"), str):
        if overview.az_id != body["az_id"]:  # a zone name the resolver mapped differently
            overview = alarm_overview(
                controller.config, body["az_id"], reads.alarm_states(runtime.clients)
            )
        body["alarm_overview"] = overview.to_dict()
        if overview.warning:
            body["warnings"] = [*body.get("warnings", []), overview.warning]
    if settings_in_memory(runtime) and request.action == "plan":
        body.setdefault("warnings", []).append(
            "no state table (AZEVAC_TABLE): AZs evacuated by azevac are not counted in this plan"
        )
    return body, _hints(runtime, body, show, body_started)


def _hints(runtime: Runtime, body: dict[str, Any], show: bool, started: datetime | None) -> Hints:
    if not show:  # --json: the answer as it is, no extra reads
        return Hints()
    subnets = reads.subnet_azs(runtime.clients, render.subnets_in(body))
    return Hints(subnet_azs=dict(subnets), run_started=started)


def settings_in_memory(runtime: Runtime) -> bool:
    return runtime.settings.table is None


def _az_id(runtime: Runtime, az: str) -> str:
    """The AZ ID an operator typed, resolving a zone name with DescribeAvailabilityZones."""
    if _AZ_ID.match(az.strip()):
        return az.strip()
    call = Caller(RetryPolicy(Deadline.within(20.0), max_attempts=4))
    return resolve_az_id(az, Ec2Gateway(runtime.clients, call).availability_zones())


def _confirm(args: argparse.Namespace, overview: AlarmOverview, console: Console) -> None:
    """Another AZ looks impaired: go ahead only with --yes or a typed yes."""
    render.print_lines(console, render.alarm_lines(overview.to_dict()))
    if args.yes:
        return
    if not sys.stdin.isatty():
        raise InvalidRequestError(
            f"not evacuating {overview.az_id}: {overview.warning}. Pass --yes to evacuate anyway"
        )
    console.print(Text(f"Evacuate {overview.az_id} anyway? Type yes to go ahead: ", "bold"), end="")
    reply = sys.stdin.readline().strip().lower()
    if reply not in ("y", "yes"):
        raise InvalidRequestError(f"not evacuating {overview.az_id}: not confirmed")


def _detail(controller: Controller, runtime: Runtime, az: str) -> dict[str, Any]:
    """`status --az`: the AZ's active evacuation (else its latest), with its shifts as ARC has
    them now."""
    az_id = _az_id(runtime, az)
    evacuation = controller.status_of(az_id)
    if evacuation is None:
        evacuation = next((e for e in controller.status() if e.az_id == az_id), None)
    body: dict[str, Any] = {
        "workload": controller.config.workload,
        "az_id": az_id,
        "status": evacuation.status.value if evacuation else "NONE",
        "evacuation": evacuation_dict(evacuation) if evacuation else None,
        "shifts": [],
    }
    if evacuation is not None and evacuation.status.is_active:
        body |= reads.shifts_of(runtime.clients, body["evacuation"])
    return body


def _reconcile(args: argparse.Namespace) -> dict[str, Any]:
    """The scheduled function's own code path (service.on_reconcile): extend, repair, alert."""
    from aws_lambda_powertools import Metrics  # noqa: PLC0415

    from evacuation import service  # noqa: PLC0415

    runtime = _runtime(args)
    controller = runtime.controller()
    body = service.on_reconcile(
        controller,
        notifier=runtime.notifier(),
        metrics=Metrics(namespace="azevac", service="azevac-cli"),
        deadline=Deadline.within(600),
    )
    return {"workload": controller.config.workload, "status": "OK", **body}


def _drill(argv: list[str]) -> int:
    try:
        from evacuation.drill import main as drill_main  # noqa: PLC0415 - needs the embedded AWS
    except ImportError as exc:
        Console(stderr=True).print(Text(f"azevac drill needs the embedded AWS (moto): {exc}"))
        return EXIT_REFUSED
    return drill_main(argv)


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
                console.print(Text(f"{why}: recovering {started.az_id}", "bold"))
            return controller.recover(started.az_id, reason=why)
        time.sleep(PRACTICE_POLL_SECONDS)
    return started


def _human(args: argparse.Namespace, body: dict[str, Any], view: render.View) -> list[Text]:
    view = replace(view, now=datetime.now(UTC))
    if args.action == "reconcile":
        return render.reconcile_lines(body, view)
    if "evacuation" in body:
        return render.detail_lines(body, view)
    if "evacuations" in body:
        return render.status_lines(body, view)
    action = "recover --dry-run" if args.action == "recover" and args.dry_run else args.action
    if args.action == "evacuate" and args.dry_run:
        action = "plan"
    return render.result_lines(action, body, view)


def _exit_code(body: dict[str, Any]) -> int:
    if body.get("status") == "REFUSED":
        return EXIT_REFUSED
    if body.get("status") == "IN_PROGRESS":  # another invocation runs it: nothing done here
        return EXIT_IN_PROGRESS
    steps = [*body.get("steps", []), *(body.get("evacuation") or {}).get("steps", [])]
    for evacuation in body.get("evacuations", []) if "alerts" in body else []:
        steps += evacuation.get("steps", [])
    if any(s.get("outcome") == "failed" for s in steps):
        return EXIT_FAILED
    return EXIT_OK


def _metrics() -> Any:
    """The CLI counts like the functions do (never flushed here: no EMF on a laptop's stdout)."""
    from aws_lambda_powertools import Metrics  # noqa: PLC0415

    return Metrics(namespace="azevac", service="azevac")


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
