"""Client-side pacing: a burst goes at once, the rest waits its turn at the refill rate."""

from __future__ import annotations

import threading

import pytest

from evacuation.config import DEFAULT_RATE_LIMITS, ExecutionConfig, RateLimit
from evacuation.pacing import Pacer, TokenBucket


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_the_burst_goes_at_once_then_calls_wait_one_refill_each() -> None:
    time = FakeTime()
    bucket = TokenBucket(RateLimit(burst=3, per_second=10), time.clock, time.sleep)

    waits = [bucket.take() for _ in range(5)]

    assert waits[:3] == [0, 0, 0]
    assert waits[3:] == pytest.approx([0.1, 0.1])
    assert time.now == pytest.approx(0.2)


def test_concurrent_callers_queue_behind_each_other() -> None:
    # Reservations: the n-th caller past the burst waits n refills, whoever sleeps first.
    time = FakeTime()
    waits: list[float] = []
    lock = threading.Lock()
    bucket = TokenBucket(RateLimit(burst=2, per_second=4), time.clock, lambda _: None)

    def call() -> None:
        waited = bucket.take()
        with lock:
            waits.append(waited)

    threads = [threading.Thread(target=call) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(waits) == pytest.approx([0, 0, 0.25, 0.5, 0.75, 1.0])


def test_try_take_throttles_instead_of_waiting_and_refills_with_time() -> None:
    time = FakeTime()
    bucket = TokenBucket(RateLimit(burst=2, per_second=10), time.clock, time.sleep)

    assert [bucket.try_take() for _ in range(3)] == [True, True, False]
    time.now += 0.1
    assert bucket.try_take()
    assert not bucket.try_take()
    assert time.slept == []


def test_the_pacer_paces_only_the_services_it_knows() -> None:
    time = FakeTime()
    pacer = Pacer({"route53": RateLimit(burst=1, per_second=2)}, time.clock, time.sleep)

    for _ in range(3):
        pacer.wait("route53")
        pacer.wait("dynamodb")

    assert pacer.waited_seconds == pytest.approx(1.0)


def test_configured_limits_are_merged_over_the_defaults() -> None:
    limits = ExecutionConfig.model_validate(
        {"rate_limits": {"route53": {"burst": 5, "per_second": 1}}}
    ).rate_limits

    assert limits["route53"] == RateLimit(burst=5, per_second=1)
    assert limits["arc-zonal-shift"] == DEFAULT_RATE_LIMITS["arc-zonal-shift"]
