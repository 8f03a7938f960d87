"""Stateful fake of the AWS ARC zonal shift API (``arc-zonal-shift``) for tests and local drills.

moto has no arc-zonal-shift backend (aws-facts §1.7), so this fake answers botocore's
``before-send.arc-zonal-shift`` event (aws-facts §2.1). botocore still validates and serializes
every request and parses every response; the fake validates each response against the
operation's output shape before it serializes it (aws-facts §2.2).

Semantics modelled. Each rule names its AWS page; "aws-facts"/"aws-semantics" are the team's
notes in /work/shared; "inferred" marks a rule the docs do not state, where the fake takes the
stricter reading (the one that lets fewer wrong beliefs pass):

- Operations: StartZonalShift (HTTP 201), UpdateZonalShift, CancelZonalShift, CancelPracticeRun,
  ListZonalShifts, GetManagedResource, ListManagedResources, ListAutoshifts [aws-facts §1.1].
  Any other operation answers HTTP 501 ``NotImplemented`` so that a missing feature fails
  loudly (fake-only).
- Managed resources exist only through :meth:`ZonalShiftFake.register_resource`, which accepts
  only the supported types: ALB (``loadbalancer/app/``), NLB (``loadbalancer/net/``), EC2 Auto
  Scaling groups and EKS clusters; target groups, Classic and Gateway Load Balancers, ECS and
  anything else raise :class:`ZonalShiftFakeError`
  (https://docs.aws.amazon.com/r53recovery/latest/dg/arc-zonal-shift.resource-types.html). An
  unknown resource is ResourceNotFoundException (404) [aws-facts §1.5].
- ``expiresIn`` must match ``([1-9][0-9]*)(m|h)`` and be at most 72 h (4320 m), else
  ValidationException reason ``InvalidExpiresIn``
  (https://docs.aws.amazon.com/arc-zonal-shift/latest/api/API_StartZonalShift.html). Update
  applies the same limit from "now" (inferred: same parameter).
- ``awayFrom`` must be an AZ ID the resource is registered in, else ValidationException reason
  ``InvalidAz`` [aws-facts §1.2, §1.3] (inferred: not ``UnsupportedAz``).
- Precedence, per resource: at most one shift is APPLIED, by customer ``ZONAL_SHIFT`` >
  ``ZONAL_AUTOSHIFT`` > ``FIS_EXPERIMENT`` > ``PRACTICE_RUN``; the others stay ACTIVE and
  NOT_APPLIED. ``appliedWeights`` maps every registered AZ ID to 1.0 except the APPLIED shift's
  ``awayFrom`` (0.0). "There can be no more than one applied zonal shift at a given time"
  (https://docs.aws.amazon.com/r53recovery/latest/dg/arc-zonal-autoshift.how-it-works.precedence.html);
  the table on that page:

  - A customer shift, an autoshift or an FIS shift started while a practice run is active
    cancels the practice run: status ``CANCELED``, ``practiceRunOutcome`` ``INTERRUPTED`` ("The
    practice run will be canceled and the outcome set to INTERRUPTED"). It does not come back.
  - A customer shift or an autoshift started while an FIS shift is active cancels the FIS shift
    (status ``CANCELED``; "The AWS FIS experiment will be canceled"). It does not come back.
  - A practice run started while a customer shift, an autoshift or an FIS shift is active
    "will fail to start", and so does an FIS shift while a customer shift, an autoshift or
    another FIS shift is active: the seed helpers raise :class:`FailedToStartError`.
  - A customer shift started while an autoshift is active is APPLIED, the autoshift stays ACTIVE
    and NOT_APPLIED; once the customer shift is cancelled or expires the still-ACTIVE autoshift
    is APPLIED again (inferred, aws-semantics §1.2: only one shift is applied and autoshifts
    stay ACTIVE until AWS ends them).
- One ACTIVE customer shift per resource: a second start is ConflictException (409) reason
  ``ZonalShiftAlreadyExists`` carrying the existing ``zonalShiftId``
  (https://docs.aws.amazon.com/arc-zonal-shift/latest/api/API_StartZonalShift.html: the
  ConflictException's ``zonalShiftId`` is "The zonal shift ID associated with the conflict
  exception").
- A shift whose ``expiryTime <= clock()`` is EXPIRED, evaluated lazily on every request
  [aws-facts §1.4].
- UpdateZonalShift sets a new expiry counted from now and/or replaces the comment
  (https://docs.aws.amazon.com/arc-zonal-shift/latest/api/API_UpdateZonalShift.html). On an FIS
  shift it is ValidationException ``FISExperimentUpdateNotAllowed`` [aws-semantics §1.3, model
  enum]. Update and Cancel on a non-ACTIVE shift are ConflictException
  ``ZonalShiftStatusNotActive``; an unknown id is ResourceNotFoundException. Update with
  neither field is ValidationException ``MissingValue`` (inferred).
- CancelZonalShift cancels a customer shift or a practice run: the API page says the shift "can
  be one that you've started ... or it can be a zonal shift started by a practice run"
  (https://docs.aws.amazon.com/arc-zonal-shift/latest/api/API_CancelZonalShift.html); a
  cancelled practice run has outcome ``INTERRUPTED`` ("stopped before the expected 30 minute
  zonal shift duration", model doc of PracticeRunOutcome). CancelZonalShift on an FIS shift is
  ValidationException ``FISExperimentUpdateNotAllowed`` (inferred, stricter: the docs say
  nothing; an FIS experiment is stopped through FIS, not ARC). CancelPracticeRun
  (https://docs.aws.amazon.com/arc-zonal-shift/latest/api/API_CancelPracticeRun.html) cancels a
  practice run; on any other shift type it is ValidationException
  ``UnsupportedPracticeCancelShiftType`` (inferred from the reason's name).
- ListZonalShifts without ``status`` lists only ACTIVE shifts; customer shifts and practice
  runs are included, autoshifts are not
  (https://docs.aws.amazon.com/arc-zonal-shift/latest/api/API_ListZonalShifts.html: it "returns
  customer-initiated zonal shifts, as well as practice run zonal shifts"). FIS shifts are left
  out too (inferred, stricter: the page does not name them; read GetManagedResource). Order is
  creation order and ``nextToken`` is an opaque cursor (fake choice).
- GetManagedResource: ``zonalShifts`` lists the ACTIVE shifts (customer, practice run, FIS) and
  ``autoshifts`` the ACTIVE autoshifts ("An array of the autoshifts that are active for the
  resource", https://docs.aws.amazon.com/arc-zonal-shift/latest/api/API_GetManagedResource.html).
- ListManagedResources items carry the same ``appliedWeights``, ``zonalShifts`` and
  ``autoshifts`` as GetManagedResource, active autoshifts included. The API page documents the
  summary's ``autoshifts`` as "autoshifts that have been completed"
  (https://docs.aws.amazon.com/arc-zonal-shift/latest/api/API_ManagedResourceSummary.html); the
  fake lists the active ones there as well (fake choice, as the team asked: a caller must not
  conclude "no autoshift" from a listing; aws-semantics ARC-1 reads GetManagedResource).
- ListAutoshifts (https://docs.aws.amazon.com/arc-zonal-shift/latest/api/API_ListAutoshifts.html)
  is Region-wide, ACTIVE by default or COMPLETED on request; one item per distinct (awayFrom,
  startTime), since AWS autoshifts away from an AZ, not from one resource.
- ``maxResults`` outside 1-100 is ValidationException on every List operation (model min/max;
  botocore checks only the minimum on the client). The model has no reason for it, so the fake
  sends :data:`MAX_RESULTS_REASON` as a placeholder.
- On demand: :meth:`ZonalShiftFake.inject_conflict` answers the next calls with any
  ConflictException reason, with or without ``zonalShiftId``; :meth:`ZonalShiftFake.delay_apply`
  keeps new customer shifts NOT_APPLIED for a number of reads (ACTIVE is not APPLIED).
- Practice runs last 30 minutes [aws-facts §1.2]. The fake reports ``expiryTime = startTime + 30
  min`` although the model doc says the real field "always has a value of 1 minute" (fake
  choice). ``practiceRunOutcome`` is PENDING while active, SUCCEEDED once expired and
  INTERRUPTED once cancelled.
- Errors are the HTTP status, header ``x-amzn-ErrorType: <Code>`` and a JSON body
  ``{"message", "reason", "zonalShiftId"}`` [aws-facts §2.1], so ``e.response["reason"]`` works.
- State is per region: a request signed for another region raises :class:`ZonalShiftFakeError`
  instead of silently answering (fake-only behaviour).

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
CUSTOMER = "ZONAL_SHIFT"
AUTOSHIFT = "ZONAL_AUTOSHIFT"
FIS = "FIS_EXPERIMENT"
PRACTICE = "PRACTICE_RUN"
# https://docs.aws.amazon.com/r53recovery/latest/dg/arc-zonal-autoshift.how-it-works.precedence.html
_PRECEDENCE = {CUSTOMER: 0, AUTOSHIFT: 1, FIS: 2, PRACTICE: 3}
# https://docs.aws.amazon.com/r53recovery/latest/dg/arc-zonal-shift.resource-types.html
_SUPPORTED_ARN = re.compile(
    r"arn:aws[a-z-]*:(?:"
    r"elasticloadbalancing:[a-z0-9-]+:\d{12}:loadbalancer/(?:app|net)/[^/]+/[^/]+"
    r"|autoscaling:[a-z0-9-]+:\d{12}:autoScalingGroup:[^:]+:autoScalingGroupName/.+"
    r"|eks:[a-z0-9-]+:\d{12}:cluster/[^/]+"
    r")"
)
_URI_LABEL = re.compile(r"\{(\w+)(\+?)\}")
_CREDENTIAL_REGION = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/")

Clock = Callable[[], datetime]
Params = dict[str, Any]
Body = dict[str, Any]
_T = TypeVar("_T", "_Shift", "_Resource", "_AutoshiftSummary")


class ZonalShiftFakeError(AssertionError):
    """The fake was misused, or it built a response the real API could not return."""


class FailedToStartError(ZonalShiftFakeError):
    """A seeded practice run or FIS shift that ARC's precedence rules do not let start."""


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


