"""Contract tests for the ARC zonal shift API as azevac uses it.

By default every test runs against the ZonalShiftFake through a real botocore client. Set
AZEVAC_CONTRACT_ARN to the ARN of a managed resource (with AWS credentials in the environment)
to run the contract tests against real AWS instead; tests that need the fake's clock or seeding
are then skipped. Against AWS the tests start real zonal shifts on that resource and cancel
them afterwards.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from evacuation.emulator.zonal_shift import (
    ManualClock,
    ZonalShiftFake,
    ZonalShiftFakeError,
    validate_output,
)

CONTRACT_ARN = os.environ.get("AZEVAC_CONTRACT_ARN")
REGION = "us-east-1"
ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/0123456789abcdef"
AZ_IDS = ("use1-az1", "use1-az2", "use1-az6")
NO_RETRY = Config(retries={"total_max_attempts": 1})
KEY = "testing"
fake_only = pytest.mark.skipif(bool(CONTRACT_ARN), reason="AZEVAC_CONTRACT_ARN selects real AWS")


class ZonalShiftApi(NamedTuple):
    """What a contract test gets: a client, a managed resource ARN and its AZ IDs."""

    client: Any
    arn: str
    az_ids: tuple[str, ...]


def _client(region: str = REGION) -> Any:
    return boto3.client(
        "arc-zonal-shift",
        region_name=region,
        config=NO_RETRY,
        aws_access_key_id=KEY,
        aws_secret_access_key=KEY,
    )


def _resource_arn(index: int) -> str:
    return (
        f"arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:{index:04d}:name/asg-{index}"
    )


def _close_to(actual: datetime, expected: datetime, tolerance: float = 5.0) -> bool:
    return abs((actual - expected).total_seconds()) <= tolerance


def _reason(error: ClientError) -> str:
    return str(error.response.get("reason"))


@pytest.fixture
def clock() -> ManualClock:
    """The fake's injected clock; tests using it (or ``fake``) are skipped against real AWS."""
    if CONTRACT_ARN:
        pytest.skip("fake-only test: AZEVAC_CONTRACT_ARN selects real AWS")
    return ManualClock()


@pytest.fixture
def fake(clock: ManualClock) -> ZonalShiftFake:
    """The fake with ARN registered (fake-only, like ``clock``)."""
    fake = ZonalShiftFake(clock=clock, region=REGION)
    fake.register_resource(ARN, AZ_IDS, name="web")
    return fake


@pytest.fixture
def zonal_shift_api(request: pytest.FixtureRequest) -> Iterator[ZonalShiftApi]:
    """(client, ARN, AZ IDs): backed by the fake, or by real AWS if AZEVAC_CONTRACT_ARN is set."""
    if CONTRACT_ARN:
        yield from _real_aws_api(CONTRACT_ARN)
        return
    fake: ZonalShiftFake = request.getfixturevalue("fake")
    client = _client()
    fake.install(client)
    yield ZonalShiftApi(client, ARN, AZ_IDS)


def _real_aws_api(arn: str) -> Iterator[ZonalShiftApi]:
    """Real AWS: refuse a resource that is already shifted, cancel our shifts afterwards."""
    client = boto3.client("arc-zonal-shift", region_name=arn.split(":")[3], config=NO_RETRY)
    resource = client.get_managed_resource(resourceIdentifier=arn)
    if any(s.get("shiftType", "ZONAL_SHIFT") == "ZONAL_SHIFT" for s in resource["zonalShifts"]):
        pytest.skip(f"{arn} already has an active zonal shift")
    try:
        yield ZonalShiftApi(client, arn, tuple(sorted(resource["appliedWeights"])))
    finally:
        active = client.list_zonal_shifts(resourceIdentifier=arn, status="ACTIVE")["items"]
        for shift in active:
            if shift.get("shiftType", "ZONAL_SHIFT") == "ZONAL_SHIFT":
                client.cancel_zonal_shift(zonalShiftId=shift["zonalShiftId"])


def _start(api: ZonalShiftApi, away_from: str, expires_in: str = "30m") -> dict[str, Any]:
    shift: dict[str, Any] = api.client.start_zonal_shift(
        resourceIdentifier=api.arn,
        awayFrom=away_from,
        expiresIn=expires_in,
        comment="azevac contract test",
    )
    return shift


def _listed_ids(api: ZonalShiftApi, **filters: str) -> set[str]:
    pages = api.client.get_paginator("list_zonal_shifts").paginate(
        resourceIdentifier=api.arn, **filters
    )
    return {item["zonalShiftId"] for page in pages for item in page["items"]}


