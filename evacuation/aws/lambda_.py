"""Lambda: invoke the deployed manual function (the CLI's --via-lambda)."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from evacuation.aws.clients import AwsClients, Caller
from evacuation.errors import EvacuationError


class LambdaGateway:
    def __init__(self, clients: AwsClients, call: Caller) -> None:
        self._clients = clients
        self._call = call

    def invoke(self, function_name: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Invoke synchronously; a function error is raised with the function's own message."""
        client = self._clients.lambda_()
        invoke = partial(
            client.invoke,
            FunctionName=function_name,
            InvocationType="RequestResponse",
            Payload=json.dumps(payload).encode(),
        )
        response = self._call("lambda.Invoke", invoke)
        body = json.loads(response["Payload"].read() or b"null")
        if response.get("FunctionError"):
            message = body.get("errorMessage") if isinstance(body, dict) else body
            raise EvacuationError(f"{function_name} failed: {message}")
        if not isinstance(body, dict):
            raise EvacuationError(f"{function_name} answered {body!r}, not a JSON object")
        return body