def _conflict(reason: str, message: str, zonal_shift_id: str | None) -> _ApiError:
    """A 409; ``zonalShiftId`` is optional in the model and left out when ``None``."""
    fields = {"reason": reason}
    if zonal_shift_id is not None:
        fields["zonalShiftId"] = zonal_shift_id
    return _ApiError("ConflictException", 409, message, **fields)


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
    unapplied_reads: int = 0  # reads left that still show it NOT_APPLIED (delay_apply)

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
    shift_type: str = AUTOSHIFT

    def in_resource(self, applied: bool) -> Body:
        """The AutoshiftInResource shape."""
        return {
            "appliedStatus": "APPLIED" if applied else "NOT_APPLIED",
            "awayFrom": self.away_from,
            "startTime": self.start_time,
        }


@dataclass
class _AutoshiftSummary:
    """One region-wide autoshift away from an AZ (ListAutoshifts item)."""

    seq: int
    away_from: str
    start_time: datetime
    status: str
    end_time: datetime | None

    def summary(self) -> Body:
        body: Body = {
            "awayFrom": self.away_from,
            "startTime": self.start_time,
            "status": self.status,
        }
        if self.end_time is not None:
            body["endTime"] = self.end_time
        return body


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


# The model has no ValidationExceptionReason for a page size and ``reason`` is required, so the
# fake sends this placeholder; tests and callers should branch on the exception code only.
MAX_RESULTS_REASON = "InvalidStatus"


