"""The embedded AWS a drill runs in: moto plus the zonal-shift fake, a workload, the state table,
an SNS topic with an on-call queue, and the real Lambda handlers wired to all of it.

Nothing here reaches a network: fake credentials, no profile, no config file, no custom endpoint.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import threading
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import boto3
import structlog
from moto import mock_aws

from evacuation import runtime
from evacuation.controller import Controller
from evacuation.emulator.autoscaling import AutoScalingModel
from evacuation.emulator.client_cache import cache_clients
from evacuation.emulator.ecs import EcsDeployments
from evacuation.emulator.elasticache import ElastiCacheFake
from evacuation.emulator.faults import CrashAfterMutation, RandomFaults, SimulatedCrash
from evacuation.emulator.rds_instances import RdsInstanceFailover
from evacuation.emulator.route53_strict import Route53Strictness
from evacuation.emulator.routing_control import RoutingControlFake
from evacuation.emulator.table import create_state_table
from evacuation.emulator.world import (
    REGION,
    CallRecorder,
    Dependencies,
    World,
    add_dependencies,
    build_world,
)
from evacuation.emulator.zonal_shift import ZonalShiftFake
from evacuation.executor import StepListener
from evacuation.model import StepRecord
from evacuation.runtime import Runtime
from evacuation.settings import Settings

TABLE = "azevac-drill-state"
TOPIC = "azevac-drill-notifications"
QUEUE = "azevac-drill-oncall"
FUNCTION = "azevac-drill"
ACCOUNT = "123456789012"
AlarmState = Literal["OK", "ALARM", "INSUFFICIENT_DATA"]
WORKLOAD_SERVICES = frozenset({"arc-zonal-shift", "route53", "autoscaling", "elasticloadbalancing"})
"""Where the workload lives: a mutating call to one of these changes the workload."""
FAULTED_SERVICES = frozenset({"arc-zonal-shift", "route53", "autoscaling", "ec2"})
"""Where the throttling scenario injects faults: the calls the controller makes with its retry
policy. The state table, SNS and CloudWatch are left alone (Powertools' own calls do not retry)."""
DATA_PLANE_SERVICES = frozenset({"arc-zonal-shift", "route53"})
FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_LAMBDA_FUNCTION_NAME": FUNCTION,
}
CLEARED_ENV = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)


@dataclass
class DrillContext:
    """The Lambda context object the handlers receive."""

    function_name: str = FUNCTION
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FUNCTION}"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


@dataclass(frozen=True)
class StepEvent:
    """One step record as the controller saved it, during one invocation."""

    invocation: str
    record: StepRecord
    at: datetime


class StepLog:
    """Every step record the controller saves, tagged with the invocation that saved it."""

    def __init__(self, on_event: Callable[[StepEvent], None] | None = None) -> None:
        self.events: list[StepEvent] = []
        self.on_event = on_event
        self._invocation = "-"
        self._lock = threading.Lock()

    def begin(self, invocation: str) -> None:
        with self._lock:
            self._invocation = invocation

    def __call__(self, record: StepRecord) -> None:
        with self._lock:
            event = StepEvent(self._invocation, record, datetime.now(UTC))
            self.events.append(event)
            if self.on_event is not None:
                self.on_event(event)


class DrillRuntime(Runtime):
    """The real Runtime, with every controller it builds reporting its steps to the drill."""

    def __init__(self, settings: Settings, session: boto3.Session, listener: StepListener) -> None:
        super().__init__(settings, session)
        self._listener = listener

    def controller(self, on_step: StepListener | None = None) -> Controller:
        listener = self._listener
        if on_step is None:
            return super().controller(on_step=listener)

        def both(record: StepRecord) -> None:
            on_step(record)
            listener(record)

        return super().controller(on_step=both)


@dataclass
class Invocation:
    """One call of a real handler: what it answered, or that it died."""

    label: str
    answer: dict[str, Any] | None
    crashed: str | None
    started: datetime
    finished: datetime


