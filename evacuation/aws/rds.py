"""Amazon RDS: read Aurora / Multi-AZ DB clusters with their members' AZs; fail a cluster over
to a chosen instance; read Multi-AZ DB instances and fail one over to its standby."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from evacuation.aws.clients import AwsClients, Caller
from evacuation.aws.errors import once_unless_throttled

FILTER_VALUES = 100
"""DescribeDBClusters / DescribeDBInstances take at most this many filter values (inferred from
MaxRecords' ceiling; the API reference gives no figure): batched below it."""


@dataclass(frozen=True)
class Member:
    instance_id: str
    writer: bool
    promotion_tier: int
    az: str
    """The instance's AvailabilityZone: a zone *name*, as DescribeDBInstances reports it."""
    status: str

    @property
    def available(self) -> bool:
        return self.status == "available"


@dataclass(frozen=True)
class Cluster:
    cluster_id: str
    arn: str
    status: str
    members: tuple[Member, ...]

    @property
    def writer(self) -> Member | None:
        return next((m for m in self.members if m.writer), None)


@dataclass(frozen=True)
class Instance:
    """An RDS DB instance outside any cluster (Multi-AZ: one primary, one standby)."""

    instance_id: str
    status: str
    multi_az: bool
    az: str
    """AvailabilityZone: the primary's zone *name*."""
    secondary_az: str | None
    """SecondaryAvailabilityZone: the standby's zone name (Multi-AZ only)."""

    @property
    def available(self) -> bool:
        return self.status == "available"


class RdsGateway:
    """rds calls, each translated and retried through `call`."""

    def __init__(self, clients: AwsClients, call: Caller) -> None:
        self._clients = clients
        self._call = call

    def describe_clusters(self, cluster_ids: Iterable[str]) -> Mapping[str, Cluster]:
        """The named clusters that exist, by id, each with its members' AZs: per batch one
        DescribeDBClusters and one DescribeDBInstances (filtered by db-cluster-id), paginated."""
        wanted = list(dict.fromkeys(cluster_ids))
        found: dict[str, Cluster] = {}
        for start in range(0, len(wanted), FILTER_VALUES):
            batch = wanted[start : start + FILTER_VALUES]
            flt = [{"Name": "db-cluster-id", "Values": batch}]
            clusters = self._pages("rds.DescribeDBClusters", "DBClusters", Filters=flt)
            instances = self._pages("rds.DescribeDBInstances", "DBInstances", Filters=flt)
            by_id = {i["DBInstanceIdentifier"]: i for i in instances}
            for raw in clusters:
                found[raw["DBClusterIdentifier"]] = _cluster(raw, by_id)
        return found

    def describe_instances(self, instance_ids: Iterable[str]) -> Mapping[str, Instance]:
        """The named DB instances that exist, by id: per batch one DescribeDBInstances filtered
        by db-instance-id, paginated."""
        wanted = list(dict.fromkeys(instance_ids))
        found: dict[str, Instance] = {}
        for start in range(0, len(wanted), FILTER_VALUES):
            flt = [{"Name": "db-instance-id", "Values": wanted[start : start + FILTER_VALUES]}]
            for raw in self._pages("rds.DescribeDBInstances", "DBInstances", Filters=flt):
                found[raw["DBInstanceIdentifier"]] = Instance(
                    raw["DBInstanceIdentifier"],
                    str(raw.get("DBInstanceStatus", "unknown")),
                    bool(raw.get("MultiAZ")),
                    str(raw.get("AvailabilityZone", "")),
                    raw.get("SecondaryAvailabilityZone"),
                )
        return found

    def reboot_with_failover(self, instance_id: str) -> None:
        """RebootDBInstance with ForceFailover: "the reboot is conducted through a Multi-AZ
        failover" to the standby, wherever RDS placed it: the call takes no target
        (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_RebootDBInstance.html)."""
        rds = self._clients.rds()
        what = "rds.RebootDBInstance"
        self._call(
            what,
            once_unless_throttled(
                lambda: rds.reboot_db_instance(
                    DBInstanceIdentifier=instance_id, ForceFailover=True
                ),
                what,
                "a second forced failover would move the primary back",
            ),
        )

    def _pages(self, what: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
        rds = self._clients.rds()
        method = rds.describe_db_clusters if key == "DBClusters" else rds.describe_db_instances
        items: list[dict[str, Any]] = []
        marker: str | None = None
        while True:
            page_args = {**kwargs, **({"Marker": marker} if marker else {})}
            response = self._call(what, partial(method, **page_args))
            items += response[key]
            marker = response.get("Marker")
            if not marker:
                return items

    def failover(self, cluster_id: str, target_instance_id: str) -> None:
        """FailoverDBCluster to `target_instance_id` (an Aurora replica or a Multi-AZ readable
        standby: https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_FailoverDBCluster.html)."""
        rds = self._clients.rds()
        self._call(
            "rds.FailoverDBCluster",
            lambda: rds.failover_db_cluster(
                DBClusterIdentifier=cluster_id, TargetDBInstanceIdentifier=target_instance_id
            ),
        )


def _cluster(raw: Mapping[str, Any], instances: Mapping[str, Mapping[str, Any]]) -> Cluster:
    members = []
    for member in raw.get("DBClusterMembers", []):
        instance = instances.get(member["DBInstanceIdentifier"], {})
        members.append(
            Member(
                instance_id=member["DBInstanceIdentifier"],
                writer=bool(member.get("IsClusterWriter")),
                promotion_tier=int(member.get("PromotionTier", instance.get("PromotionTier", 1))),
                az=str(instance.get("AvailabilityZone", "")),
                status=str(instance.get("DBInstanceStatus", "unknown")),
            )
        )
    return Cluster(
        raw["DBClusterIdentifier"],
        raw.get("DBClusterArn", ""),
        raw.get("Status", ""),
        tuple(members),
    )
