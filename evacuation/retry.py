"""The one place retry policy lives. tenacity, exponential backoff with full jitter, bounded by
attempts and by the caller's deadline. Only `RetryableError` is retried; botocore's own retries are
off (clients are built with total_max_attempts=1) so attempts never multiply."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import structlog
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_before_delay,
    wait_random_exponential,
)

from evacuation.errors import RetryableError

T = TypeVar("T")
log = structlog.get_logger(__name__)


@dataclass
class Deadline:
    """A point on the monotonic clock by which the caller needs an answer."""

    at: float

    @classmethod
    def within(cls, seconds: float, clock: Callable[[], float] = time.monotonic) -> Deadline:
        return cls(clock() + seconds)

    def remaining(self, clock: Callable[[], float] = time.monotonic) -> float:
        return self.at - clock()

    @property
    def passed(self) -> bool:
        return self.remaining() <= 0


@dataclass
class RetryPolicy:
    """Retry settings for one run, plus a thread-safe count of the retries it made."""

    deadline: Deadline
    max_attempts: int = 6
    initial_seconds: float = 0.2
    max_seconds: float = 10.0
    sleep: Callable[[float], None] = time.sleep
    _retries: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def retries(self) -> int:
        return self._retries

    def call(self, fn: Callable[[], T], what: str) -> T:
        """Run `fn`, retrying RetryableError; the last error is raised as it was."""
        retrying = Retrying(
            retry=retry_if_exception_type(RetryableError),
            stop=stop_after_attempt(self.max_attempts)
            | stop_before_delay(max(self.deadline.remaining(), 0.0)),
            wait=wait_random_exponential(multiplier=self.initial_seconds, max=self.max_seconds),
            sleep=self.sleep,
            before_sleep=lambda state: self._count(state, what),
            reraise=True,
        )
        return retrying(fn)

    def _count(self, state: RetryCallState, what: str) -> None:
        with self._lock:
            self._retries += 1
        error = state.outcome.exception() if state.outcome else None
        log.warning(
            "aws.retry",
            call=what,
            attempt=state.attempt_number,
            wait_seconds=round(state.upcoming_sleep, 3),
            error=str(error),
        )