@dataclass
class Lab:
    session: boto3.Session
    world: World
    recorder: CallRecorder
    faults: RandomFaults
    crash: CrashAfterMutation
    steps: StepLog
    queue_url: str
    config_path: Path
    logs: list[str] = field(default_factory=list)
    """What the handlers wrote to stdout (structured logs, EMF metrics), as CloudWatch Logs would
    keep it."""
    autoscaling: AutoScalingModel | None = None
    """Auto Scaling's placement on moto: instances per AZ (``instances_by_az``)."""
    dependencies: Dependencies | None = None
    """The Aurora cluster, ElastiCache group and routing controls, when the scenario has them."""
    received: list[dict[str, str]] = field(default_factory=list)
    """Every SNS message drained from the on-call queue so far (a scenario may read them before
    the report does)."""

    def alarm_for(self, az_id: str) -> str:
        return next(name for name, az in self.world.alarms.items() if az == az_id)

    def set_alarm(self, az_id: str, state: AlarmState, reason: str) -> dict[str, Any]:
        """Set the AZ's alarm in CloudWatch and return the EventBridge event CloudWatch sends."""
        cloudwatch = self.session.client("cloudwatch", region_name=REGION)
        name = self.alarm_for(az_id)
        previous = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
        cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason=reason)
        alarm = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
        return alarm_state_change_event(alarm, previous)

    def invoke(
        self, label: str, handler: Callable[[Any, Any], dict[str, Any]], event: Any
    ) -> Invocation:
        """Call a real handler as Lambda would; its stdout goes to `logs`, a crash is caught."""
        buffer = io.StringIO()
        self.steps.begin(label)
        started = datetime.now(UTC)
        answer: dict[str, Any] | None = None
        crashed: str | None = None
        try:
            with redirect_stdout(buffer), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                answer = handler(event, DrillContext())
        except SimulatedCrash as crash:
            crashed = str(crash)
        finally:
            self.logs.extend(line for line in buffer.getvalue().splitlines() if line.strip())
            self.steps.begin("-")
        return Invocation(label, answer, crashed, started, datetime.now(UTC))

    def workload_mutations(self) -> list[tuple[str, str]]:
        return [call for call in self.recorder.mutations if call[0] in WORKLOAD_SERVICES]

    def notifications(self) -> list[dict[str, str]]:
        """Drain the on-call queue: the SNS messages a human would have received, every one
        since the drill began (those drained by an earlier call too)."""
        sqs = self.session.client("sqs", region_name=REGION)
        found = self.received
        while True:
            messages = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not messages:
                return list(found)
            for message in messages:
                body = json.loads(message["Body"])
                found.append({"subject": body.get("Subject", ""), "message": body["Message"]})
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])


def alarm_state_change_event(
    alarm: Mapping[str, Any], previous: Mapping[str, Any], event_id: str | None = None
) -> dict[str, Any]:
    """The EventBridge "CloudWatch Alarm State Change" event for an alarm's current state."""
    now = datetime.now(UTC)
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": ACCOUNT,
        "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [alarm["AlarmArn"]],
        "detail": {
            "alarmName": alarm["AlarmName"],
            "state": _state(alarm["StateValue"], alarm.get("StateReason", ""), now),
            "previousState": _state(previous["StateValue"], previous.get("StateReason", ""), now),
            "configuration": {
                "description": alarm.get("AlarmDescription", ""),
                "metrics": [
                    {
                        "id": "m1",
                        "metricStat": {
                            "metric": {
                                "namespace": alarm.get("Namespace", ""),
                                "name": alarm.get("MetricName", ""),
                                "dimensions": {
                                    d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])
                                },
                            },
                            "period": alarm.get("Period", 60),
                            "stat": alarm.get("Statistic", "Sum"),
                        },
                        "returnData": True,
                    }
                ],
            },
        },
    }


def autoshift_event(
    away_from: str, detail_type: str, event_id: str | None = None
) -> dict[str, Any]:
    """The EventBridge event ARC sends when AWS starts ("Autoshift In Progress") or ends
    ("Autoshift Completed") an autoshift, shaped as the ARC developer guide's example
    (https://docs.aws.amazon.com/r53recovery/latest/dg/eventbridge-zonal-autoshift.html)."""
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": "aws.arc-zonal-shift",
        "account": ACCOUNT,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [],
        "detail": {"version": "0.0.1", "data": "", "metadata": {"awayFrom": away_from}},
    }


