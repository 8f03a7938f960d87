"""Route 53 change batches as strict as the real API, on moto.

moto 5.2 applies ChangeResourceRecordSets without checking it (aws-facts §4.2): a DELETE whose
values do not match the record deletes it anyway (and a weighted DELETE removes every record
with that SetIdentifier, of any name and type), and a CREATE of an existing record succeeds.
Compare-and-swap writes (DELETE the record as read + CREATE the new one) are only worth testing
where a stale DELETE fails, so this layer makes moto answer as Route 53 does. Rules, all from
https://docs.aws.amazon.com/Route53/latest/APIReference/API_ChangeResourceRecordSets.html:

- DELETE "Deletes an existing resource record set that has the specified values": a DELETE
  must name a record that exists (Name, Type, SetIdentifier) and give exactly its values:
  Weight, TTL, ResourceRecords (as a set of values), AliasTarget (HostedZoneId, DNSName,
  EvaluateTargetHealth) and HealthCheckId. Otherwise InvalidChangeBatch.
- CREATE "Creates a resource record set that has the specified values" and fails when one with
  the same Name, Type and SetIdentifier exists: InvalidChangeBatch "already exists".
- The changes of a batch apply in order (a DELETE then a CREATE of the same record is how a
  record is replaced), and "the request is processed as a transaction": when any change is
  invalid, none is applied, and the error lists every problem.

The error is the one Route 53 sends: HTTP 400, an ``ErrorResponse`` whose Error has Type
``Sender``, Code ``InvalidChangeBatch`` and a Message listing the problems in brackets, e.g.
``[Tried to delete resource record set [name='a.example.com.', type='A', set-identifier='x']
but the values provided do not match the current values]``. botocore parses that form into
``Error.Code`` / ``Error.Message``; the model's InvalidChangeBatch ``messages`` member stays
unset, as with the real service (botocore only fills Error from this body).

Wiring: :meth:`Route53Strictness.install` registers botocore ``before-call`` / ``after-call``
hooks for ChangeResourceRecordSets on a Session, and patches moto's route53 backend once per
process. The hook marks the calling thread (moto answers in-process, on the caller's thread);
the patched backend checks and applies only batches of marked threads, under one lock, so the
check and the apply are atomic. Batches from sessions without the layer go to moto unchanged,
unless :func:`strict_everywhere` made every batch of the process strict (a moto server).

:meth:`Route53Strictness.before_next_check` is a test hook: a one-shot callback run just before
the next batch is checked, to simulate another writer between azevac's read and its write.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import boto3

OPERATION = "route53.ChangeResourceRecordSets"
_CONTEXT_KEY = "azevac_route53_strict"

_local = threading.local()
_apply_lock = threading.Lock()
_patch_lock = threading.Lock()
_everywhere = threading.Event()

RecordKey = tuple[str, str, str | None]


def _norm_name(name: str) -> str:
    return name.rstrip(".").lower()


def _key(record: Mapping[str, Any]) -> RecordKey:
    return (_norm_name(str(record["Name"])), str(record["Type"]), record.get("SetIdentifier"))


def _describe(record: Mapping[str, Any]) -> str:
    name = str(record["Name"]).rstrip(".") + "."
    text = f"[name='{name}', type='{record['Type']}'"
    if record.get("SetIdentifier") is not None:
        text += f", set-identifier='{record['SetIdentifier']}'"
    return text + "]"


def _values(record: Mapping[str, Any]) -> tuple[str, ...]:
    values = []
    for item in record.get("ResourceRecords") or []:
        values.append(str(item["Value"]) if isinstance(item, Mapping) else str(item))
    return tuple(sorted(values))


def _alias(record: Mapping[str, Any]) -> tuple[str, str, bool] | None:
    alias = record.get("AliasTarget")
    if not alias:
        return None
    return (
        str(alias.get("HostedZoneId", "")).removeprefix("/hostedzone/"),
        _norm_name(str(alias.get("DNSName", ""))),
        bool(alias.get("EvaluateTargetHealth", False)),
    )


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _values_match(current: Mapping[str, Any], given: Mapping[str, Any]) -> bool:
    """DELETE "must match the existing values exactly" (the fields listed in the module doc)."""
    return (
        _int_or_none(current.get("Weight")) == _int_or_none(given.get("Weight"))
        and _int_or_none(current.get("TTL")) == _int_or_none(given.get("TTL"))
        and _values(current) == _values(given)
        and _alias(current) == _alias(given)
        and current.get("HealthCheckId") == given.get("HealthCheckId")
    )


def _as_api(record_set: Any) -> dict[str, Any]:
    """A moto RecordSet as the fields the rules compare."""
    return {
        "Name": record_set.name,
        "Type": record_set.type,
        "SetIdentifier": record_set.set_identifier,
        "Weight": record_set.weight,
        "TTL": record_set.ttl,
        "ResourceRecords": list(record_set.records or []),
        "AliasTarget": record_set.alias_target,
        "HealthCheckId": record_set.health_check_id,
    }


def problems(
    current: Iterable[Mapping[str, Any]], changes: Iterable[Mapping[str, Any]]
) -> list[str]:
    """Every rule the batch breaks against the zone's `current` records, checked in order."""
    records = {_key(r): r for r in current}
    found: list[str] = []
    for change in changes:
        action, record = change["Action"], change["ResourceRecordSet"]
        key = _key(record)
        existing = records.get(key)
        if action == "DELETE":
            if existing is None:
                found.append(
                    f"Tried to delete resource record set {_describe(record)} but it was not found"
                )
            elif not _values_match(existing, record):
                found.append(
                    f"Tried to delete resource record set {_describe(record)} but the values "
                    "provided do not match the current values"
                )
            else:
                del records[key]
        elif action == "CREATE":
            if existing is not None:
                found.append(
                    f"Tried to create resource record set {_describe(record)} but it already exists"
                )
            else:
                records[key] = record
        else:  # UPSERT
            records[key] = record
    return found


