"""Amazon ElastiCache (Valkey / Redis OSS): read replication groups with their members' roles and
AZs; promote a replica to primary (cluster mode disabled)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from evacuation.aws.clients import AwsClients, Caller
from evacuation.aws.errors import AwsApiError, RetryableAwsError

PAGE_SIZE = 100
"""DescribeReplicationGroups' MaxRecords ceiling (minimum 20, maximum 100: API reference)."""


@dataclass(frozen=True)
class CacheMember:
    cluster_id: str
    role: str | None
    """CurrentRole: "primary" or "replica"; AWS gives it for cluster mode disabled only."""
    zone: str
    """PreferredAvailabilityZone: a zone *name*."""


@dataclass(frozen=True)
class ReplicationGroup:
    group_id: str
    status: str
    cluster_mode: bool
    """ClusterEnabled (several shards, each with its own primary)."""
    automatic_failover: str
    multi_az: str
    members: tuple[CacheMember, ...]
    pending_primary: str | None = None

    @property
    def primary(self) -> CacheMember | None:
        return next((m for m in self.members if m.role == "primary"), None)


class ElastiCacheGateway:
    """elasticache calls, each translated and retried through `call`."""

    def __init__(self, clients: AwsClients, call: Caller) -> None:
        self._clients = clients
        self._call = call

    def describe_groups(self, group_ids: Iterable[str]) -> Mapping[str, ReplicationGroup]:
        """The named groups that exist, by id: one DescribeReplicationGroups for one group, else
        the region's groups in pages of 100 (one call per 100 groups, not per group)."""
        wanted = set(group_ids)
        client = self._clients.elasticache()
        if len(wanted) == 1:
            (only,) = wanted
            try:
                response = self._call(
                    "elasticache.DescribeReplicationGroups",
                    lambda: client.describe_replication_groups(ReplicationGroupId=only),
                )
            except AwsApiError as exc:
                if exc.code == "ReplicationGroupNotFoundFault":
                    return {}
                raise
            return {g["ReplicationGroupId"]: _group(g) for g in response["ReplicationGroups"]}
        found: dict[str, ReplicationGroup] = {}
        marker: str | None = None
        while True:
            page = {"MaxRecords": PAGE_SIZE, **({"Marker": marker} if marker else {})}
            response = self._call(
                "elasticache.DescribeReplicationGroups",
                partial(client.describe_replication_groups, **page),
            )
            for raw in response["ReplicationGroups"]:
                if raw["ReplicationGroupId"] in wanted:
                    found[raw["ReplicationGroupId"]] = _group(raw)
            marker = response.get("Marker")
            if not marker:
                return found

    def promote(self, group_id: str, cluster_id: str) -> None:
        """ModifyReplicationGroup with PrimaryClusterId and ApplyImmediately: ElastiCache "promotes
        the specified cluster ... to the primary role"
        (https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_ModifyReplicationGroup.html).
        Never TestFailover: "not designed to be an operational tool" (aws-semantics DB-2)."""
        client = self._clients.elasticache()
        try:
            self._call(
                "elasticache.ModifyReplicationGroup",
                lambda: client.modify_replication_group(
                    ReplicationGroupId=group_id, PrimaryClusterId=cluster_id, ApplyImmediately=True
                ),
            )
        except RetryableAwsError as exc:
            # Retries after a lost response find the group `modifying` under our own promotion
            # (InvalidReplicationGroupState: "not in the available state"): it was accepted.
            # Re-read, as after a retried Route 53 CREATE (aws-facts §7.2), with its own retries.
            if exc.code != "InvalidReplicationGroupState":
                raise
            group = self.describe_groups([group_id]).get(group_id)
            if group is None or not _ours(group, cluster_id):
                raise


def _ours(group: ReplicationGroup, cluster_id: str) -> bool:
    """The group is promoting `cluster_id`, or has promoted it (nothing else pending)."""
    if group.pending_primary is not None:
        return group.pending_primary == cluster_id
    primary = group.primary
    return primary is not None and primary.cluster_id == cluster_id


def _group(raw: Mapping[str, Any]) -> ReplicationGroup:
    members = [
        CacheMember(
            str(m["CacheClusterId"]),
            m.get("CurrentRole"),
            str(m.get("PreferredAvailabilityZone", "")),
        )
        for node_group in raw.get("NodeGroups", [])
        for m in node_group.get("NodeGroupMembers", [])
    ]
    cluster_mode = bool(raw.get("ClusterEnabled")) or raw.get("ClusterMode") == "enabled"
    return ReplicationGroup(
        raw["ReplicationGroupId"],
        str(raw.get("Status", "")),
        cluster_mode,
        str(raw.get("AutomaticFailover", "disabled")),
        str(raw.get("MultiAZ", "disabled")),
        tuple(members),
        raw.get("PendingModifiedValues", {}).get("PrimaryClusterId"),
    )
