"""AZ resolution and AWS error classification (what is retried, what is not)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from evacuation.aws.ec2 import Zone
from evacuation.aws.errors import AwsApiError, RetryableAwsError, translate
from evacuation.azs import resolve_az_id
from evacuation.errors import InvalidRequestError
from evacuation.retry import Deadline, RetryPolicy

ZONES = [Zone("us-east-1a", "use1-az6", "available"), Zone("us-east-1b", "use1-az1", "available")]


@pytest.mark.parametrize(
    ("given", "expected"),
    [("use1-az1", "use1-az1"), ("us-east-1b", "use1-az1"), (" us-east-1a ", "use1-az6")],
)
def test_id_or_name_resolves_to_the_id(given: str, expected: str) -> None:
    assert resolve_az_id(given, ZONES) == expected


def test_unknown_zone_lists_what_the_region_has() -> None:
    with pytest.raises(InvalidRequestError, match=r"use1-az6 \(us-east-1a\)"):
        resolve_az_id("us-west-2a", ZONES)


def _client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "Op",
    )


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("Throttling", 400),
        ("ThrottlingException", 429),
        ("PriorRequestNotComplete", 400),
        ("InternalServerException", 500),
        ("ServiceUnavailable", 503),
        ("ResourceContention", 500),
        ("ScalingActivityInProgress", 400),
        ("SomethingNew", 502),
    ],
)
def test_throttling_5xx_and_retry_later_codes_are_retryable(code: str, status: int) -> None:
    def boom() -> None:
        raise _client_error(code, status)

    with pytest.raises(RetryableAwsError):
        translate(boom, "op")


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("AccessDenied", 403),
        ("AccessDeniedException", 403),
        ("UnauthorizedOperation", 403),
        ("ValidationError", 400),
        ("ValidationException", 400),
        ("ResourceNotFoundException", 404),
        ("InvalidChangeBatch", 400),
        ("NoSuchHostedZone", 404),
    ],
)
def test_validation_denied_and_not_found_are_never_retried(code: str, status: int) -> None:
    def boom() -> None:
        raise _client_error(code, status)

    with pytest.raises(AwsApiError) as error:
        translate(boom, "op")
    assert error.value.code == code


def test_connection_errors_are_retryable() -> None:
    def boom() -> None:
        raise EndpointConnectionError(endpoint_url="https://x")

    with pytest.raises(RetryableAwsError):
        translate(boom, "op")


def test_retry_policy_stops_at_max_attempts_and_reraises_the_last_error() -> None:
    calls = []

    def always_throttled() -> None:
        calls.append(1)
        raise _client_error("Throttling", 400)

    policy = RetryPolicy(Deadline.within(60), max_attempts=4, sleep=lambda _s: None)
    with pytest.raises(RetryableAwsError, match="Throttling"):
        policy.call(lambda: translate(always_throttled, "op"), "op")
    assert len(calls) == 4
    assert policy.retries == 3


def test_retry_policy_does_not_retry_permanent_errors() -> None:
    calls = []

    def denied() -> None:
        calls.append(1)
        raise _client_error("AccessDenied", 403)

    policy = RetryPolicy(Deadline.within(60), sleep=lambda _s: None)
    with pytest.raises(AwsApiError):
        policy.call(lambda: translate(denied, "op"), "op")
    assert len(calls) == 1


def test_retry_policy_gives_up_when_the_deadline_has_passed() -> None:
    calls = []

    def throttled() -> None:
        calls.append(1)
        raise _client_error("Throttling", 400)

    policy = RetryPolicy(Deadline.within(-1), max_attempts=10, sleep=lambda _s: None)
    with pytest.raises(RetryableAwsError):
        policy.call(lambda: translate(throttled, "op"), "op")
    assert len(calls) == 1
