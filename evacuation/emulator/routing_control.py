"""Stateful fake of the ARC routing-control data plane (``route53-recovery-cluster``).

moto has no backend for it (aws-facts §4.3), so this fake answers botocore's
``before-send.route53-recovery-cluster`` event: botocore validates and serializes each request
(JSON protocol, target ``ToggleCustomerAPI``) and parses each response; the fake checks every
response and error body against the botocore service model first (aws-facts §2.2).

Rules modelled, each with its AWS page ("inferred" marks what the docs do not say):

- Operations: GetRoutingControlState, UpdateRoutingControlState, UpdateRoutingControlStates.
  Others answer HTTP 501 ``NotImplemented`` (fake-only).
- A cluster is five Regional endpoints, and "ARC ensures that at least three out of the five
  Regional cluster endpoints are always accessible"; callers "should try each endpoint in
  rotation, as needed, since cluster endpoints are cycled through available and unavailable
  states" (https://docs.aws.amazon.com/r53recovery/latest/dg/routing-control.update.api.html;
  "rotate through the regional endpoints, and be prepared to retry with each of the available
  endpoints": https://docs.aws.amazon.com/r53recovery/latest/dg/getting-started-cli-routing.control-state.html).
  The fake
  answers only on the endpoints it was built with (a request to any other host is a
  :class:`RoutingControlFakeError`); :meth:`RoutingControlFake.make_unavailable` makes one answer
  ``EndpointTemporarilyUnavailableException`` (HTTP 503), the documented cue to try the next.
- States are ``On`` / ``Off`` (model enum). An unknown ARN is ``ResourceNotFoundException``
  (404, ``resourceId``, ``resourceType``).
- Safety rules: an assertion rule "at least N of these controls On" (``ATLEAST``) rejects a
  change that would leave fewer On ("safety rules ... prevent fail-open", e.g. at least one of
  several controls On; https://docs.aws.amazon.com/r53recovery/latest/dg/routing-control.safety-rules.html).
  A change that violates one is ``ValidationException`` with ``reason`` ``other`` and a message
  naming the rule (inferred: the API page lists ValidationException and ConflictException for
  the update; the fake takes Validation, naming the rule, and azevac treats either as a
  refusal). A rule listed in ``SafetyRulesToOverride`` is bypassed ("override the safety
  rules", same page); azevac never passes it (aws-semantics RC-1).
- UpdateRoutingControlStates applies every entry or none, and takes at most 10 entries
  (https://docs.aws.amazon.com/r53recovery/latest/dg/routing-control.quotas.html), else
  ``ServiceLimitExceededException``.
- On demand, :meth:`RoutingControlFake.inject_conflict` answers the next update with
  ``ConflictException``.
"""

from __future__ import annotations

import functools
import json
import threading
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

import boto3
import botocore.session
from botocore.awsrequest import AWSPreparedRequest, AWSResponse, HTTPHeaders
from botocore.model import ServiceModel

from evacuation.emulator.zonal_shift import ZonalShiftFakeError, _validate_shape

SERVICE_NAME = "route53-recovery-cluster"
EVENT_NAME = "before-send.route53-recovery-cluster"
MAX_ENTRIES = 10
STATES = ("On", "Off")
PANEL = "arn:aws:route53-recovery-control::123456789012:controlpanel/azevac"
DEFAULT_REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "ap-northeast-1", "ap-southeast-2")


# HTTP statuses from the API reference's error list (the model carries none for this service).
_STATUS = {
    "ValidationException": 400,
    "AccessDeniedException": 403,
    "ResourceNotFoundException": 404,
    "ConflictException": 409,
    "ServiceLimitExceededException": 402,
    "ThrottlingException": 429,
    "EndpointTemporarilyUnavailableException": 503,
}


class RoutingControlFakeError(ZonalShiftFakeError):
    """The fake was misused, or a request reached a host that is not a cluster endpoint."""


@functools.cache
def service_model() -> ServiceModel:
    return botocore.session.get_session().get_service_model(SERVICE_NAME)


