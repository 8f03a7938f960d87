"""Inject AWS faults through botocore's event hooks, so they hit moto and the fakes alike.

before-call can answer instead of AWS (throttling, 5xx, access denied, timeouts: nothing
happened); after-call runs once the call succeeded, so raising there is "the mutation happened,
the response was lost" (LOST_RESPONSE) or "the process died" (crash_after_mutation).

Faults come from explicit rules (`add`: the n-th call of an operation) or from a seeded random
schedule (`randomize`): the decision for a call depends only on (seed, service, operation, call
index), so a failing case replays exactly from its seed whatever the thread interleaving.
"""

from __future__ import annotations

import random
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import boto3
from botocore.exceptions import ReadTimeoutError

from evacuation.emulator.faults import SimulatedCrash, error_response, is_mutation

__all__ = ["Fault", "FaultInjector", "SimulatedCrash"]


class Fault(Enum):
    THROTTLE = ("Throttling", 400)
    SERVER_ERROR = ("InternalFailure", 500)
    ACCESS_DENIED = ("AccessDenied", 403)
    TIMEOUT = ("timeout", 0)
    LOST_RESPONSE = ("lost", 0)
    LATENCY = ("latency", 0)


RETRYABLE = (Fault.THROTTLE, Fault.SERVER_ERROR, Fault.TIMEOUT, Fault.LOST_RESPONSE)


@dataclass
class Rule:
    service: str
    operation: str
    fault: Fault
    calls: frozenset[int]
    """1-based indexes of the matching calls that fail."""
    latency: float = 0.0


@dataclass
class RandomSchedule:
    seed: int
    rate: float
    faults: tuple[Fault, ...]
    services: frozenset[str]
    max_in_a_row: int
    mutations_only: bool = False

    def fault_for(self, service: str, operation: str, index: int) -> Fault | None:
        if service not in self.services or (self.mutations_only and not is_mutation(operation)):
            return None
        if self.max_in_a_row and all(
            self._rolls(service, operation, index - k) is not None
            for k in range(1, self.max_in_a_row + 1)
        ):
            return None  # the caller's retry budget always gets through
        return self._rolls(service, operation, index)

    def _rolls(self, service: str, operation: str, index: int) -> Fault | None:
        if index < 1:
            return None
        dice = random.Random(f"{self.seed}:{service}:{operation}:{index}")
        if dice.random() >= self.rate:
            return None
        fault = dice.choice(self.faults)
        if fault is Fault.LOST_RESPONSE and not is_mutation(operation):
            return Fault.TIMEOUT
        return fault