def _moto_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """A change's record in the form moto's RecordSet stores (values as strings, FQDN)."""
    stored = dict(record)
    if not str(stored["Name"]).endswith("."):
        stored["Name"] = str(stored["Name"]) + "."
    if "ResourceRecords" in stored:
        stored["ResourceRecords"] = [item["Value"] for item in stored["ResourceRecords"]]
    return stored


def _strict_apply(backend: Any, zone_id: str, changes: list[dict[str, Any]]) -> None:
    from moto.route53.exceptions import (  # noqa: PLC0415 - moto only when emulating
        DnsNameInvalidForZone,
        Route53ClientError,
    )
    from moto.route53.models import RecordSet  # noqa: PLC0415

    zone = backend.get_hosted_zone(zone_id)
    for change in changes:
        name = _norm_name(str(change["ResourceRecordSet"]["Name"]))
        if not name.endswith(_norm_name(zone.name)):
            raise DnsNameInvalidForZone(
                name=change["ResourceRecordSet"]["Name"], zone_name=zone.name
            )
    with _apply_lock:
        found = problems((_as_api(r) for r in zone.rrsets), changes)
        if found:
            raise Route53ClientError("InvalidChangeBatch", "[" + ", ".join(found) + "]")
        # In order, in one pass over the zone (a batch of 1,000 changes stays fast).
        index = {_key(_as_api(r)): r for r in zone.rrsets}
        removed: set[int] = set()
        added: list[Any] = []
        for change in changes:
            journal = copy.deepcopy(change)
            record = _moto_record(change["ResourceRecordSet"])
            key = _key(record)
            old = index.pop(key, None)
            if old is not None:  # a DELETE, or the record an UPSERT replaces
                removed.add(id(old))
            if change["Action"] != "DELETE":
                index[key] = RecordSet(record)  # type: ignore[abstract]
                added.append(index[key])
            zone.rr_changes.append(journal)
        zone.rrsets = [r for r in [*zone.rrsets, *added] if id(r) not in removed]


def patch_moto() -> None:
    """Route marked threads' batches through the strict check and an exact apply. Idempotent."""
    from moto.route53.models import Route53Backend  # noqa: PLC0415 - moto only when emulating

    with _patch_lock:
        original = Route53Backend.change_resource_record_sets
        if getattr(original, "_azevac_strict", False):
            return

        def change_resource_record_sets(
            self: Any, zoneid: str, change_list: list[dict[str, Any]]
        ) -> None:
            if _everywhere.is_set() or getattr(_local, "strict", 0) > 0:
                _strict_apply(self, zoneid, change_list)
            else:
                original(self, zoneid, change_list)

        change_resource_record_sets._azevac_strict = True  # type: ignore[attr-defined]
        Route53Backend.change_resource_record_sets = change_resource_record_sets  # type: ignore[method-assign]


def strict_everywhere() -> None:
    """Every batch this process's moto applies is strict, whoever sends it: for a moto server
    (the benchmark's), whose requests come from clients in another process."""
    patch_moto()
    _everywhere.set()


class Route53Strictness:
    """Strict ChangeResourceRecordSets for the clients of a boto3 Session (see the module doc)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._before_check: Callable[[], None] | None = None

    def install(self, session: boto3.Session) -> None:
        """For clients made after this call (botocore copies a session's handlers into them)."""
        patch_moto()
        events = session.events
        events.register(f"before-call.{OPERATION}", self._before, unique_id=f"{id(self)}-b")
        events.register(f"after-call.{OPERATION}", self._after, unique_id=f"{id(self)}-a")
        events.register(f"after-call-error.{OPERATION}", self._after, unique_id=f"{id(self)}-e")

    def before_next_check(self, callback: Callable[[], None]) -> None:
        """Run `callback` once, just before the next batch is checked: another writer's change
        lands between azevac's read and its write. The callback may call Route 53 itself."""
        with self._lock:
            self._before_check = callback

    def _before(self, context: dict[str, Any], **_: Any) -> None:
        with self._lock:
            callback, self._before_check = self._before_check, None
        if callback is not None:
            callback()
        context[_CONTEXT_KEY] = True
        _local.strict = getattr(_local, "strict", 0) + 1

    def _after(self, context: dict[str, Any], **_: Any) -> None:
        if context.pop(_CONTEXT_KEY, False):
            _local.strict = max(getattr(_local, "strict", 0) - 1, 0)
