"""What a Lambda entry point needs, built once per container and reused across invocations."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import boto3
import structlog
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from evacuation import logs
from evacuation.alarms import FunctionIdentity, arn_account_region
from evacuation.aws.clients import AwsClients, Caller
from evacuation.aws.cloudwatch import CloudWatchGateway
from evacuation.aws.s3 import ObjectReader
from evacuation.aws.ssm import ParameterReader
from evacuation.aws.zonal_shift import Autoshift, ZonalShiftGateway
from evacuation.controller import Controller
from evacuation.executor import StepListener
from evacuation.metrics import count
from evacuation.notify import Notifier
from evacuation.retry import Deadline, RetryPolicy
from evacuation.settings import Settings, load, state_store
from evacuation.state import StateStore

DEADLINE_MARGIN_SECONDS = 15.0
log = structlog.get_logger(__name__)


class LambdaContext(Protocol):
    aws_request_id: str

    def get_remaining_time_in_millis(self) -> int: ...


class Runtime:
    """Settings, clients and the state store of this process; the config is re-read per
    invocation (SSM values are cached for a few seconds) so an edit takes effect at once."""

    def __init__(self, settings: Settings, session: boto3.Session | None = None) -> None:
        self.settings = settings
        self._session = session
        self.clients = AwsClients(session)
        self._store: StateStore | None = None
        self._lock = threading.Lock()
        # Kept across invocations: their caches are what "cached for a few seconds" means.
        self._read_parameter = ParameterReader(self.clients)
        self._read_object = ObjectReader(self.clients)

    def controller(self, on_step: StepListener | None = None) -> Controller:
        config = load(self.settings, self.clients, self._read_parameter, self._read_object)
        with self._lock:
            if config.region and config.region != self.clients.configured_region:
                # The config names its region: every client (and the store) uses it.
                self.clients = AwsClients(self._session, region=config.region)
                self._store = None
            clients = self.clients
            if self._store is None:
                self._store = state_store(self.settings, clients)
        return Controller(
            config, clients, self._store, on_step=on_step, read_parameter=self._read_parameter
        )

    def alarm_states(self, names: Iterable[str]) -> Mapping[str, str]:
        """The alarms' current states from CloudWatch (DescribeAlarms), retried briefly."""
        call = Caller(RetryPolicy(Deadline.within(20.0), max_attempts=3))
        return CloudWatchGateway(self.clients, call).alarm_states(names)

    def active_autoshifts(self) -> Sequence[Autoshift]:
        """AWS's autoshifts in progress in this region (ListAutoshifts, ACTIVE), retried
        briefly: what an autoshift event is checked against."""
        call = Caller(RetryPolicy(Deadline.within(20.0), max_attempts=3))
        return ZonalShiftGateway(self.clients, call).active_autoshifts()

    def identity(self, context: Any) -> FunctionIdentity:
        """This function's account and region: from the context's invoked_function_arn (no extra
        call), the region as the clients use it (AWS_REGION in Lambda)."""
        account, arn_region = arn_account_region(getattr(context, "invoked_function_arn", None))
        try:
            region: str | None = self.clients.region
        except Exception:  # noqa: BLE001 - no region configured: fall back to the ARN's
            region = None
        if region in (None, "None"):
            region = arn_region
        return FunctionIdentity(account=account, region=region)

    def notifier(self) -> Notifier:
        return Notifier(self.clients, self.settings.topic_arn)

    def idempotency_layer(self) -> DynamoDBPersistenceLayer | None:
        """Powertools idempotency records live in the state table (pk/sk/expires_at)."""
        if self.settings.table is None:
            return None
        return DynamoDBPersistenceLayer(
            table_name=self.settings.table,
            key_attr="pk",
            sort_key_attr="sk",
            expiry_attr="expires_at",
            boto3_client=self.clients.dynamodb(),
        )


_current: Runtime | None = None
_current_lock = threading.Lock()


def current() -> Runtime:
    """This process's runtime, built from the environment on first use."""
    global _current  # noqa: PLW0603 - one runtime per Lambda container, built lazily
    with _current_lock:
        if _current is None:
            _current = Runtime(Settings.from_env())
        return _current


def install(runtime: Runtime | None) -> None:
    """Use this runtime from now on (tests and the drill point it at the embedded AWS)."""
    global _current  # noqa: PLW0603
    with _current_lock:
        _current = runtime


@contextmanager
def invocation(handler: str, context: Any) -> Iterator[Runtime]:
    """`begin_invocation`, and every exception that escapes the handler pages a human (then
    propagates: Lambda counts the error, and the async retries and the failed-invocations queue
    still see it). Bad input included: a forged or broken request is news to on-call too."""
    request_id = getattr(context, "aws_request_id", None)
    runtime: Runtime | None = None
    try:
        runtime = begin_invocation(handler, context)
        yield runtime
    except Exception as exc:
        log.error("handler.failed", handler=handler, error=str(exc), exc_info=exc)
        count("HandlerFailures")
        if runtime is not None:
            notifier = runtime.notifier()
        else:  # the environment itself is broken: the topic is all it takes to page
            notifier = Notifier(AwsClients(), os.environ.get("AZEVAC_TOPIC_ARN") or None)
        notifier.failure(handler, exc, request_id)
        raise


def begin_invocation(handler: str, context: Any) -> Runtime:
    """What every handler does first: JSON logs, this invocation's log fields, the runtime."""
    logs.configure()
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(
        handler=handler, request_id=getattr(context, "aws_request_id", None)
    )
    return current()


def deadline_for(context: Any) -> Deadline:
    """The Lambda's remaining time minus a margin to record the outcome and answer."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return Deadline.within(600.0)
    return Deadline.within(max(remaining() / 1000 - DEADLINE_MARGIN_SECONDS, 1.0))
