"""Client-side pacing: a token bucket per AWS service, sized like the service's own, so a burst
of calls waits its turn instead of turning into a storm of throttling errors and backoffs.

tenacity retries after a throttle; it cannot keep the throttle from happening. The buckets are
small and injectable (clock, sleep), so they are written here rather than pulled in.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

from evacuation.config import RateLimit


class TokenBucket:
    """A thread-safe token bucket. `take` waits for a token (first come, first served);
    `try_take` answers at once, as a service that throttles does."""

    def __init__(
        self,
        limit: RateLimit,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limit = limit
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(limit.burst)
        self._at = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(
            float(self.limit.burst), self._tokens + (now - self._at) * self.limit.per_second
        )
        self._at = now

    def take(self) -> float:
        """Take a token, waiting for it if need be; returns the seconds waited."""
        with self._lock:
            self._refill()
            self._tokens -= 1  # a reservation: later callers queue behind this one
            wait = max(0.0, -self._tokens / self.limit.per_second)
        if wait:
            self._sleep(wait)
        return wait

    def try_take(self) -> bool:
        """Take a token if one is there now."""
        with self._lock:
            self._refill()
            if self._tokens < 1:
                return False
            self._tokens -= 1
            return True


class Pacer:
    """One bucket per service; services without a limit are not paced."""

    def __init__(
        self,
        limits: Mapping[str, RateLimit],
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._buckets = {name: TokenBucket(limit, clock, sleep) for name, limit in limits.items()}
        self._waited = 0.0
        self._lock = threading.Lock()

    def wait(self, service: str) -> None:
        """Block until `service` may be called."""
        bucket = self._buckets.get(service)
        if bucket is None:
            return
        waited = bucket.take()
        if waited:
            with self._lock:
                self._waited += waited

    @property
    def waited_seconds(self) -> float:
        """Total time callers spent waiting for tokens (summed over threads)."""
        with self._lock:
            return self._waited
