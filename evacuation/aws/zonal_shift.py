"""ARC zonal shift: read a managed resource, start, extend and cancel shifts."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from evacuation.aws.clients import AwsClients, Caller
from evacuation.aws.errors import AwsApiError

CUSTOMER_SHIFT = "ZONAL_SHIFT"
AUTOSHIFT = "ZONAL_AUTOSHIFT"
PRACTICE_RUN = "PRACTICE_RUN"
FIS_EXPERIMENT = "FIS_EXPERIMENT"
LIST_PAGE = 100  # the largest maxResults ARC accepts (MaxResults: 1-100 in the model)


@dataclass(frozen=True)
class ActiveShift:
    """One shift in force on a resource, of any type (aws-semantics ARC-1).

    ARC applies one shift per resource, by precedence customer > autoshift > FIS experiment >
    practice run; the others stay ACTIVE and NOT_APPLIED
    (https://docs.aws.amazon.com/r53recovery/latest/dg/arc-zonal-autoshift.how-it-works.precedence.html).
    """

    shift_id: str
    """Empty for an autoshift: ARC gives autoshifts no id."""
    away_from: str
    shift_type: str
    comment: str
    expiry: datetime | None
    """None for an autoshift: AWS ends it when the AZ recovers."""
    applied: bool

    @property
    def is_customer(self) -> bool:
        """A customer zonal shift (azevac's or anyone's): outranks every other type."""
        return self.shift_type == CUSTOMER_SHIFT

    @property
    def is_practice(self) -> bool:
        return self.shift_type == PRACTICE_RUN

    def describe(self) -> str:
        """How a refusal or a step names it: type, id and AZ."""
        label = {
            CUSTOMER_SHIFT: "customer zonal shift",
            AUTOSHIFT: "AWS zonal autoshift",
            PRACTICE_RUN: "ARC practice run",
            FIS_EXPERIMENT: "FIS experiment shift",
        }.get(self.shift_type, self.shift_type)
        named = f" {self.shift_id}" if self.shift_id else ""
        return f"{label}{named} away from {self.away_from}"


@dataclass(frozen=True)
class ManagedResource:
    arn: str
    applied_weights: dict[str, float]
    shifts: tuple[ActiveShift, ...]
    autoshift_enabled: bool = False

    @property
    def az_ids(self) -> frozenset[str]:
        return frozenset(self.applied_weights)

    def shift(self, shift_id: str) -> ActiveShift | None:
        return next((s for s in self.shifts if shift_id and s.shift_id == shift_id), None)


@dataclass(frozen=True)
class Autoshift:
    """A region-wide AWS zonal autoshift in progress (ListAutoshifts, status ACTIVE)."""

    away_from: str
    start: datetime


def _managed_resource(arn: str, raw: Mapping[str, Any]) -> ManagedResource:
    """GetManagedResource's answer and ListManagedResources' items share these fields.

    `zonalShifts` holds customer shifts, practice runs and FIS experiment shifts (`shiftType`;
    absent means a customer shift); `autoshifts` holds AWS's autoshifts. Both are read: a type
    may appear in either (aws-semantics ARC-1).
    """
    shifts = [
        ActiveShift(
            shift_id=s["zonalShiftId"],
            away_from=s["awayFrom"],
            shift_type=s.get("shiftType", CUSTOMER_SHIFT),
            comment=s.get("comment", ""),
            expiry=s["expiryTime"],
            applied=s["appliedStatus"] == "APPLIED",
        )
        for s in raw.get("zonalShifts", [])
    ]
    shifts += [
        ActiveShift(
            shift_id="",
            away_from=a["awayFrom"],
            shift_type=AUTOSHIFT,
            comment="",
            expiry=None,
            applied=a["appliedStatus"] == "APPLIED",
        )
        for a in raw.get("autoshifts", [])
    ]
    enabled = raw.get("zonalAutoshiftStatus") == "ENABLED"
    return ManagedResource(arn, dict(raw.get("appliedWeights", {})), tuple(shifts), enabled)


class ShiftConflictError(AwsApiError):
    """StartZonalShift answered ConflictException: `reason` and, where ARC names one, the id of
    the shift in the way (`zonalShiftId`, optional in the model)."""

    @property
    def reason(self) -> str:
        return self.extra.get("reason", "")

    @property
    def zonal_shift_id(self) -> str | None:
        return self.extra.get("zonalShiftId")


class ZonalShiftGateway:
    """zonal_shift calls, each translated and retried through `call`."""

    def __init__(self, clients: AwsClients, call: Caller) -> None:
        self._clients = clients
        self._call = call

    def get_managed_resource(self, arn: str) -> ManagedResource:
        arc = self._clients.zonal_shift()
        raw = self._call(
            "arc-zonal-shift.GetManagedResource",
            lambda: arc.get_managed_resource(resourceIdentifier=arn),
        )
        return _managed_resource(arn, raw)

    def list_managed_resources(
        self, arns: Collection[str], max_pages: int
    ) -> dict[str, ManagedResource]:
        """The resources among `arns` that ListManagedResources shows within `max_pages` pages
        of 100 (the account may hold many more); the caller reads the rest one by one."""
        arc = self._clients.zonal_shift()
        wanted: set[str] = set(arns)
        found: dict[str, ManagedResource] = {}
        kwargs: dict[str, Any] = {"maxResults": LIST_PAGE}
        for _ in range(max_pages):
            page = self._call(
                "arc-zonal-shift.ListManagedResources",
                partial(arc.list_managed_resources, **kwargs),
            )
            for item in page["items"]:
                arn = item.get("arn", "")
                # Both fields are optional in a summary: without them, read the resource itself.
                if arn in wanted and "appliedWeights" in item and "zonalShifts" in item:
                    found[arn] = _managed_resource(arn, item)
            if len(found) == len(wanted) or "nextToken" not in page:
                break
            kwargs["nextToken"] = page["nextToken"]
        return found

    def active_autoshifts(self) -> list[Autoshift]:
        """AWS's autoshifts in progress in this region, every page: one ListAutoshifts call for
        the whole fleet (an autoshift is per AZ, not per resource)."""
        arc = self._clients.zonal_shift()
        kwargs: dict[str, Any] = {"status": "ACTIVE", "maxResults": LIST_PAGE}
        found: list[Autoshift] = []
        while True:
            page = self._call(
                "arc-zonal-shift.ListAutoshifts", partial(arc.list_autoshifts, **kwargs)
            )
            found += [
                Autoshift(item["awayFrom"], item["startTime"])
                for item in page.get("items", [])
                if item.get("status", "ACTIVE") == "ACTIVE"
            ]
            if not page.get("nextToken"):
                return found
            kwargs["nextToken"] = page["nextToken"]

    def start(self, arn: str, away_from: str, expires_in: str, comment: str) -> str:
        """Start a customer shift; returns its id. Any conflict raises ShiftConflictError."""
        arc = self._clients.zonal_shift()
        try:
            response = self._call(
                "arc-zonal-shift.StartZonalShift",
                lambda: arc.start_zonal_shift(
                    resourceIdentifier=arn,
                    awayFrom=away_from,
                    expiresIn=expires_in,
                    comment=comment[:128],
                ),
            )
        except AwsApiError as exc:
            if exc.code == "ConflictException":
                raise ShiftConflictError(str(exc), exc.code, exc.status, exc.extra) from exc
            raise
        return str(response["zonalShiftId"])

    def extend(self, shift_id: str, expires_in: str) -> datetime:
        """Set a new expiry, counted from now; returns it."""
        arc = self._clients.zonal_shift()
        response = self._call(
            "arc-zonal-shift.UpdateZonalShift",
            lambda: arc.update_zonal_shift(zonalShiftId=shift_id, expiresIn=expires_in),
        )
        return response["expiryTime"]

    def cancel(self, shift_id: str) -> bool:
        """Cancel a shift. False when it had already ended (cancelled or expired): nothing to do."""
        arc = self._clients.zonal_shift()
        try:
            self._call(
                "arc-zonal-shift.CancelZonalShift",
                lambda: arc.cancel_zonal_shift(zonalShiftId=shift_id),
            )
        except AwsApiError as exc:
            if (
                exc.code == "ConflictException"
                and exc.extra.get("reason") == "ZonalShiftStatusNotActive"
            ):
                return False
            raise
        return True
