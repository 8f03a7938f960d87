"""Amazon ElastiCache (Valkey / Redis OSS): read replication groups with their members' roles and
AZs; promote a replica to primary (cluster mode disabled); switch Multi-AZ off and on."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from botocore.exceptions import ClientError

from evacuation.aws.clients import AwsClients, Caller
from evacuation.aws.errors import AwsApiError, error_code
from evacuation.errors import PermanentAwsError

BUSY = "InvalidReplicationGroupState"
"""ModifyReplicationGroup's answer while the group is not available (API reference's faults)."""
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
    pending_failover: str | None = None
    """PendingModifiedValues.AutomaticFailoverStatus: the setting being applied."""

    @property
    def primary(self) -> CacheMember | None:
        return next((m for m in self.members if m.role == "primary"), None)

    @property
    def failover_on(self) -> bool:
        """Automatic failover or Multi-AZ enabled (or being enabled): AWS promotes no replica."""
        return self.multi_az == "enabled" or self.automatic_failover in ("enabled", "enabling")


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
        Never TestFailover: "not designed to be an operational tool" (aws-semantics DB-2).
        GroupBusyError: the group is modifying (perhaps under this very promotion: a lost answer,
        then a retry); the caller reads it back."""
        self._modify(group_id, PrimaryClusterId=cluster_id)

    def set_failover(self, group_id: str, *, automatic_failover: bool, multi_az: bool) -> None:
        """ModifyReplicationGroup with AutomaticFailoverEnabled and MultiAZEnabled, applied
        immediately: the first and last steps of AWS's procedure for promoting a replica on a
        Multi-AZ group (disable Multi-AZ, promote, re-enable:
        https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/Replication.PromoteReplica.html).
        GroupBusyError as for `promote`."""
        self._modify(group_id, AutomaticFailoverEnabled=automatic_failover, MultiAZEnabled=multi_az)

    def _modify(self, group_id: str, **changes: Any) -> None:
        client = self._clients.elasticache()

        def attempt() -> None:
            try:
                client.modify_replication_group(
                    ReplicationGroupId=group_id, ApplyImmediately=True, **changes
                )
            except ClientError as exc:
                if error_code(exc) == BUSY:
                    # Not retried blindly: after a lost answer, the retry meets our own change
                    # under way; only a read tells ours from someone else's.
                    raise GroupBusyError(
                        f"elasticache.ModifyReplicationGroup: {BUSY}: {group_id} is not available",
                        BUSY,
                    ) from exc
                raise

        self._call("elasticache.ModifyReplicationGroup", attempt)


class GroupBusyError(PermanentAwsError):
    """The replication group refused a change while it is modifying."""


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
        raw.get("PendingModifiedValues", {}).get("AutomaticFailoverStatus"),
    )