# ---------------------------------------------------------------------------------------------
# Contract tests: these hold for the fake and for real AWS.


def test_shift_round_trip_start_list_get_update_cancel(zonal_shift_api: ZonalShiftApi) -> None:
    api = zonal_shift_api
    away = api.az_ids[0]

    # Given a managed resource with no zonal shift
    # When a zonal shift away from one AZ is started for 30 minutes
    started = _start(api, away, "30m")

    # Then it is created (201), ACTIVE, and expires 30 minutes after it started
    assert started["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert started["status"] == "ACTIVE"
    assert started["awayFrom"] == away
    assert _close_to(started["expiryTime"], started["startTime"] + timedelta(minutes=30))
    shift_id = started["zonalShiftId"]

    # And it is listed as an ACTIVE customer shift
    items = api.client.list_zonal_shifts(resourceIdentifier=api.arn)["items"]
    listed = next(item for item in items if item["zonalShiftId"] == shift_id)
    assert listed["status"] == "ACTIVE"
    assert listed["shiftType"] == "ZONAL_SHIFT"

    # And the managed resource shows it APPLIED with zero weight for the AZ
    resource = api.client.get_managed_resource(resourceIdentifier=api.arn)
    assert resource["appliedWeights"][away] == 0.0
    in_resource = next(s for s in resource["zonalShifts"] if s["zonalShiftId"] == shift_id)
    assert in_resource["appliedStatus"] == "APPLIED"

    # When it is updated with a new expiry and comment
    updated = api.client.update_zonal_shift(
        zonalShiftId=shift_id, expiresIn="2h", comment="extended by contract test"
    )

    # Then the expiry moves out and the comment is replaced
    assert updated["expiryTime"] > started["expiryTime"]
    assert updated["comment"] == "extended by contract test"

    # When it is cancelled
    cancelled = api.client.cancel_zonal_shift(zonalShiftId=shift_id)

    # Then it is CANCELED, gone from the default (ACTIVE) listing, and weights are restored
    assert cancelled["status"] == "CANCELED"
    assert shift_id not in _listed_ids(api)
    assert shift_id in _listed_ids(api, status="CANCELED")
    weights = api.client.get_managed_resource(resourceIdentifier=api.arn)["appliedWeights"]
    assert weights == dict.fromkeys(api.az_ids, 1.0)


def test_second_start_conflicts_with_reason_and_existing_shift_id(
    zonal_shift_api: ZonalShiftApi,
) -> None:
    api = zonal_shift_api

    # Given an ACTIVE customer shift on the resource
    first = _start(api, api.az_ids[0])

    # When another shift is started on the same resource (even away from another AZ)
    with pytest.raises(api.client.exceptions.ConflictException) as caught:
        _start(api, api.az_ids[1])

    # Then it is a 409 ZonalShiftAlreadyExists naming the existing shift
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert _reason(caught.value) == "ZonalShiftAlreadyExists"
    assert caught.value.response["zonalShiftId"] == first["zonalShiftId"]


@pytest.mark.parametrize("expires_in", ["73h", "3d", "4321m", "0h"])
def test_out_of_range_or_malformed_expires_in_is_rejected_by_the_service(
    zonal_shift_api: ZonalShiftApi, expires_in: str
) -> None:
    api = zonal_shift_api

    # Given an expiresIn that passes botocore's client-side checks (length >= 2)
    # When a shift is started with it
    with pytest.raises(api.client.exceptions.ValidationException) as caught:
        _start(api, api.az_ids[0], expires_in)

    # Then the service rejects it with reason InvalidExpiresIn
    assert _reason(caught.value) == "InvalidExpiresIn"


def test_shift_away_from_an_az_the_resource_is_not_in_is_rejected(
    zonal_shift_api: ZonalShiftApi,
) -> None:
    api = zonal_shift_api
    unknown_az = api.az_ids[0].rsplit("-az", 1)[0] + "-az99"

    # Given an AZ ID the resource is not deployed in
    # When a shift away from it is started
    with pytest.raises(api.client.exceptions.ValidationException) as caught:
        _start(api, unknown_az)

    # Then the service rejects it with reason InvalidAz
    assert _reason(caught.value) == "InvalidAz"


def test_missing_expires_in_is_rejected_by_botocore_before_sending(
    zonal_shift_api: ZonalShiftApi,
) -> None:
    api = zonal_shift_api

    # Given a request without the required expiresIn
    # When it is sent
    # Then botocore's client-side validation refuses it
    with pytest.raises(ParamValidationError):
        api.client.start_zonal_shift(
            resourceIdentifier=api.arn, awayFrom=api.az_ids[0], comment="no expiry"
        )


def test_cancel_or_update_of_a_cancelled_shift_conflicts_as_not_active(
    zonal_shift_api: ZonalShiftApi,
) -> None:
    api = zonal_shift_api

    # Given a shift that was cancelled
    shift_id = _start(api, api.az_ids[0])["zonalShiftId"]
    api.client.cancel_zonal_shift(zonalShiftId=shift_id)

    # When it is cancelled or updated again
    # Then both fail with ConflictException ZonalShiftStatusNotActive
    with pytest.raises(api.client.exceptions.ConflictException) as cancel_again:
        api.client.cancel_zonal_shift(zonalShiftId=shift_id)
    assert _reason(cancel_again.value) == "ZonalShiftStatusNotActive"
    with pytest.raises(api.client.exceptions.ConflictException) as update_after:
        api.client.update_zonal_shift(zonalShiftId=shift_id, expiresIn="1h")
    assert _reason(update_after.value) == "ZonalShiftStatusNotActive"


def test_unknown_shift_id_and_unknown_resource_are_not_found(
    zonal_shift_api: ZonalShiftApi,
) -> None:
    api = zonal_shift_api
    not_found = api.client.exceptions.ResourceNotFoundException

    # Given a shift id and a resource ARN that do not exist
    missing_arn = api.arn + "-missing"

    # When they are used
    # Then each call fails with ResourceNotFoundException
    with pytest.raises(not_found):
        api.client.cancel_zonal_shift(zonalShiftId="00000000-0000-4000-8000-000000000000")
    with pytest.raises(not_found):
        api.client.update_zonal_shift(
            zonalShiftId="00000000-0000-4000-8000-000000000000", comment="x"
        )
    with pytest.raises(not_found):
        api.client.get_managed_resource(resourceIdentifier=missing_arn)
    with pytest.raises(not_found):
        api.client.start_zonal_shift(
            resourceIdentifier=missing_arn, awayFrom=api.az_ids[0], expiresIn="1h", comment="x"
        )


# ---------------------------------------------------------------------------------------------
# Fake-only tests: they need the injected clock, seeding, or many resources.


def test_client_side_validation_error_never_reaches_the_fake(
    zonal_shift_api: ZonalShiftApi, fake: ZonalShiftFake
) -> None:
    # Given the fake installed on the client
    # When a request fails botocore's parameter validation
    with pytest.raises(ParamValidationError):
        zonal_shift_api.client.start_zonal_shift(
            resourceIdentifier=ARN, awayFrom=AZ_IDS[0], expiresIn="m", comment="too short"
        )

    # Then nothing was sent
    assert fake.calls == []


def test_shift_expires_once_the_clock_reaches_its_expiry(
    zonal_shift_api: ZonalShiftApi, fake: ZonalShiftFake, clock: ManualClock
) -> None:
    api = zonal_shift_api

    # Given a 30-minute shift
    shift_id = _start(api, AZ_IDS[0], "30m")["zonalShiftId"]

    # When 29 minutes pass, Then it is still ACTIVE
    clock.advance(timedelta(minutes=29))
    assert shift_id in _listed_ids(api)

    # When the clock reaches its expiry time
    clock.advance(timedelta(minutes=1))

    # Then it is EXPIRED: not listed by default, listed under EXPIRED, weights restored
    assert shift_id not in _listed_ids(api)
    assert shift_id in _listed_ids(api, status="EXPIRED")
    assert fake.shifts(ARN, "EXPIRED")[0]["zonalShiftId"] == shift_id
    weights = api.client.get_managed_resource(resourceIdentifier=ARN)["appliedWeights"]
    assert weights == dict.fromkeys(AZ_IDS, 1.0)

    # And it can no longer be updated, while a new shift may start
    with pytest.raises(api.client.exceptions.ConflictException) as caught:
        api.client.update_zonal_shift(zonalShiftId=shift_id, expiresIn="1h")
    assert _reason(caught.value) == "ZonalShiftStatusNotActive"
    assert _start(api, AZ_IDS[1])["status"] == "ACTIVE"


def test_update_sets_the_new_expiry_from_now_and_keeps_other_fields(
    zonal_shift_api: ZonalShiftApi, clock: ManualClock
) -> None:
    api = zonal_shift_api

    # Given a 30-minute shift started 20 minutes ago
    started = _start(api, AZ_IDS[0], "30m")
    clock.advance(timedelta(minutes=20))

    # When only its expiry is updated to 72h
    updated = api.client.update_zonal_shift(zonalShiftId=started["zonalShiftId"], expiresIn="72h")

    # Then expiry is now + 72h and the comment and start time are unchanged
    assert updated["expiryTime"] == clock() + timedelta(hours=72)
    assert updated["startTime"] == started["startTime"]
    assert updated["comment"] == started["comment"]


def test_update_with_nothing_to_change_is_rejected_as_missing_value(
    zonal_shift_api: ZonalShiftApi, fake: ZonalShiftFake
) -> None:
    shift_id = _start(zonal_shift_api, AZ_IDS[0])["zonalShiftId"]

    # Given an ACTIVE shift, When it is updated with neither expiresIn nor comment
    client = zonal_shift_api.client
    with pytest.raises(client.exceptions.ValidationException) as caught:
        client.update_zonal_shift(zonalShiftId=shift_id)

    # Then the fake answers ValidationException MissingValue
    assert _reason(caught.value) == "MissingValue"


def test_customer_shift_takes_precedence_over_a_practice_run(
    zonal_shift_api: ZonalShiftApi, fake: ZonalShiftFake
) -> None:
    api = zonal_shift_api

    # Given a practice run away from the second AZ
    practice_id = fake.start_practice_run(ARN, AZ_IDS[1])
    resource = api.client.get_managed_resource(resourceIdentifier=ARN)
    assert resource["appliedWeights"] == {AZ_IDS[0]: 1.0, AZ_IDS[1]: 0.0, AZ_IDS[2]: 1.0}
    assert [s["appliedStatus"] for s in resource["zonalShifts"]] == ["APPLIED"]

    # When a customer shift away from the first AZ starts (a practice run does not block it)
    customer_id = _start(api, AZ_IDS[0])["zonalShiftId"]

    # Then the customer shift is APPLIED, the practice run NOT_APPLIED, and weights follow
    resource = api.client.get_managed_resource(resourceIdentifier=ARN)
    applied = {s["zonalShiftId"]: s["appliedStatus"] for s in resource["zonalShifts"]}
    assert applied == {practice_id: "NOT_APPLIED", customer_id: "APPLIED"}
    assert resource["appliedWeights"] == {AZ_IDS[0]: 0.0, AZ_IDS[1]: 1.0, AZ_IDS[2]: 1.0}

    # And both are listed with their shift types
    items = api.client.list_zonal_shifts(resourceIdentifier=ARN)["items"]
    assert {(i["zonalShiftId"], i["shiftType"]) for i in items} == {
        (practice_id, "PRACTICE_RUN"),
        (customer_id, "ZONAL_SHIFT"),
    }

    # When the customer shift is cancelled, Then the practice run is APPLIED again
    api.client.cancel_zonal_shift(zonalShiftId=customer_id)
    resource = api.client.get_managed_resource(resourceIdentifier=ARN)
    assert [(s["zonalShiftId"], s["appliedStatus"]) for s in resource["zonalShifts"]] == [
        (practice_id, "APPLIED")
    ]


def test_autoshift_outranks_practice_run_but_yields_to_customer_shift(
    zonal_shift_api: ZonalShiftApi, fake: ZonalShiftFake
) -> None:
    api = zonal_shift_api

    # Given a practice run away from AZ 2 and an autoshift away from AZ 3
    practice_id = fake.start_practice_run(ARN, AZ_IDS[1])
    fake.start_autoshift(ARN, AZ_IDS[2])

    # When the resource is read
    resource = api.client.get_managed_resource(resourceIdentifier=ARN)

    # Then the autoshift is APPLIED and the practice run is not
    assert [a["appliedStatus"] for a in resource["autoshifts"]] == ["APPLIED"]
    assert resource["zonalShifts"][0]["appliedStatus"] == "NOT_APPLIED"
    assert resource["appliedWeights"][AZ_IDS[2]] == 0.0
    assert resource["zonalAutoshiftStatus"] == "ENABLED"

    # And ListZonalShifts shows the practice run but not the autoshift
    assert _listed_ids(api) == {practice_id}

    # When a customer shift starts, Then it outranks the autoshift
    _start(api, AZ_IDS[0])
    resource = api.client.get_managed_resource(resourceIdentifier=ARN)
    assert [a["appliedStatus"] for a in resource["autoshifts"]] == ["NOT_APPLIED"]
    assert resource["appliedWeights"] == {AZ_IDS[0]: 0.0, AZ_IDS[1]: 1.0, AZ_IDS[2]: 1.0}


def test_practice_run_ends_after_30_minutes_as_succeeded(
    zonal_shift_api: ZonalShiftApi, fake: ZonalShiftFake, clock: ManualClock
) -> None:
    # Given a practice run
    practice_id = fake.start_practice_run(ARN, AZ_IDS[1])
    assert fake.shifts(ARN, "ACTIVE")[0]["practiceRunOutcome"] == "PENDING"

    # When 30 minutes pass
    clock.advance(timedelta(minutes=30))

    # Then it is EXPIRED with outcome SUCCEEDED
    [expired] = fake.shifts(ARN, "EXPIRED")
    assert (expired["zonalShiftId"], expired["practiceRunOutcome"]) == (practice_id, "SUCCEEDED")


def test_paginators_walk_more_than_100_shifts_and_resources(fake: ZonalShiftFake) -> None:
    # Given 105 more resources, each with an ACTIVE shift, and one CANCELED shift
    client = _client()
    fake.install(client)
    arns = [_resource_arn(index) for index in range(105)]
    for arn in arns:
        fake.register_resource(arn, AZ_IDS)
        client.start_zonal_shift(
            resourceIdentifier=arn, awayFrom=AZ_IDS[0], expiresIn="1h", comment="bulk"
        )
    cancelled = _start(ZonalShiftApi(client, ARN, AZ_IDS), AZ_IDS[1])["zonalShiftId"]
    client.cancel_zonal_shift(zonalShiftId=cancelled)

    # When the ACTIVE shifts are paginated 40 at a time and with the default page size
    paginator = client.get_paginator("list_zonal_shifts")
    pages_of_40 = list(paginator.paginate(PaginationConfig={"PageSize": 40}))
    default_pages = list(paginator.paginate())

    # Then every ACTIVE shift appears exactly once, and the CANCELED one does not
    ids = [item["zonalShiftId"] for page in pages_of_40 for item in page["items"]]
    assert [len(page["items"]) for page in pages_of_40] == [40, 40, 25]
    assert len(ids) == len(set(ids)) == 105
    assert cancelled not in ids
    assert [len(page["items"]) for page in default_pages] == [100, 5]
    assert {i["resourceIdentifier"] for p in default_pages for i in p["items"]} == set(arns)

    # And the managed resources paginate the same way (105 + the fixture's resource)
    resources = client.get_paginator("list_managed_resources").paginate(
        PaginationConfig={"PageSize": 50}
    )
    assert len([r["arn"] for page in resources for r in page["items"]]) == 106


def test_concurrent_starts_on_20_resources_all_succeed(fake: ZonalShiftFake) -> None:
    # Given 20 resources and one client shared by 20 threads
    client = _client()
    fake.install(client)
    arns = [_resource_arn(index) for index in range(20)]
    for arn in arns:
        fake.register_resource(arn, AZ_IDS)
    barrier = threading.Barrier(20)

    def start(arn: str) -> str:
        barrier.wait()
        return str(
            client.start_zonal_shift(
                resourceIdentifier=arn, awayFrom=AZ_IDS[1], expiresIn="1h", comment="race"
            )["zonalShiftId"]
        )

    # When each thread starts a shift on its own resource at the same time
    with ThreadPoolExecutor(max_workers=20) as pool:
        ids = list(pool.map(start, arns))

    # Then all 20 are ACTIVE, distinct, and every request was recorded
    assert len(set(ids)) == 20
    assert {s["zonalShiftId"] for s in fake.shifts(status="ACTIVE")} == set(ids)
    assert [name for name, _ in fake.calls] == ["StartZonalShift"] * 20


def test_concurrent_starts_on_one_resource_admit_exactly_one(fake: ZonalShiftFake) -> None:
    # Given 20 threads racing to shift the same resource
    client = _client()
    fake.install(client)
    barrier = threading.Barrier(20)

    def start(index: int) -> str:
        barrier.wait()
        try:
            return str(
                _start(ZonalShiftApi(client, ARN, AZ_IDS), AZ_IDS[index % 3])["zonalShiftId"]
            )
        except client.exceptions.ConflictException as error:
            return f"conflict:{error.response['zonalShiftId']}"

    # When they all call StartZonalShift at once
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(start, range(20)))

    # Then exactly one wins and the other 19 are told the winner's id
    winners = [r for r in results if not r.startswith("conflict:")]
    assert len(winners) == 1
    assert results.count(f"conflict:{winners[0]}") == 19


