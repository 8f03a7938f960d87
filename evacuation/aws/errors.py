"""Translate botocore errors into ours, in one place. The type decides retry."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from evacuation.errors import PermanentAwsError, RetryableError

T = TypeVar("T")

# Throttling, transient and "retry later" codes (aws-facts.md section 7).
RETRYABLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalServerException",
        "InternalServerError",
        "InternalFailure",
        "InternalError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "ServerException",
        "ResourceContention",
        "ScalingActivityInProgress",
        "ResourceInUse",
        "TransactionInProgressException",
        # RDS during a failover or a modification: retry later (aws-facts §7.2)
        "InvalidDBClusterStateFault",
        "InvalidDBInstanceStateFault",
        # ... whose code on the wire is InvalidDBInstanceState (the fault's error code in the
        # botocore model; the Fault spelling above never matched)
        "InvalidDBInstanceState",
        # ElastiCache while a group is modifying (a promotion under way): retry later
        "InvalidReplicationGroupState",
        # an ARC cluster endpoint in maintenance: the next endpoint, then retry (aws-facts §7)
        "EndpointTemporarilyUnavailableException",
        # ECS: another update of the service is under way (aws-facts §7.2)
        "UpdateInProgressException",
    }
)

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "SlowDown",
    }
)
"""Refusals before the service acted: the one kind of error a call that is not idempotent may
retry (`once_unless_throttled`)."""

CONNECTION_ERRORS = (
    EndpointConnectionError,
    ConnectTimeoutError,
    ReadTimeoutError,
    ConnectionClosedError,
)


class AwsApiError(PermanentAwsError):
    """A permanent AWS error with its code and any modeled extra fields (reason, zonalShiftId)."""

    def __init__(self, message: str, code: str, status: int, extra: dict[str, str]) -> None:
        super().__init__(message, code)
        self.status = status
        self.extra = extra


class RetryableAwsError(RetryableError):
    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class OutcomeUnknownError(AwsApiError):
    """A non-idempotent call failed in a way that may hide that it took effect (5xx, timeout,
    lost answer): read back before sending it again."""


def once_unless_throttled(fn: Callable[[], T], what: str, why: str) -> Callable[[], T]:
    """`fn` for a Caller, retried only when throttled: for a call that is not idempotent, whose
    error or lost answer may hide that it took effect (`why` says what a second one would do).
    Any other failure is raised permanent, for the caller to read back what happened."""

    def attempt() -> T:
        try:
            return translate(fn, what)
        except RetryableAwsError as exc:
            if exc.code in THROTTLING_CODES:
                raise
            raise OutcomeUnknownError(
                f"{exc} (not retried blindly: {why})", exc.code, 0, {}
            ) from exc

    return attempt


def translate(fn: Callable[[], T], what: str) -> T:
    """Run one AWS call; re-raise its failure as RetryableAwsError or AwsApiError."""
    try:
        return fn()
    except ClientError as exc:
        code = error_code(exc)
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        message = f"{what}: {code}: {exc.response.get('Error', {}).get('Message', '')}".rstrip()
        if code in RETRYABLE_CODES or status >= 500 or status == 429:
            raise RetryableAwsError(message, code) from exc
        extra = {
            key: str(value)
            for key, value in exc.response.items()
            if key in ("reason", "zonalShiftId") and value is not None
        }
        raise AwsApiError(message, code, status, extra) from exc
    except CONNECTION_ERRORS as exc:
        raise RetryableAwsError(f"{what}: {type(exc).__name__}: {exc}", "ConnectionError") from exc
    except BotoCoreError as exc:
        raise AwsApiError(
            f"{what}: {type(exc).__name__}: {exc}", type(exc).__name__, 0, {}
        ) from exc
