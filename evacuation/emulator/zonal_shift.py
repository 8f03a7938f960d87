"""Stateful fake of the AWS ARC zonal shift API (``arc-zonal-shift``) for tests and local drills.

moto has no arc-zonal-shift backend (aws-facts §1.7), so this fake answers botocore's
``before-send.arc-zonal-shift`` event (aws-facts §2.1). botocore still validates and serializes
every request and parses every response; the fake validates each response against the
operation's output shape before it serializes it (aws-facts §2.2).

Semantics modelled (aws-facts section in brackets; "assumed" = not confirmed there):

- Operations: StartZonalShift (HTTP 201), UpdateZonalShift, CancelZonalShift, ListZonalShifts,
  GetManagedResource, ListManagedResources [§1.1]. Any other operation answers HTTP 501
  ``NotImplemented`` so that a missing feature fails loudly (assumed: fake-only behaviour).
- Managed resources exist only through :meth:`ZonalShiftFake.register_resource`; an unknown
  resource is ResourceNotFoundException (404) [§1.5].
- ``expiresIn`` must match ``([1-9][0-9]*)(m|h)`` and be at most 72 h (4320 m), else
  ValidationException reason ``InvalidExpiresIn`` [§1.2]. Update applies the same limit from
  "now" (assumed).
- ``awayFrom`` must be an AZ ID the resource is registered in, else ValidationException reason
  ``InvalidAz`` [§1.2, §1.3] (assumed: not ``UnsupportedAz``).
- One ACTIVE customer shift (``ZONAL_SHIFT``) per resource: a second start is ConflictException
  (409) reason ``ZonalShiftAlreadyExists`` carrying the existing ``zonalShiftId`` [§1.5, §1.6;
  the exact reason is open item §11.2]. Active practice runs and autoshifts do not block a
  customer shift [§1.6 step 3; open item §11.2].
- A shift whose ``expiryTime <= clock()`` is EXPIRED, evaluated lazily on every request [§1.4].
- Update sets a new expiry counted from now and/or replaces the comment [§1.2]; Update and
  Cancel on a non-ACTIVE shift are ConflictException ``ZonalShiftStatusNotActive`` [§1.6 step 6];
  an unknown id is ResourceNotFoundException [§1.5]. Update with neither field is
  ValidationException ``MissingValue`` (assumed).
- ListZonalShifts without ``status`` lists only ACTIVE shifts; practice runs are included,
  autoshifts are not; items are ZonalShiftSummary with ``shiftType`` [§1.4]. Order is creation
  order and ``nextToken`` is an opaque cursor (assumed); the default page size is 100 and a
  larger ``maxResults`` is clamped to 100 (assumed).
- GetManagedResource: ``zonalShifts`` lists the ACTIVE shifts (customer and practice run),
  ``autoshifts`` the ACTIVE autoshifts; exactly one of them is APPLIED, by precedence customer
  ``ZONAL_SHIFT`` > ``ZONAL_AUTOSHIFT`` > ``PRACTICE_RUN`` [§1.4], ties going to the newest
  (assumed). ``appliedWeights`` maps every registered AZ ID to 1.0, except the APPLIED shift's
  ``awayFrom``, which gets 0.0 [§1.4].
- Practice runs last 30 minutes [§1.2]. The fake reports ``expiryTime = startTime + 30 min``
  although the model doc says the real field "always has a value of 1 minute" (assumed
  reading). ``practiceRunOutcome`` is PENDING while active, SUCCEEDED once expired and
  INTERRUPTED once cancelled (assumed).
- Errors are the HTTP status, header ``x-amzn-ErrorType: <Code>`` and a JSON body
  ``{"message", "reason", "zonalShiftId"}`` [§2.1], so ``e.response["reason"]`` works [§1.5].
- State is per region: a request signed for another region raises :class:`ZonalShiftFakeError`
  instead of silently answering (assumed: fake-only behaviour).

Misuse of the fake and invalid responses raise :class:`ZonalShiftFakeError`, an
``AssertionError``, which botocore passes to the caller unchanged.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

import boto3
import botocore.session
from botocore.awsrequest import AWSPreparedRequest, AWSResponse, HTTPHeaders
from botocore.exceptions import ParamValidationError
from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape
from botocore.validate import validate_parameters

SERVICE_NAME = "arc-zonal-shift"
EVENT_NAME = "before-send.arc-zonal-shift"
MAX_EXPIRES_IN = timedelta(hours=72)
PRACTICE_RUN_DURATION = timedelta(minutes=30)
MAX_PAGE_SIZE = 100

_EXPIRES_IN = re.compile(r"([1-9][0-9]*)(m|h)")
_PRECEDENCE = {"ZONAL_SHIFT": 0, "ZONAL_AUTOSHIFT": 1, "PRACTICE_RUN": 2}
_URI_LABEL = re.compile(r"\{(\w+)(\+?)\}")
_CREDENTIAL_REGION = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/")

Clock = Callable[[], datetime]
Params = dict[str, Any]
Body = dict[str, Any]
_T = TypeVar("_T", "_Shift", "_Resource")


class ZonalShiftFakeError(AssertionError):
    """The fake was misused, or it built a response the real API could not return."""


@functools.cache
def service_model() -> ServiceModel:
    """The botocore service model the fake answers for (loaded once)."""
    return botocore.session.get_session().get_service_model(SERVICE_NAME)


def validate_output(operation: str, body: Mapping[str, Any]) -> None:
    """Raise ZonalShiftFakeError unless ``body`` fits the operation's output shape."""
    shape = service_model().operation_model(operation).output_shape
    if shape is not None:
        _validate_shape(body, shape, operation)