def test_fake_answers_under_moto_mock_aws_alongside_moto_services(fake: ZonalShiftFake) -> None:
    # Given moto's mock_aws active and the fake installed on a zonal shift client
    with mock_aws():
        client = _client()
        fake.install(client)

        # When zonal shift and STS calls are made
        started = _start(ZonalShiftApi(client, ARN, AZ_IDS), AZ_IDS[0])
        sts = boto3.client(
            "sts", region_name=REGION, aws_access_key_id=KEY, aws_secret_access_key=KEY
        )
        identity = sts.get_caller_identity()

        # Then the fake answers zonal shift and moto answers STS
        assert client.list_zonal_shifts()["items"][0]["zonalShiftId"] == started["zonalShiftId"]
        assert identity["Account"] == "123456789012"
        assert [name for name, _ in fake.calls] == ["StartZonalShift", "ListZonalShifts"]


def test_install_on_a_session_reaches_clients_created_afterwards(fake: ZonalShiftFake) -> None:
    # Given the fake installed on a boto3 Session
    session = boto3.Session(region_name=REGION, aws_access_key_id=KEY, aws_secret_access_key=KEY)
    fake.install(session)

    # When a client is created from it afterwards
    client = session.client("arc-zonal-shift", config=NO_RETRY)

    # Then its calls reach the fake
    assert client.get_managed_resource(resourceIdentifier=ARN)["name"] == "web"
    assert fake.calls == [("GetManagedResource", {"resourceIdentifier": ARN})]


