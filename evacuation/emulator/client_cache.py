"""One boto3 client per (service, region, endpoint, config) of an emulator session, until a hook
is registered on that session.

Making a botocore client builds a class with a method and a docstring per operation (EC2 has
about 600), and the drill and the reliability lab make a controller and read AWS back many times
per case: before this cache, making clients was most of a lab case's time. A client copies the
session's event handlers when it is made (botocore's `ClientCreator`), so a client made before a
hook would never see it: every `register*` / `unregister` on `session.events` empties the cache.

Only for sessions the emulator owns (the drill's, the reliability lab's); it never ships (the
artifact leaves `evacuation/emulator` out), and a deployed controller makes its clients once per
process anyway (`evacuation.aws.clients.AwsClients`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import boto3

__all__ = ["cache_clients"]

_EMITTER_CHANGES = ("register", "register_first", "register_last", "unregister")


def cache_clients(session: boto3.Session) -> boto3.Session:
    """Make `session.client(...)` return the same client for the same arguments, until a hook is
    registered or unregistered on `session.events`. Returns the session."""
    make: Callable[..., Any] = session.client
    lock = threading.Lock()
    clients: dict[tuple[Any, ...], Any] = {}

    def client(service_name: str, *args: Any, **kwargs: Any) -> Any:
        if args or set(kwargs) - {"region_name", "endpoint_url", "config"}:
            return make(service_name, *args, **kwargs)  # credentials or the like: never shared
        config = kwargs.get("config")
        # id(config) is safe: the entry holds the config, so its id is not reused meanwhile
        key = (service_name, kwargs.get("region_name"), kwargs.get("endpoint_url"), id(config))
        with lock:
            if key not in clients:
                clients[key] = (make(service_name, **kwargs), config)
            return clients[key][0]

    def forgetting(change: Callable[..., Any]) -> Callable[..., Any]:
        def changed(*args: Any, **kwargs: Any) -> Any:
            with lock:
                clients.clear()
            return change(*args, **kwargs)

        return changed

    events = session.events
    for name in _EMITTER_CHANGES:
        setattr(events, name, forgetting(getattr(events, name)))
    setattr(session, "client", client)  # noqa: B010 (mypy refuses assigning to a method)
    return session
