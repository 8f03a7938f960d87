"""EKS clusters' zonal-shift configuration on moto.

moto 5.2.5 accepts `UpdateClusterConfig(zonalShiftConfig=...)` with an empty body and never
reports `zonalShiftConfig` in DescribeCluster (aws-facts.md, EKS row). This fake keeps it, on
botocore's hooks (requests still validated by botocore, answered by moto):

1. `UpdateClusterConfig` with `zonalShiftConfig={"enabled": bool}` sets the cluster's
   configuration; `CreateCluster` takes the same parameter
   (https://docs.aws.amazon.com/eks/latest/APIReference/API_UpdateClusterConfig.html,
   https://docs.aws.amazon.com/eks/latest/userguide/zone-shift-enable.html); a call that fails
   (no such cluster, a name already in use) configures nothing.
2. `DescribeCluster` returns it as `cluster.zonalShiftConfig.enabled`; a cluster never
   configured has no `zonalShiftConfig` (not enabled: zonal shift is opt-in)
   (https://docs.aws.amazon.com/eks/latest/APIReference/API_Cluster.html).
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field
from typing import Any

import boto3

_PARAMS_KEY = "azevac_eks_params"


@dataclass
class EksZonalShiftConfig:
    _enabled: dict[str, bool] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def install(self, session: boto3.Session) -> None:
        events = session.events
        uid = f"azevac-eks-{id(self)}"
        events.register("before-parameter-build.eks", self._remember, unique_id=f"{uid}-p")
        for operation in ("CreateCluster", "UpdateClusterConfig"):
            events.register_first(
                f"after-call.eks.{operation}", self._configured, unique_id=f"{uid}-{operation}"
            )
        events.register_first(
            "after-call.eks.DescribeCluster", self._described, unique_id=f"{uid}-d"
        )

    @staticmethod
    def _remember(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context[_PARAMS_KEY] = copy.deepcopy(params)

    def _configured(self, context: dict[str, Any], http_response: Any, **_: Any) -> None:
        # botocore emits after-call for error responses too: only a call EKS accepted counts
        if http_response.status_code >= 300:
            return
        params = context.get(_PARAMS_KEY, {})
        if "zonalShiftConfig" in params:
            with self._lock:
                self._enabled[params["name"]] = bool(params["zonalShiftConfig"].get("enabled"))

    def _described(self, parsed: dict[str, Any], **_: Any) -> None:
        cluster = parsed.get("cluster")
        if not cluster:
            return
        with self._lock:
            if cluster.get("name") in self._enabled:
                cluster["zonalShiftConfig"] = {"enabled": self._enabled[cluster["name"]]}
            else:
                cluster.pop("zonalShiftConfig", None)
