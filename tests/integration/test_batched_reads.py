"""Observation reads in batches where the API allows (ListManagedResources, a zone's records),
within a page budget, and falls back to one read per item: the same answer either way."""

from __future__ import annotations

import boto3
import pytest

from evacuation.aws.clients import AwsClients, Caller
from evacuation.aws.route53 import Route53Gateway
from evacuation.aws.zonal_shift import ZonalShiftGateway
from evacuation.emulator.world import CallRecorder
from evacuation.emulator.zonal_shift import ZonalShiftFake
from evacuation.observe import page_budget
from evacuation.retry import Deadline, RetryPolicy

AZS = ("use1-az6", "use1-az1", "use1-az2")
ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/lb-{:04d}/{:016x}"


def _caller() -> Caller:
    return Caller(RetryPolicy(Deadline.within(60)))


def _calls(recorder: CallRecorder, operation: str) -> int:
    return sum(1 for _, op in recorder.calls if op == operation)


@pytest.mark.parametrize(("others", "pages"), [(0, 1), (250, 3)])
def test_listing_finds_the_wanted_resources_as_get_would(
    session: boto3.Session, fake: ZonalShiftFake, recorder: CallRecorder, others: int, pages: int
) -> None:
    arns = [ARN.format(i, i) for i in range(others + 6)]
    for arn in arns:
        fake.register_resource(arn, AZS)
    wanted = arns[-6:]  # registered last: on the last page
    gateway = ZonalShiftGateway(AwsClients(session), _caller())
    shift_id = gateway.start(wanted[0], "use1-az1", "6h", "ev-1")

    listed = gateway.list_managed_resources(wanted, max_pages=10)

    assert listed == {arn: gateway.get_managed_resource(arn) for arn in wanted}
    assert listed[wanted[0]].shifts[0].shift_id == shift_id
    assert listed[wanted[0]].applied_weights["use1-az1"] == 0
    assert _calls(recorder, "ListManagedResources") == pages


def test_listing_stops_at_its_page_budget(
    session: boto3.Session, fake: ZonalShiftFake, recorder: CallRecorder
) -> None:
    arns = [ARN.format(i, i) for i in range(450)]
    for arn in arns:
        fake.register_resource(arn, AZS)
    wanted = [arns[0], arns[-1]]
    gateway = ZonalShiftGateway(AwsClients(session), _caller())

    listed = gateway.list_managed_resources(wanted, max_pages=page_budget(len(wanted)))

    assert list(listed) == [arns[0]]  # the other is read on its own by the caller
    assert _calls(recorder, "ListManagedResources") == 1


def _zone_with_sets(session: boto3.Session, sets: int, weights_per_set: int) -> str:
    route53 = session.client("route53")
    zone = route53.create_hosted_zone(Name="example.com.", CallerReference="z")["HostedZone"]
    zone_id = zone["Id"].removeprefix("/hostedzone/")
    changes = [
        {
            "Action": "CREATE",
            "ResourceRecordSet": {
                "Name": f"svc{s:03d}.example.com.",
                "Type": "A",
                "SetIdentifier": f"w{w}",
                "Weight": 10,
                "TTL": 60,
                "ResourceRecords": [{"Value": f"10.0.{s % 250}.{w + 1}"}],
            },
        }
        for s in range(sets)
        for w in range(weights_per_set)
    ]
    for start in range(0, len(changes), 500):
        route53.change_resource_record_sets(
            HostedZoneId=zone_id, ChangeBatch={"Changes": changes[start : start + 500]}
        )
    return zone_id


def test_a_zone_listing_returns_whole_sets_even_across_pages(
    session: boto3.Session, recorder: CallRecorder
) -> None:
    # 7 weights per set: 300-record pages end in the middle of a set.
    zone_id = _zone_with_sets(session, sets=100, weights_per_set=7)
    gateway = Route53Gateway(AwsClients(session), _caller())
    wanted = [(f"svc{s:03d}.example.com.", "A") for s in (0, 42, 43, 99)]

    listed = gateway.zone_records(zone_id, wanted, max_pages=10)

    for name, kind in wanted:
        one_by_one = gateway.weighted_records(zone_id, name, kind)
        assert len(one_by_one) == 7
        assert listed[(name.rstrip("."), kind)] == one_by_one


def test_a_zone_listing_out_of_budget_drops_the_set_it_stopped_in(
    session: boto3.Session, recorder: CallRecorder
) -> None:
    zone_id = _zone_with_sets(session, sets=100, weights_per_set=7)
    gateway = Route53Gateway(AwsClients(session), _caller())
    # svc042 straddles the first page's end (records 294..300).
    wanted = [("svc000.example.com.", "A"), ("svc042.example.com.", "A")]

    listed = gateway.zone_records(zone_id, wanted, max_pages=1)

    assert set(listed) == {("svc000.example.com", "A")}
    assert _calls(recorder, "ListResourceRecordSets") == 1
