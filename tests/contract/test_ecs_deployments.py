"""The ECS deployment fake (evacuation/emulator/ecs.py) against what the ECS documentation
says, and what the ECS kind relies on in moto itself (its stored networkConfiguration and
availabilityZoneRebalancing), so neither a moto upgrade nor the fake can drift silently:

- UpdateService with a changed networkConfiguration "triggers a new service deployment": a new
  PRIMARY deployment IN_PROGRESS, the previous one ACTIVE
  (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_UpdateService.html,
  https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Deployment.html).
- availabilityZoneRebalancing "doesn't trigger a new service deployment"; an update without it
  keeps the existing value (same page).
- A rollout is COMPLETED at steady state, then only the PRIMARY deployment remains
  (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-rollout-state.html).
- DescribeServices reports a service it does not find under `failures` (reason MISSING), not
  as an error (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeServices.html).
"""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from evacuation.emulator.ecs import EcsDeployments
from evacuation.emulator.world import REGION, create_ecs_service, ecs_service


@pytest.fixture
def deployments() -> EcsDeployments:
    return EcsDeployments(reads_to_steady=2)


@pytest.fixture
def session(deployments: EcsDeployments) -> Iterator[boto3.Session]:
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        deployments.install(session)
        yield session


@pytest.fixture
def subnets(session: boto3.Session) -> list[str]:
    ec2 = session.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    return [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{i}.0/24", AvailabilityZoneId=az)["Subnet"][
            "SubnetId"
        ]
        for i, az in enumerate(("use1-az6", "use1-az1", "use1-az2"))
    ]


def _update(session: boto3.Session, ref: str, **kwargs: object) -> None:
    cluster, _, name = ref.partition("/")
    session.client("ecs").update_service(cluster=cluster, service=name, **kwargs)


def _network(session: boto3.Session, ref: str, subnets: list[str]) -> dict[str, object]:
    groups = ecs_service(session, ref)["networkConfiguration"]["awsvpcConfiguration"]
    return {"awsvpcConfiguration": {"subnets": subnets, "securityGroups": groups["securityGroups"]}}


def _rollouts(session: boto3.Session, ref: str) -> list[tuple[str, str]]:
    return [(d["status"], d["rolloutState"]) for d in ecs_service(session, ref)["deployments"]]


def test_a_running_service_reads_steady(session: boto3.Session, subnets: list[str]) -> None:
    ref = create_ecs_service(session, subnets)
    service = ecs_service(session, ref)
    assert _rollouts(session, ref) == [("PRIMARY", "COMPLETED")]
    assert service["runningCount"] == service["desiredCount"] == 3


def test_a_subnet_change_starts_a_deployment_that_reaches_steady_state(
    session: boto3.Session, subnets: list[str]
) -> None:
    ref = create_ecs_service(session, subnets)
    ecs_service(session, ref)

    _update(session, ref, networkConfiguration=_network(session, ref, subnets[1:]))

    # moto stores the new subnets; the fake shows the deployment replacing the old one
    assert (
        ecs_service(session, ref)["networkConfiguration"]["awsvpcConfiguration"]["subnets"]
        == (subnets[1:])
    )
    assert _rollouts(session, ref) == [("PRIMARY", "COMPLETED")]  # the second read: steady


def test_the_first_read_after_a_change_shows_the_rollout_in_progress(
    session: boto3.Session, subnets: list[str], deployments: EcsDeployments
) -> None:
    ref = create_ecs_service(session, subnets)
    ecs_service(session, ref)
    deployments.hold()
    _update(session, ref, networkConfiguration=_network(session, ref, subnets[1:]))
    assert _rollouts(session, ref) == [("PRIMARY", "IN_PROGRESS"), ("ACTIVE", "COMPLETED")]
    assert _rollouts(session, ref) == [("PRIMARY", "IN_PROGRESS"), ("ACTIVE", "COMPLETED")]

    deployments.hold(False)
    ecs_service(session, ref)
    assert _rollouts(session, ref) == [("PRIMARY", "COMPLETED")]


def test_rebalancing_alone_starts_no_deployment_and_is_kept_by_other_updates(
    session: boto3.Session, subnets: list[str]
) -> None:
    ref = create_ecs_service(session, subnets, rebalancing="ENABLED")
    ecs_service(session, ref)

    _update(session, ref, availabilityZoneRebalancing="DISABLED")
    assert _rollouts(session, ref) == [("PRIMARY", "COMPLETED")]
    assert ecs_service(session, ref)["availabilityZoneRebalancing"] == "DISABLED"

    _update(session, ref, networkConfiguration=_network(session, ref, subnets[1:]))
    assert ecs_service(session, ref)["availabilityZoneRebalancing"] == "DISABLED"


def test_a_failed_rollout_reads_failed(
    session: boto3.Session, subnets: list[str], deployments: EcsDeployments
) -> None:
    ref = create_ecs_service(session, subnets)
    ecs_service(session, ref)
    deployments.fail_next()
    _update(session, ref, networkConfiguration=_network(session, ref, subnets[1:]))
    assert _rollouts(session, ref)[0] == ("PRIMARY", "FAILED")


def test_an_unknown_service_is_a_failure_not_an_error(
    session: boto3.Session, subnets: list[str]
) -> None:
    create_ecs_service(session, subnets)
    response = session.client("ecs").describe_services(cluster="checkout", services=["nope"])
    assert response["services"] == []
    assert response["failures"][0]["reason"] == "MISSING"


def test_rebalancing_defaults_to_enabled_on_create(
    session: boto3.Session, subnets: list[str]
) -> None:
    ecs = session.client("ecs")
    ecs.create_cluster(clusterName="other")
    ref = create_ecs_service(session, subnets, "other/api", rebalancing="DISABLED")
    assert ecs_service(session, ref)["availabilityZoneRebalancing"] == "DISABLED"
    ecs.create_service(cluster="other", serviceName="bare", desiredCount=0)
    assert ecs_service(session, "other/bare")["availabilityZoneRebalancing"] == "ENABLED"
