"""`azevac sandbox` / `make sandbox`: an embedded AWS to rehearse an incident on, until stopped.

The same emulator the tests and the drill use (moto plus azevac's zonal-shift fake behind one
local endpoint, :class:`~evacuation.emulator.server.EmbeddedAwsServer`), with the drill's
three-AZ workload, the state table built from the template's definition, and an SNS topic. It
prints the environment that points any `azevac` command (or the AWS CLI) at it:

    azevac sandbox                       # prints `export ...` lines, then runs until Ctrl-C
    eval "$(azevac sandbox --print-env --port 4599)"   # in another shell, same port

Faults on command, from the sandbox's own prompt or from any shell with the environment set:

    azevac sandbox inject throttling --rate 0.3   # ARC, Route 53, Auto Scaling, EC2 throttle
    azevac sandbox inject alarm --az use1-az2     # that AZ's alarm goes to ALARM
    azevac sandbox inject autoshift --az use1-az3 # AWS autoshifts the load balancer away
    azevac sandbox inject clear                   # no throttling, alarms OK, autoshifts ended
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import signal
import sys
import tempfile
import threading
import urllib.request
import uuid
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

CONTROL_PATH = "/azevac-sandbox/"
TABLE = "azevac-sandbox-state"
TOPIC = "azevac-sandbox-notifications"
REGION = "us-east-1"
THROTTLED_SERVICES = frozenset({"arc-zonal-shift", "route53", "autoscaling", "ec2"})
FAULTS = ("throttling", "alarm", "autoshift", "clear", "state")
SANDBOX_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "sandbox",
    "AWS_SECRET_ACCESS_KEY": "sandbox",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
}
"""Never real credentials: the sandbox accepts any, and nothing should sign with yours."""


def _throttle_response(service: str) -> tuple[int, list[tuple[str, str]], bytes]:
    """A throttling error in the service's own protocol, as botocore parses it."""
    request_id = str(uuid.uuid4())
    if service == "arc-zonal-shift":  # rest-json
        body = json.dumps({"message": "Rate exceeded (sandbox)"}).encode()
        headers = [
            ("Content-Type", "application/json"),
            ("x-amzn-ErrorType", "ThrottlingException"),
        ]
        return 429, headers, body
    if service == "ec2":
        xml = (
            "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit "
            f"exceeded (sandbox)</Message></Error></Errors><RequestID>{request_id}</RequestID>"
            "</Response>"
        )
        return 503, [("Content-Type", "text/xml")], xml.encode()
    xml = (  # route53 (rest-xml) and autoscaling (query) share this shape
        "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded "
        f"(sandbox)</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return 400, [("Content-Type", "text/xml")], xml.encode()


class Sandbox:
    """The embedded AWS, the workload on it, and the faults an operator turns on and off."""

    def __init__(self, port: int = 0, seed: int = 7) -> None:
        from evacuation.emulator.server import EmbeddedAwsServer  # noqa: PLC0415

        self.server = EmbeddedAwsServer(port=port)
        self.throttle_rate = 0.0
        self.injected: Counter[str] = Counter()
        self._random = random.Random(seed)  # noqa: S311 - a rehearsal's dice
        self._in_a_row: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()
        self.world: Any = None
        self.env: dict[str, str] = {}
        self.workdir = Path(tempfile.mkdtemp(prefix="azevac-sandbox-"))

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Sandbox:
        import boto3  # noqa: PLC0415

        from evacuation.emulator.table import create_state_table  # noqa: PLC0415
        from evacuation.emulator.world import build_world  # noqa: PLC0415

        self.server.interceptors += [self._control, self._throttle]
        self.server.start()
        os.environ.update(SANDBOX_CREDENTIALS)
        os.environ["AWS_ENDPOINT_URL"] = self.server.endpoint
        for key in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
            os.environ.pop(key, None)
        session = boto3.Session(region_name=REGION)
        self.world = build_world(
            session, self.server.fake, pre_suspended={"checkout-worker": ["AZRebalance"]}
        )
        create_state_table(session.client("dynamodb"), TABLE)
        topic = session.client("sns").create_topic(Name=TOPIC)["TopicArn"]
        config = self.world.config()
        # A person types these commands: poll and back off at a human pace, not a test's.
        config["execution"] = {"verify_interval_seconds": 0.2, "backoff_initial_seconds": 0.1}
        config_path = self.workdir / "azevac.json"
        config_path.write_text(json.dumps(config, indent=2), encoding="utf-8")
        self.env = {
            **SANDBOX_CREDENTIALS,
            "AWS_ENDPOINT_URL": self.server.endpoint,
            "AZEVAC_CONFIG": str(config_path),
            "AZEVAC_TABLE": TABLE,
            "AZEVAC_TOPIC_ARN": topic,
        }
        (self.workdir / "env.sh").write_text(self.exports(), encoding="utf-8")
        return self

    def stop(self) -> None:
        self.server.stop()

    def exports(self) -> str:
        lines = [f"export {k}={shlex.quote(v)}" for k, v in self.env.items()]
        lines.append("unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN")
        return "\n".join(lines) + "\n"

    # -- faults ----------------------------------------------------------------------------

    def inject(self, fault: str, az: str | None = None, rate: float = 0.3) -> str:
        """Turn a fault on (or `clear` them all); a sentence saying what changed."""
        if fault == "throttling":
            self.throttle_rate = max(0.0, min(rate, 0.9))
            return f"throttling {self.throttle_rate:.0%} of ARC, Route 53, Auto Scaling, EC2 calls"
        if fault == "alarm":
            name = self._alarm_of(az)
            self._cloudwatch().set_alarm_state(
                AlarmName=name, StateValue="ALARM", StateReason=f"sandbox: gray failure in {az}"
            )
            return f"alarm {name} is in ALARM"
        if fault == "autoshift":
            if az is None:
                raise ValueError("autoshift needs --az")
            self.server.fake.start_autoshift(self.world.load_balancer_arn, az)
            return f"AWS autoshift away from {az} on {self.world.load_balancer_arn}"
        if fault == "clear":
            self.throttle_rate = 0.0
            for name in self.world.alarms:
                self._cloudwatch().set_alarm_state(
                    AlarmName=name, StateValue="OK", StateReason="sandbox: cleared"
                )
            if self.server.fake.autoshifts(self.world.load_balancer_arn):
                self.server.fake.end_autoshift(self.world.load_balancer_arn)
            return "no throttling, every alarm OK, autoshifts ended"
        if fault == "state":
            return json.dumps(self.state())
        raise ValueError(f"unknown fault {fault!r}; one of {', '.join(FAULTS)}")

    def state(self) -> dict[str, Any]:
        from evacuation.emulator.world import snapshot  # noqa: PLC0415

        shot = snapshot(self.world)
        shot["shifts"] = [list(s) for s in shot["shifts"]]
        return {**shot, "throttle_rate": self.throttle_rate, "injected": dict(self.injected)}

    def _alarm_of(self, az: str | None) -> str:
        for name, az_id in self.world.alarms.items():
            if az_id == az:
                return str(name)
        raise ValueError(f"no alarm for {az!r}; the AZs are {', '.join(self.world.az_ids)}")

    def _cloudwatch(self) -> Any:
        return self.world.session.client("cloudwatch", region_name=REGION)

    # -- the server's interceptors ---------------------------------------------------------

    def _throttle(
        self, environ: dict[str, Any], service: str | None
    ) -> tuple[int, list[tuple[str, str]], bytes] | None:
        if service not in THROTTLED_SERVICES or self.throttle_rate <= 0:
            return None
        key = (service, environ.get("HTTP_X_AMZ_TARGET") or environ.get("PATH_INFO", ""))
        with self._lock:
            # At most two in a row per caller and operation: a sane retry budget gets through.
            if self._in_a_row[key] >= 2 or self._random.random() >= self.throttle_rate:
                self._in_a_row[key] = 0
                return None
            self._in_a_row[key] += 1
            self.injected[service] += 1
        return _throttle_response(service)

    def _control(
        self, environ: dict[str, Any], _service: str | None
    ) -> tuple[int, list[tuple[str, str]], bytes] | None:
        if not environ.get("PATH_INFO", "").startswith(CONTROL_PATH):
            return None
        length = int(environ.get("CONTENT_LENGTH") or 0)
        try:
            request = json.loads(environ["wsgi.input"].read(length) or b"{}")
            said = self.inject(
                str(request.get("fault")), request.get("az"), request.get("rate", 0.3)
            )
        except Exception as exc:  # noqa: BLE001 - the operator's typo goes back as the answer
            return (
                400,
                [("Content-Type", "application/json")],
                json.dumps({"error": str(exc)}).encode(),
            )
        return 200, [("Content-Type", "application/json")], json.dumps({"ok": said}).encode()


# -- command line ---------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="azevac sandbox",
        description="An embedded AWS with the drill's workload, to rehearse azevac on; runs "
        "until stopped. `azevac sandbox inject ...` turns faults on and off.",
    )
    parser.add_argument("--port", type=int, default=0, help="endpoint port (default: any free)")
    parser.add_argument("--json", action="store_true", help="print the environment as JSON")
    sub = parser.add_subparsers(dest="command")
    inject = sub.add_parser("inject", help="turn a fault on in a running sandbox")
    inject.add_argument("fault", choices=FAULTS)
    inject.add_argument("--az", help="the AZ ID the fault is about (alarm, autoshift)")
    inject.add_argument("--rate", type=float, default=0.3, help="throttling: share of calls")
    inject.add_argument(
        "--endpoint", default=os.environ.get("AWS_ENDPOINT_URL"), help="the sandbox's endpoint"
    )
    return parser


