"""Amazon EKS reads: whether a cluster is configured for ARC zonal shift."""

from __future__ import annotations

from functools import partial

from evacuation.aws.clients import AwsClients, Caller


def cluster_name(arn: str) -> str:
    """arn:aws:eks:<region>:<account>:cluster/<name> -> <name>."""
    return arn.rsplit("/", 1)[-1]


class EksGateway:
    """eks calls, each translated and retried through `call`."""

    def __init__(self, clients: AwsClients, call: Caller) -> None:
        self._clients = clients
        self._call = call

    def zonal_shift_enabled(self, arn: str) -> bool:
        """DescribeCluster's `zonalShiftConfig.enabled`: the cluster opted in to zonal shift
        (https://docs.aws.amazon.com/eks/latest/userguide/zone-shift-enable.html); absent means
        not enabled."""
        eks = self._clients.eks()
        response = self._call(
            "eks.DescribeCluster", partial(eks.describe_cluster, name=cluster_name(arn))
        )
        config = response.get("cluster", {}).get("zonalShiftConfig") or {}
        return bool(config.get("enabled", False))
