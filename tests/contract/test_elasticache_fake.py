"""The ElastiCache fake (evacuation/emulator/elasticache.py) against the rules it claims, each
from its AWS page, through a real boto3 client (botocore validates and serializes the requests,
parses the fake's XML). Run under mock_aws too, as the tests and the drill do.

- ModifyReplicationGroup PrimaryClusterId promotes the named cluster; the others are replicas;
  applied asynchronously with ApplyImmediately, pending without it
  (https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_ModifyReplicationGroup.html).
- No promotion while Multi-AZ with automatic failover is enabled; AWS's procedure instead:
  disable Multi-AZ, promote, re-enable
  (https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/Replication.PromoteReplica.html);
  Multi-AZ only with a read replica (https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/AutoFailover.html);
  automatic failover stays on in cluster mode
  (https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CreateReplicationGroup.html).
- CurrentRole only for cluster mode disabled
  (https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_NodeGroupMember.html).
- DescribeReplicationGroups: ReplicationGroupNotFoundFault; MaxRecords 20-100, Marker paging
  (https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_DescribeReplicationGroups.html).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws

from evacuation.emulator.elasticache import ElastiCacheFake

ONE_ATTEMPT = Config(retries={"total_max_attempts": 1})


@pytest.fixture
def fake() -> ElastiCacheFake:
    return ElastiCacheFake(promotion_reads=1)


@pytest.fixture
def client(fake: ElastiCacheFake) -> Iterator[Any]:
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        fake.install(session)
        yield session.client("elasticache", config=ONE_ATTEMPT)


def _roles(client: Any, group: str) -> dict[str, str]:
    raw = client.describe_replication_groups(ReplicationGroupId=group)["ReplicationGroups"][0]
    return {m["CacheClusterId"]: m["CurrentRole"] for m in raw["NodeGroups"][0]["NodeGroupMembers"]}


def _code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def test_a_group_reads_back_with_roles_and_zone_names(fake: ElastiCacheFake, client: Any) -> None:
    fake.create_replication_group("g", [("g-1", "us-east-1b"), ("g-2", "us-east-1c")])
    raw = client.describe_replication_groups(ReplicationGroupId="g")["ReplicationGroups"][0]
    members = raw["NodeGroups"][0]["NodeGroupMembers"]
    assert [
        (m["CacheClusterId"], m["CurrentRole"], m["PreferredAvailabilityZone"]) for m in members
    ] == [
        ("g-1", "primary", "us-east-1b"),
        ("g-2", "replica", "us-east-1c"),
    ]
    assert raw["ClusterEnabled"] is False and raw["Status"] == "available"


def test_primary_cluster_id_promotes_asynchronously(fake: ElastiCacheFake, client: Any) -> None:
    fake.create_replication_group("g", [("g-1", "us-east-1b"), ("g-2", "us-east-1c")])
    answer = client.modify_replication_group(
        ReplicationGroupId="g", PrimaryClusterId="g-2", ApplyImmediately=True
    )["ReplicationGroup"]
    # Accepted, under way: modifying, the new primary pending
    assert answer["Status"] == "modifying"
    assert answer["PendingModifiedValues"]["PrimaryClusterId"] == "g-2"
    assert _roles(client, "g") == {"g-1": "primary", "g-2": "replica"}
    # Then done: g-2 is the primary, every other member a replica
    assert _roles(client, "g") == {"g-1": "replica", "g-2": "primary"}


def test_without_apply_immediately_the_promotion_waits_for_maintenance(
    fake: ElastiCacheFake, client: Any
) -> None:
    fake.create_replication_group("g", [("g-1", "us-east-1b"), ("g-2", "us-east-1c")])
    client.modify_replication_group(ReplicationGroupId="g", PrimaryClusterId="g-2")
    for _ in range(3):
        assert _roles(client, "g") == {"g-1": "primary", "g-2": "replica"}


def test_no_promotion_while_multi_az_with_automatic_failover_is_on(
    fake: ElastiCacheFake, client: Any
) -> None:
    fake.create_replication_group(
        "g", [("g-1", "us-east-1b"), ("g-2", "us-east-1c")], automatic_failover=True, multi_az=True
    )
    with pytest.raises(ClientError) as error:
        client.modify_replication_group(
            ReplicationGroupId="g", PrimaryClusterId="g-2", ApplyImmediately=True
        )
    assert _code(error) == "InvalidParameterCombination"
    assert _roles(client, "g") == {"g-1": "primary", "g-2": "replica"}


def test_cluster_mode_enabled_has_no_single_primary(fake: ElastiCacheFake, client: Any) -> None:
    fake.create_replication_group(
        "g", [("g-1", "us-east-1b"), ("g-2", "us-east-1c")], cluster_mode=True, shards=2
    )
    raw = client.describe_replication_groups(ReplicationGroupId="g")["ReplicationGroups"][0]
    assert raw["ClusterEnabled"] is True and len(raw["NodeGroups"]) == 2
    assert all("CurrentRole" not in m for ng in raw["NodeGroups"] for m in ng["NodeGroupMembers"])
    with pytest.raises(ClientError) as error:
        client.modify_replication_group(
            ReplicationGroupId="g", PrimaryClusterId="g-2", ApplyImmediately=True
        )
    assert _code(error) == "InvalidParameterCombination"


def test_promoting_a_stranger_or_during_a_modification_is_refused(
    fake: ElastiCacheFake, client: Any
) -> None:
    fake.create_replication_group(
        "g", [("g-1", "us-east-1b"), ("g-2", "us-east-1c"), ("g-3", "us-east-1a")]
    )
    with pytest.raises(ClientError) as error:
        client.modify_replication_group(
            ReplicationGroupId="g", PrimaryClusterId="nope", ApplyImmediately=True
        )
    assert _code(error) == "InvalidParameterValue"
    client.modify_replication_group(
        ReplicationGroupId="g", PrimaryClusterId="g-2", ApplyImmediately=True
    )
    with pytest.raises(ClientError) as error:
        client.modify_replication_group(
            ReplicationGroupId="g", PrimaryClusterId="g-3", ApplyImmediately=True
        )
    assert _code(error) == "InvalidReplicationGroupState"


def test_unknown_group_and_paging(fake: ElastiCacheFake, client: Any) -> None:
    with pytest.raises(ClientError) as error:
        client.describe_replication_groups(ReplicationGroupId="nope")
    assert _code(error) == "ReplicationGroupNotFoundFault"
    for index in range(45):
        fake.create_replication_group(f"g{index:02d}", [(f"g{index:02d}-1", "us-east-1b")])
    seen: list[str] = []
    for page in client.get_paginator("describe_replication_groups").paginate(
        PaginationConfig={"PageSize": 20}
    ):
        seen += [g["ReplicationGroupId"] for g in page["ReplicationGroups"]]
    assert seen == sorted(f"g{i:02d}" for i in range(45))
    with pytest.raises(ClientError) as error:
        client.describe_replication_groups(MaxRecords=101)
    assert _code(error) == "InvalidParameterValue"


def test_test_failover_is_not_answered(fake: ElastiCacheFake, client: Any) -> None:
    # azevac never calls it (aws-semantics DB-2); nothing here pretends it works
    fake.create_replication_group("g", [("g-1", "us-east-1b"), ("g-2", "us-east-1c")])
    with pytest.raises((ClientError, NotImplementedError)):
        client.test_failover(ReplicationGroupId="g", NodeGroupId="0001")
    assert _roles(client, "g") == {"g-1": "primary", "g-2": "replica"}


def _failover(client: Any, group: str) -> tuple[str, str, str]:
    raw = client.describe_replication_groups(ReplicationGroupId=group)["ReplicationGroups"][0]
    return raw["Status"], raw["AutomaticFailover"], raw["MultiAZ"]


def test_the_documented_procedure_promotes_on_a_multi_az_group(
    fake: ElastiCacheFake, client: Any
) -> None:
    fake.create_replication_group(
        "g", [("g-1", "us-east-1b"), ("g-2", "us-east-1c")], automatic_failover=True, multi_az=True
    )
    # 1. Disable Multi-AZ: asynchronous, automatic failover "disabling" meanwhile
    answer = client.modify_replication_group(
        ReplicationGroupId="g", AutomaticFailoverEnabled=False, MultiAZEnabled=False,
        ApplyImmediately=True,
    )["ReplicationGroup"]  # fmt: skip
    assert (answer["Status"], answer["AutomaticFailover"]) == ("modifying", "disabling")
    assert answer["PendingModifiedValues"]["AutomaticFailoverStatus"] == "disabled"
    assert _failover(client, "g") == ("modifying", "disabling", "enabled")
    assert _failover(client, "g") == ("available", "disabled", "disabled")
    # 2. Promote the replica
    client.modify_replication_group(
        ReplicationGroupId="g", PrimaryClusterId="g-2", ApplyImmediately=True
    )
    _roles(client, "g")
    assert _roles(client, "g") == {"g-1": "replica", "g-2": "primary"}
    # 3. Re-enable Multi-AZ
    client.modify_replication_group(
        ReplicationGroupId="g", AutomaticFailoverEnabled=True, MultiAZEnabled=True,
        ApplyImmediately=True,
    )  # fmt: skip
    assert _failover(client, "g") == ("modifying", "enabling", "disabled")
    assert _failover(client, "g") == ("available", "enabled", "enabled")


def test_failover_settings_refused_where_aws_refuses_them(
    fake: ElastiCacheFake, client: Any
) -> None:
    fake.create_replication_group("alone", [("alone-1", "us-east-1b")])
    fake.create_replication_group(
        "sharded", [("s-1", "us-east-1b"), ("s-2", "us-east-1c")], cluster_mode=True,
        shards=2, automatic_failover=True,
    )  # fmt: skip
    fake.create_replication_group("g", [("g-1", "us-east-1b"), ("g-2", "us-east-1c")])
    cases = [
        ("g", {"AutomaticFailoverEnabled": False, "MultiAZEnabled": True}),  # Multi-AZ needs it
        ("alone", {"AutomaticFailoverEnabled": True, "MultiAZEnabled": True}),  # no replica
        ("sharded", {"AutomaticFailoverEnabled": False, "MultiAZEnabled": False}),  # cluster mode
    ]
    for group, settings in cases:
        with pytest.raises(ClientError) as error:
            client.modify_replication_group(
                ReplicationGroupId=group, ApplyImmediately=True, **settings
            )
        assert _code(error) == "InvalidParameterCombination", (group, settings)
    # and nothing changed
    assert _failover(client, "g") == ("available", "disabled", "disabled")
    # A group being modified takes no other change
    client.modify_replication_group(
        ReplicationGroupId="g", AutomaticFailoverEnabled=True, MultiAZEnabled=False,
        ApplyImmediately=True,
    )  # fmt: skip
    with pytest.raises(ClientError) as error:
        client.modify_replication_group(
            ReplicationGroupId="g", PrimaryClusterId="g-2", ApplyImmediately=True
        )
    assert _code(error) == "InvalidReplicationGroupState"
