"""Build boto3 clients once, lazily, with botocore's retries reduced to a single attempt."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

import boto3
from botocore.config import Config as BotocoreConfig
from botocore.exceptions import BotoCoreError

from evacuation.aws.errors import translate
from evacuation.errors import ConfigurationError
from evacuation.pacing import Pacer
from evacuation.retry import RetryPolicy

if TYPE_CHECKING:
    from mypy_boto3_arc_zonal_shift import ARCZonalShiftClient
    from mypy_boto3_autoscaling import AutoScalingClient
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_route53 import Route53Client
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_ssm import SSMClient

T = TypeVar("T")

CLIENT_CONFIG = BotocoreConfig(
    retries={"total_max_attempts": 1, "mode": "standard"},
    connect_timeout=3,
    read_timeout=10,
    max_pool_connections=32,
)


class AwsClients:
    """A lazily-built client per service, shared by all threads of a run (clients are thread-safe).

    Inject a boto3 Session to point the controller at moto, a fake, or another account.
    """

    def __init__(self, session: boto3.Session | None = None, region: str | None = None) -> None:
        self._session = session
        self._region = region
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                try:
                    session = self._session or boto3.Session()
                    self._session = session
                    self._clients[service] = session.client(
                        service,  # type: ignore[call-overload]
                        region_name=self._region or session.region_name,
                        config=CLIENT_CONFIG,
                    )
                except BotoCoreError as exc:  # no region, an unknown profile, a bad config file
                    raise ConfigurationError(
                        f"AWS environment: {exc} (set the config's region, AWS_REGION or "
                        "AWS_PROFILE)"
                    ) from exc
            return self._clients[service]

    @property
    def region(self) -> str:
        return str(self.configured_region)

    @property
    def configured_region(self) -> str | None:
        """The region the clients use: the one given, else the session's; None if neither."""
        if self._region:
            return self._region
        try:
            return (self._session or boto3.Session()).region_name
        except BotoCoreError:
            return None

    @property
    def session(self) -> boto3.Session | None:
        return self._session

    def zonal_shift(self) -> ARCZonalShiftClient:
        return cast("ARCZonalShiftClient", self._client("arc-zonal-shift"))

    def route53(self) -> Route53Client:
        return cast("Route53Client", self._client("route53"))

    def autoscaling(self) -> AutoScalingClient:
        return cast("AutoScalingClient", self._client("autoscaling"))

    def rds(self) -> Any:
        return self._client("rds")

    def elasticache(self) -> Any:
        return self._client("elasticache")

    def routing_control(self, endpoint_url: str, region: str) -> Any:
        """A `route53-recovery-cluster` client for one of an ARC cluster's Regional endpoints:
        AWS requires the endpoint and its region (aws-facts §4.3)."""
        key = f"route53-recovery-cluster {endpoint_url}"
        with self._lock:
            if key not in self._clients:
                session = self._session or boto3.Session()
                self._session = session
                self._clients[key] = session.client(
                    "route53-recovery-cluster",
                    endpoint_url=endpoint_url,
                    region_name=region,
                    config=CLIENT_CONFIG,
                )
            return self._clients[key]

    def ecs(self) -> Any:
        return self._client("ecs")

    def eks(self) -> Any:
        return self._client("eks")

    def ec2(self) -> EC2Client:
        return cast("EC2Client", self._client("ec2"))

    def dynamodb(self) -> DynamoDBClient:
        return cast("DynamoDBClient", self._client("dynamodb"))

    def ssm(self) -> SSMClient:
        return cast("SSMClient", self._client("ssm"))

    def cloudwatch(self) -> CloudWatchClient:
        return cast("CloudWatchClient", self._client("cloudwatch"))

    def s3(self) -> Any:  # no mypy-boto3-s3 stubs installed: one GetObject call uses it
        return self._client("s3")

    def lambda_(self) -> LambdaClient:
        return cast("LambdaClient", self._client("lambda"))

    def sns(self) -> SNSClient:
        return cast("SNSClient", self._client("sns"))


class Caller:
    """Runs one AWS call: wait for the service's token, translate errors, retry what is
    retryable, within the deadline. `what` is "<boto3 service name>.<Operation>"."""

    def __init__(self, retry: RetryPolicy, pacer: Pacer | None = None) -> None:
        self.retry = retry
        self._pacer = pacer

    def __call__(self, what: str, fn: Callable[[], T]) -> T:
        service = what.split(".", 1)[0]

        def attempt() -> T:
            if self._pacer is not None:
                self._pacer.wait(service)  # every attempt, a retry too, spends a token
            return translate(fn, what)

        return self.retry.call(attempt, what)