def _state(value: str, reason: str, at: datetime) -> dict[str, str]:
    stamp = at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}+0000"
    return {"value": value, "reason": reason, "timestamp": stamp}


@contextmanager
def fake_environment(extra: Mapping[str, str] | None = None) -> Iterator[None]:
    """Fake credentials and region for the duration; the caller's environment comes back after."""
    saved = dict(os.environ)
    try:
        for key in [*CLEARED_ENV, *(k for k in os.environ if k.startswith("AWS_ENDPOINT_URL"))]:
            os.environ.pop(key, None)
        os.environ.update(FAKE_ENV)
        os.environ.update(extra or {})
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def embedded_aws(
    on_event: Callable[[StepEvent], None] | None = None, dependencies_in: str | None = None
) -> Iterator[Lab]:
    """Start the embedded AWS, build the workload and install the runtime the handlers use.
    With `dependencies_in` (an AZ ID) the workload also has an Aurora cluster whose writer, and an
    ElastiCache group whose primary, are in that AZ, and a routing control per AZ."""
    logging_config = structlog.get_config()
    with (
        fake_environment(),
        mock_aws(),
        tempfile.TemporaryDirectory(prefix="azevac-drill-") as workdir,
    ):
        session = cache_clients(boto3.Session(region_name=REGION))
        # Hooks first: botocore copies the session's handlers into each client it makes.
        recorder, steps = CallRecorder(), StepLog(on_event)
        faults, crash = RandomFaults(FAULTED_SERVICES), CrashAfterMutation(DATA_PLANE_SERVICES)
        fake = ZonalShiftFake()
        # Route 53 batches as strict as the real API: a stale DELETE fails (compare-and-swap).
        # Auto Scaling places, rebalances and honours zonal shifts as documented.
        autoscaling = AutoScalingModel(fake)
        cache, arc = ElastiCacheFake(), RoutingControlFake()
        # moto models neither a Multi-AZ instance's standby nor an ECS deployment's progress
        rds, ecs = RdsInstanceFailover(), EcsDeployments()
        hooks = (
            recorder,
            faults,
            crash,
            fake,
            Route53Strictness(),
            autoscaling,
            cache,
            arc,
            rds,
            ecs,
        )
        for hook in hooks:
            hook.install(session)
        # The worker group's owners suspended AZRebalance themselves: recover must keep it so.
        world = build_world(session, fake, pre_suspended={"checkout-worker": ["AZRebalance"]})
        dependencies = (
            add_dependencies(session, world, cache, arc, az_id=dependencies_in, rds=rds)
            if dependencies_in is not None
            else None
        )
        create_state_table(session.client("dynamodb", region_name=REGION), TABLE)
        topic_arn, queue_url = _notification_topic(session)
        config_path = Path(workdir) / "azevac.json"
        config_path.write_text(json.dumps(world.config(), indent=2), encoding="utf-8")
        os.environ.update(
            {
                "AZEVAC_CONFIG": str(config_path),
                "AZEVAC_TABLE": TABLE,
                "AZEVAC_TOPIC_ARN": topic_arn,
            }
        )
        runtime.install(DrillRuntime(Settings.from_env(), session, steps))
        recorder.reset()
        try:
            yield Lab(
                session, world, recorder, faults, crash, steps, queue_url, config_path,
                autoscaling=autoscaling, dependencies=dependencies,
            )  # fmt: skip
        finally:
            runtime.install(None)
            structlog.configure(**logging_config)


def _notification_topic(session: boto3.Session) -> tuple[str, str]:
    """An SNS topic with an SQS queue subscribed: the on-call's phone, readable by the drill."""
    sns = session.client("sns", region_name=REGION)
    sqs = session.client("sqs", region_name=REGION)
    topic_arn = sns.create_topic(Name=TOPIC)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return topic_arn, queue_url
