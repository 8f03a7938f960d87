"""ARC routing controls through the cluster's data plane (`route53-recovery-cluster`): read and
set a control's state, trying the cluster's Regional endpoints in turn."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from evacuation.aws.clients import AwsClients, Caller
from evacuation.aws.errors import RetryableAwsError, translate

T = TypeVar("T")


@dataclass(frozen=True)
class Endpoint:
    url: str
    region: str


class RoutingControlGateway:
    """Every call tries the endpoints in rotation, starting with the last one that answered:
    "try each endpoint in rotation, as needed, since cluster endpoints are cycled through
    available and unavailable states for regular maintenance and updates"
    (https://docs.aws.amazon.com/r53recovery/latest/dg/routing-control.update.api.html). Only
    when every endpoint failed retryably does `call` retry the rotation, with backoff."""

    def __init__(self, clients: AwsClients, call: Caller) -> None:
        self._clients = clients
        self._call = call
        self._first = 0
        self._lock = threading.Lock()
        self.endpoints: Sequence[Endpoint] = ()

    def use(self, endpoints: Sequence[Endpoint]) -> RoutingControlGateway:
        with self._lock:
            if tuple(endpoints) != tuple(self.endpoints):
                self.endpoints, self._first = tuple(endpoints), 0
        return self

    def get_state(self, arn: str) -> str:
        response = self._rotate(
            "route53-recovery-cluster.GetRoutingControlState",
            lambda client: client.get_routing_control_state(RoutingControlArn=arn),
        )
        return str(response["RoutingControlState"])

    def set_state(self, arn: str, state: str) -> None:
        """UpdateRoutingControlState, never with SafetyRulesToOverride (aws-semantics RC-1): a
        safety rule's refusal is the caller's answer, not something to work around."""
        self._rotate(
            "route53-recovery-cluster.UpdateRoutingControlState",
            lambda client: client.update_routing_control_state(
                RoutingControlArn=arn, RoutingControlState=state
            ),
        )

    def _rotate(self, what: str, op: Callable[[Any], T]) -> T:
        if not self.endpoints:
            raise ValueError("no cluster endpoints configured")

        def rotation() -> T:
            with self._lock:
                first, endpoints = self._first, list(self.endpoints)
            last: RetryableAwsError | None = None
            for step in range(len(endpoints)):
                index = (first + step) % len(endpoints)
                endpoint = endpoints[index]
                client = self._clients.routing_control(endpoint.url, endpoint.region)
                try:
                    result = translate(partial(op, client), what)
                except RetryableAwsError as exc:
                    last = exc
                    continue
                with self._lock:
                    self._first = index
                return result
            raise last or RetryableAwsError(f"{what}: no endpoint answered", "NoEndpoint")

        return self._call(what, rotation)