def _validate_shape(body: Mapping[str, Any], shape: Shape, what: str) -> None:
    """Check required members, types and lengths (botocore) plus enum values (ours)."""
    try:
        validate_parameters(body, shape)
    except ParamValidationError as err:
        raise ZonalShiftFakeError(f"fake built an invalid {what} response: {err}") from err
    _check_enums(body, shape, what)


def _check_enums(value: Any, shape: Shape, path: str) -> None:
    """Reject string values outside a modelled enum; botocore does not check them."""
    if isinstance(shape, StructureShape):
        for name, member in shape.members.items():
            if name in value:
                _check_enums(value[name], member, f"{path}.{name}")
    elif isinstance(shape, ListShape):
        for index, item in enumerate(value):
            _check_enums(item, shape.member, f"{path}[{index}]")
    elif isinstance(shape, MapShape):
        for key, item in value.items():
            _check_enums(key, shape.key, f"{path} key")
            _check_enums(item, shape.value, f"{path}[{key}]")
    elif (enum := getattr(shape, "enum", None)) and value not in enum:
        raise ZonalShiftFakeError(f"fake built {path}={value!r}, not in {enum}")


class ManualClock:
    """A settable UTC clock for tests and drills: ``fake = ZonalShiftFake(clock=ManualClock())``."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward (or back, with a negative delta)."""
        with self._lock:
            self._now += delta


class _ApiError(Exception):
    """An error response: HTTP status, error code and the JSON body fields."""

    def __init__(self, code: str, status: int, message: str, **fields: str) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.body: Body = {"message": message, **fields}


def _not_implemented(operation: str) -> Body:
    """Body of the fake-only 501 answer for operations the fake does not model."""
    return {"message": f"ZonalShiftFake does not implement {operation}"}


def _not_found(message: str) -> _ApiError:
    return _ApiError("ResourceNotFoundException", 404, message)


def _invalid(reason: str, message: str) -> _ApiError:
    return _ApiError("ValidationException", 400, message, reason=reason)


def _conflict(reason: str, message: str, zonal_shift_id: str) -> _ApiError:
    return _ApiError("ConflictException", 409, message, reason=reason, zonalShiftId=zonal_shift_id)


