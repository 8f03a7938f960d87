"""Route 53: read a record set's weighted records, UPSERT a batch per hosted zone, poll a change."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from evacuation.aws.clients import AwsClients, Caller

if TYPE_CHECKING:
    from mypy_boto3_route53.type_defs import ChangeBatchTypeDef, ResourceRecordSetTypeDef

PAGE = "300"  # at most 100 weighted records share a name and type


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
        route53 = self._clients.route53()
        kwargs: dict[str, Any] = {
            "HostedZoneId": zone_id,
            "StartRecordName": name,
            "StartRecordType": record_type,
            "MaxItems": PAGE,
        }
        records: list[ResourceRecordSetTypeDef] = []
        while True:
            response = self._call(
                "route53.ListResourceRecordSets",
                partial(route53.list_resource_record_sets, **kwargs),
            )
            page = response["ResourceRecordSets"]
            matching = [r for r in page if _same_name(r["Name"], name) and r["Type"] == record_type]
            records.extend(cast("list[ResourceRecordSetTypeDef]", matching))
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
        """The records of each wanted (name, type) found by listing the zone from its start,
        within `max_pages` pages of 300. A set is returned only once listing has gone past it,
        so none comes back half read; the caller reads the rest one set at a time."""
        route53 = self._clients.route53()
        keys = {(name.rstrip(".").lower(), kind) for name, kind in wanted}
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
                records = found.setdefault(last, []) if last in keys else None
                # A page that resumes inside a set must not repeat its records (moto does).
                ids = {r.get("SetIdentifier") for r in records or ()}
                if records is not None and record.get("SetIdentifier") not in ids:
                    records.append(cast("ResourceRecordSetTypeDef", record))
            if not response.get("IsTruncated"):
                return found
            if len(found) == len(keys) and last not in keys:
                return found
            kwargs["StartRecordName"] = response["NextRecordName"]
            kwargs["StartRecordType"] = response["NextRecordType"]
            if "NextRecordIdentifier" in response:
                kwargs["StartRecordIdentifier"] = response["NextRecordIdentifier"]
            else:
                kwargs.pop("StartRecordIdentifier", None)
        if last is not None:
            found.pop(last, None)  # the listing stopped inside this set: it may have more records
        return found

    def upsert(
        self,
        zone_id: str,
        records: Sequence[ResourceRecordSetTypeDef],
        comment: str,
    ) -> str:
        """UPSERT the records in one transactional batch; returns the change id."""
        route53 = self._clients.route53()
        batch: ChangeBatchTypeDef = {
            "Comment": comment[:256],
            "Changes": [{"Action": "UPSERT", "ResourceRecordSet": r} for r in records],
        }
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
