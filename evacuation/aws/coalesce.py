"""Concurrent reads of a few keys each, sent as one call for all of them.

The lanes verify and revert one Auto Scaling group each, many at a time: one
DescribeAutoScalingGroups per group was 800 calls on the large fleet against a 20/s bucket. A
reader that finds a call in flight queues its keys; when that call returns, one of the waiting
readers sends the next one, for every key queued meanwhile (up to `max_keys`). No reader waits
on a timer, and none is answered by a call that started before it asked, so a read-back after a
write still starts after the write.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

__all__ = ["Coalescer"]


class _Request(Generic[K, V]):
    def __init__(self, keys: list[K]) -> None:
        self.keys = keys
        self.done = False
        self.found: dict[K, V] = {}
        self.error: BaseException | None = None

    def finish(self, found: Mapping[K, V], error: BaseException | None) -> None:
        self.found = {k: found[k] for k in self.keys if k in found}
        self.error, self.done = error, True


class Coalescer(Generic[K, V]):
    """`read(keys)` answers as `fetch(keys)` would (the keys found, by key), sharing a call
    with the readers that asked while another call was in flight."""

    def __init__(self, fetch: Callable[[list[K]], Mapping[K, V]], max_keys: int) -> None:
        self._fetch = fetch
        self._max_keys = max_keys
        self._queue: deque[_Request[K, V]] = deque()
        self._busy = False
        self._changed = threading.Condition()

    def read(self, keys: Iterable[K]) -> dict[K, V]:
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        if len(wanted) >= self._max_keys:  # a full call of its own: company would only wait
            return dict(self._fetch(wanted))
        request: _Request[K, V] = _Request(wanted)
        with self._changed:
            self._queue.append(request)
        while True:
            with self._changed:
                while not request.done and self._busy:
                    self._changed.wait()
                if request.done:
                    break
                batch = self._take()
                self._busy = True
            self._send(batch)
        if request.error is not None:
            raise request.error
        return request.found

    def _take(self) -> list[_Request[K, V]]:
        """The queued requests, oldest first, that fit in one call (always at least one)."""
        batch = [self._queue.popleft()]
        size = len(batch[0].keys)
        while self._queue and size + len(self._queue[0].keys) <= self._max_keys:
            size += len(self._queue[0].keys)
            batch.append(self._queue.popleft())
        return batch

    def _send(self, batch: list[_Request[K, V]]) -> None:
        keys = list(dict.fromkeys(k for request in batch for k in request.keys))
        found: Mapping[K, V] = {}
        error: BaseException | None = None
        try:
            found = self._fetch(keys)
        except BaseException as exc:  # noqa: BLE001 - every reader of the batch raises it
            error = exc
        with self._changed:
            for request in batch:
                request.finish(found, error)
            self._busy = False
            self._changed.notify_all()
        if error is not None and not isinstance(error, Exception):
            raise error  # an interrupt stops the reader that sent the call, whoever's it was
