"""The emulator's strict Route 53 change batches, read back through real boto3 clients on moto.

Each rule is one of ChangeResourceRecordSets' documented behaviours
(https://docs.aws.amazon.com/Route53/latest/APIReference/API_ChangeResourceRecordSets.html):
a DELETE must match the record exactly, a CREATE must not find one, a batch is all or nothing.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from evacuation.emulator.route53_strict import Route53Strictness

NAME = "api.example.com."


def _record(sid: str, weight: int, **extra: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "Name": NAME,
        "Type": "A",
        "SetIdentifier": sid,
        "Weight": weight,
        "TTL": 60,
        "ResourceRecords": [{"Value": f"10.0.0.{len(sid)}"}],
    }
    record.update(extra)
    return record


@pytest.fixture
def route53(session: boto3.Session) -> Any:
    return session.client("route53")


@pytest.fixture
def zone(route53: Any) -> str:
    zone_id = route53.create_hosted_zone(Name="example.com.", CallerReference="strict")[
        "HostedZone"
    ]["Id"]
    _change(route53, zone_id, [("CREATE", _record("a", 10)), ("CREATE", _record("bb", 20))])
    return str(zone_id)


def _change(route53: Any, zone: str, changes: list[tuple[str, dict[str, Any]]]) -> None:
    route53.change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={"Changes": [{"Action": a, "ResourceRecordSet": r} for a, r in changes]},
    )


def _weights(route53: Any, zone: str, record_type: str = "A") -> dict[str, int]:
    records = route53.list_resource_record_sets(HostedZoneId=zone, MaxItems="300")
    return {
        r["SetIdentifier"]: r["Weight"]
        for r in records["ResourceRecordSets"]
        if r["Type"] == record_type and "SetIdentifier" in r
    }


def _rejected(route53: Any, zone: str, changes: list[tuple[str, dict[str, Any]]]) -> str:
    with pytest.raises(ClientError) as caught:
        _change(route53, zone, changes)
    response = caught.value.response
    assert response["Error"]["Code"] == "InvalidChangeBatch"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return str(response["Error"]["Message"])


def test_delete_and_create_of_the_exact_record_replaces_it(route53: Any, zone: str) -> None:
    _change(route53, zone, [("DELETE", _record("a", 10)), ("CREATE", _record("a", 0))])
    assert _weights(route53, zone) == {"a": 0, "bb": 20}


@pytest.mark.parametrize(
    "stale",
    [
        _record("a", 11),  # Weight
        _record("a", 10, TTL=300),  # TTL
        _record("a", 10, ResourceRecords=[{"Value": "10.9.9.9"}]),  # ResourceRecords
        _record("a", 10, HealthCheckId="6f1c2d3e-aaaa-bbbb-cccc-1234567890ab"),  # HealthCheckId
    ],
    ids=["weight", "ttl", "values", "health-check"],
)
def test_delete_whose_values_differ_is_rejected_and_nothing_changes(
    route53: Any, zone: str, stale: dict[str, Any]
) -> None:
    message = _rejected(route53, zone, [("DELETE", stale), ("CREATE", _record("a", 0))])
    assert "do not match the current values" in message
    assert "set-identifier='a'" in message
    assert _weights(route53, zone) == {"a": 10, "bb": 20}


def test_delete_of_an_alias_must_match_its_alias_target(route53: Any, zone: str) -> None:
    alias = {"HostedZoneId": "Z35SXDOTRQ7X7K", "DNSName": "lb.elb.amazonaws.com."}
    record = {"Name": NAME, "Type": "A", "SetIdentifier": "alias", "Weight": 5}
    _change(
        route53,
        zone,
        [("CREATE", {**record, "AliasTarget": {**alias, "EvaluateTargetHealth": True}})],
    )
    stale = {**record, "AliasTarget": {**alias, "EvaluateTargetHealth": False}}
    assert "do not match" in _rejected(route53, zone, [("DELETE", stale)])
    _change(
        route53,
        zone,
        [("DELETE", {**record, "AliasTarget": {**alias, "EvaluateTargetHealth": True}})],
    )
    assert "alias" not in _weights(route53, zone)


def test_delete_of_a_missing_record_is_rejected(route53: Any, zone: str) -> None:
    assert "but it was not found" in _rejected(route53, zone, [("DELETE", _record("zz", 10))])


def test_create_of_an_existing_record_is_rejected(route53: Any, zone: str) -> None:
    message = _rejected(route53, zone, [("CREATE", _record("bb", 0))])
    assert "set-identifier='bb'] but it already exists" in message
    assert _weights(route53, zone) == {"a": 10, "bb": 20}


def test_a_batch_is_atomic_one_bad_change_applies_none(route53: Any, zone: str) -> None:
    changes = [
        ("DELETE", _record("a", 10)),
        ("CREATE", _record("a", 0)),
        ("DELETE", _record("bb", 99)),  # stale
        ("CREATE", _record("bb", 0)),
    ]
    message = _rejected(route53, zone, changes)
    assert message.startswith("[") and message.endswith("]")
    assert _weights(route53, zone) == {"a": 10, "bb": 20}


def test_a_weighted_delete_leaves_other_types_with_the_same_set_identifier(
    route53: Any, zone: str
) -> None:
    # moto alone deletes every record with the SetIdentifier, of any name and type
    aaaa = {**_record("a", 10), "Type": "AAAA", "ResourceRecords": [{"Value": "::1"}]}
    _change(route53, zone, [("CREATE", aaaa)])
    _change(route53, zone, [("DELETE", _record("a", 10)), ("CREATE", _record("a", 0))])
    assert _weights(route53, zone, "AAAA") == {"a": 10}
    assert _weights(route53, zone) == {"a": 0, "bb": 20}


def test_before_next_check_lands_a_concurrent_change_between_read_and_write(
    route53: Any, zone: str, strict_route53: Route53Strictness
) -> None:
    # Given another writer sets a's weight to 7 just before our batch is checked
    strict_route53.before_next_check(lambda: _change(route53, zone, [("UPSERT", _record("a", 7))]))
    # Then our DELETE of the record as we read it (weight 10) fails, and theirs stands
    assert "do not match" in _rejected(
        route53, zone, [("DELETE", _record("a", 10)), ("CREATE", _record("a", 0))]
    )
    assert _weights(route53, zone) == {"a": 7, "bb": 20}
    # and the hook is one-shot
    _change(route53, zone, [("DELETE", _record("a", 7)), ("CREATE", _record("a", 0))])
    assert _weights(route53, zone) == {"a": 0, "bb": 20}


def test_a_session_without_the_layer_keeps_motos_lax_behaviour(zone: str) -> None:
    lax = boto3.Session(region_name="us-east-1").client("route53")
    _change(lax, zone, [("DELETE", _record("a", 99))])  # mismatched Weight: moto deletes anyway
    assert _weights(lax, zone) == {"bb": 20}
