"""Coalesced reads: concurrent readers share calls, and no reader is answered by a call that
started before it asked."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

import pytest

from evacuation.aws.coalesce import Coalescer


class Store:
    """A keyed store whose fetch blocks until released, so a test controls what is in flight."""

    def __init__(self) -> None:
        self.values = {f"g{i}": 0 for i in range(100)}
        self.calls: list[list[str]] = []
        self.entered = threading.Semaphore(0)
        self.release = threading.Event()
        self.fail: Exception | None = None

    def fetch(self, keys: list[str]) -> Mapping[str, int]:
        self.calls.append(keys)
        seen = {k: self.values[k] for k in keys if k in self.values}  # AWS answers as of now
        self.entered.release()
        assert self.release.wait(5), "the test never released the fetch"
        if self.fail is not None:
            raise self.fail
        return seen


def test_readers_who_ask_during_a_call_share_the_next_one() -> None:
    store = Store()
    reads = Coalescer(store.fetch, max_keys=50)
    with ThreadPoolExecutor(8) as pool:
        first = pool.submit(reads.read, ["g0"])
        assert store.entered.acquire(timeout=5)  # g0's call is in flight
        others = [pool.submit(reads.read, [f"g{i}", "missing"]) for i in range(1, 8)]
        while len(reads._queue) < 7:  # all seven queued behind it
            threading.Event().wait(0.001)
        store.release.set()
        answers = [first.result(5), *(f.result(5) for f in others)]

    assert answers == [{"g0": 0}, *({f"g{i}": 0} for i in range(1, 8))]
    assert len(store.calls) == 2
    assert sorted(store.calls[1]) == sorted([*(f"g{i}" for i in range(1, 8)), "missing"])


def test_a_call_in_flight_never_answers_a_reader_who_asked_after_it_started() -> None:
    # a read-back after a write must see the write: the call that answers it starts after it
    store = Store()
    reads = Coalescer(store.fetch, max_keys=50)
    with ThreadPoolExecutor(2) as pool:
        before = pool.submit(reads.read, ["g1"])
        assert store.entered.acquire(timeout=5)
        store.values["g1"] = 1  # written while the first call is in flight
        after = pool.submit(reads.read, ["g1"])
        while not reads._queue:
            threading.Event().wait(0.001)
        store.release.set()
        assert before.result(5) == {"g1": 0}
        assert after.result(5) == {"g1": 1}
    assert store.calls == [["g1"], ["g1"]]


def test_a_failed_call_fails_its_readers_only_and_the_next_call_goes_out() -> None:
    store = Store()
    reads = Coalescer(store.fetch, max_keys=50)
    store.fail = RuntimeError("throttled beyond the budget")
    with ThreadPoolExecutor(2) as pool:
        failing = pool.submit(reads.read, ["g1"])
        assert store.entered.acquire(timeout=5)
        store.release.set()
        with pytest.raises(RuntimeError, match="beyond the budget"):
            failing.result(5)
    store.fail = None
    assert reads.read(["g2"]) == {"g2": 0}
    assert store.calls == [["g1"], ["g2"]]


def test_a_batch_never_exceeds_max_keys_and_a_full_read_goes_alone() -> None:
    store = Store()
    store.release.set()
    reads = Coalescer(store.fetch, max_keys=3)
    assert reads.read([f"g{i}" for i in range(5)]) == {f"g{i}": 0 for i in range(5)}
    assert store.calls == [[f"g{i}" for i in range(5)]]  # the fetch chunks a big read itself

    store.calls.clear()
    store.release.clear()
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(reads.read, ["g0"])
        assert store.entered.acquire(timeout=5)
        queued = [pool.submit(reads.read, [f"g{i}", f"g{i + 10}"]) for i in (1, 2, 3)]
        while len(reads._queue) < 3:
            threading.Event().wait(0.001)
        store.release.set()
        for future in (first, *queued):
            future.result(5)
    assert [len(c) for c in store.calls] == [1, 2, 2, 2]
