"""The routing-control fake (evacuation/emulator/routing_control.py) against the rules it claims,
through real boto3 clients pointed at the cluster's endpoints:

- state On/Off per control; unknown ARN ResourceNotFoundException (API reference,
  https://docs.aws.amazon.com/routing-control/latest/APIReference/API_GetRoutingControlState.html);
- an endpoint in maintenance answers EndpointTemporarilyUnavailableException, the cue to try the
  next (https://docs.aws.amazon.com/r53recovery/latest/dg/routing-control.update.api.html);
- an ATLEAST assertion rule refuses a change that leaves too few On, unless overridden
  (https://docs.aws.amazon.com/r53recovery/latest/dg/routing-control.safety-rules.html);
- UpdateRoutingControlStates is all or nothing and takes at most 10 entries
  (https://docs.aws.amazon.com/r53recovery/latest/dg/routing-control.quotas.html).
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from evacuation.emulator.routing_control import RoutingControlFake, RoutingControlFakeError

ONE_ATTEMPT = Config(retries={"total_max_attempts": 1})


@pytest.fixture
def fake() -> RoutingControlFake:
    return RoutingControlFake()


@pytest.fixture
def session(fake: RoutingControlFake) -> boto3.Session:
    session = boto3.Session(region_name="us-west-2")
    fake.install(session)
    return session


def _client(session: boto3.Session, fake: RoutingControlFake, index: int = 0) -> Any:
    url, region = fake.endpoints[index]
    return session.client(
        "route53-recovery-cluster", endpoint_url=url, region_name=region, config=ONE_ATTEMPT
    )


def _code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def test_states_read_and_change(fake: RoutingControlFake, session: boto3.Session) -> None:
    arn = fake.create_routing_control("a")
    client = _client(session, fake)
    assert client.get_routing_control_state(RoutingControlArn=arn)["RoutingControlState"] == "On"
    client.update_routing_control_state(RoutingControlArn=arn, RoutingControlState="Off")
    # any endpoint answers the cluster's one view
    assert (
        _client(session, fake, 3).get_routing_control_state(RoutingControlArn=arn)[
            "RoutingControlState"
        ]
        == "Off"
    )


def test_unknown_control_is_not_found(fake: RoutingControlFake, session: boto3.Session) -> None:
    with pytest.raises(ClientError) as error:
        _client(session, fake).get_routing_control_state(
            RoutingControlArn=f"{fake.cluster_arn}/routingcontrol/nope"
        )
    assert _code(error) == "ResourceNotFoundException"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_an_endpoint_in_maintenance_says_so_and_the_others_answer(
    fake: RoutingControlFake, session: boto3.Session
) -> None:
    arn = fake.create_routing_control("a")
    fake.make_unavailable(fake.endpoints[0][0])
    with pytest.raises(ClientError) as error:
        _client(session, fake, 0).get_routing_control_state(RoutingControlArn=arn)
    assert _code(error) == "EndpointTemporarilyUnavailableException"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert _client(session, fake, 1).get_routing_control_state(RoutingControlArn=arn)


def test_a_host_that_is_no_endpoint_of_the_cluster_is_a_test_bug(
    fake: RoutingControlFake, session: boto3.Session
) -> None:
    client = session.client(
        "route53-recovery-cluster",
        endpoint_url="https://elsewhere.example",
        region_name="us-west-2",
    )
    with pytest.raises(RoutingControlFakeError):
        client.get_routing_control_state(RoutingControlArn="arn:aws:x")


def test_an_at_least_rule_refuses_and_names_itself_unless_overridden(
    fake: RoutingControlFake, session: boto3.Session
) -> None:
    arns = [fake.create_routing_control(n) for n in ("a", "b", "c")]
    rule = fake.add_assertion_rule("two-of-three", arns, 2)
    client = _client(session, fake)
    client.update_routing_control_state(RoutingControlArn=arns[0], RoutingControlState="Off")
    with pytest.raises(ClientError) as error:
        client.update_routing_control_state(RoutingControlArn=arns[1], RoutingControlState="Off")
    assert _code(error) == "ValidationException"
    assert "two-of-three" in error.value.response["Error"]["Message"]
    assert fake.state(arns[1]) == "On"
    client.update_routing_control_state(
        RoutingControlArn=arns[1], RoutingControlState="Off", SafetyRulesToOverride=[rule]
    )
    assert fake.state(arns[1]) == "Off"


def test_batch_updates_are_all_or_nothing_and_at_most_ten(
    fake: RoutingControlFake, session: boto3.Session
) -> None:
    arns = [fake.create_routing_control(f"c{i}") for i in range(11)]
    fake.add_assertion_rule("one-of-two", arns[:2], 1)
    client = _client(session, fake)
    with pytest.raises(ClientError) as error:
        client.update_routing_control_states(
            UpdateRoutingControlStateEntries=[
                {"RoutingControlArn": a, "RoutingControlState": "Off"} for a in arns[:3]
            ]
        )
    assert _code(error) == "ValidationException"
    assert [fake.state(a) for a in arns[:3]] == ["On", "On", "On"]
    with pytest.raises(ClientError) as error:
        client.update_routing_control_states(
            UpdateRoutingControlStateEntries=[
                {"RoutingControlArn": a, "RoutingControlState": "On"} for a in arns
            ]
        )
    assert _code(error) == "ServiceLimitExceededException"


def test_a_conflict_can_be_injected(fake: RoutingControlFake, session: boto3.Session) -> None:
    arn = fake.create_routing_control("a")
    fake.inject_conflict()
    with pytest.raises(ClientError) as error:
        _client(session, fake).update_routing_control_state(
            RoutingControlArn=arn, RoutingControlState="Off"
        )
    assert _code(error) == "ConflictException"
    assert fake.state(arn) == "On"
