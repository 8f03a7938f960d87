"""Route 53 weight writes as compare-and-swap, on moto + the strict Route 53 layer: concurrent
edits between azevac's read and its write, chunked zones, readiness, revert. Every assertion
reads AWS back."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest

from evacuation.emulator.route53_strict import Route53Strictness
from evacuation.emulator.world import CallRecorder, World, snapshot
from evacuation.model import Outcome, Status, StepKind
from tests.conftest import ControllerFactory

AZ = "use1-az1"  # moto: us-east-1b
CHANGE = ("route53", "ChangeResourceRecordSets")
VALUES = {"checkout-use1-az6": "10.20.0.10", "checkout-use1-az1": "10.20.1.10",
          "checkout-use1-az2": "10.20.2.10"}  # fmt: skip


def _upsert(session: boto3.Session, world: World, weights: dict[str, int]) -> None:
    """Another writer (an operator, Terraform) sets weights with UPSERT."""
    session.client("route53").change_resource_record_sets(
        HostedZoneId=world.zone_id,
        ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": {
            "Name": world.record_name, "Type": "A", "SetIdentifier": sid, "Weight": weight,
            "TTL": 60, "ResourceRecords": [{"Value": VALUES[sid]}]}}
            for sid, weight in weights.items()]},
    )  # fmt: skip


def _weight_step(result: Any) -> Any:
    return next(s for s in result.steps if s.key.kind is StepKind.ROUTE53_WEIGHT)


# -- concurrent edits -----------------------------------------------------------------------------


def test_concurrent_edit_of_our_record_is_reread_and_swapped_from_its_new_weight(
    world: World,
    make_controller: ControllerFactory,
    session: boto3.Session,
    strict_route53: Route53Strictness,
    recorder: CallRecorder,
) -> None:
    # Given an operator sets use1-az1's weight to 80 between azevac's read and its write
    strict_route53.before_next_check(lambda: _upsert(session, world, {"checkout-use1-az1": 80}))

    # When use1-az1 is evacuated
    result = make_controller().evacuate(AZ, reason="drill")

    # Then the first batch conflicted, the record was re-read and swapped from 80 to 0
    assert result.status is Status.EVACUATED, result.to_dict()
    assert snapshot(world)["weights"] == {
        "checkout-use1-az6": 50, "checkout-use1-az1": 0, "checkout-use1-az2": 150,
    }  # fmt: skip
    assert recorder.counts()[CHANGE] == 1 + 2  # their UPSERT, our conflict, our retry
    step = _weight_step(result)
    assert step.after["replaced_weight"] == 80

    # And recover restores the weight it replaced (80, theirs), not the one first read (100)
    make_controller().recover(AZ)
    assert snapshot(world)["weights"]["checkout-use1-az1"] == 80


@pytest.mark.parametrize(
    ("theirs", "expected"),
    [
        # the witness (the highest survivor): our batch conflicts, is re-planned, theirs stands
        ({"checkout-use1-az2": 120}, {"checkout-use1-az6": 50, "checkout-use1-az2": 120}),
        # a record our batch does not touch: no conflict, theirs stands
        ({"checkout-use1-az6": 30}, {"checkout-use1-az6": 30, "checkout-use1-az2": 150}),
    ],
    ids=["witness", "untouched"],
)
def test_concurrent_edit_of_another_record_is_never_overwritten(
    world: World,
    make_controller: ControllerFactory,
    session: boto3.Session,
    strict_route53: Route53Strictness,
    theirs: dict[str, int],
    expected: dict[str, int],
) -> None:
    strict_route53.before_next_check(lambda: _upsert(session, world, theirs))

    result = make_controller().evacuate(AZ, reason="drill")

    assert result.status is Status.EVACUATED, result.to_dict()
    assert snapshot(world)["weights"] == {**expected, "checkout-use1-az1": 0}


def test_concurrent_zeroing_of_the_last_survivor_refuses_and_never_reaches_all_zero(
    world: World,
    make_controller: ControllerFactory,
    session: boto3.Session,
    strict_route53: Route53Strictness,
) -> None:
    # Given use1-az6 is already at 0, so use1-az2 is the only other non-zero record
    _upsert(session, world, {"checkout-use1-az6": 0})
    # and another writer zeroes use1-az2 between azevac's read (which passed the guard) and its
    # write: each writer alone saw a non-zero record left
    strict_route53.before_next_check(lambda: _upsert(session, world, {"checkout-use1-az2": 0}))

    # When use1-az1 is evacuated (the AZ guards allow it: use1-az6 at weight 0 counts as out,
    # so one AZ stays in service and two are out)
    safety = {"min_healthy_azs": 1, "max_evacuated_azs": 2}
    result = make_controller(world.config(safety=safety)).evacuate(AZ, reason="drill")

    # Then the weight step fails on the fresh read, and use1-az1 keeps its weight: never all 0
    step = _weight_step(result)
    assert step.outcome is Outcome.FAILED
    assert "every weighted record would be at 0" in (step.error or "")
    assert "concurrent change" in (step.error or "")
    assert result.status is not Status.EVACUATED
    assert snapshot(world)["weights"] == {
        "checkout-use1-az6": 0, "checkout-use1-az1": 100, "checkout-use1-az2": 0,
    }  # fmt: skip


def test_a_second_conflict_fails_the_step_without_writing(
    world: World,
    make_controller: ControllerFactory,
    session: boto3.Session,
    strict_route53: Route53Strictness,
) -> None:
    # Given someone changes the record before our write, and again before our retry
    def edit_twice() -> None:
        _upsert(session, world, {"checkout-use1-az1": 90})
        strict_route53.before_next_check(lambda: _upsert(session, world, {"checkout-use1-az1": 95}))

    strict_route53.before_next_check(edit_twice)

    result = make_controller().evacuate(AZ, reason="drill")

    step = _weight_step(result)
    assert step.outcome is Outcome.FAILED
    assert "changed again" in (step.error or "")
    assert snapshot(world)["weights"]["checkout-use1-az1"] == 95


# -- revert ---------------------------------------------------------------------------------------


def test_revert_swaps_back_and_leaves_a_weight_someone_changed_after_the_evacuation(
    world: World,
    make_controller: ControllerFactory,
    session: boto3.Session,
    strict_route53: Route53Strictness,
) -> None:
    sent: list[list[str]] = []
    session.events.register(
        "before-parameter-build.route53.ChangeResourceRecordSets",
        lambda params, **_: sent.append([c["Action"] for c in params["ChangeBatch"]["Changes"]]),
    )
    make_controller().evacuate(AZ, reason="drill")
    # Given an operator sets use1-az1 to 7 after the evacuation
    _upsert(session, world, {"checkout-use1-az1": 7})
    sent.clear()

    # When azevac recovers
    result = make_controller().recover(AZ)

    # Then the weight stays 7 and nothing was written
    assert snapshot(world)["weights"]["checkout-use1-az1"] == 7
    assert _weight_step(result).outcome is Outcome.SKIPPED
    assert sent == []

    # And a recover that races an operator restoring by hand leaves theirs too
    _upsert(session, world, {"checkout-use1-az1": 100})
    make_controller().evacuate(AZ, reason="drill again", force=True)
    strict_route53.before_next_check(lambda: _upsert(session, world, {"checkout-use1-az1": 42}))
    sent.clear()
    result = make_controller().recover(AZ)
    assert snapshot(world)["weights"]["checkout-use1-az1"] == 42
    assert _weight_step(result).outcome is Outcome.SKIPPED
    ours = [actions for actions in sent if actions != ["UPSERT"]]  # theirs, from the hook
    assert ours == [["DELETE", "CREATE"]]  # one compare-and-swap, rejected; never an UPSERT


def test_revert_is_delete_and_create_of_the_live_record(
    world: World, make_controller: ControllerFactory, session: boto3.Session
) -> None:
    sent: list[list[tuple[str, Any]]] = []
    session.events.register(
        "before-parameter-build.route53.ChangeResourceRecordSets",
        lambda params, **_: sent.append(
            [
                (c["Action"], c["ResourceRecordSet"].get("Weight"))
                for c in params["ChangeBatch"]["Changes"]
            ]
        ),
    )
    evacuated = make_controller().evacuate(AZ, reason="drill")
    # the evacuation: our record 100 -> 0, and the witness (use1-az2, 150) rewritten unchanged
    assert sent == [[("DELETE", 100), ("CREATE", 0), ("DELETE", 150), ("CREATE", 150)]]
    after = _weight_step(evacuated).after
    assert after["weight"] == 0 and after["ttl"] == 60 and after["change_id"]
    insync = datetime.fromisoformat(after["insync_at"])
    assert datetime.fromisoformat(after["dns_off_by"]) == insync + timedelta(seconds=60)

    sent.clear()
    recovered = make_controller().recover(AZ)
    assert sent == [[("DELETE", 0), ("CREATE", 100)]]
    assert _weight_step(recovered).outcome is Outcome.REVERTED
    assert snapshot(world)["weights"]["checkout-use1-az1"] == 100


# -- readiness ------------------------------------------------------------------------------------


def test_readiness_warns_about_health_checks_and_an_unlisted_aaaa_sibling(
    world: World, make_controller: ControllerFactory, session: boto3.Session
) -> None:
    route53 = session.client("route53")
    health_check = route53.create_health_check(
        CallerReference="hc",
        HealthCheckConfig={"Type": "HTTP", "FullyQualifiedDomainName": "x.example.com"},
    )["HealthCheck"]["Id"]
    changes: list[Any] = [
        {"Action": "DELETE", "ResourceRecordSet": {
            "Name": world.record_name, "Type": "A", "SetIdentifier": "checkout-use1-az2",
            "Weight": 150, "TTL": 60, "ResourceRecords": [{"Value": VALUES["checkout-use1-az2"]}]}},
        {"Action": "CREATE", "ResourceRecordSet": {
            "Name": world.record_name, "Type": "A", "SetIdentifier": "checkout-use1-az2",
            "Weight": 150, "TTL": 60, "ResourceRecords": [{"Value": VALUES["checkout-use1-az2"]}],
            "HealthCheckId": health_check}},
    ] + [
        {"Action": "CREATE", "ResourceRecordSet": {
            "Name": world.record_name, "Type": "AAAA", "SetIdentifier": sid, "Weight": 1,
            "TTL": 60, "ResourceRecords": [{"Value": f"2001:db8::{i}"}]}}
        for i, sid in enumerate(VALUES)
    ]  # fmt: skip
    route53.change_resource_record_sets(
        HostedZoneId=world.zone_id, ChangeBatch={"Changes": changes}
    )

    problems = make_controller().reconcile().readiness_problems

    assert any("checkout-use1-az2 have health checks" in p for p in problems), problems
    assert any("weighted AAAA set with the same set identifiers" in p for p in problems), problems
    # Once the config lists the AAAA set too, only the health check remains
    config = world.config()
    config["route53"].append({**config["route53"][0], "type": "AAAA"})
    problems = make_controller(config).reconcile().readiness_problems
    assert not any("AAAA set" in p for p in problems), problems
    assert any("health checks" in p for p in problems)


# -- a large zone ---------------------------------------------------------------------------------

SETS = 700


def _big_zone(session: boto3.Session, world: World) -> tuple[str, list[dict[str, Any]]]:
    route53 = session.client("route53")
    zone_id = route53.create_hosted_zone(Name="big.example.", CallerReference="big")["HostedZone"][
        "Id"
    ].removeprefix("/hostedzone/")
    record_sets, changes = [], []
    for n in range(SETS):
        name = f"svc{n:03d}.big.example."
        identifiers = {az: f"{az}-{n}" for az in world.az_ids}
        record_sets.append(
            {"hosted_zone_id": zone_id, "name": name, "type": "A", "set_identifiers": identifiers}
        )
        changes += [
            {"Action": "CREATE", "ResourceRecordSet": {
                "Name": name, "Type": "A", "SetIdentifier": identifiers[az], "Weight": 100,
                "TTL": 60, "ResourceRecords": [{"Value": f"10.{i}.{n // 250}.{n % 250}"}]}}
            for i, az in enumerate(world.az_ids)
        ]  # fmt: skip
    for start in range(0, len(changes), 1000):
        route53.change_resource_record_sets(
            HostedZoneId=zone_id, ChangeBatch={"Changes": changes[start : start + 1000]}
        )
    return zone_id, record_sets


def _big_weights(session: boto3.Session, zone_id: str) -> dict[str, int]:
    # moto does not cap MaxItems at 300 and its weighted-set pagination is broken (aws-facts
    # §4.2): read the whole zone in one page.
    records = session.client("route53").list_resource_record_sets(
        HostedZoneId=zone_id, MaxItems="5000"
    )["ResourceRecordSets"]
    return {r["SetIdentifier"]: r["Weight"] for r in records if "SetIdentifier" in r}


def test_a_zone_of_700_sets_is_chunked_within_the_limits_and_converges(
    world: World, make_controller: ControllerFactory, session: boto3.Session
) -> None:
    zone_id, record_sets = _big_zone(session, world)
    batches: list[int] = []

    def count(params: dict[str, Any], **_: Any) -> None:
        if params["HostedZoneId"].removeprefix("/hostedzone/") == zone_id:
            changes = params["ChangeBatch"]["Changes"]
            batches.append(sum(len(c["ResourceRecordSet"]["ResourceRecords"]) for c in changes))

    session.events.register("before-parameter-build.route53.ChangeResourceRecordSets", count)
    config = {**world.config(), "route53": record_sets, "zonal_shift": None, "autoscaling": None}
    started = time.monotonic()

    result = make_controller(config).evacuate(AZ, reason="drill")

    # 700 steps x (our swap + the witness's) x 2 records = 2,800 ResourceRecord elements
    assert result.status is Status.EVACUATED, result.to_dict()["reason"]
    assert len(batches) == 3 and all(n <= 1000 for n in batches), batches
    assert sum(batches) == SETS * 4
    weights = _big_weights(session, zone_id)
    assert [n for n in range(SETS) if weights[f"{AZ}-{n}"] != 0] == []
    assert all(w == 100 for sid, w in weights.items() if not sid.startswith(AZ))

    batches.clear()
    make_controller(config).recover(AZ)
    assert all(w == 100 for w in _big_weights(session, zone_id).values())
    assert len(batches) == 2 and all(n <= 1000 for n in batches), batches  # 1,400 elements
    assert time.monotonic() - started < 30
