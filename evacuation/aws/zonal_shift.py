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
LIST_PAGE = 100  # ListManagedResources' largest page


@dataclass(frozen=True)
class ActiveShift:
    shift_id: str
    away_from: str
    shift_type: str
    comment: str
    expiry: datetime
    applied: bool

    @property
    def is_customer(self) -> bool:
        """A customer zonal shift: outranks autoshifts and practice runs."""
        return self.shift_type == CUSTOMER_SHIFT


@dataclass(frozen=True)
class ManagedResource:
    arn: str
    applied_weights: dict[str, float]
    shifts: tuple[ActiveShift, ...]

    @property
    def az_ids(self) -> frozenset[str]:
        return frozenset(self.applied_weights)


def _managed_resource(arn: str, raw: Mapping[str, Any]) -> ManagedResource:
    """GetManagedResource's answer and ListManagedResources' items share these fields."""
    shifts = tuple(
        ActiveShift(
            shift_id=s["zonalShiftId"],
            away_from=s["awayFrom"],
            shift_type=s.get("shiftType", CUSTOMER_SHIFT),
            comment=s.get("comment", ""),
            expiry=s["expiryTime"],
            applied=s["appliedStatus"] == "APPLIED",
        )
        for s in raw.get("zonalShifts", [])
    )
    return ManagedResource(arn, dict(raw.get("appliedWeights", {})), shifts)


def _conflict(exc: AwsApiError, reason: str) -> bool:
    return exc.code == "ConflictException" and exc.extra.get("reason") == reason


class ShiftAlreadyExistsError(AwsApiError):
    """StartZonalShift lost a race: a customer shift is already active on the resource."""


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

    def start(self, arn: str, away_from: str, expires_in: str, comment: str) -> str:
        """Start a customer shift; returns its id. A lost race raises ShiftAlreadyExistsError."""
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
            if (
                exc.code == "ConflictException"
                and exc.extra.get("reason") == "ZonalShiftAlreadyExists"
            ):
                raise ShiftAlreadyExistsError(str(exc), exc.code, exc.status, exc.extra) from exc
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
