"""SSM Parameter Store reads, through Powertools parameters (cached for a few seconds)."""

from __future__ import annotations

from aws_lambda_powertools.utilities.parameters import SSMProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

from evacuation.aws.clients import AwsClients
from evacuation.errors import ConfigurationError

CACHE_SECONDS = 5


class ParameterReader:
    """Reads SSM parameters; a cached value is at most CACHE_SECONDS old."""

    def __init__(self, clients: AwsClients) -> None:
        self._clients = clients
        self._provider: SSMProvider | None = None

    def __call__(self, name: str) -> str:
        # The SSM client is built on the first read, never for a config that is a file or JSON.
        if self._provider is None:
            self._provider = SSMProvider(boto3_client=self._clients.ssm())
        try:
            value = self._provider.get(name, max_age=CACHE_SECONDS, decrypt=True)
        except GetParameterError as exc:
            raise ConfigurationError(f"SSM parameter {name}: {exc}") from exc
        if not isinstance(value, str):
            raise ConfigurationError(f"SSM parameter {name}: not a string value")
        return value