def send(endpoint: str, fault: str, az: str | None = None, rate: float = 0.3) -> dict[str, Any]:
    """Ask a running sandbox to inject a fault; its answer."""
    body = json.dumps({"fault": fault, "az": az, "rate": rate}).encode()
    request = urllib.request.Request(  # noqa: S310 - the sandbox's own local endpoint
        f"{endpoint.rstrip('/')}{CONTROL_PATH}inject", data=body, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            answer: dict[str, Any] = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        answer = json.loads(exc.read() or b"{}")
    return answer


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "inject":
        if not args.endpoint:
            sys.stderr.write("azevac sandbox inject: no endpoint (set AWS_ENDPOINT_URL)\n")
            return 2
        try:
            answer = send(args.endpoint, args.fault, args.az, args.rate)
        except OSError as exc:
            sys.stderr.write(f"azevac sandbox inject: no sandbox at {args.endpoint}: {exc}\n")
            return 2
        if "error" in answer:
            sys.stderr.write(f"azevac sandbox inject: {answer['error']}\n")
            return 2
        sys.stdout.write(f"{answer['ok']}\n")
        return 0
    return serve(args)


def serve(args: argparse.Namespace) -> int:
    try:
        sandbox = Sandbox(port=args.port).start()
    except ImportError as exc:
        sys.stderr.write(f"azevac sandbox needs the embedded AWS (moto[server]): {exc}\n")
        return 2
    except OSError as exc:
        sys.stderr.write(f"azevac sandbox: cannot listen on port {args.port}: {exc}\n")
        return 2
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    out = sys.stdout
    if args.json:
        out.write(json.dumps({"schema_version": 1, "env": sandbox.env}) + "\n")
    else:
        out.write(
            "# azevac sandbox: an embedded AWS with a three-AZ workload (checkout). Point any\n"
            "# shell at it with the lines below, or: source "
            + str(sandbox.workdir / "env.sh")
            + "\n"
        )
        out.write(sandbox.exports())
        azs = sandbox.world.az_ids
        out.write(
            f"# AZs {', '.join(azs)}. Faults: type `throttling 0.3`, `alarm {azs[0]}`,\n"
            f"# `autoshift {azs[-1]}`, `clear`, `state` here, or run `azevac sandbox inject ...`\n"
            "# in that shell. Ctrl-C stops.\n"
        )
    out.flush()
    # The prompt reads stdin in a thread of its own: the main thread stays free for Ctrl-C and
    # SIGTERM whether stdin is a terminal, a pipe left open, or closed.
    threading.Thread(target=_prompt, args=(sandbox, stopped), daemon=True).start()
    try:
        while not stopped.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
        sys.stderr.write("azevac sandbox: stopped\n")
    return 0


def _prompt(sandbox: Sandbox, stopped: threading.Event) -> None:
    """Read fault commands from stdin until it ends (then the sandbox runs on until stopped)."""
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] in ("quit", "exit", "stop"):
            stopped.set()
            return
        fault, rest = words[0], words[1:]
        try:
            if fault == "throttling":
                said = sandbox.inject(fault, rate=float(rest[0]) if rest else 0.3)
            else:
                said = sandbox.inject(fault, rest[0] if rest else None)
        except (ValueError, KeyError) as exc:
            said = f"error: {exc}"
        sys.stdout.write(f"sandbox: {said}\n")
        sys.stdout.flush()