class _ApiError(Exception):
    def __init__(self, code: str, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.code = code
        self.body: dict[str, Any] = {"message": message, **fields}


@dataclass
class _Rule:
    name: str
    arn: str
    controls: tuple[str, ...]
    at_least: int


class _RawBody:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


def _not_found(arn: str) -> _ApiError:
    return _ApiError(
        "ResourceNotFoundException",
        f"{arn} not found",
        resourceId=arn,
        resourceType="RoutingControl",
    )


class RoutingControlFake:
    """One ARC cluster: its endpoints, routing controls and safety rules."""

    def __init__(self, cluster_name: str = "azevac") -> None:
        self.cluster_arn = (
            f"arn:aws:route53-recovery-control::123456789012:cluster/{cluster_name}-{uuid.uuid4()}"
        )
        self.endpoints: tuple[tuple[str, str], ...] = tuple(
            (
                f"https://{index:02d}.{cluster_name}.route53-recovery-cluster.{region}.amazonaws.com/v1",
                region,
            )
            for index, region in enumerate(DEFAULT_REGIONS)
        )
        """(endpoint URL, its region), as DescribeCluster's ClusterEndpoints would list them."""
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        """(operation, endpoint host, parameters)."""
        self._states: dict[str, tuple[str, str]] = {}
        self._rules: list[_Rule] = []
        self._unavailable: set[str] = set()
        self._conflicts = 0
        self._lock = threading.RLock()
        self._unique_id = f"azevac-routing-control-fake-{id(self)}"

    # -- wiring ----------------------------------------------------------------------------------

    def install(self, target: Any) -> None:
        events = target.events if isinstance(target, boto3.session.Session) else target.meta.events
        events.register(EVENT_NAME, cast("Any", self._handle), unique_id=self._unique_id)

    # -- seeding ---------------------------------------------------------------------------------

    def create_routing_control(self, name: str, state: str = "On") -> str:
        if state not in STATES:
            raise RoutingControlFakeError(f"state must be On or Off, not {state!r}")
        arn = f"{PANEL}/routingcontrol/{name}"
        with self._lock:
            self._states[arn] = (name, state)
        return arn

    def add_assertion_rule(self, name: str, controls: Sequence[str], at_least: int) -> str:
        """An ATLEAST assertion rule: at least `at_least` of `controls` On at all times."""
        arn = (
            f"arn:aws:route53-recovery-control::123456789012:controlpanel/azevac/safetyrule/{name}"
        )
        with self._lock:
            if unknown := set(controls) - set(self._states):
                raise RoutingControlFakeError(f"unknown controls {sorted(unknown)}")
            self._rules.append(_Rule(name, arn, tuple(controls), at_least))
        return arn

    def make_unavailable(self, *hosts_or_urls: str) -> None:
        """These endpoints answer EndpointTemporarilyUnavailableException until made available."""
        with self._lock:
            self._unavailable = {urlsplit(h).netloc or h for h in hosts_or_urls}

    def inject_conflict(self, times: int = 1) -> None:
        with self._lock:
            self._conflicts = times

    def seed_state(self, arn: str, state: str) -> None:
        """Set a state as someone else did before the test (no safety rule is evaluated)."""
        if state not in STATES:
            raise RoutingControlFakeError(f"state must be On or Off, not {state!r}")
        with self._lock:
            self._states[arn] = (self._states[arn][0], state)

    def state(self, arn: str) -> str:
        with self._lock:
            return self._states[arn][1]

    def endpoint_configs(self) -> list[dict[str, str]]:
        """The cluster's endpoints in the shape of azevac's config."""
        return [{"endpoint": url, "region": region} for url, region in self.endpoints]

    # -- handler ---------------------------------------------------------------------------------

    def _handle(self, request: AWSPreparedRequest, **kwargs: Any) -> AWSResponse:
        host = urlsplit(request.url).netloc
        if host not in {urlsplit(url).netloc for url, _ in self.endpoints}:
            raise RoutingControlFakeError(f"{host} is not an endpoint of {self.cluster_arn}")
        operation = str(kwargs.get("event_name", "")).rsplit(".", 1)[-1]
        raw = request.body or b"{}"
        if hasattr(raw, "read"):
            raw = raw.read()
        params = json.loads(raw or b"{}")
        with self._lock:
            self.calls.append((operation, host, params))
            try:
                body = self._answer(operation, params, host)
            except _ApiError as err:
                return self._error(request.url, err)
        shape = service_model().operation_model(operation).output_shape
        if shape is not None:
            _validate_shape(body, shape, operation)
        return self._response(request.url, 200, body, None)

    def _answer(self, operation: str, params: dict[str, Any], host: str) -> dict[str, Any]:
        if host in self._unavailable:
            raise _ApiError("EndpointTemporarilyUnavailableException", f"{host} is unavailable")
        if operation == "GetRoutingControlState":
            arn = params["RoutingControlArn"]
            if arn not in self._states:
                raise _not_found(arn)
            name, state = self._states[arn]
            return {
                "RoutingControlArn": arn,
                "RoutingControlState": state,
                "RoutingControlName": name,
            }
        if operation == "UpdateRoutingControlState":
            entries = [(params["RoutingControlArn"], params["RoutingControlState"])]
            self._update(entries, params.get("SafetyRulesToOverride", []))
            return {}
        if operation == "UpdateRoutingControlStates":
            raw = params["UpdateRoutingControlStateEntries"]
            if len(raw) > MAX_ENTRIES:
                raise _ApiError(
                    "ServiceLimitExceededException",
                    f"at most {MAX_ENTRIES} routing controls per call",
                    resourceId=raw[0]["RoutingControlArn"],
                    resourceType="RoutingControl",
                    limitCode="RoutingControlsPerCall",
                    serviceCode="route53-recovery-cluster",
                )
            entries = [(e["RoutingControlArn"], e["RoutingControlState"]) for e in raw]
            self._update(entries, params.get("SafetyRulesToOverride", []))
            return {}
        raise _ApiError("NotImplemented", f"RoutingControlFake: no {operation}")

    def _update(self, entries: list[tuple[str, str]], overrides: Sequence[str]) -> None:
        for arn, _ in entries:
            if arn not in self._states:
                raise _not_found(arn)
        if self._conflicts > 0:
            self._conflicts -= 1
            arn = entries[0][0]
            raise _ApiError(
                "ConflictException",
                "Another routing control state change is in progress",
                resourceId=arn,
                resourceType="RoutingControl",
            )
        proposed = {arn: state for arn, (_, state) in self._states.items()}
        proposed.update(dict(entries))
        for rule in self._rules:
            if rule.arn in overrides:
                continue
            on = sum(proposed[c] == "On" for c in rule.controls)
            if on < rule.at_least:
                raise _ApiError(
                    "ValidationException",
                    f"Cannot change routing control states: safety rule {rule.name} ({rule.arn}) "
                    f"requires at least {rule.at_least} of {len(rule.controls)} On, "
                    f"would leave {on}",
                    reason="other",
                )
        for arn, state in entries:
            self._states[arn] = (self._states[arn][0], state)

    def _error(self, url: str, err: _ApiError) -> AWSResponse:
        if err.code == "NotImplemented":
            return self._response(url, 501, {"message": err.body["message"]}, err.code)
        _validate_shape(err.body, service_model().shape_for(err.code), err.code)
        status = _STATUS.get(err.code, 400)
        return self._response(url, status, err.body, err.code)

    @staticmethod
    def _response(url: str, status: int, body: dict[str, Any], code: str | None) -> AWSResponse:
        payload = {**body, **({"__type": code} if code else {})}
        data = json.dumps(payload).encode()
        headers = {
            "Content-Type": "application/x-amz-json-1.0",
            "Content-Length": str(len(data)),
            "x-amzn-RequestId": str(uuid.uuid4()),
        }
        if code:
            headers["x-amzn-ErrorType"] = code
        return AWSResponse(url, status, HTTPHeaders.from_dict(headers), _RawBody(data))
