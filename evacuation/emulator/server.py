"""The embedded AWS on a local HTTP endpoint: moto's server app, with ARC zonal shift answered by
:class:`ZonalShiftFake` (moto has no arc-zonal-shift backend).

For code that must not have the emulator on its import path: the Lambda artifact
(tests/package, `make bench`) reaches this endpoint through ``AWS_ENDPOINT_URL``, like any
boto3. Requests signed for ``arc-zonal-shift`` are turned back into the prepared request the fake
answers on botocore's ``before-send`` hook, so it behaves exactly as it does in-process; every
other request goes to moto. Runs in a thread of the calling process (like moto's
``ThreadedMotoServer``), so the caller builds the world and reads it back with the same fake.

    with EmbeddedAwsServer() as aws:
        os.environ["AWS_ENDPOINT_URL"] = aws.endpoint
        build_world(boto3.Session(), aws.fake)
"""

from __future__ import annotations

import io
import json
import logging
import re
import threading
import time
import traceback
import urllib.request
from collections.abc import Callable, Iterable
from http import HTTPStatus
from types import TracebackType
from typing import Any
from urllib.parse import quote

from botocore.awsrequest import AWSPreparedRequest, AWSResponse, HTTPHeaders
from werkzeug.serving import BaseWSGIServer, make_server

from evacuation.emulator import zonal_shift
from evacuation.emulator.ecs import EcsDeployments
from evacuation.emulator.route53_strict import strict_everywhere
from evacuation.emulator.zonal_shift import SERVICE_NAME, ZonalShiftFake, ZonalShiftFakeError

_SIGNED_SERVICE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/")

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
Interceptor = Callable[
    [dict[str, Any], str | None], "tuple[int, list[tuple[str, str]], bytes] | None"
]
"""(WSGI environ, the signed service name or None) -> a response to send instead, or None to
let the request through: the sandbox's fault injection and control endpoint."""


def _moto_app() -> WsgiApp:
    from moto.moto_server.werkzeug_app import (  # noqa: PLC0415 - moto only when emulating
        DomainDispatcherApplication,
        create_backend_app,
    )

    app: WsgiApp = DomainDispatcherApplication(create_backend_app)
    return app


def _request_handler() -> Any:
    from moto.moto_server.werkzeug_app import MotoRequestHandler  # noqa: PLC0415

    return MotoRequestHandler


class EmbeddedAwsServer:
    """moto plus the zonal-shift fake behind one endpoint, served from a background thread.

    ``latency`` (seconds) is added to every request, as the in-process latency hook does;
    ``errors`` collects what the fake raised (a misuse or an invalid response), which over HTTP
    can only reach the client as a 500.
    """

    def __init__(
        self, fake: ZonalShiftFake | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.fake = fake or ZonalShiftFake()
        self.ecs = EcsDeployments()
        self.latency = 0.0
        self.errors: list[str] = []
        self.interceptors: list[Interceptor] = []
        self._host, self._port = host, port
        self._moto = _moto_app()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ lifecycle

    def start(self) -> EmbeddedAwsServer:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
        # Route 53 batches as strict as the real API (a stale DELETE fails), as in the tests:
        # the server's clients live in other processes, so strictness is process-wide here.
        strict_everywhere()
        self._server = make_server(
            self._host, self._port, self, threaded=True, request_handler=_request_handler()
        )
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> EmbeddedAwsServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def endpoint(self) -> str:
        if self._server is None:
            raise RuntimeError("start the server first")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def reset(self, fake: ZonalShiftFake | None = None) -> ZonalShiftFake:
        """Empty moto's state and start over with a new fake (returned)."""
        url = f"{self.endpoint}/moto-api/reset"
        request = urllib.request.Request(url, method="POST")  # noqa: S310 - our own endpoint
        with urllib.request.urlopen(request):  # noqa: S310
            pass
        self.fake = fake or ZonalShiftFake()
        self.ecs = EcsDeployments()
        self.errors.clear()
        return self.fake

    # ------------------------------------------------------------------ WSGI

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if self.latency:
            time.sleep(self.latency)
        match = _SIGNED_SERVICE.search(environ.get("HTTP_AUTHORIZATION", ""))
        for intercept in self.interceptors:
            answer = intercept(environ, match.group(1) if match else None)
            if answer is not None:
                code, headers, body = answer
                start_response(f"{code} {HTTPStatus(code).phrase}", headers)
                return [body]
        if match is not None and match.group(1) == "ecs":
            return self._ecs(environ, start_response)
        if match is None or match.group(1) != SERVICE_NAME:
            return self._moto(environ, start_response)
        try:
            response = self._zonal_shift(environ)
        except ZonalShiftFakeError:
            self.errors.append(traceback.format_exc())
            body = self.errors[-1].encode()
            start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
            return [body]
        status = HTTPStatus(response.status_code)
        headers = [(str(k), str(v)) for k, v in response.headers.items()]
        start_response(f"{status.value} {status.phrase}", headers)
        return [response.content]

    def _ecs(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """moto answers; the ECS deployment model (evacuation/emulator/ecs.py) then shapes the
        JSON answer, as it does on botocore's hooks in-process."""
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        operation = environ.get("HTTP_X_AMZ_TARGET", "").rsplit(".", 1)[-1]
        answered: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], *_: Any) -> None:
            answered["status"], answered["headers"] = status, headers

        chunks = b"".join(self._moto(environ, capture))
        status, headers = answered["status"], answered["headers"]
        if status.startswith("200") and chunks:
            parsed = json.loads(chunks)
            self.ecs.apply(operation, json.loads(body or b"{}"), parsed)
            chunks = json.dumps(parsed, default=str).encode()
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
            headers.append(("Content-Length", str(len(chunks))))
        start_response(status, headers)
        return [chunks]

    def _zonal_shift(self, environ: dict[str, Any]) -> AWSResponse:
        method = environ["REQUEST_METHOD"]
        # The raw path: ARNs in URI labels carry %2F, which PATH_INFO has already decoded.
        raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
        if not raw:
            raw = quote(environ.get("PATH_INFO", "")) + (
                f"?{environ['QUERY_STRING']}" if environ.get("QUERY_STRING") else ""
            )
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {
            key[5:].replace("_", "-").title(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        url = f"http://{environ.get('HTTP_HOST', 'localhost')}{raw}"
        request = AWSPreparedRequest(method, url, HTTPHeaders.from_dict(headers), body, False)
        operation = _operation(method, raw.split("?", 1)[0])
        if operation is None:
            body = zonal_shift._not_implemented(f"{method} {raw}")
            return zonal_shift._http_response(request.url, 501, body, "NotImplemented")
        # The fake's before-send handler, with the event name botocore would have passed.
        return self.fake._handle(request, event_name=f"before-send.{SERVICE_NAME}.{operation}")


def _operation(method: str, path: str) -> str | None:
    """The arc-zonal-shift operation a method and path belong to."""
    model = zonal_shift.service_model()
    for name in model.operation_names:
        op_model = model.operation_model(name)
        if op_model.http["method"] != method:
            continue
        try:
            zonal_shift._match_uri(op_model, path)
        except ZonalShiftFakeError:
            continue
        return name
    return None