def _check_max_results(params: Params) -> None:
    """``maxResults`` is 1-100 on every List operation (model ``min``/``max``; e.g.
    https://docs.aws.amazon.com/arc-zonal-shift/latest/api/API_ListZonalShifts.html: "Valid
    Range: Minimum value of 1. Maximum value of 100."). botocore enforces only the minimum on
    the client, so the fake rejects the rest as the service would."""
    size = params.get("maxResults", MAX_PAGE_SIZE)
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise _invalid(
            MAX_RESULTS_REASON, f"maxResults {size} must be between 1 and {MAX_PAGE_SIZE}"
        )


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
        self._injected: dict[str, list[tuple[str, str | None]]] = {}
        self._apply_delay = 0
        self._unique_id = f"azevac-zonal-shift-fake-{id(self)}"
        self._operations: dict[str, Callable[[Params, datetime], Body]] = {
            "StartZonalShift": self._start_zonal_shift,
            "UpdateZonalShift": self._update_zonal_shift,
            "CancelZonalShift": self._cancel_zonal_shift,
            "CancelPracticeRun": self._cancel_practice_run,
            "ListZonalShifts": self._list_zonal_shifts,
            "GetManagedResource": self._get_managed_resource,
            "ListManagedResources": self._list_managed_resources,
            "ListAutoshifts": self._list_autoshifts,
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
        """Register a managed resource deployed in ``az_ids`` (AZ IDs such as ``use1-az1``).

        Only the resource types ARC supports are accepted: ALB, NLB, EC2 Auto Scaling group and
        EKS cluster ARNs
        (https://docs.aws.amazon.com/r53recovery/latest/dg/arc-zonal-shift.resource-types.html).
        Target groups, Classic and Gateway Load Balancers, ECS services and any other ARN raise
        ZonalShiftFakeError, so that a test cannot shift what ARC cannot.
        """
        if not 8 <= len(arn) <= 1024 or not _SUPPORTED_ARN.fullmatch(arn):
            raise ZonalShiftFakeError(
                f"not an ARN of a resource type ARC zonal shift supports "
                f"(ALB, NLB, Auto Scaling group, EKS cluster): {arn!r}"
            )
        arn_region = arn.split(":")[3]
        if arn_region != self.region:
            raise ZonalShiftFakeError(f"{arn} is not in the fake's region {self.region}")
        if isinstance(az_ids, str) or not az_ids or len(set(az_ids)) != len(az_ids):
            raise ZonalShiftFakeError(f"az_ids must be distinct AZ IDs, got {az_ids!r}")
        with self._lock:
            if arn in self._resources:
                raise ZonalShiftFakeError(f"{arn} is already registered")
            self._seq += 1
            self._resources[arn] = _Resource(self._seq, arn, tuple(az_ids), name)

    def start_practice_run(self, arn: str, away_from: str, comment: str = "Practice run") -> str:
        """Seed an ACTIVE PRACTICE_RUN shift, as ARC would start for autoshift; return its id.

        Raises FailedToStartError while a customer shift, an autoshift, an FIS shift or another
        practice run is active on the resource: "The practice run will fail to start"
        (https://docs.aws.amazon.com/r53recovery/latest/dg/arc-zonal-autoshift.how-it-works.precedence.html).
        """
        with self._lock:
            now = self._now()
            self._expire(now)
            self._seed_check(arn, away_from, PRACTICE)
            self._fail_to_start_if(arn, PRACTICE, {CUSTOMER, AUTOSHIFT, FIS, PRACTICE})
            shift = self._new_shift(
                arn, away_from, now, PRACTICE_RUN_DURATION, comment=comment, shift_type=PRACTICE
            )
            shift.practice_run_outcome = "PENDING"
            return shift.zonal_shift_id

    def start_fis_shift(
        self,
        arn: str,
        away_from: str,
        expires_in: timedelta = timedelta(minutes=30),
        comment: str = "FIS experiment",
    ) -> str:
        """Seed an ACTIVE FIS_EXPERIMENT shift, as an AWS FIS experiment would; return its id.

        Per the precedence table
        (https://docs.aws.amazon.com/r53recovery/latest/dg/arc-zonal-autoshift.how-it-works.precedence.html)
        an active practice run is cancelled as INTERRUPTED, and the FIS shift "fails to start"
        (FailedToStartError) while a customer shift, an autoshift or another FIS shift is
        active on the resource.
        """
        if not timedelta(0) < expires_in <= MAX_EXPIRES_IN:
            raise ZonalShiftFakeError(f"expires_in must be in (0, 72h], got {expires_in}")
        with self._lock:
            now = self._now()
            self._expire(now)
            self._seed_check(arn, away_from, FIS)
            self._fail_to_start_if(arn, FIS, {CUSTOMER, AUTOSHIFT, FIS})
            self._preempt(arn, FIS)
            shift = self._new_shift(
                arn, away_from, now, expires_in, comment=comment, shift_type=FIS
            )
            return shift.zonal_shift_id

    def start_autoshift(self, arn: str, away_from: str) -> None:
        """Seed an ACTIVE autoshift (and mark zonal autoshift ENABLED on the resource).

        An active practice run is cancelled as INTERRUPTED and an active FIS shift is cancelled
        (https://docs.aws.amazon.com/r53recovery/latest/dg/arc-zonal-autoshift.how-it-works.precedence.html);
        an active customer shift stays APPLIED and the autoshift is NOT_APPLIED. AWS autoshifts
        away from an AZ region-wide, so a seed away from an AZ that another resource is already
        autoshifted from joins that autoshift (same ``startTime``; one ListAutoshifts item).
        """
        with self._lock:
            now = self._now()
            self._expire(now)
            self._seed_check(arn, away_from, AUTOSHIFT)
            if self._active_autoshifts(arn):
                raise ZonalShiftFakeError(f"{arn} already has an active {AUTOSHIFT}")
            self._preempt(arn, AUTOSHIFT)
            start = next(
                (
                    item.start_time
                    for item in self._autoshifts
                    if item.status == "ACTIVE" and item.away_from == away_from
                ),
                now,
            )
            self._seq += 1
            self._autoshifts.append(_Autoshift(self._seq, arn, away_from, start))
            self._resources[arn].autoshift_enabled = True

    def end_autoshift(self, arn: str) -> None:
        """Complete the ACTIVE autoshift of ``arn``, as ARC does when the AZ recovers."""
        with self._lock:
            for autoshift in self._active_autoshifts(arn):
                autoshift.status = "COMPLETED"
                autoshift.end_time = self._now()

    def cancel_shift(self, zonal_shift_id: str) -> None:
        """Cancel an ACTIVE shift of any type behind the API's back (someone else did it).

        A practice run ends INTERRUPTED. Unlike CancelZonalShift this also ends an FIS shift,
        as stopping the FIS experiment would.
        """
        with self._lock:
            self._expire(self._now())
            shift = self._shifts.get(zonal_shift_id)
            if shift is None or shift.status != "ACTIVE":
                raise ZonalShiftFakeError(f"no ACTIVE shift {zonal_shift_id}")
            self._end(shift)

    def is_registered(self, arn: str) -> bool:
        """Whether ``arn`` is a managed resource of the fake."""
        with self._lock:
            return arn in self._resources

    def applied_away_from(self, arn: str) -> str | None:
        """The AZ ID the APPLIED shift of ``arn`` moves away from, or None: what a resource that
        integrates with ARC (an Auto Scaling group) acts on. Unlike a read through the API, this
        does not count down :meth:`delay_apply`'s lag. None for an unregistered resource."""
        with self._lock:
            self._expire(self._now())
            if arn not in self._resources:
                return None
            applied = self._applied(arn)
            return None if applied is None else applied.away_from

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

    def inject_conflict(
        self,
        operation: str = "StartZonalShift",
        reason: str = "SimultaneousZonalShiftsConflict",
        zonal_shift_id: str | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` ``operation`` requests with ConflictException ``reason``.

        The state is left unchanged. With ``zonal_shift_id=None`` the error carries no
        ``zonalShiftId``, which the model allows (it is optional on ConflictException;
        https://docs.aws.amazon.com/arc-zonal-shift/latest/api/API_StartZonalShift.html). Use it
        for ``SimultaneousZonalShiftsConflict``, whose trigger AWS does not document
        (aws-semantics ARC-7), and for a ``ZonalShiftAlreadyExists`` without an id.
        """
        reasons = getattr(service_model().shape_for("ConflictExceptionReason"), "enum", [])
        if operation not in self._operations:
            raise ZonalShiftFakeError(f"the fake does not implement {operation}")
        if reason not in reasons:
            raise ZonalShiftFakeError(f"{reason!r} is not a ConflictExceptionReason: {reasons}")
        if times < 1:
            raise ZonalShiftFakeError(f"times must be at least 1, got {times}")
        with self._lock:
            self._injected.setdefault(operation, []).extend([(reason, zonal_shift_id)] * times)

    def delay_apply(self, reads: int) -> None:
        """Make customer shifts started from now on show as not yet applied for ``reads`` reads.

        ARC creates a shift at once, but ACTIVE is not APPLIED (aws-semantics ARC-4; "it can
        take a short time, typically up to a few minutes, for existing, in-progress connections
        in the Availability Zone to complete",
        https://docs.aws.amazon.com/arc-zonal-shift/latest/api/API_StartZonalShift.html). Each
        GetManagedResource of the resource, and each ListManagedResources page that includes
        it, counts as one read. Until the count runs out the shift is listed with
        ``appliedStatus`` NOT_APPLIED and ``appliedWeights`` reflect whatever else is applied
        (1.0 everywhere when nothing is). ``delay_apply(0)`` turns the lag off again.
        """
        if reads < 0:
            raise ZonalShiftFakeError(f"reads must be >= 0, got {reads}")
        with self._lock:
            self._apply_delay = reads

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
                if injected := self._injected.get(operation):
                    reason, zonal_shift_id = injected.pop(0)
                    raise _conflict(reason, f"Injected {reason}", zonal_shift_id)
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
            if shift.shift_type == CUSTOMER:
                raise _conflict(
                    "ZonalShiftAlreadyExists",
                    f"A zonal shift already exists for {arn}",
                    shift.zonal_shift_id,
                )
        # A customer shift cancels an active practice run (INTERRUPTED) and FIS shift.
        self._preempt(arn, CUSTOMER)
        comment = params["comment"]
        shift = self._new_shift(arn, away_from, now, duration, comment=comment, shift_type=CUSTOMER)
        shift.unapplied_reads = self._apply_delay
        return shift.zonal_shift()

    def _update_zonal_shift(self, params: Params, now: datetime) -> Body:
        if "expiresIn" not in params and "comment" not in params:
            raise _invalid("MissingValue", "Specify expiresIn, comment or both")
        duration = _parse_expires_in(params["expiresIn"]) if "expiresIn" in params else None
        shift = self._active_shift(params["zonalShiftId"])
        if shift.shift_type == FIS:
            raise _invalid(
                "FISExperimentUpdateNotAllowed",
                f"Zonal shift {shift.zonal_shift_id} was started by an AWS FIS experiment",
            )
        if duration is not None:
            shift.expiry_time = now + duration
        if "comment" in params:
            shift.comment = params["comment"]
        return shift.zonal_shift()

    def _cancel_zonal_shift(self, params: Params, now: datetime) -> Body:
        shift = self._active_shift(params["zonalShiftId"])
        if shift.shift_type == FIS:
            # Inferred (docs silent), stricter: ARC does not cancel an FIS experiment's shift.
            raise _invalid(
                "FISExperimentUpdateNotAllowed",
                f"Zonal shift {shift.zonal_shift_id} was started by an AWS FIS experiment",
            )
        self._end(shift)
        return shift.zonal_shift()

    def _cancel_practice_run(self, params: Params, now: datetime) -> Body:
        shift = self._active_shift(params["zonalShiftId"])
        if shift.shift_type != PRACTICE:
            raise _invalid(
                "UnsupportedPracticeCancelShiftType",
                f"Zonal shift {shift.zonal_shift_id} is a {shift.shift_type}, not a practice run",
            )
        self._end(shift)
        return shift.zonal_shift()

    def _list_zonal_shifts(self, params: Params, now: datetime) -> Body:
        _check_max_results(params)
        status = params.get("status", "ACTIVE")
        arn = params.get("resourceIdentifier")
        start = _decode_token(params.get("nextToken"))
        matching = [
            shift
            for shift in self._shifts.values()
            if shift.seq >= start
            and shift.status == status
            and shift.shift_type != FIS
            and (arn is None or shift.resource_identifier == arn)
        ]
        return self._page(matching, params, lambda shift: shift.summary())

    def _get_managed_resource(self, params: Params, now: datetime) -> Body:
        resource = self._resource(params["resourceIdentifier"])
        return self._resource_view(resource)

    def _list_managed_resources(self, params: Params, now: datetime) -> Body:
        _check_max_results(params)
        start = _decode_token(params.get("nextToken"))
        matching = [resource for resource in self._resources.values() if resource.seq >= start]
        return self._page(matching, params, self._resource_summary)

    def _list_autoshifts(self, params: Params, now: datetime) -> Body:
        """ListAutoshifts: the Region's autoshifts, ACTIVE by default or COMPLETED.

        https://docs.aws.amazon.com/arc-zonal-shift/latest/api/API_ListAutoshifts.html: "Returns
        the autoshifts for an Amazon Web Services Region. By default, the call returns only
        ACTIVE autoshifts." An autoshift is AWS's, away from one AZ for the whole Region, so the
        per-resource seeds are listed once per (awayFrom, startTime); it is ACTIVE while any
        resource is still in it, else COMPLETED with the latest ``endTime``.
        """
        _check_max_results(params)
        status = params.get("status", "ACTIVE")
        start = _decode_token(params.get("nextToken"))
        groups: dict[tuple[str, datetime], list[_Autoshift]] = {}
        for item in self._autoshifts:
            groups.setdefault((item.away_from, item.start_time), []).append(item)
        summaries = []
        for (away_from, start_time), members in groups.items():
            active = any(member.status == "ACTIVE" for member in members)
            ends = [member.end_time for member in members if member.end_time is not None]
            summaries.append(
                _AutoshiftSummary(
                    seq=min(member.seq for member in members),
                    away_from=away_from,
                    start_time=start_time,
                    status="ACTIVE" if active else "COMPLETED",
                    end_time=None if active or not ends else max(ends),
                )
            )
        matching = sorted(
            (item for item in summaries if item.status == status and item.seq >= start),
            key=lambda item: item.seq,
        )
        return self._page(matching, params, lambda item: item.summary())

    # ---------------------------------------------------------------- views

    @staticmethod
    def _page(matching: Sequence[_T], params: Params, view: Callable[[_T], Body]) -> Body:
        """One page of ``matching`` (ordered by seq); the token is the next item's seq."""
        size = int(params.get("maxResults", MAX_PAGE_SIZE))
        body: Body = {"items": [view(item) for item in matching[:size]]}
        if len(matching) > size:
            body["nextToken"] = _encode_token(matching[size].seq)
        return body

    def _applied(self, arn: str) -> _Shift | _Autoshift | None:
        """The one APPLIED shift of ``arn`` under ARC's precedence, or None (no side effects)."""
        candidates: list[_Shift | _Autoshift] = [
            *(shift for shift in self._active_shifts(arn) if shift.unapplied_reads == 0),
            *self._active_autoshifts(arn),
        ]
        return min(
            candidates,
            key=lambda item: (_PRECEDENCE[item.shift_type], -item.seq),
            default=None,
        )

    def _resource_view(self, resource: _Resource) -> Body:
        shifts = self._active_shifts(resource.arn)
        autoshifts = self._active_autoshifts(resource.arn)
        applied = self._applied(resource.arn)
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
        for shift in shifts:  # this read counts down delay_apply's lag
            shift.unapplied_reads = max(0, shift.unapplied_reads - 1)
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
        self,
        arn: str,
        away_from: str,
        now: datetime,
        duration: timedelta,
        *,
        comment: str,
        shift_type: str,
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
            shift_type=shift_type,
        )
        self._shifts[shift.zonal_shift_id] = shift
        return shift

    @staticmethod
    def _end(shift: _Shift) -> None:
        """Cancel ``shift``; a practice run stopped early has outcome INTERRUPTED."""
        shift.status = "CANCELED"
        if shift.practice_run_outcome is not None:
            shift.practice_run_outcome = "INTERRUPTED"

    def _preempt(self, arn: str, newcomer: str) -> None:
        """Cancel the active shifts that ``newcomer`` ends under ARC's precedence table.

        https://docs.aws.amazon.com/r53recovery/latest/dg/arc-zonal-autoshift.how-it-works.precedence.html:
        a customer shift, an autoshift or an FIS shift cancels a practice run (outcome
        INTERRUPTED); a customer shift or an autoshift cancels an FIS shift. Neither comes back
        when the newcomer ends.
        """
        ended = {PRACTICE} if newcomer == FIS else {PRACTICE, FIS}
        for shift in self._active_shifts(arn):
            if shift.shift_type in ended:
                self._end(shift)

    def _fail_to_start_if(self, arn: str, shift_type: str, blockers: set[str]) -> None:
        active = {shift.shift_type for shift in self._active_shifts(arn)}
        if self._active_autoshifts(arn):
            active.add(AUTOSHIFT)
        if blocking := sorted(active & blockers):
            raise FailedToStartError(
                f"the {shift_type} fails to start on {arn}: {', '.join(blocking)} is active"
            )

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
