"""The EKS zonal-shift configuration fake (evacuation/emulator/eks.py) against the rules it
claims, through real boto3 clients (requests validated and responses parsed by botocore against
the EKS service model, answered by moto):

1. `UpdateClusterConfig` and `CreateCluster` take `zonalShiftConfig={"enabled": bool}` and set
   the cluster's configuration
   (https://docs.aws.amazon.com/eks/latest/APIReference/API_UpdateClusterConfig.html,
   https://docs.aws.amazon.com/eks/latest/userguide/zone-shift-enable.html);
2. `DescribeCluster` returns it as `cluster.zonalShiftConfig.enabled`; a cluster never
   configured has none: zonal shift is opt-in
   (https://docs.aws.amazon.com/eks/latest/APIReference/API_Cluster.html).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError
from moto import mock_aws

from evacuation.emulator.eks import EksZonalShiftConfig

ONE_ATTEMPT = Config(retries={"total_max_attempts": 1})
ROLE = "arn:aws:iam::123456789012:role/eks-cluster"


@pytest.fixture
def eks() -> Iterator[Any]:
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        EksZonalShiftConfig().install(session)
        yield session.client("eks", config=ONE_ATTEMPT)


def _create(eks: Any, name: str, **extra: Any) -> None:
    eks.create_cluster(
        name=name,
        roleArn=ROLE,
        resourcesVpcConfig={"subnetIds": ["subnet-0001", "subnet-0002"]},
        **extra,
    )


def _zonal_shift(eks: Any, name: str) -> dict[str, Any] | None:
    config: dict[str, Any] | None = eks.describe_cluster(name=name)["cluster"].get(
        "zonalShiftConfig"
    )
    return config


def test_the_model_puts_zonal_shift_config_where_the_fake_answers_it() -> None:
    # The fake's shapes are the model's: Cluster.zonalShiftConfig {enabled: boolean}, and both
    # calls the fake watches take the same zonalShiftConfig request member
    model = botocore.session.get_session().get_service_model("eks")
    answered = model.shape_for("Cluster").members["zonalShiftConfig"]
    assert answered.members["enabled"].type_name == "boolean"
    for operation in ("CreateCluster", "UpdateClusterConfig"):
        request = model.operation_model(operation).input_shape.members["zonalShiftConfig"]
        assert request.members["enabled"].type_name == "boolean"


def test_a_cluster_never_configured_has_no_zonal_shift_config(eks: Any) -> None:
    # Given a cluster created without zonalShiftConfig (opt-in: off until asked)
    _create(eks, "plain")

    assert _zonal_shift(eks, "plain") is None


@pytest.mark.parametrize("enabled", [True, False])
def test_create_cluster_sets_zonal_shift_config(eks: Any, enabled: bool) -> None:
    _create(eks, "created", zonalShiftConfig={"enabled": enabled})

    assert _zonal_shift(eks, "created") == {"enabled": enabled}


def test_update_cluster_config_enables_then_disables(eks: Any) -> None:
    _create(eks, "toggled")

    eks.update_cluster_config(name="toggled", zonalShiftConfig={"enabled": True})
    assert _zonal_shift(eks, "toggled") == {"enabled": True}

    eks.update_cluster_config(name="toggled", zonalShiftConfig={"enabled": False})
    assert _zonal_shift(eks, "toggled") == {"enabled": False}


def test_an_update_of_something_else_keeps_zonal_shift_config(eks: Any) -> None:
    _create(eks, "kept", zonalShiftConfig={"enabled": True})

    eks.update_cluster_config(
        name="kept", logging={"clusterLogging": [{"types": ["api"], "enabled": True}]}
    )

    assert _zonal_shift(eks, "kept") == {"enabled": True}


def test_the_configuration_is_per_cluster(eks: Any) -> None:
    _create(eks, "one")
    _create(eks, "two")

    eks.update_cluster_config(name="one", zonalShiftConfig={"enabled": True})

    assert _zonal_shift(eks, "one") == {"enabled": True}
    assert _zonal_shift(eks, "two") is None


def test_a_malformed_request_is_refused_by_botocore_and_changes_nothing(eks: Any) -> None:
    _create(eks, "strict")

    with pytest.raises(ParamValidationError):
        eks.update_cluster_config(name="strict", zonalShiftConfig={"enabled": "yes"})

    assert _zonal_shift(eks, "strict") is None


def test_an_update_that_fails_configures_nothing(eks: Any) -> None:
    # Given UpdateClusterConfig on a cluster that does not exist (EKS: ResourceNotFound)
    with pytest.raises(ClientError) as error:
        eks.update_cluster_config(name="later", zonalShiftConfig={"enabled": True})
    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"

    # When a cluster of that name is created afterwards, without zonalShiftConfig
    _create(eks, "later")

    # Then the failed call left no configuration behind
    assert _zonal_shift(eks, "later") is None


def test_describing_a_missing_cluster_is_still_eks_error(eks: Any) -> None:
    with pytest.raises(ClientError) as error:
        eks.describe_cluster(name="nope")

    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_a_create_refused_for_a_name_in_use_keeps_the_existing_configuration(eks: Any) -> None:
    # Given a cluster with zonal shift off
    _create(eks, "taken", zonalShiftConfig={"enabled": False})

    # When a second CreateCluster of that name asks for it on (EKS: ResourceInUseException)
    with pytest.raises(ClientError) as error:
        _create(eks, "taken", zonalShiftConfig={"enabled": True})
    assert error.value.response["Error"]["Code"] == "ResourceInUseException"

    # Then the existing cluster's configuration is unchanged
    assert _zonal_shift(eks, "taken") == {"enabled": False}
