"""AWS's speed and rate limits for the embedded AWS: every call takes `latency` seconds, and a
service with a token bucket answers Throttling (HTTP 400, as Route 53 does) when it is empty.

Installed as botocore hooks, so moto, the zonal-shift fake and a moto server all sit behind it.
It also records, per call, when it was answered: the benchmark's "last mutation acknowledged".
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import boto3

from evacuation.config import RateLimit
from evacuation.emulator.faults import THROTTLE, error_response, is_mutation
from evacuation.pacing import TokenBucket


class SimulatedAws:
    """Per-call latency plus per-service token buckets (account-wide: shared by every client)."""

    def __init__(
        self,
        latency_seconds: float = 0.05,
        limits: Mapping[str, RateLimit] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.latency_seconds = latency_seconds
        self.armed = True
        self._clock = clock
        self._sleep = sleep
        self._buckets = {s: TokenBucket(limit, clock) for s, limit in (limits or {}).items()}
        self._lock = threading.Lock()
        self.calls: Counter[tuple[str, str]] = Counter()
        self.throttled: Counter[str] = Counter()
        self.last_mutation_at: dict[str, float] = {}
        """Service -> when its last successful mutating call was answered (monotonic clock)."""
        self.timeline: list[tuple[float, str, str]] = []
        """(sent at, service, operation) of every call, in order."""

    def install(self, session: boto3.Session) -> None:
        # First: the latency and the throttle come before moto or a fake answers.
        session.events.register_first("before-call.*.*", self._before)
        session.events.register("after-call.*.*", self._after)

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.throttled.clear()
            self.timeline.clear()
            self.last_mutation_at.clear()

    def _before(self, model: Any, **_: Any) -> Any:
        if not self.armed:
            return None
        service = model.service_model.service_name
        bucket = self._buckets.get(service)
        allowed = bucket is None or bucket.try_take()
        with self._lock:
            self.calls[(service, model.name)] += 1
            self.timeline.append((self._clock(), service, model.name))
            if not allowed:
                self.throttled[service] += 1
        self._sleep(self.latency_seconds)
        if allowed:
            return None
        return error_response(*THROTTLE, "Rate exceeded")

    def _after(self, model: Any, http_response: Any, **_: Any) -> None:
        if not self.armed or not is_mutation(model.name) or http_response.status_code >= 300:
            return
        with self._lock:
            self.last_mutation_at[model.service_model.service_name] = self._clock()

    def reads_and_mutations(self, services: frozenset[str] | None = None) -> tuple[int, int]:
        """Calls made (throttled ones included), split into reads and mutations."""
        with self._lock:
            calls = [(k, n) for k, n in self.calls.items() if services is None or k[0] in services]
        mutations = sum(n for (_, operation), n in calls if is_mutation(operation))
        return sum(n for _, n in calls) - mutations, mutations
