"""What the databases kind relies on in moto's RDS, checked so a moto upgrade cannot change it
silently (aws-facts §8: moto models FailoverDBCluster synchronously). Each behaviour is AWS's:

- FailoverDBCluster with TargetDBInstanceIdentifier promotes that instance: it becomes the
  member with IsClusterWriter (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_FailoverDBCluster.html;
  AWS takes tens of seconds, moto none: verify polls either way).
- An unknown target is an error, InvalidParameterValue in moto (the API page lists
  InvalidDBInstanceStateFault / InvalidDBClusterStateFault for real AWS states).
- DescribeDBClusters and DescribeDBInstances filter by db-cluster-id
  (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeDBInstances.html), and
  an instance's AvailabilityZone is a zone name.
"""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from evacuation.emulator.world import create_db_cluster, writer_of


@pytest.fixture
def session() -> boto3.Session:
    with mock_aws():
        yield boto3.Session(region_name="us-east-1")


def test_failover_to_a_target_makes_it_the_writer(session: boto3.Session) -> None:
    create_db_cluster(session, "c", [("us-east-1b", 0), ("us-east-1c", 1)])
    session.client("rds").failover_db_cluster(
        DBClusterIdentifier="c", TargetDBInstanceIdentifier="c-1"
    )
    assert writer_of(session, "c") == ("c-1", "us-east-1c")


def test_failover_to_an_unknown_target_is_refused(session: boto3.Session) -> None:
    create_db_cluster(session, "c", [("us-east-1b", 0), ("us-east-1c", 1)])
    with pytest.raises(ClientError) as error:
        session.client("rds").failover_db_cluster(
            DBClusterIdentifier="c", TargetDBInstanceIdentifier="nope"
        )
    assert error.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert writer_of(session, "c") == ("c-0", "us-east-1b")


def test_reads_filter_by_cluster_and_report_zone_names(session: boto3.Session) -> None:
    create_db_cluster(session, "a", [("us-east-1b", 0)])
    create_db_cluster(session, "b", [("us-east-1a", 0)])
    rds = session.client("rds")
    only = [{"Name": "db-cluster-id", "Values": ["a"]}]
    clusters = rds.describe_db_clusters(Filters=only)["DBClusters"]
    instances = rds.describe_db_instances(Filters=only)["DBInstances"]
    assert [c["DBClusterIdentifier"] for c in clusters] == ["a"]
    assert [(i["DBInstanceIdentifier"], i["AvailabilityZone"]) for i in instances] == [
        ("a-0", "us-east-1b")
    ]
