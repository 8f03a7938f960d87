"""Helpers for batched, concurrent reads: a failed read holds its error instead of raising."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TypeVar

from evacuation.errors import EvacuationError

T = TypeVar("T")


def guarded(fn: Callable[[], T]) -> T | EvacuationError:
    try:
        return fn()
    except EvacuationError as exc:
        return exc


def by_key(
    keys: list[str], read_all: Callable[[list[str]], Mapping[str, T]], missing: str
) -> dict[str, T | EvacuationError]:
    """One batched read for every key: a key it does not return holds the error `missing`; a
    read that fails holds its error for every key (only their steps fail)."""
    found = guarded(lambda: read_all(keys))
    if isinstance(found, EvacuationError):
        return dict.fromkeys(keys, found)
    absent = EvacuationError(missing)
    return {key: found.get(key, absent) for key in keys}


def page_budget(wanted: int) -> int:
    """Pages a batched read may spend before reading the rest one by one: at most half as many
    as there are items, so even an account where listing finds nothing costs at most 1.5 reads
    per item (and a fleet that fits a page costs one read in all)."""
    return max(1, wanted // 2)


def each(keys: list[str], read: Callable[[str], T], workers: int) -> dict[str, T | EvacuationError]:
    """read(key) for every key, `workers` at a time; a read that fails holds its error."""
    if not keys:
        return {}
    with ThreadPoolExecutor(min(workers, len(keys)), thread_name_prefix="observe") as pool:
        futures = {
            key: pool.submit(contextvars.copy_context().run, guarded, partial(read, key))
            for key in keys
        }
        return {key: future.result() for key, future in futures.items()}