def test_unimplemented_operation_fails_loudly_with_501(zonal_shift_api: ZonalShiftApi) -> None:
    # Given an operation the fake does not model
    # When it is called
    with pytest.raises(ClientError) as caught:
        zonal_shift_api.client.list_autoshifts()

    # Then the client gets a 501 NotImplemented error, not a silent empty answer
    assert caught.value.response["Error"]["Code"] == "NotImplemented"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501


def test_request_signed_for_another_region_is_refused(fake: ZonalShiftFake) -> None:
    # Given the us-east-1 fake installed on a us-west-2 client
    client = _client("us-west-2")
    fake.install(client)

    # When it calls the API, Then the fake refuses to answer with us-east-1 state
    with pytest.raises(ZonalShiftFakeError, match="us-west-2"):
        client.list_zonal_shifts()


@fake_only
def test_response_validation_rejects_what_the_real_api_cannot_return() -> None:
    # Given ZonalShift bodies missing a required member or carrying an unknown enum value
    shift = {
        "zonalShiftId": "00000000-0000-4000-8000-000000000000",
        "resourceIdentifier": ARN,
        "awayFrom": AZ_IDS[0],
        "expiryTime": datetime(2026, 1, 1, 13, 0).astimezone(),
        "startTime": datetime(2026, 1, 1, 12, 0).astimezone(),
        "comment": "x",
    }

    # When they are validated as StartZonalShift output, Then both are rejected
    with pytest.raises(ZonalShiftFakeError, match="status"):
        validate_output("StartZonalShift", shift)
    with pytest.raises(ZonalShiftFakeError, match="WEIRD"):
        validate_output("StartZonalShift", {**shift, "status": "WEIRD"})
    validate_output("StartZonalShift", {**shift, "status": "ACTIVE"})


@functools.cache
def _shared_client() -> Any:
    return _client()


@fake_only
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(amount=st.integers(min_value=1, max_value=9999), unit=st.sampled_from(["m", "h"]))
def test_expires_in_is_accepted_exactly_up_to_72_hours(amount: int, unit: str) -> None:
    # Given a fresh fake installed on a shared client, and a well-formed expiresIn
    fake = ZonalShiftFake(clock=ManualClock())
    fake.register_resource(ARN, AZ_IDS)
    client = _shared_client()
    fake.install(client)
    minutes = amount * (60 if unit == "h" else 1)

    # When a shift is started with it
    try:
        _start(ZonalShiftApi(client, ARN, AZ_IDS), AZ_IDS[0], f"{amount}{unit}")
        accepted = True
    except client.exceptions.ValidationException as error:
        assert _reason(error) == "InvalidExpiresIn"
        accepted = False
    finally:
        fake.uninstall(client)

    # Then it is accepted if and only if it is at most 72 hours
    assert accepted == (minutes <= 72 * 60)
