"""Amazon ECS: read services (their awsvpc subnets, AZ rebalancing and deployments); change a
service's subnets and AZ rebalancing in one UpdateService."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from evacuation.aws.clients import AwsClients, Caller

DESCRIBE_BATCH = 10
"""DescribeServices takes at most 10 services per call, all in one cluster
(https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeServices.html)."""


@dataclass(frozen=True)
class Deployment:
    deployment_id: str
    status: str
    """PRIMARY (the newest), ACTIVE (being replaced) or INACTIVE."""
    rollout_state: str
    """COMPLETED, IN_PROGRESS or FAILED."""
    desired: int
    running: int


@dataclass(frozen=True)
class Service:
    ref: str
    """`<cluster>/<service>`, as the config names it."""
    arn: str
    status: str
    subnets: tuple[str, ...]
    """networkConfiguration.awsvpcConfiguration.subnets; empty when not awsvpc."""
    network: Mapping[str, Any]
    """The whole awsvpcConfiguration (security groups, public IP): UpdateService replaces it."""
    rebalancing: str
    """availabilityZoneRebalancing: ENABLED or DISABLED (unset: DISABLED, as ECS treats it)."""
    desired: int
    running: int
    deployments: tuple[Deployment, ...]

    @property
    def primary(self) -> Deployment | None:
        return next((d for d in self.deployments if d.status == "PRIMARY"), None)

    @property
    def steady(self) -> bool:
        """The PRIMARY deployment completed its rollout, it alone remains, and the service runs
        its desired count (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-rollout-state.html)."""
        primary = self.primary
        return (
            primary is not None
            and primary.rollout_state == "COMPLETED"
            and len(self.deployments) == 1
            and self.running >= self.desired
        )

    @property
    def failed(self) -> bool:
        primary = self.primary
        return primary is not None and primary.rollout_state == "FAILED"


def split_ref(ref: str) -> tuple[str, str]:
    cluster, _, service = ref.partition("/")
    return cluster, service


class EcsGateway:
    """ecs calls, each translated and retried through `call`."""

    def __init__(self, clients: AwsClients, call: Caller) -> None:
        self._clients = clients
        self._call = call

    def describe_services(self, refs: Iterable[str]) -> Mapping[str, Service]:
        """The named services that exist (status not INACTIVE), by `<cluster>/<service>`: one
        DescribeServices per cluster and batch of 10."""
        by_cluster: dict[str, list[str]] = {}
        for ref in dict.fromkeys(refs):
            cluster, name = split_ref(ref)
            by_cluster.setdefault(cluster, []).append(name)
        ecs = self._clients.ecs()
        found: dict[str, Service] = {}
        for cluster, names in by_cluster.items():
            for start in range(0, len(names), DESCRIBE_BATCH):
                batch = names[start : start + DESCRIBE_BATCH]
                response = self._call(
                    "ecs.DescribeServices",
                    partial(ecs.describe_services, cluster=cluster, services=batch),
                )
                for raw in response.get("services", []):
                    if raw.get("status") == "INACTIVE":
                        continue
                    service = _service(cluster, raw)
                    found[service.ref] = service
        return found

    def update_network(
        self,
        ref: str,
        network: Mapping[str, Any],
        subnets: Sequence[str] | None,
        rebalancing: str | None,
    ) -> None:
        """UpdateService with the service's awsvpcConfiguration, `subnets` in place of its
        subnets: this starts a new deployment that replaces every task
        (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_UpdateService.html).
        `rebalancing` (ENABLED/DISABLED) in the same call; it starts no deployment itself. With
        `subnets` None, only the rebalancing is sent (no deployment)."""
        cluster, service = split_ref(ref)
        ecs = self._clients.ecs()
        kwargs: dict[str, Any] = {"cluster": cluster, "service": service}
        if subnets is not None:
            awsvpc = {**network, "subnets": list(subnets)}
            kwargs["networkConfiguration"] = {"awsvpcConfiguration": awsvpc}
        if rebalancing is not None:
            kwargs["availabilityZoneRebalancing"] = rebalancing
        self._call("ecs.UpdateService", partial(ecs.update_service, **kwargs))


def _service(cluster: str, raw: Mapping[str, Any]) -> Service:
    network = dict(raw.get("networkConfiguration", {}).get("awsvpcConfiguration", {}))
    deployments = tuple(
        Deployment(
            str(d.get("id", "")),
            str(d.get("status", "")),
            str(d.get("rolloutState", "COMPLETED")),
            int(d.get("desiredCount", 0)),
            int(d.get("runningCount", 0)),
        )
        for d in raw.get("deployments", [])
    )
    return Service(
        ref=f"{cluster}/{raw['serviceName']}",
        arn=str(raw.get("serviceArn", "")),
        status=str(raw.get("status", "")),
        subnets=tuple(network.get("subnets", [])),
        network={k: v for k, v in network.items() if k != "subnets"},
        rebalancing=str(raw.get("availabilityZoneRebalancing") or "DISABLED"),
        desired=int(raw.get("desiredCount", 0)),
        running=int(raw.get("runningCount", 0)),
        deployments=deployments,
    )
