"""The RDS Multi-AZ instance model (evacuation/emulator/rds_instances.py) against the rules it
claims, through a real boto3 client on moto (botocore validates every request):

- a Multi-AZ instance has a standby in another AZ, and RDS chooses both zones
  (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Concepts.MultiAZSingleStandby.html,
  https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html);
- DescribeDBInstances reports AvailabilityZone and SecondaryAvailabilityZone (API_DBInstance);
- RebootDBInstance ForceFailover swaps them, rebooting meanwhile; refused on a single-AZ
  instance (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_RebootDBInstance.html).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws

from evacuation.emulator.rds_instances import RdsInstanceFailover

ONE_ATTEMPT = Config(retries={"total_max_attempts": 1})


@pytest.fixture
def model() -> RdsInstanceFailover:
    return RdsInstanceFailover()


@pytest.fixture
def rds(model: RdsInstanceFailover) -> Iterator[Any]:
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        model.install(session)
        yield session.client("rds", config=ONE_ATTEMPT)


def _create(rds: Any, name: str, **extra: Any) -> None:
    rds.create_db_instance(
        DBInstanceIdentifier=name, Engine="postgres", DBInstanceClass="db.m6g.large",
        MasterUsername="azevac", MasterUserPassword="not-a-secret-1", AllocatedStorage=20,
        **extra,
    )  # fmt: skip


def _zones(rds: Any, name: str) -> tuple[str, str | None, str]:
    raw = rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]
    return raw["AvailabilityZone"], raw.get("SecondaryAvailabilityZone"), raw["DBInstanceStatus"]


def test_a_multi_az_instance_reads_back_with_its_standby_in_another_az(
    model: RdsInstanceFailover, rds: Any
) -> None:
    _create(rds, "orders", MultiAZ=True)
    primary, standby, status = _zones(rds, "orders")
    assert standby is not None and standby != primary and status == "available"
    # RDS chooses the zones: a Multi-AZ instance takes no AvailabilityZone
    with pytest.raises(ClientError) as error:
        _create(rds, "placed", MultiAZ=True, AvailabilityZone="us-east-1b")
    assert error.value.response["Error"]["Code"] == "InvalidParameterCombination"


def test_force_failover_promotes_the_standby_rebooting_meanwhile(
    model: RdsInstanceFailover, rds: Any
) -> None:
    _create(rds, "orders", MultiAZ=True)
    model.place("orders", "us-east-1b", "us-east-1c")

    answer = rds.reboot_db_instance(DBInstanceIdentifier="orders", ForceFailover=True)
    assert answer["DBInstance"]["DBInstanceStatus"] == "rebooting"

    # a second reboot while it reboots is refused
    with pytest.raises(ClientError) as error:
        rds.reboot_db_instance(DBInstanceIdentifier="orders", ForceFailover=True)
    assert error.value.response["Error"]["Code"] == "InvalidDBInstanceState"
    # the standby is the primary, the old primary the standby; rebooting, then available
    assert _zones(rds, "orders") == ("us-east-1c", "us-east-1b", "rebooting")
    assert _zones(rds, "orders") == ("us-east-1c", "us-east-1b", "available")


def test_force_failover_is_refused_on_a_single_az_instance(
    model: RdsInstanceFailover, rds: Any
) -> None:
    _create(rds, "single", AvailabilityZone="us-east-1b")
    with pytest.raises(ClientError) as error:
        rds.reboot_db_instance(DBInstanceIdentifier="single", ForceFailover=True)
    assert error.value.response["Error"]["Code"] == "InvalidParameterCombination"
    raw = rds.describe_db_instances(DBInstanceIdentifier="single")["DBInstances"][0]
    assert raw["AvailabilityZone"] == "us-east-1b" and "SecondaryAvailabilityZone" not in raw
    # a plain reboot is not a failover: moto answers it, nothing moves
    rds.reboot_db_instance(DBInstanceIdentifier="single")
    assert (
        rds.describe_db_instances(DBInstanceIdentifier="single")["DBInstances"][0][
            "AvailabilityZone"
        ]
        == "us-east-1b"
    )
