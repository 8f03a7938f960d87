"""Inject AWS faults through botocore's event hooks, so they hit moto and the fakes alike.

before-call can answer instead of AWS (throttling, 5xx, access denied, timeouts: nothing happened);
after-call runs once the call succeeded, so raising there is "the mutation happened, the response
was lost". A rule fires for the n-th matching calls given in its schedule.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import boto3
from botocore.exceptions import ReadTimeoutError


class Fault(Enum):
    THROTTLE = ("Throttling", 400)
    SERVER_ERROR = ("InternalFailure", 500)
    ACCESS_DENIED = ("AccessDenied", 403)
    TIMEOUT = ("timeout", 0)
    LOST_RESPONSE = ("lost", 0)


class SimulatedCrash(BaseException):
    """Raised to stop the controller dead, as a killed Lambda would (not an Exception)."""


class FakeHttp:
    def __init__(self, status: int) -> None:
        self.status_code = status
        self.headers: dict[str, str] = {}
        self.content = b""


@dataclass
class Rule:
    service: str
    operation: str
    fault: Fault
    calls: frozenset[int]
    """1-based indexes of the matching calls that fail."""


@dataclass
class FaultInjector:
    rules: list[Rule] = field(default_factory=list)
    crash_after_mutation: int | None = None
    """Crash once this many mutating calls have succeeded (the last one's response is lost)."""
    crash_before_mutation: int | None = None
    """Crash just before this (1-based) mutating call is sent."""
    _seen: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    _mutations: int = 0
    _started: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    injected: list[tuple[str, str, Fault]] = field(default_factory=list)

    def add(self, service: str, operation: str, fault: Fault, *calls: int) -> FaultInjector:
        self.rules.append(Rule(service, operation, fault, frozenset(calls or (1,))))
        return self

    def reset(self) -> None:
        """Forget the calls seen so far (the ones that built the world)."""
        with self._lock:
            self._seen.clear()
            self._mutations = 0
            self._started = 0

    def install(self, session: boto3.Session) -> None:
        session.events.register("before-call.*.*", self._before)
        session.events.register("after-call.*.*", self._after)

    def _before(self, model: Any, **_: Any) -> Any:
        key = (model.service_model.service_name, model.name)
        with self._lock:
            self._seen[key] += 1
            count = self._seen[key]
            if _mutating(model.name):
                # Counted at the start: data-plane lanes run concurrently, so "the n-th
                # mutation" is the n-th to be sent, not the n-th to complete.
                self._started += 1
                if self._started == self.crash_before_mutation:
                    raise SimulatedCrash(f"before {key}")
            for rule in self.rules:
                if (rule.service, rule.operation) == key and count in rule.calls:
                    self.injected.append((*key, rule.fault))
                    return self._answer(rule.fault, key)
        return None

    def _after(self, model: Any, http_response: Any, **_: Any) -> None:
        if not _mutating(model.name) or http_response.status_code >= 300:
            return
        with self._lock:
            self._mutations += 1
            if self.crash_after_mutation == self._mutations:
                raise SimulatedCrash(f"after {model.service_model.service_name}.{model.name}")

    @staticmethod
    def _answer(fault: Fault, key: tuple[str, str]) -> Any:
        if fault is Fault.TIMEOUT:
            raise ReadTimeoutError(endpoint_url=f"https://{key[0]}.example")
        code, status = fault.value
        parsed = {
            "Error": {"Code": code, "Message": f"injected {code}"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }
        return FakeHttp(status), parsed


def _mutating(operation: str) -> bool:
    return not operation.startswith(("Describe", "List", "Get", "Query", "Scan", "BatchGet"))