@dataclass
class _Resource:
    seq: int
    arn: str
    az_ids: tuple[str, ...]
    name: str | None
    autoshift_enabled: bool = False


@dataclass
class _Shift:
    seq: int
    zonal_shift_id: str
    resource_identifier: str
    away_from: str
    start_time: datetime
    expiry_time: datetime
    comment: str
    shift_type: str
    status: str = "ACTIVE"
    practice_run_outcome: str | None = None

    def zonal_shift(self) -> Body:
        """The ZonalShift shape (Start/Update/Cancel output)."""
        return {
            "zonalShiftId": self.zonal_shift_id,
            "resourceIdentifier": self.resource_identifier,
            "awayFrom": self.away_from,
            "expiryTime": self.expiry_time,
            "startTime": self.start_time,
            "status": self.status,
            "comment": self.comment,
        }

    def summary(self) -> Body:
        """The ZonalShiftSummary shape (ListZonalShifts items)."""
        body = {**self.zonal_shift(), "shiftType": self.shift_type}
        if self.practice_run_outcome is not None:
            body["practiceRunOutcome"] = self.practice_run_outcome
        return body

    def in_resource(self, applied: bool) -> Body:
        """The ZonalShiftInResource shape (GetManagedResource.zonalShifts items)."""
        body = self.summary()
        del body["status"]
        body["appliedStatus"] = "APPLIED" if applied else "NOT_APPLIED"
        return body


@dataclass
class _Autoshift:
    seq: int
    resource_identifier: str
    away_from: str
    start_time: datetime
    status: str = "ACTIVE"
    end_time: datetime | None = None
    shift_type: str = "ZONAL_AUTOSHIFT"

    def in_resource(self, applied: bool) -> Body:
        """The AutoshiftInResource shape."""
        return {
            "appliedStatus": "APPLIED" if applied else "NOT_APPLIED",
            "awayFrom": self.away_from,
            "startTime": self.start_time,
        }


class _RawBody:
    """The minimal ``raw`` object AWSResponse needs: something with ``stream()``."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


def _json_default(value: object) -> float:
    """Serialize timestamps the rest-json way: epoch seconds, millisecond precision."""
    if isinstance(value, datetime):
        return round(value.timestamp(), 3)
    raise TypeError(f"cannot serialize {type(value).__name__}")


def _http_response(url: str, status: int, body: Body, error_code: str | None) -> AWSResponse:
    data = json.dumps(body, default=_json_default).encode()
    headers = {
        "Content-Type": "application/json",
        "Content-Length": str(len(data)),
        "x-amzn-RequestId": str(uuid.uuid4()),
    }
    if error_code is not None:
        headers["x-amzn-ErrorType"] = error_code
    return AWSResponse(url, status, HTTPHeaders.from_dict(headers), _RawBody(data))


def _parse_expires_in(value: str) -> timedelta:
    match = _EXPIRES_IN.fullmatch(value)
    if match is None:
        raise _invalid("InvalidExpiresIn", f"expiresIn {value!r} must match ([1-9][0-9]*)(m|h)")
    amount, unit = int(match.group(1)), match.group(2)
    duration = timedelta(minutes=amount) if unit == "m" else timedelta(hours=amount)
    if duration > MAX_EXPIRES_IN:
        raise _invalid("InvalidExpiresIn", f"expiresIn {value!r} exceeds the 72h maximum")
    return duration


def _encode_token(seq: int) -> str:
    return base64.urlsafe_b64encode(f"fake:{seq}".encode()).decode()


def _decode_token(token: str | None) -> int:
    if token is None:
        return 0
    try:
        prefix, _, seq = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        if prefix == "fake" and seq.isdigit():
            return int(seq)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise _invalid("InvalidToken", "nextToken is not valid")


def _convert(text: str, shape: Shape) -> Any:
    """Convert a query-string value to the member's Python type."""
    if shape.type_name in ("integer", "long"):
        return int(text)
    if shape.type_name == "boolean":
        return text == "true"
    return text


