"""Lambda: invoke the deployed manual function (the CLI's --via-lambda), exactly once."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config as BotocoreConfig
from botocore.exceptions import BotoCoreError, ClientError, ReadTimeoutError

from evacuation.errors import EvacuationError

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

READ_TIMEOUT_SECONDS = 960
"""Longer than any Lambda function may run (900 s): the answer is awaited, never given up on
while the function still works."""
INVOKE_CONFIG = BotocoreConfig(
    retries={"total_max_attempts": 1, "mode": "standard"},
    connect_timeout=10,
    read_timeout=READ_TIMEOUT_SECONDS,
    tcp_keepalive=True,
)


class LambdaGateway:
    """Invokes a function once: no botocore retry and no retry of ours. A repeated Invoke of
    the manual function would repeat an evacuation or a recovery (a read timeout does not mean
    the first one did not run)."""

    def __init__(self, session: boto3.Session | None = None, region: str | None = None) -> None:
        session = session or boto3.Session()
        self._client: LambdaClient = session.client(
            "lambda", region_name=region or session.region_name, config=INVOKE_CONFIG
        )

    def invoke(self, function_name: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Invoke synchronously, once; a function error is raised with the function's own
        message, and no answer in time says the function may still be running."""
        try:
            response = self._client.invoke(
                FunctionName=function_name,
                InvocationType="RequestResponse",
                Payload=json.dumps(payload).encode(),
            )
        except ReadTimeoutError as exc:
            raise EvacuationError(
                f"{function_name} gave no answer within {READ_TIMEOUT_SECONDS}s; it may still be "
                "running. Not retried (a retry could repeat the change): check azevac status"
            ) from exc
        except (ClientError, BotoCoreError) as exc:
            raise EvacuationError(
                f"invoking {function_name} failed: {exc}. Not retried (a retry could repeat "
                "the change): check azevac status before trying again"
            ) from exc
        body = json.loads(response["Payload"].read() or b"null")
        if response.get("FunctionError"):
            message = body.get("errorMessage") if isinstance(body, dict) else body
            raise EvacuationError(f"{function_name} failed: {message}")
        if not isinstance(body, dict):
            raise EvacuationError(f"{function_name} answered {body!r}, not a JSON object")
        return body
