"""Faults for the embedded AWS, injected through botocore's event hooks (moto and fakes alike).

A before-call handler that returns a response answers instead of AWS: nothing happened, as with
throttling or a 5xx. An after-call handler runs once the call succeeded: raising there means
"the mutation happened and the process died before it saw the answer".

Register hooks on the boto3 Session before any client is made: botocore copies the session's
event handlers into each new client.
"""

from __future__ import annotations

import random
import threading
from collections import Counter, defaultdict
from collections.abc import Collection
from typing import Any

import boto3

READ_PREFIXES = ("Describe", "List", "Get", "Query", "Scan", "BatchGet")
THROTTLE = ("Throttling", 400)
SERVER_ERROR = ("InternalFailure", 500)


class SimulatedCrash(BaseException):
    """Stops the controller dead, as a killed Lambda would: not an Exception, so no handler
    along the way records it as a step failure."""


def is_mutation(operation: str) -> bool:
    return not operation.startswith(READ_PREFIXES)


class FakeHttp:
    def __init__(self, status: int) -> None:
        self.status_code = status
        self.headers: dict[str, str] = {}
        self.content = b""


def error_response(code: str, status: int, message: str) -> tuple[FakeHttp, dict[str, Any]]:
    """What a before-call hook returns to answer a call with an AWS error instead of AWS."""
    parsed = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return FakeHttp(status), parsed


class RandomFaults:
    """Throttles or fails a seeded share of the calls to `services` while armed.

    At most `max_in_a_row` failures in a row reach one caller (service, operation, thread), so a
    caller with a sane retry budget always gets through: the drill tests convergence under
    faults, not the size of the budget.
    """

    def __init__(
        self,
        services: Collection[str],
        *,
        throttle_rate: float = 0.3,
        error_rate: float = 0.1,
        seed: int = 7,
        max_in_a_row: int = 2,
    ) -> None:
        self.services = frozenset(services)
        self.throttle_rate = throttle_rate
        self.error_rate = error_rate
        self.max_in_a_row = max_in_a_row
        self.armed = False
        self.injected: Counter[str] = Counter()
        """Fault code -> how many were injected."""
        self.calls = 0
        self._random = random.Random(seed)  # noqa: S311 - a drill's dice, not cryptography
        self._in_a_row: defaultdict[tuple[str, str, int], int] = defaultdict(int)
        self._lock = threading.Lock()

    def install(self, session: boto3.Session) -> None:
        session.events.register("before-call.*.*", self._before)

    def _before(self, model: Any, **_: Any) -> Any:
        service = model.service_model.service_name
        if not self.armed or service not in self.services:
            return None
        caller = (service, model.name, threading.get_ident())
        with self._lock:
            self.calls += 1
            roll = self._random.random()
            if self._in_a_row[caller] >= self.max_in_a_row:
                roll = 1.0
            if roll < self.throttle_rate:
                fault = THROTTLE
            elif roll < self.throttle_rate + self.error_rate:
                fault = SERVER_ERROR
            else:
                self._in_a_row[caller] = 0
                return None
            self._in_a_row[caller] += 1
            self.injected[fault[0]] += 1
        code, status = fault
        return error_response(code, status, f"injected by the drill: {code}")

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self.injected.values())


class CrashAfterMutation:
    """While armed, raises SimulatedCrash right after the first successful mutating call to one
    of `services`, then disarms: the change is in AWS, the caller never learns it."""

    def __init__(self, services: Collection[str]) -> None:
        self.services = frozenset(services)
        self.armed = False
        self.crashed_after: str | None = None
        self._lock = threading.Lock()

    def install(self, session: boto3.Session) -> None:
        session.events.register("after-call.*.*", self._after)

    def _after(self, model: Any, http_response: Any, **_: Any) -> None:
        service = model.service_model.service_name
        if service not in self.services or not is_mutation(model.name):
            return
        if http_response.status_code >= 300:
            return
        with self._lock:
            if not self.armed:
                return
            self.armed = False
            self.crashed_after = f"{service}.{model.name}"
        raise SimulatedCrash(f"killed right after {service}.{model.name} succeeded")