def parse_request(request: AWSPreparedRequest, op_model: OperationModel) -> Params:
    """Rebuild the API parameters from the serialized request (URI labels, query, JSON body)."""
    url = urlsplit(request.url)
    if request.method != op_model.http["method"]:
        raise ZonalShiftFakeError(f"{op_model.name}: unexpected method {request.method}")
    labels = _match_uri(op_model, url.path)
    query = parse_qs(url.query, keep_blank_values=True)
    raw = request.body or b""
    if hasattr(raw, "read"):
        raw = raw.read()
    payload = json.loads(raw) if raw else {}
    params: Params = {}
    shape = op_model.input_shape
    members = shape.members if shape is not None else {}
    for name, member in members.items():
        location = member.serialization.get("location")
        wire_name = member.serialization.get("name", name)
        if location == "uri" and wire_name in labels:
            params[name] = labels[wire_name]
        elif location == "querystring" and wire_name in query:
            values = query[wire_name]
            is_list = member.type_name == "list"
            params[name] = values if is_list else _convert(values[0], member)
        elif location == "header" and wire_name in request.headers:
            params[name] = request.headers[wire_name]
        elif location is None and wire_name in payload:
            params[name] = payload[wire_name]
    return params


def _match_uri(op_model: OperationModel, path: str) -> dict[str, str]:
    template = op_model.http["requestUri"].split("?")[0]
    parts = _URI_LABEL.split(template)
    pattern = re.escape(parts[0])
    for index in range(1, len(parts), 3):
        name, greedy, literal = parts[index], parts[index + 1], parts[index + 2]
        pattern += f"(?P<{name}>{'.+' if greedy else '[^/]+'})" + re.escape(literal)
    match = re.fullmatch(pattern, path)
    if match is None:
        raise ZonalShiftFakeError(f"{op_model.name}: path {path!r} does not match {template!r}")
    return {name: unquote(value) for name, value in match.groupdict().items()}


def _event_emitter(target: Any) -> Any:
    if isinstance(target, boto3.session.Session):
        return target.events
    if isinstance(target, botocore.session.Session):
        return target.get_component("event_emitter")
    meta = getattr(target, "meta", None)
    if meta is not None and hasattr(meta, "events"):
        return meta.events
    raise TypeError(f"cannot install on {type(target).__name__}: need a session or a client")


