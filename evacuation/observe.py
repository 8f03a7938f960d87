"""Read everything an evacuation plan needs, once per run: each resource kind reads its part,
batched and concurrent per service, all kinds side by side."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, cast

from evacuation.aws.autoscaling import AutoScalingGateway
from evacuation.aws.cloudwatch import CloudWatchGateway
from evacuation.aws.ec2 import Ec2Gateway
from evacuation.aws.route53 import Route53Gateway
from evacuation.aws.zonal_shift import ZonalShiftGateway
from evacuation.config import Config
from evacuation.reads import page_budget

if TYPE_CHECKING:
    from evacuation.aws.clients import AwsClients, Caller

G = TypeVar("G")

__all__ = ["Gateways", "Observation", "observe", "page_budget"]


@dataclass(frozen=True)
class Gateways:
    """The per-service gateways of one run. A kind's own gateway is built on first use with
    `of(GatewayClass)`, from the run's clients and caller (its retry budget and pacing)."""

    ec2: Ec2Gateway
    zonal_shift: ZonalShiftGateway
    route53: Route53Gateway
    autoscaling: AutoScalingGateway
    cloudwatch: CloudWatchGateway
    clients: AwsClients | None = None
    call: Caller | None = None
    _built: dict[type, Any] = field(default_factory=dict, compare=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    def of(self, gateway: type[G]) -> G:
        """The run's instance of a gateway class taking (clients, call)."""
        with self._lock:
            if gateway not in self._built:
                if self.clients is None or self.call is None:
                    raise RuntimeError(f"these gateways cannot build {gateway.__name__}")
                self._built[gateway] = cast("Any", gateway)(self.clients, self.call)
            return cast("G", self._built[gateway])


@dataclass(frozen=True)
class Observation:
    """What AWS looked like at the start of a run: each kind's part, by kind name. A read that
    failed holds its error instead (only that resource's steps fail)."""

    parts: Mapping[str, Any] = field(default_factory=dict)

    def workload_az_ids(self, config: Config) -> frozenset[str]:
        """Every AZ the workload is deployed in, as far as the reads and the config tell."""
        from evacuation.kinds import KINDS  # noqa: PLC0415 - the kinds import this module

        ids = set(config.configured_az_ids)
        for kind in KINDS:
            ids.update(kind.az_ids(config, self))
        return frozenset(ids)


def observe(config: Config, gateways: Gateways) -> Observation:
    """Every kind reads its part at once; one failing read fails only its step."""
    from evacuation.kinds import KINDS  # noqa: PLC0415 - the kinds import this module

    with ThreadPoolExecutor(len(KINDS), thread_name_prefix="observe") as pool:
        reads = {
            kind.name: pool.submit(contextvars.copy_context().run, kind.read, config, gateways)
            for kind in KINDS
        }
        return Observation({name: read.result() for name, read in reads.items()})


_MOVED = {
    "record_set_key": "evacuation.kinds.route53",
    "read_record_sets": "evacuation.kinds.route53",
    "read_managed_resources": "evacuation.kinds.zonal_shift",
}
"""Kind-specific reads that moved to their kind's module, still importable from here."""


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        import importlib  # noqa: PLC0415 - only for the names that moved

        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
