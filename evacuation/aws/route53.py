"""Route 53: read record sets, compare-and-swap records in batches per hosted zone, poll changes.

Batch limits (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/DNSLimitations.html):
a ChangeResourceRecordSets request holds at most 1,000 ResourceRecord elements and 32,000
characters of Value elements, UPSERT counting twice; a DELETE and a CREATE each count once, so a
swap costs what an UPSERT does. Alias records have no ResourceRecords: they count as one element
each (and their DNSName as Value characters), an over-count that keeps chunks within the limits
whatever Route 53 counts for them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar, cast

from evacuation.aws.clients import AwsClients, Caller

if TYPE_CHECKING:
    from mypy_boto3_route53.type_defs import (
        ChangeBatchTypeDef,
        ChangeTypeDef,
        ResourceRecordSetTypeDef,
    )

    Swap = tuple[ResourceRecordSetTypeDef, ResourceRecordSetTypeDef]
    """(the record as read, to DELETE; the record to CREATE in its place)."""

PAGE = "300"  # at most 100 weighted records share a name and type
MAX_RECORDS_PER_REQUEST = 1000
MAX_VALUE_CHARS_PER_REQUEST = 32000
T = TypeVar("T")


def record_cost(record: ResourceRecordSetTypeDef) -> tuple[int, int]:
    """(ResourceRecord elements, Value characters) one DELETE or CREATE of `record` costs."""
    values = [str(r["Value"]) for r in record.get("ResourceRecords", [])]
    if "AliasTarget" in record or not values:
        return 1, len(str(record.get("AliasTarget", {}).get("DNSName", "")))
    return len(values), sum(len(v) for v in values)


def swaps_cost(swaps: Sequence[Swap]) -> tuple[int, int]:
    """What DELETE + CREATE of every swap costs in a request."""
    costs = [record_cost(record) for swap in swaps for record in swap]
    return sum(c[0] for c in costs), sum(c[1] for c in costs)


def chunks(
    units: Sequence[T],
    cost: Callable[[T], tuple[int, int]],
    max_records: int = MAX_RECORDS_PER_REQUEST,
    max_chars: int = MAX_VALUE_CHARS_PER_REQUEST,
) -> list[list[T]]:
    """`units` in order, cut into requests within both limits. A unit (a step's swaps) is
    never split: each request is atomic, and a DELETE must travel with its CREATE. A unit over
    the limits alone gets a request of its own (Route 53 then rejects it, visibly)."""
    out: list[list[T]] = []
    records = chars = 0
    for unit in units:
        unit_records, unit_chars = cost(unit)
        full = records + unit_records > max_records or chars + unit_chars > max_chars
        if not out or full:
            out.append([])
            records = chars = 0
        out[-1].append(unit)
        records += unit_records
        chars += unit_chars
    return out


def _same_name(a: str, b: str) -> bool:
    return a.rstrip(".").lower() == b.rstrip(".").lower()


class Route53Gateway:
    """route53 calls, each translated and retried through `call`."""

    def __init__(self, clients: AwsClients, call: Caller) -> None:
        self._clients = clients
        self._call = call

    def weighted_records(
        self, zone_id: str, name: str, record_type: str
    ) -> list[ResourceRecordSetTypeDef]:
        """Every record of `name`/`record_type` in the zone, as Route 53 returns them."""
        return [r for r in self._list_name(zone_id, name, record_type) if r["Type"] == record_type]

    def name_records(self, zone_id: str, name: str) -> list[ResourceRecordSetTypeDef]:
        """Every record of `name` in the zone, of every type: Route 53 lists a name's types side
        by side, so a configured set and its siblings of other types (A beside AAAA) cost one
        read, as the set alone did."""
        return self._list_name(zone_id, name, None)

    def _list_name(
        self, zone_id: str, name: str, record_type: str | None
    ) -> list[ResourceRecordSetTypeDef]:
        route53 = self._clients.route53()
        kwargs: dict[str, Any] = {
            "HostedZoneId": zone_id,
            "StartRecordName": name,
            "MaxItems": PAGE,
        }
        if record_type is not None:
            kwargs["StartRecordType"] = record_type
        records: list[ResourceRecordSetTypeDef] = []
        while True:
            response = self._call(
                "route53.ListResourceRecordSets",
                partial(route53.list_resource_record_sets, **kwargs),
            )
            page = response["ResourceRecordSets"]
            matching = [
                r for r in page if _same_name(r["Name"], name) and record_type in (None, r["Type"])
            ]
            seen = {(r["Type"], r.get("SetIdentifier")) for r in records}
            # A page that resumes inside a set must not repeat its records (moto does).
            records.extend(
                cast("ResourceRecordSetTypeDef", r)
                for r in matching
                if (r["Type"], r.get("SetIdentifier")) not in seen
            )
            left_the_set = len(matching) < len(page)
            if left_the_set or not response.get("IsTruncated"):
                return records
            kwargs["StartRecordName"] = response["NextRecordName"]
            kwargs["StartRecordType"] = response.get("NextRecordType", record_type)
            if "NextRecordIdentifier" in response:
                kwargs["StartRecordIdentifier"] = response["NextRecordIdentifier"]
            else:
                kwargs.pop("StartRecordIdentifier", None)

    def zone_records(
        self, zone_id: str, wanted: Collection[tuple[str, str]], max_pages: int
    ) -> dict[tuple[str, str], list[ResourceRecordSetTypeDef]]:
        """The records of each wanted (name, type), and of the other types of the wanted names,
        found by listing the zone from its start within `max_pages` pages of 300. A name's types
        are listed side by side, and a name is returned only once listing has gone past all of
        them, so none comes back half read; the caller reads the rest one name at a time."""
        route53 = self._clients.route53()
        keys = {(name.rstrip(".").lower(), kind) for name, kind in wanted}
        names = {name for name, _ in keys}
        found: dict[tuple[str, str], list[ResourceRecordSetTypeDef]] = {}
        last: tuple[str, str] | None = None
        kwargs: dict[str, Any] = {"HostedZoneId": zone_id, "MaxItems": PAGE}
        for _ in range(max_pages):
            response = self._call(
                "route53.ListResourceRecordSets",
                partial(route53.list_resource_record_sets, **kwargs),
            )
            for record in response["ResourceRecordSets"]:
                last = (record["Name"].rstrip(".").lower(), record["Type"])
                records = found.setdefault(last, []) if last[0] in names else None
                # A page that resumes inside a set must not repeat its records (moto does).
                ids = {r.get("SetIdentifier") for r in records or ()}
                if records is not None and record.get("SetIdentifier") not in ids:
                    records.append(cast("ResourceRecordSetTypeDef", record))
            if not response.get("IsTruncated"):
                return found
            if keys <= found.keys() and last is not None and last[0] not in names:
                return found
            kwargs["StartRecordName"] = response["NextRecordName"]
            kwargs["StartRecordType"] = response["NextRecordType"]
            if "NextRecordIdentifier" in response:
                kwargs["StartRecordIdentifier"] = response["NextRecordIdentifier"]
            else:
                kwargs.pop("StartRecordIdentifier", None)
        if last is not None:  # the listing stopped inside this name: it may have more records
            found = {key: records for key, records in found.items() if key[0] != last[0]}
        return found

    def swap(self, zone_id: str, swaps: Sequence[Swap], comment: str) -> str:
        """Compare-and-swap in one transactional batch: for each (old, new), DELETE `old`
        exactly as it was read and CREATE `new`. Route 53 rejects the whole batch with
        InvalidChangeBatch when any `old` no longer matches (someone changed it since), so a
        concurrent change is never overwritten. Returns the change id."""
        route53 = self._clients.route53()
        changes: list[ChangeTypeDef] = []
        for old, new in swaps:
            changes.append({"Action": "DELETE", "ResourceRecordSet": old})
            changes.append({"Action": "CREATE", "ResourceRecordSet": new})
        batch: ChangeBatchTypeDef = {"Comment": comment[:256], "Changes": changes}
        response = self._call(
            "route53.ChangeResourceRecordSets",
            partial(route53.change_resource_record_sets, HostedZoneId=zone_id, ChangeBatch=batch),
        )
        return str(response["ChangeInfo"]["Id"])

    def change_status(self, change_id: str) -> str:
        """PENDING or INSYNC."""
        route53 = self._clients.route53()
        response = self._call("route53.GetChange", lambda: route53.get_change(Id=change_id))
        return str(response["ChangeInfo"]["Status"])
