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
from unittest.mock import ANY

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from evacuation.emulator.zonal_shift import (
    FailedToStartError,
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
        "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:"
        f"00000000-0000-4000-8000-{index:012d}:autoScalingGroupName/asg-{index}"
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


@pytest.mark.parametrize(
    "operation", ["list_zonal_shifts", "list_managed_resources", "list_autoshifts"]
)
def test_max_results_above_100_is_rejected_by_the_service(
    zonal_shift_api: ZonalShiftApi, operation: str
) -> None:
    # Rule: maxResults is 1-100 (model min/max). botocore checks only the minimum client-side.
    client = zonal_shift_api.client

    # Given maxResults=101, When a List operation is called
    with pytest.raises(client.exceptions.ValidationException) as caught:
        getattr(client, operation)(maxResults=101)

    # Then the service answers 400 ValidationException (the model has no reason for it)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    # And 100 itself is accepted
    assert "items" in getattr(client, operation)(maxResults=100)


@pytest.mark.parametrize(
    "operation", ["list_zonal_shifts", "list_managed_resources", "list_autoshifts"]
)
def test_max_results_below_1_is_rejected_by_botocore_before_sending(
    zonal_shift_api: ZonalShiftApi, operation: str
) -> None:
    # Given maxResults=0, When a List operation is called, Then botocore refuses it (model min 1)
    with pytest.raises(ParamValidationError, match="maxResults"):
        getattr(zonal_shift_api.client, operation)(maxResults=0)


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


def _resource(api: ZonalShiftApi, arn: str = ARN) -> dict[str, Any]:
    resource: dict[str, Any] = api.client.get_managed_resource(resourceIdentifier=arn)
    return resource


def _applied(resource: dict[str, Any]) -> list[tuple[str, str]]:
    """(shiftType or AUTOSHIFT, awayFrom) of every APPLIED entry, shifts and autoshifts."""
    return [
        (s.get("shiftType", "ZONAL_SHIFT"), s["awayFrom"])
        for s in resource["zonalShifts"]
        if s["appliedStatus"] == "APPLIED"
    ] + [
        ("AUTOSHIFT", a["awayFrom"])
        for a in resource["autoshifts"]
        if a["appliedStatus"] == "APPLIED"
    ]


def _weights_away_from(az: str | None) -> dict[str, float]:
    return {az_id: 0.0 if az_id == az else 1.0 for az_id in AZ_IDS}


def _shift_status(api: ZonalShiftApi, shift_id: str, status: str) -> dict[str, Any]:
    items = api.client.list_zonal_shifts(resourceIdentifier=ARN, status=status)["items"]
    item: dict[str, Any] = next(i for i in items if i["zonalShiftId"] == shift_id)
    return item


def test_precedence_applies_exactly_one_shift_customer_over_autoshift(
    zonal_shift_api: ZonalShiftApi, fake: ZonalShiftFake
) -> None:
    # Rule 1 (precedence page): one APPLIED shift; weights 0.0 only for its awayFrom.
    api = zonal_shift_api

    # Given an autoshift away from AZ 3, Then it alone is applied
    fake.start_autoshift(ARN, AZ_IDS[2])
    resource = _resource(api)
    assert _applied(resource) == [("AUTOSHIFT", AZ_IDS[2])]
    assert resource["appliedWeights"] == _weights_away_from(AZ_IDS[2])
    assert resource["zonalAutoshiftStatus"] == "ENABLED"

    # When a customer shift away from AZ 1 starts
    customer_id = _start(api, AZ_IDS[0])["zonalShiftId"]

    # Then only the customer shift is APPLIED; the autoshift is ACTIVE but NOT_APPLIED
    resource = _resource(api)
    assert _applied(resource) == [("ZONAL_SHIFT", AZ_IDS[0])]
    assert [a["appliedStatus"] for a in resource["autoshifts"]] == ["NOT_APPLIED"]
    assert resource["appliedWeights"] == _weights_away_from(AZ_IDS[0])
    # And ListZonalShifts shows the customer shift but not the autoshift
    assert _listed_ids(api) == {customer_id}


def test_customer_shift_interrupts_a_practice_run_for_good(
    zonal_shift_api: ZonalShiftApi, fake: ZonalShiftFake
) -> None:
    # Rule 2: "The practice run will be canceled and the outcome set to INTERRUPTED"
    api = zonal_shift_api

    # Given a practice run away from AZ 2, applied
    practice_id = fake.start_practice_run(ARN, AZ_IDS[1])
    assert _applied(_resource(api)) == [("PRACTICE_RUN", AZ_IDS[1])]

    # When a customer shift away from AZ 1 starts (a practice run does not block it)
    customer_id = _start(api, AZ_IDS[0])["zonalShiftId"]

    # Then the practice run is CANCELED with outcome INTERRUPTED and gone from the resource
    practice = _shift_status(api, practice_id, "CANCELED")
    assert (practice["shiftType"], practice["practiceRunOutcome"]) == (
        "PRACTICE_RUN",
        "INTERRUPTED",
    )
    resource = _resource(api)
    assert [s["zonalShiftId"] for s in resource["zonalShifts"]] == [customer_id]
    assert resource["appliedWeights"] == _weights_away_from(AZ_IDS[0])

    # When the customer shift is cancelled, Then the practice run does not come back
    api.client.cancel_zonal_shift(zonalShiftId=customer_id)
    resource = _resource(api)
    assert resource["zonalShifts"] == []
    assert resource["appliedWeights"] == _weights_away_from(None)
    assert _listed_ids(api) == set()


@pytest.mark.parametrize("seed", ["start_autoshift", "start_fis_shift"])
def test_autoshift_or_fis_shift_interrupts_a_practice_run(
    zonal_shift_api: ZonalShiftApi, fake: ZonalShiftFake, seed: str
) -> None:
    # Rule 2: an autoshift or an FIS experiment also cancels a running practice run
    api = zonal_shift_api
    practice_id = fake.start_practice_run(ARN, AZ_IDS[1])

    # When AWS starts an autoshift / FIS shift away from AZ 3
    getattr(fake, seed)(ARN, AZ_IDS[2])

    # Then the practice run is CANCELED/INTERRUPTED and the newcomer is applied
    practice = _shift_status(api, practice_id, "CANCELED")
    assert practice["practiceRunOutcome"] == "INTERRUPTED"
    resource = _resource(api)
    assert [kind for kind, _ in _applied(resource)] == [
        "AUTOSHIFT" if seed == "start_autoshift" else "FIS_EXPERIMENT"
    ]
    assert resource["appliedWeights"] == _weights_away_from(AZ_IDS[2])


def test_customer_shift_cancels_an_fis_shift_for_good(
    zonal_shift_api: ZonalShiftApi, fake: ZonalShiftFake, clock: ManualClock
) -> None:
    # Rule 3: "The AWS FIS experiment will be canceled, and the manual zonal shift will be applied"
    api = zonal_shift_api

    # Given an FIS experiment's shift away from AZ 2
    fis_id = fake.start_fis_shift(ARN, AZ_IDS[1], expires_in=timedelta(minutes=45))
    resource = _resource(api)
    [fis] = resource["zonalShifts"]
    assert (fis["zonalShiftId"], fis["shiftType"], fis["appliedStatus"]) == (
        fis_id,
        "FIS_EXPERIMENT",
        "APPLIED",
    )
    assert fis["expiryTime"] == clock() + timedelta(minutes=45)
    assert resource["appliedWeights"] == _weights_away_from(AZ_IDS[1])

    # When a customer shift away from AZ 1 starts
    customer_id = _start(api, AZ_IDS[0])["zonalShiftId"]

    # Then the FIS shift is CANCELED and the customer shift applied
    assert [s["zonalShiftId"] for s in fake.shifts(ARN, "CANCELED")] == [fis_id]
    assert _applied(_resource(api)) == [("ZONAL_SHIFT", AZ_IDS[0])]

    # When the customer shift ends, Then the FIS shift does not come back
    api.client.cancel_zonal_shift(zonalShiftId=customer_id)
    resource = _resource(api)
    assert resource["zonalShifts"] == []
    assert resource["appliedWeights"] == _weights_away_from(None)


def test_autoshift_cancels_an_fis_shift(
    zonal_shift_api: ZonalShiftApi, fake: ZonalShiftFake
) -> None:
    # Rule 3: "The AWS FIS experiment will be canceled, and the zonal autoshift will be applied"
    fis_id = fake.start_fis_shift(ARN, AZ_IDS[1])

    fake.start_autoshift(ARN, AZ_IDS[2])

    assert [s["zonalShiftId"] for s in fake.shifts(ARN, "CANCELED")] == [fis_id]
    resource = _resource(zonal_shift_api)
    assert resource["zonalShifts"] == []
    assert _applied(resource) == [("AUTOSHIFT", AZ_IDS[2])]


@pytest.mark.parametrize("active", ["customer", "autoshift", "fis"])
def test_fis_shift_fails_to_start_while_a_higher_or_equal_shift_is_active(
    zonal_shift_api: ZonalShiftApi, fake: ZonalShiftFake, active: str
) -> None:
    # Rule 3: FIS "fails to start" under a customer shift, an autoshift or another FIS shift
    api = zonal_shift_api
    if active == "customer":
        _start(api, AZ_IDS[0])
    elif active == "autoshift":
        fake.start_autoshift(ARN, AZ_IDS[0])
    else:
        fake.start_fis_shift(ARN, AZ_IDS[0])
    before = _resource(api)

    # When an FIS experiment tries to shift the resource, Then it fails to start
    with pytest.raises(FailedToStartError, match="FIS_EXPERIMENT fails to start"):
        fake.start_fis_shift(ARN, AZ_IDS[1])

    # And nothing changed
    assert _resource(api) == {**before, "ResponseMetadata": ANY}


@pytest.mark.parametrize("active", ["customer", "autoshift", "fis", "practice"])
def test_practice_run_fails_to_start_while_another_shift_is_active(
    zonal_shift_api: ZonalShiftApi, fake: ZonalShiftFake, active: str
) -> None:
    # Rule 3: "The practice run will fail to start" under a customer shift, autoshift or FIS
    api = zonal_shift_api
    seeds = {
        "customer": lambda: _start(api, AZ_IDS[0]),
        "autoshift": lambda: fake.start_autoshift(ARN, AZ_IDS[0]),
        "fis": lambda: fake.start_fis_shift(ARN, AZ_IDS[0]),
        "practice": lambda: fake.start_practice_run(ARN, AZ_IDS[0]),
    }
    seeds[active]()

    with pytest.raises(FailedToStartError, match="PRACTICE_RUN fails to start"):
        fake.start_practice_run(ARN, AZ_IDS[1])

    # And no second practice run exists
    assert len([s for s in _resource(api)["zonalShifts"] if s["awayFrom"] == AZ_IDS[1]]) == 0


def test_fis_shift_cannot_be_updated_or_cancelled_through_arc(
    zonal_shift_api: ZonalShiftApi, fake: ZonalShiftFake
) -> None:
    # Rule 3: UpdateZonalShift on an FIS shift is FISExperimentUpdateNotAllowed; Cancel too
    # (docs silent: the fake takes the stricter reading, see the module docstring)
    client = zonal_shift_api.client
    fis_id = fake.start_fis_shift(ARN, AZ_IDS[1])

    with pytest.raises(client.exceptions.ValidationException) as update:
        client.update_zonal_shift(zonalShiftId=fis_id, expiresIn="2h")
    assert _reason(update.value) == "FISExperimentUpdateNotAllowed"
    with pytest.raises(client.exceptions.ValidationException) as cancel:
        client.cancel_zonal_shift(zonalShiftId=fis_id)
    assert _reason(cancel.value) == "FISExperimentUpdateNotAllowed"

    # And it is still ACTIVE and applied; ListZonalShifts leaves FIS shifts out (stricter)
    assert _applied(_resource(zonal_shift_api)) == [("FIS_EXPERIMENT", AZ_IDS[1])]
    assert _listed_ids(zonal_shift_api) == set()


def test_autoshift_is_applied_again_once_the_customer_shift_ends(
    zonal_shift_api: ZonalShiftApi, fake: ZonalShiftFake, clock: ManualClock
) -> None:
    # Rule 4 (inferred, aws-semantics §1.2): the still-ACTIVE autoshift is APPLIED again
    api = zonal_shift_api
    fake.start_autoshift(ARN, AZ_IDS[2])
    first = _start(api, AZ_IDS[0], "30m")["zonalShiftId"]

    # When the customer shift is cancelled, Then the autoshift is APPLIED again
    api.client.cancel_zonal_shift(zonalShiftId=first)
    resource = _resource(api)
    assert _applied(resource) == [("AUTOSHIFT", AZ_IDS[2])]
    assert resource["appliedWeights"] == _weights_away_from(AZ_IDS[2])

    # And the same when a later customer shift expires instead
    _start(api, AZ_IDS[0], "30m")
    assert _applied(_resource(api)) == [("ZONAL_SHIFT", AZ_IDS[0])]
    clock.advance(timedelta(minutes=30))
    assert _applied(_resource(api)) == [("AUTOSHIFT", AZ_IDS[2])]

    # And once AWS ends the autoshift, nothing is applied
    fake.end_autoshift(ARN)
    resource = _resource(api)
    assert (resource["autoshifts"], resource["appliedWeights"]) == ([], _weights_away_from(None))


def test_list_managed_resources_items_carry_active_autoshifts(
    zonal_shift_api: ZonalShiftApi, fake: ZonalShiftFake
) -> None:
    # Rule 4: the fake lists active autoshifts in ListManagedResources items too (fake choice)
    fake.start_autoshift(ARN, AZ_IDS[1])
    _start(zonal_shift_api, AZ_IDS[0])

    [item] = zonal_shift_api.client.list_managed_resources()["items"]
    resource = _resource(zonal_shift_api)

    assert item["autoshifts"] == resource["autoshifts"]
    assert item["autoshifts"][0]["appliedStatus"] == "NOT_APPLIED"
    assert item["appliedWeights"] == resource["appliedWeights"] == _weights_away_from(AZ_IDS[0])
    assert item["availabilityZones"] == list(AZ_IDS)


def test_list_autoshifts_is_region_wide_active_by_default_then_completed(
    zonal_shift_api: ZonalShiftApi, fake: ZonalShiftFake, clock: ManualClock
) -> None:
    # Rule 4: ListAutoshifts (GET /autoshifts), ACTIVE by default, COMPLETED on request
    client = zonal_shift_api.client
    other = _resource_arn(1)
    fake.register_resource(other, AZ_IDS)
    assert client.list_autoshifts()["items"] == []

    # Given AWS autoshifting two resources away from AZ 2, and later one away from AZ 3
    fake.start_autoshift(ARN, AZ_IDS[1])
    clock.advance(timedelta(seconds=30))
    fake.start_autoshift(other, AZ_IDS[1])  # joins the region-wide autoshift away from AZ 2
    started = clock()
    clock.advance(timedelta(minutes=1))
    third = _resource_arn(2)
    fake.register_resource(third, AZ_IDS)
    fake.start_autoshift(third, AZ_IDS[2])

    # Then two ACTIVE autoshifts are listed, one per AZ
    items = client.list_autoshifts()["items"]
    assert [(i["awayFrom"], i["status"]) for i in items] == [
        (AZ_IDS[1], "ACTIVE"),
        (AZ_IDS[2], "ACTIVE"),
    ]
    assert "endTime" not in items[0]
    assert items[0]["startTime"] == started - timedelta(seconds=30)
    assert client.list_autoshifts(status="COMPLETED")["items"] == []

    # When AWS ends the AZ 2 autoshift on both resources
    clock.advance(timedelta(minutes=10))
    fake.end_autoshift(ARN)
    assert [i["awayFrom"] for i in client.list_autoshifts()["items"]] == list(AZ_IDS[1:])
    fake.end_autoshift(other)

    # Then it is COMPLETED with an endTime, and only AZ 3's is still ACTIVE
    [completed] = client.list_autoshifts(status="COMPLETED")["items"]
    assert (completed["awayFrom"], completed["endTime"]) == (AZ_IDS[1], clock())
    assert [i["awayFrom"] for i in client.list_autoshifts(status="ACTIVE")["items"]] == [AZ_IDS[2]]


def test_list_autoshifts_paginates_with_max_results_and_next_token(fake: ZonalShiftFake) -> None:
    # Rule 4: maxResults / nextToken on ListAutoshifts, and its paginator
    client = _client()
    fake.install(client)
    for index in range(3):
        fake.register_resource(_resource_arn(index), AZ_IDS)
        fake.start_autoshift(_resource_arn(index), AZ_IDS[index])

    first = client.list_autoshifts(maxResults=2)
    second = client.list_autoshifts(maxResults=2, nextToken=first["nextToken"])
    pages = list(client.get_paginator("list_autoshifts").paginate(PaginationConfig={"PageSize": 1}))

    assert [i["awayFrom"] for i in first["items"] + second["items"]] == list(AZ_IDS)
    assert "nextToken" not in second
    assert [i["awayFrom"] for p in pages for i in p["items"]] == list(AZ_IDS)


SUPPORTED_ARNS = [
    ARN,
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/nlb/0123456789abcdef",
    _resource_arn(7),
    "arn:aws:eks:us-east-1:123456789012:cluster/prod",
]
UNSUPPORTED_ARNS = [
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef",
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/classic-web",
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/gwy/gwlb/0123456789abcdef",
    "arn:aws:ecs:us-east-1:123456789012:service/cluster/web",
    "arn:aws:rds:us-east-1:123456789012:db:orders",
    "arn:aws:eks:us-east-1:123456789012:nodegroup/prod/ng/0123",
    "not-an-arn",
]


@pytest.mark.parametrize("arn", SUPPORTED_ARNS[1:])
def test_register_resource_accepts_alb_nlb_asg_and_eks_arns(
    zonal_shift_api: ZonalShiftApi, fake: ZonalShiftFake, arn: str
) -> None:
    # Rule 6: the supported types (resource-types page) register and can be shifted
    fake.register_resource(arn, AZ_IDS)
    shift = zonal_shift_api.client.start_zonal_shift(
        resourceIdentifier=arn, awayFrom=AZ_IDS[0], expiresIn="1h", comment="type check"
    )
    assert shift["resourceIdentifier"] == arn
    assert _resource(zonal_shift_api, arn)["appliedWeights"][AZ_IDS[0]] == 0.0


@pytest.mark.parametrize("arn", UNSUPPORTED_ARNS)
def test_register_resource_refuses_types_arc_does_not_support(
    fake: ZonalShiftFake, arn: str
) -> None:
    # Rule 6: target groups, CLB, GWLB, ECS, RDS, EKS node groups are not ARC resources
    with pytest.raises(ZonalShiftFakeError, match="supports"):
        fake.register_resource(arn, AZ_IDS)


def test_injected_conflict_without_shift_id_changes_nothing(
    zonal_shift_api: ZonalShiftApi, fake: ZonalShiftFake
) -> None:
    # Rule 7: SimultaneousZonalShiftsConflict on demand, without zonalShiftId
    client = zonal_shift_api.client
    fake.inject_conflict()

    with pytest.raises(client.exceptions.ConflictException) as caught:
        _start(zonal_shift_api, AZ_IDS[0])

    assert _reason(caught.value) == "SimultaneousZonalShiftsConflict"
    assert "zonalShiftId" not in caught.value.response
    assert fake.shifts() == []
    # And the injection is used up: the retry succeeds
    assert _start(zonal_shift_api, AZ_IDS[0])["status"] == "ACTIVE"


def test_injected_conflict_with_a_shift_id_on_another_operation_repeats(
    zonal_shift_api: ZonalShiftApi, fake: ZonalShiftFake
) -> None:
    # Rule 7: any modelled reason, any operation, with an id, `times` times
    client = zonal_shift_api.client
    shift_id = _start(zonal_shift_api, AZ_IDS[0])["zonalShiftId"]
    fake.inject_conflict("UpdateZonalShift", "ZonalShiftAlreadyExists", shift_id, times=2)

    for _ in range(2):
        with pytest.raises(client.exceptions.ConflictException) as caught:
            client.update_zonal_shift(zonalShiftId=shift_id, expiresIn="2h")
        assert (_reason(caught.value), caught.value.response["zonalShiftId"]) == (
            "ZonalShiftAlreadyExists",
            shift_id,
        )
    assert client.update_zonal_shift(zonalShiftId=shift_id, expiresIn="2h")["status"] == "ACTIVE"
    with pytest.raises(ZonalShiftFakeError, match="ConflictExceptionReason"):
        fake.inject_conflict(reason="Busy")


def test_delay_apply_keeps_a_new_shift_not_applied_for_n_reads(
    zonal_shift_api: ZonalShiftApi, fake: ZonalShiftFake
) -> None:
    # Rule 7 / ARC-4: ACTIVE is not APPLIED until the lag has run out
    api = zonal_shift_api
    fake.start_autoshift(ARN, AZ_IDS[2])
    fake.delay_apply(2)
    shift_id = _start(api, AZ_IDS[0])["zonalShiftId"]

    # Then the first read (Get) and the second (List) show it ACTIVE but NOT_APPLIED
    first = _resource(api)
    assert first["zonalShifts"][0]["appliedStatus"] == "NOT_APPLIED"
    assert first["appliedWeights"] == _weights_away_from(AZ_IDS[2])  # the autoshift still holds
    [second] = api.client.list_managed_resources()["items"]
    assert second["zonalShifts"][0]["appliedStatus"] == "NOT_APPLIED"
    assert _listed_ids(api) == {shift_id}

    # And the third read shows it APPLIED with weight 0
    third = _resource(api)
    assert _applied(third) == [("ZONAL_SHIFT", AZ_IDS[0])]
    assert third["appliedWeights"] == _weights_away_from(AZ_IDS[0])


def test_cancel_zonal_shift_ends_a_practice_run_as_interrupted(
    zonal_shift_api: ZonalShiftApi, fake: ZonalShiftFake
) -> None:
    # Rule 8: CancelZonalShift accepts a practice run (API_CancelZonalShift page)
    client = zonal_shift_api.client
    practice_id = fake.start_practice_run(ARN, AZ_IDS[1])

    cancelled = client.cancel_zonal_shift(zonalShiftId=practice_id)

    assert cancelled["status"] == "CANCELED"
    assert _shift_status(zonal_shift_api, practice_id, "CANCELED")["practiceRunOutcome"] == (
        "INTERRUPTED"
    )
    assert _resource(zonal_shift_api)["appliedWeights"] == _weights_away_from(None)


def test_cancel_practice_run_refuses_other_shift_types(
    zonal_shift_api: ZonalShiftApi, fake: ZonalShiftFake
) -> None:
    # Rule 8: CancelPracticeRun is for practice runs (UnsupportedPracticeCancelShiftType)
    client = zonal_shift_api.client
    customer_id = _start(zonal_shift_api, AZ_IDS[0])["zonalShiftId"]

    with pytest.raises(client.exceptions.ValidationException) as caught:
        client.cancel_practice_run(zonalShiftId=customer_id)
    assert _reason(caught.value) == "UnsupportedPracticeCancelShiftType"

    client.cancel_zonal_shift(zonalShiftId=customer_id)
    practice_id = fake.start_practice_run(ARN, AZ_IDS[1])
    assert client.cancel_practice_run(zonalShiftId=practice_id)["status"] == "CANCELED"
    with pytest.raises(client.exceptions.ConflictException) as again:
        client.cancel_practice_run(zonalShiftId=practice_id)
    assert _reason(again.value) == "ZonalShiftStatusNotActive"


def test_cancel_shift_helper_simulates_someone_else_ending_our_shift(
    zonal_shift_api: ZonalShiftApi, fake: ZonalShiftFake
) -> None:
    # Rule 9: the shift ends behind the caller's back; its next cancel is NotActive
    client = zonal_shift_api.client
    shift_id = _start(zonal_shift_api, AZ_IDS[0])["zonalShiftId"]
    fis_id = _resource_arn(3)
    fake.register_resource(fis_id, AZ_IDS)
    fis_shift = fake.start_fis_shift(fis_id, AZ_IDS[1])

    fake.cancel_shift(shift_id)
    fake.cancel_shift(fis_shift)

    with pytest.raises(client.exceptions.ConflictException) as caught:
        client.cancel_zonal_shift(zonalShiftId=shift_id)
    assert _reason(caught.value) == "ZonalShiftStatusNotActive"
    assert {s["zonalShiftId"] for s in fake.shifts(status="CANCELED")} == {shift_id, fis_shift}


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
        zonal_shift_api.client.get_autoshift_observer_notification_status()

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