class ZonalShiftFake:
    """In-memory ``arc-zonal-shift`` for one region; see the module docstring for semantics."""

    def __init__(self, clock: Clock | None = None, region: str = "us-east-1") -> None:
        self._clock: Clock = clock or (lambda: datetime.now(UTC))
        self.region = region
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.RLock()
        self._resources: dict[str, _Resource] = {}
        self._shifts: dict[str, _Shift] = {}
        self._autoshifts: list[_Autoshift] = []
        self._seq = 0
        self._unique_id = f"azevac-zonal-shift-fake-{id(self)}"
        self._operations: dict[str, Callable[[Params, datetime], Body]] = {
            "StartZonalShift": self._start_zonal_shift,
            "UpdateZonalShift": self._update_zonal_shift,
            "CancelZonalShift": self._cancel_zonal_shift,
            "ListZonalShifts": self._list_zonal_shifts,
            "GetManagedResource": self._get_managed_resource,
            "ListManagedResources": self._list_managed_resources,
        }

    # ----------------------------------------------------------------- wiring

    def install(self, target: Any) -> None:
        """Answer arc-zonal-shift requests of a boto3/botocore Session or client.

        For a Session, only clients created after ``install`` see the fake (botocore copies
        the session's event emitter into each new client). Installing twice is harmless.
        """
        _event_emitter(target).register(EVENT_NAME, self._handle, unique_id=self._unique_id)

    def uninstall(self, target: Any) -> None:
        """Stop answering for ``target`` (clients already created from a Session keep it)."""
        _event_emitter(target).unregister(EVENT_NAME, self._handle, unique_id=self._unique_id)

    # ----------------------------------------------------------- test helpers

    def register_resource(self, arn: str, az_ids: Sequence[str], name: str | None = None) -> None:
        """Register a managed resource deployed in ``az_ids`` (AZ IDs such as ``use1-az1``)."""
        if not arn.startswith("arn:") or not 8 <= len(arn) <= 1024:
            raise ZonalShiftFakeError(f"not a resource ARN: {arn!r}")
        arn_region = arn.split(":")[3] if arn.count(":") >= 4 else ""
        if arn_region and arn_region != self.region:
            raise ZonalShiftFakeError(f"{arn} is not in the fake's region {self.region}")
        if isinstance(az_ids, str) or not az_ids or len(set(az_ids)) != len(az_ids):
            raise ZonalShiftFakeError(f"az_ids must be distinct AZ IDs, got {az_ids!r}")
        with self._lock:
            if arn in self._resources:
                raise ZonalShiftFakeError(f"{arn} is already registered")
            self._seq += 1
            self._resources[arn] = _Resource(self._seq, arn, tuple(az_ids), name)

    def start_practice_run(self, arn: str, away_from: str, comment: str = "Practice run") -> str:
        """Seed an ACTIVE PRACTICE_RUN shift, as ARC would start for autoshift; return its id."""
        with self._lock:
            now = self._now()
            self._expire(now)
            self._seed_check(arn, away_from, "PRACTICE_RUN")
            shift = self._new_shift(arn, away_from, now, PRACTICE_RUN_DURATION, comment)
            shift.shift_type = "PRACTICE_RUN"
            shift.practice_run_outcome = "PENDING"
            return shift.zonal_shift_id

    def start_autoshift(self, arn: str, away_from: str) -> None:
        """Seed an ACTIVE autoshift (and mark zonal autoshift ENABLED on the resource)."""
        with self._lock:
            self._seed_check(arn, away_from, "ZONAL_AUTOSHIFT")
            self._seq += 1
            self._autoshifts.append(_Autoshift(self._seq, arn, away_from, self._now()))
            self._resources[arn].autoshift_enabled = True

    def end_autoshift(self, arn: str) -> None:
        """Complete the ACTIVE autoshift of ``arn``, as ARC does when the AZ recovers."""
        with self._lock:
            for autoshift in self._active_autoshifts(arn):
                autoshift.status = "COMPLETED"
                autoshift.end_time = self._now()

    def shifts(self, arn: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
        """ZonalShiftSummary dicts (customer and practice run), optionally filtered."""
        with self._lock:
            self._expire(self._now())
            return [
                shift.summary()
                for shift in self._shifts.values()
                if (arn is None or shift.resource_identifier == arn)
                and (status is None or shift.status == status)
            ]

    def autoshifts(self, arn: str | None = None) -> list[dict[str, Any]]:
        """Seeded autoshifts as dicts with awayFrom, startTime, endTime and status."""
        with self._lock:
            return [
                {
                    "resourceIdentifier": item.resource_identifier,
                    "awayFrom": item.away_from,
                    "startTime": item.start_time,
                    "endTime": item.end_time,
                    "status": item.status,
                }
                for item in self._autoshifts
                if arn is None or item.resource_identifier == arn
            ]

    def reset_calls(self) -> None:
        """Forget the recorded calls."""
        with self._lock:
            self.calls.clear()

    # --------------------------------------------------------------- handler

    def _handle(self, request: AWSPreparedRequest, **kwargs: Any) -> AWSResponse:
        """botocore ``before-send`` handler: answer the request from in-memory state."""
        operation = str(kwargs.get("event_name", "")).rsplit(".", 1)[-1]
        self._check_region(request)
        op_model = service_model().operation_model(operation)
        params = parse_request(request, op_model)
        with self._lock:
            self.calls.append((operation, params))
            handler = self._operations.get(operation)
            if handler is None:
                body = _not_implemented(operation)
                return _http_response(request.url, 501, body, "NotImplemented")
            try:
                now = self._now()
                self._expire(now)
                body = handler(params, now)
            except _ApiError as err:
                _validate_shape(err.body, service_model().shape_for(err.code), err.code)
                return _http_response(request.url, err.status, err.body, err.code)
        validate_output(operation, body)
        return _http_response(request.url, op_model.http.get("responseCode", 200), body, None)

    def _check_region(self, request: AWSPreparedRequest) -> None:
        authorization = request.headers.get("Authorization") or ""
        if isinstance(authorization, bytes):
            authorization = authorization.decode()
        match = _CREDENTIAL_REGION.search(authorization)
        region = match.group(1) if match else None
        if region is not None and region != self.region:
            raise ZonalShiftFakeError(
                f"request signed for {region}, but the fake holds {self.region} state"
            )

    # ------------------------------------------------------------ operations

    def _start_zonal_shift(self, params: Params, now: datetime) -> Body:
        duration = _parse_expires_in(params["expiresIn"])
        arn, away_from = params["resourceIdentifier"], params["awayFrom"]
        resource = self._resource(arn)
        self._check_az(resource, away_from)
        for shift in self._active_shifts(arn):
            if shift.shift_type == "ZONAL_SHIFT":
                raise _conflict(
                    "ZonalShiftAlreadyExists",
                    f"A zonal shift already exists for {arn}",
                    shift.zonal_shift_id,
                )
        return self._new_shift(arn, away_from, now, duration, params["comment"]).zonal_shift()

    def _update_zonal_shift(self, params: Params, now: datetime) -> Body:
        if "expiresIn" not in params and "comment" not in params:
            raise _invalid("MissingValue", "Specify expiresIn, comment or both")
        duration = _parse_expires_in(params["expiresIn"]) if "expiresIn" in params else None
        shift = self._active_shift(params["zonalShiftId"])
        if duration is not None:
            shift.expiry_time = now + duration
        if "comment" in params:
            shift.comment = params["comment"]
        return shift.zonal_shift()

    def _cancel_zonal_shift(self, params: Params, now: datetime) -> Body:
        shift = self._active_shift(params["zonalShiftId"])
        shift.status = "CANCELED"
        if shift.practice_run_outcome is not None:
            shift.practice_run_outcome = "INTERRUPTED"
        return shift.zonal_shift()

    def _list_zonal_shifts(self, params: Params, now: datetime) -> Body:
        status = params.get("status", "ACTIVE")
        arn = params.get("resourceIdentifier")
        start = _decode_token(params.get("nextToken"))
        matching = [
            shift
            for shift in self._shifts.values()
            if shift.seq >= start
            and shift.status == status
            and (arn is None or shift.resource_identifier == arn)
        ]
        return self._page(matching, params, lambda shift: shift.summary())

    def _get_managed_resource(self, params: Params, now: datetime) -> Body:
        resource = self._resource(params["resourceIdentifier"])
        return self._resource_view(resource)

    def _list_managed_resources(self, params: Params, now: datetime) -> Body:
        start = _decode_token(params.get("nextToken"))
        matching = [resource for resource in self._resources.values() if resource.seq >= start]
        return self._page(matching, params, self._resource_summary)

    # ---------------------------------------------------------------- views

    @staticmethod
    def _page(matching: Sequence[_T], params: Params, view: Callable[[_T], Body]) -> Body:
        """One page of ``matching`` (ordered by seq); the token is the next item's seq."""
        size = min(params.get("maxResults", MAX_PAGE_SIZE), MAX_PAGE_SIZE)
        body: Body = {"items": [view(item) for item in matching[:size]]}
        if len(matching) > size:
            body["nextToken"] = _encode_token(matching[size].seq)
        return body

    def _resource_view(self, resource: _Resource) -> Body:
        shifts = self._active_shifts(resource.arn)
        autoshifts = self._active_autoshifts(resource.arn)
        candidates: list[_Shift | _Autoshift] = [*shifts, *autoshifts]
        applied = min(
            candidates,
            key=lambda item: (_PRECEDENCE[item.shift_type], -item.seq),
            default=None,
        )
        weights = {az: 1.0 for az in resource.az_ids}
        if applied is not None:
            weights[applied.away_from] = 0.0
        body: Body = {
            "arn": resource.arn,
            "appliedWeights": weights,
            "zonalShifts": [shift.in_resource(shift is applied) for shift in shifts],
            "autoshifts": [item.in_resource(item is applied) for item in autoshifts],
            "zonalAutoshiftStatus": "ENABLED" if resource.autoshift_enabled else "DISABLED",
        }
        if resource.name is not None:
            body["name"] = resource.name
        return body

    def _resource_summary(self, resource: _Resource) -> Body:
        return {**self._resource_view(resource), "availabilityZones": list(resource.az_ids)}

    # --------------------------------------------------------------- state

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise ZonalShiftFakeError("the clock must return timezone-aware datetimes")
        now = now.astimezone(UTC)
        return now.replace(microsecond=now.microsecond // 1000 * 1000)

    def _expire(self, now: datetime) -> None:
        for shift in self._shifts.values():
            if shift.status == "ACTIVE" and shift.expiry_time <= now:
                shift.status = "EXPIRED"
                if shift.practice_run_outcome == "PENDING":
                    shift.practice_run_outcome = "SUCCEEDED"

    def _new_shift(
        self, arn: str, away_from: str, now: datetime, duration: timedelta, comment: str
    ) -> _Shift:
        self._seq += 1
        shift = _Shift(
            seq=self._seq,
            zonal_shift_id=str(uuid.uuid4()),
            resource_identifier=arn,
            away_from=away_from,
            start_time=now,
            expiry_time=now + duration,
            comment=comment,
            shift_type="ZONAL_SHIFT",
        )
        self._shifts[shift.zonal_shift_id] = shift
        return shift

    def _resource(self, arn: str) -> _Resource:
        resource = self._resources.get(arn)
        if resource is None:
            raise _not_found(f"Resource {arn} is not a managed resource")
        return resource

    def _active_shift(self, zonal_shift_id: str) -> _Shift:
        shift = self._shifts.get(zonal_shift_id)
        if shift is None:
            raise _not_found(f"Zonal shift {zonal_shift_id} does not exist")
        if shift.status != "ACTIVE":
            raise _conflict(
                "ZonalShiftStatusNotActive",
                f"Zonal shift {zonal_shift_id} is {shift.status}",
                zonal_shift_id,
            )
        return shift

    def _active_shifts(self, arn: str) -> list[_Shift]:
        return [
            shift
            for shift in self._shifts.values()
            if shift.resource_identifier == arn and shift.status == "ACTIVE"
        ]

    def _active_autoshifts(self, arn: str) -> list[_Autoshift]:
        return [
            item
            for item in self._autoshifts
            if item.resource_identifier == arn and item.status == "ACTIVE"
        ]

    @staticmethod
    def _check_az(resource: _Resource, away_from: str) -> None:
        if away_from not in resource.az_ids:
            raise _invalid(
                "InvalidAz", f"{away_from} is not an Availability Zone of {resource.arn}"
            )

    def _seed_check(self, arn: str, away_from: str, shift_type: str) -> None:
        resource = self._resources.get(arn)
        if resource is None:
            raise ZonalShiftFakeError(f"register {arn} before seeding a {shift_type}")
        if away_from not in resource.az_ids:
            raise ZonalShiftFakeError(f"{away_from} is not registered for {arn}")
        active: Sequence[_Shift | _Autoshift] = (
            self._active_autoshifts(arn)
            if shift_type == "ZONAL_AUTOSHIFT"
            else [s for s in self._active_shifts(arn) if s.shift_type == shift_type]
        )
        if active:
            raise ZonalShiftFakeError(f"{arn} already has an active {shift_type}")