@dataclass
class FaultInjector:
    rules: list[Rule] = field(default_factory=list)
    schedule: RandomSchedule | None = None
    crash_after_mutation: int | None = None
    """Crash once this many mutating calls have succeeded (the last one's response is lost)."""
    crash_before_mutation: int | None = None
    """Crash just before this (1-based) mutating call is sent."""
    crash_at_call: tuple[str, str, str, int] | None = None
    """(when, service, operation, n): crash "before" the n-th call of that operation is sent, or
    "after" its n-th successful response. Unlike the global counts above, this names the call
    whatever order concurrent lanes send theirs in."""
    injected: list[tuple[str, str, Fault]] = field(default_factory=list)
    _seen: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    _mutations: int = 0
    _streaks: dict[tuple[int, str, str], int] = field(default_factory=lambda: defaultdict(int))
    _started: int = 0
    _succeeded: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _current: threading.local = field(default_factory=threading.local)

    def add(
        self, service: str, operation: str, fault: Fault, *calls: int, latency: float = 0.0
    ) -> FaultInjector:
        self.rules.append(Rule(service, operation, fault, frozenset(calls or (1,)), latency))
        return self

    def randomize(
        self,
        seed: int,
        *,
        rate: float = 0.3,
        faults: tuple[Fault, ...] = RETRYABLE,
        services: tuple[str, ...] = ("arc-zonal-shift", "route53", "autoscaling", "ec2"),
        max_in_a_row: int = 3,
        mutations_only: bool = False,
    ) -> FaultInjector:
        self.schedule = RandomSchedule(
            seed, rate, faults, frozenset(services), max_in_a_row, mutations_only
        )
        return self

    def reset(self) -> None:
        """Forget the calls seen so far (the ones that built the world)."""
        with self._lock:
            self._seen.clear()
            self._streaks.clear()
            self._mutations = 0
            self._started = 0
            self._succeeded.clear()
            self.injected.clear()

    def clear(self) -> None:
        """No faults at all from now on."""
        with self._lock:
            self.rules.clear()
            self.schedule = None
            self.crash_after_mutation = None
            self.crash_before_mutation = None
            self.crash_at_call = None
        self.reset()

    def install(self, session: boto3.Session) -> None:
        session.events.register("before-call.*.*", self._before)
        session.events.register("after-call.*.*", self._after)

    def _before(self, model: Any, **_: Any) -> Any:
        key = (model.service_model.service_name, model.name)
        with self._lock:
            self._seen[key] += 1
            count = self._seen[key]
            if is_mutation(model.name):
                # Counted at the start: data-plane lanes run concurrently, so "the n-th
                # mutation" is the n-th to be sent, not the n-th to complete.
                self._started += 1
                if self._started == self.crash_before_mutation:
                    raise SimulatedCrash(f"before {key}")
            if self.crash_at_call == ("before", *key, count):
                raise SimulatedCrash(f"before {key[0]}.{key[1]}")
            fault, latency = self._fault_for(key, count)
            fault = self._within_budget(key, fault)
            self._current.call = (key, fault)
            if fault is not None and fault not in (Fault.LOST_RESPONSE, Fault.LATENCY):
                self.injected.append((*key, fault))
        if latency:
            time.sleep(latency)
        if fault is None or fault in (Fault.LOST_RESPONSE, Fault.LATENCY):
            return None
        return self._answer(fault, key)

    def _fault_for(self, key: tuple[str, str], count: int) -> tuple[Fault | None, float]:
        for rule in self.rules:
            if (rule.service, rule.operation) == key and count in rule.calls:
                return rule.fault, rule.latency
        if self.schedule is not None:
            return self.schedule.fault_for(*key, count), 0.0
        return None, 0.0

    def _within_budget(self, key: tuple[str, str], fault: Fault | None) -> Fault | None:
        """A random schedule never fails one caller's call more than `max_in_a_row` times in a
        row. The schedule's own guard counts by call index, which concurrent callers of the same
        operation interleave; a retry loop runs in one thread, so count per thread too."""
        if self.schedule is None or not self.schedule.max_in_a_row or fault is Fault.LATENCY:
            return fault
        streak = (threading.get_ident(), *key)
        if fault is not None and self._streaks[streak] >= self.schedule.max_in_a_row:
            fault = None
        self._streaks[streak] = self._streaks[streak] + 1 if fault is not None else 0
        return fault

    def _after(self, model: Any, http_response: Any, **_: Any) -> None:
        if http_response.status_code >= 300:
            return
        key, fault = getattr(self._current, "call", (None, None))
        with self._lock:
            lost = key is not None and fault is Fault.LOST_RESPONSE
            if lost:
                self.injected.append((*key, Fault.LOST_RESPONSE))
            crash = False
            if is_mutation(model.name):
                self._mutations += 1
                crash = self.crash_after_mutation == self._mutations
            called = (model.service_model.service_name, model.name)
            self._succeeded[called] += 1
            crash = crash or self.crash_at_call == ("after", *called, self._succeeded[called])
        if crash:
            raise SimulatedCrash(f"after {model.service_model.service_name}.{model.name}")
        if lost:
            raise ReadTimeoutError(endpoint_url=f"https://{key[0]}.example (response lost)")

    @staticmethod
    def _answer(fault: Fault, key: tuple[str, str]) -> Any:
        if fault is Fault.TIMEOUT:
            raise ReadTimeoutError(endpoint_url=f"https://{key[0]}.example")
        code, status = fault.value
        return error_response(code, status, f"injected {code}")
