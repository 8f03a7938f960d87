"""The DynamoDB state store: same semantics as the in-memory one (tests/contract checks both).

Layout (one table, keys from template.yaml):
- workload lock  pk=WL#<workload>  sk=LOCK          one attribute per held AZ (az#<id> = evac id)
                                                    and held_count; claimed in ONE transaction,
                                                    released with the final header in ONE;
                                                    recovered#<id> = when the AZ came back;
                                                    + gsi1pk=LOCKS, gsi1sk=<workload>
- header         pk=EVAC#<id>      sk=META          + gsi1pk=WL#<workload>, gsi1sk=<created>#<id>
- step           pk=EVAC#<id>      sk=STEP#<key>    before written once (if_not_exists)
before/after are JSON strings so floats and nulls round-trip exactly.
"""

from __future__ import annotations

import builtins
import json
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from evacuation.aws.errors import AwsApiError, translate
from evacuation.errors import StateCorruptError
from evacuation.model import (
    Evacuation,
    Notice,
    Outcome,
    Status,
    StepKey,
    StepRecord,
    Trigger,
)
from evacuation.retry import Deadline, RetryPolicy
from evacuation.state.base import Claim, Lease, skip_unreadable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

T = TypeVar("T")
AZ_PREFIX = "az#"
RECOVERED_PREFIX = "recovered#"
LOCKS = "LOCKS"  # the lock items' index key: every workload holding an AZ, in one query
GSI = "by-workload"
HEADER_FIELDS = (
    "evacuation_id", "workload", "az_id", "status", "trigger", "reason", "created_at",
    "updated_at", "finished_at", "recovered_at", "data_plane_seconds", "practice_until",
    "stop_alarms", "guards",
)  # fmt: skip
CLAIM_ATTEMPTS = 3
PARALLEL_WRITES = 16
CONFLICT_CODES = ("TransactionCanceledException", "ConditionalCheckFailedException")
Item = dict[str, Any]


def _s(value: str) -> dict[str, Any]:
    return {"S": value}


def _n(value: float) -> dict[str, Any]:
    return {"N": repr(value)}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


class DynamoDBStateStore:
    """`StateStore` on one DynamoDB table; every claim is one transaction, every write atomic."""

    def __init__(self, table_name: str, client: DynamoDBClient) -> None:
        self._table = table_name
        self._client = client

    # -- lock ----------------------------------------------------------------------------------

    def claim(self, evacuation: Evacuation, max_azs: int, lease: Lease | None = None) -> Claim:
        header = self._header_item(evacuation)
        if lease is not None:
            header |= {"lease_owner": _s(lease.owner), "lease_until": _n(lease.until.timestamp())}
        for _ in range(CLAIM_ATTEMPTS):
            try:
                self._call(
                    "dynamodb.TransactWriteItems",
                    partial(
                        self._client.transact_write_items,
                        TransactItems=[
                            {
                                "Update": {
                                    "TableName": self._table,
                                    "Key": self._lock_key(evacuation.workload),
                                    "UpdateExpression": "SET #az = :id, gsi1pk = :locks, "
                                    "gsi1sk = :workload ADD held_count :one",
                                    "ConditionExpression": "attribute_not_exists(#az) AND "
                                    "(attribute_not_exists(held_count) OR held_count < :max)",
                                    "ExpressionAttributeNames": {
                                        "#az": AZ_PREFIX + evacuation.az_id
                                    },
                                    "ExpressionAttributeValues": {
                                        ":id": _s(evacuation.evacuation_id),
                                        ":one": _n(1),
                                        ":max": _n(max_azs),
                                        ":locks": _s(LOCKS),
                                        ":workload": _s(evacuation.workload),
                                    },
                                }
                            },
                            {
                                "Put": {
                                    "TableName": self._table,
                                    "Item": header,
                                    "ConditionExpression": "attribute_not_exists(pk)",
                                }
                            },
                        ],
                    ),
                )
            except AwsApiError as exc:
                if exc.code not in (
                    "TransactionCanceledException",
                    "ConditionalCheckFailedException",
                ):
                    raise
                held = self.held(evacuation.workload)
                if evacuation.az_id in held:
                    return Claim(False, held[evacuation.az_id], held)
                if len(held) >= max_azs:
                    return Claim(False, None, held)
                continue  # the lock changed under us: decide again
            return Claim(True, evacuation.evacuation_id)
        held = self.held(evacuation.workload)
        return Claim(False, held.get(evacuation.az_id), held)

    def release(self, workload: str, az_id: str, evacuation_id: str) -> None:
        self._update_if(
            Key=self._lock_key(workload),
            UpdateExpression="REMOVE #az ADD held_count :minus",
            ConditionExpression="#az = :id",
            ExpressionAttributeNames={"#az": AZ_PREFIX + az_id},
            ExpressionAttributeValues={":id": _s(evacuation_id), ":minus": _n(-1)},
        )

    def close(self, evacuation: Evacuation) -> None:
        lock: dict[str, Any] = {
            "TableName": self._table,
            "Key": self._lock_key(evacuation.workload),
            "UpdateExpression": "REMOVE #az ADD held_count :minus",
            "ConditionExpression": "#az = :id",
            "ExpressionAttributeNames": {"#az": AZ_PREFIX + evacuation.az_id},
            "ExpressionAttributeValues": {":id": _s(evacuation.evacuation_id), ":minus": _n(-1)},
        }
        if evacuation.status is Status.RECOVERED and evacuation.recovered_at is not None:
            lock["UpdateExpression"] += " SET #rec = :rec"
            lock["ExpressionAttributeNames"]["#rec"] = RECOVERED_PREFIX + evacuation.az_id
            lock["ExpressionAttributeValues"][":rec"] = _s(evacuation.recovered_at.isoformat())
        header = {"TableName": self._table, **self._header_update(evacuation)}
        for _ in range(CLAIM_ATTEMPTS):
            try:
                self._call(
                    "dynamodb.TransactWriteItems",
                    partial(
                        self._client.transact_write_items,
                        TransactItems=[{"Update": header}, {"Update": lock}],  # type: ignore[typeddict-item]
                    ),
                )
                return
            except AwsApiError as exc:
                if exc.code not in CONFLICT_CODES:
                    raise
            if self.held(evacuation.workload).get(evacuation.az_id) != evacuation.evacuation_id:
                self.save_header(evacuation)  # the AZ is not (or no longer) ours to release
                return
        raise StateCorruptError(
            f"evacuation {evacuation.evacuation_id}: could not write its final status and "
            f"release {evacuation.az_id} after {CLAIM_ATTEMPTS} attempts"
        )

    def held(self, workload: str) -> Mapping[str, str]:
        return _prefixed(self._lock_item(workload), AZ_PREFIX)

    def recovered_at(self, workload: str) -> Mapping[str, datetime]:
        times = _prefixed(self._lock_item(workload), RECOVERED_PREFIX)
        item = f"WL#{workload}/LOCK"
        return {az: _utc(item, f"{RECOVERED_PREFIX}{az}", raw) for az, raw in times.items()}

    def locks(self) -> Mapping[str, Mapping[str, str]]:
        items = self._query(
            IndexName=GSI,
            KeyConditionExpression="gsi1pk = :pk",
            ExpressionAttributeValues={":pk": _s(LOCKS)},
        )
        found = {i["pk"]["S"].removeprefix("WL#"): _prefixed(i, AZ_PREFIX) for i in items}
        return {workload: held for workload, held in found.items() if held}

    def _lock_item(self, workload: str) -> Item:
        response = self._call(
            "dynamodb.GetItem",
            partial(
                self._client.get_item,
                TableName=self._table,
                Key=self._lock_key(workload),
                ConsistentRead=True,
            ),
        )
        return response.get("Item", {})

    # -- lease ---------------------------------------------------------------------------------

    def acquire_lease(self, evacuation_id: str, owner: str, now: datetime, until: datetime) -> bool:
        return self._update_if(
            Key=self._header_key(evacuation_id),
            UpdateExpression="SET lease_owner = :owner, lease_until = :until",
            ConditionExpression="attribute_exists(pk) AND (attribute_not_exists("
            "lease_until) OR lease_until < :now OR lease_owner = :owner)",
            ExpressionAttributeValues={
                ":owner": _s(owner),
                ":until": _n(until.timestamp()),
                ":now": _n(now.timestamp()),
            },
        )

    def release_lease(self, evacuation_id: str, owner: str) -> None:
        self._update_if(
            Key=self._header_key(evacuation_id),
            UpdateExpression="REMOVE lease_owner, lease_until",
            ConditionExpression="lease_owner = :owner",
            ExpressionAttributeValues={":owner": _s(owner)},
        )

    # -- records -------------------------------------------------------------------------------

    def save_header(self, evacuation: Evacuation) -> None:
        update = self._header_update(evacuation)
        self._call(
            "dynamodb.UpdateItem",
            partial(self._client.update_item, TableName=self._table, **update),
        )

    def _header_update(self, evacuation: Evacuation) -> dict[str, Any]:
        """UpdateItem arguments (less the table) that write every header field."""
        item = self._header_item(evacuation)
        values = {k: v for k, v in item.items() if k not in ("pk", "sk")}
        absent = [f for f in HEADER_FIELDS if f not in item]
        names = {f"#{i}": k for i, k in enumerate([*values, *absent])}
        index = {k: f"#{i}" for i, k in enumerate([*values, *absent])}
        expression = "SET " + ", ".join(f"{index[k]} = :{i}" for i, k in enumerate(values))
        if absent:
            expression += " REMOVE " + ", ".join(index[k] for k in absent)
        return {
            "Key": self._header_key(evacuation.evacuation_id),
            "UpdateExpression": expression,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": {f":{i}": v for i, v in enumerate(values.values())},
        }

    def save_step(self, evacuation_id: str, step: StepRecord) -> None:
        update = self._step_update(evacuation_id, step, time.time_ns())
        self._call("dynamodb.UpdateItem", partial(self._client.update_item, **update))

    def save_steps(self, evacuation_id: str, steps: Sequence[StepRecord]) -> None:
        # One UpdateItem per record, sent together: one round trip for the batch. Not a
        # transaction: it costs twice the write capacity, and all-or-none buys nothing here
        # (each record stands alone; the caller applies nothing until every write returned).
        first_seq = time.time_ns()  # + index: the batch keeps its order when loaded
        updates = [self._step_update(evacuation_id, s, first_seq + i) for i, s in enumerate(steps)]

        def write(update: dict[str, Any]) -> None:
            self._call("dynamodb.UpdateItem", partial(self._client.update_item, **update))

        if len(updates) <= 1:
            for update in updates:
                write(update)
            return
        with ThreadPoolExecutor(min(len(updates), PARALLEL_WRITES), "state-write") as pool:
            for _ in pool.map(write, updates):  # re-raises the first failed write
                pass

    def _step_update(self, evacuation_id: str, step: StepRecord, seq: int) -> dict[str, Any]:
        """UpdateItem arguments for one step record."""
        sets = {
            "step_key": _s(str(step.key)),
            "outcome": _s(step.outcome.value),
            "after": _s(json.dumps(step.after, sort_keys=True)),
            "attempts": _n(step.attempts),
        }
        optional = {
            "error": step.error,
            "reason": step.reason,
            "started_at": _iso(step.started_at),
            "finished_at": _iso(step.finished_at),
            "applied_at": _iso(step.applied_at),
            "revert_started_at": _iso(step.revert_started_at),
        }
        sets.update({k: _s(v) for k, v in optional.items() if v is not None})
        removes = [k for k, v in optional.items() if v is None]
        names = {f"#{k}": k for k in [*sets, *removes, "seq", "before"]}
        parts = [f"#{k} = :{k}" for k in sets] + ["#seq = if_not_exists(#seq, :seq)"]
        values = {f":{k}": v for k, v in sets.items()} | {":seq": _n(seq)}
        if step.before is not None:
            parts.append("#before = if_not_exists(#before, :before)")
            values[":before"] = _s(json.dumps(step.before, sort_keys=True))
        else:
            del names["#before"]
        expression = "SET " + ", ".join(parts)
        if removes:
            expression += " REMOVE " + ", ".join(f"#{k}" for k in removes)
        return {
            "TableName": self._table,
            "Key": {"pk": _s(f"EVAC#{evacuation_id}"), "sk": _s(f"STEP#{step.key}")},
            "UpdateExpression": expression,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }

    def save_notice(self, evacuation_id: str, notice: Notice) -> None:
        item: Item = {
            "pk": _s(f"EVAC#{evacuation_id}"),
            "sk": _s(f"NOTE#{time.time_ns():020d}"),
            "at": _s(notice.at.isoformat()),
            "subject": _s(notice.subject),
            "delivered": {"BOOL": notice.delivered},
        }
        if notice.error is not None:
            item["error"] = _s(notice.error)
        self._call(
            "dynamodb.PutItem",
            partial(self._client.put_item, TableName=self._table, Item=item),
        )

    def load(self, evacuation_id: str) -> Evacuation | None:
        items = self._query(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": _s(f"EVAC#{evacuation_id}")},
            ConsistentRead=True,
        )
        header = next((i for i in items if _sort_key(i) == "META"), None)
        if header is None:
            return None
        steps = sorted(
            (i for i in items if _sort_key(i).startswith("STEP#")),
            key=lambda i: _parse(evacuation_id, i, "seq", int, "N"),
        )
        notices = sorted((i for i in items if _sort_key(i).startswith("NOTE#")), key=_sort_key)
        return _parse_header(evacuation_id, header).evolve(
            steps=tuple(_parse_step(evacuation_id, s) for s in steps),
            notices=tuple(_parse_notice(evacuation_id, n) for n in notices),
        )

    def list(self, workload: str, limit: int = 50) -> Sequence[Evacuation]:
        found = []
        for item in self._newest_headers(workload, limit):
            try:
                evacuation = self.load(_field("?", item, "evacuation_id"))
            except StateCorruptError as exc:
                skip_unreadable(workload, item.get("pk", {}).get("S", "?"), exc)
                continue
            if evacuation is not None:
                found.append(evacuation)
        return found

    def history(self, workload: str, since: datetime) -> Sequence[Evacuation]:
        items = self._query(
            IndexName=GSI,
            KeyConditionExpression="gsi1pk = :pk AND gsi1sk >= :since",
            FilterExpression="#status <> :refused",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":pk": _s(f"WL#{workload}"),
                ":since": _s(since.isoformat()),
                ":refused": _s(Status.REFUSED.value),
            },
            ScanIndexForward=False,
        )
        found = []
        for item in items:
            try:
                found.append(_parse_header(_field("?", item, "evacuation_id"), item))
            except StateCorruptError as exc:
                skip_unreadable(workload, item.get("pk", {}).get("S", "?"), exc)
        return found

    def _newest_headers(self, workload: str, limit: int) -> Sequence[Item]:
        """The workload's header items, newest first: the index projects every header
        attribute, and only headers carry gsi1pk."""
        response = self._call(
            "dynamodb.Query",
            partial(
                self._client.query,
                TableName=self._table,
                IndexName=GSI,
                KeyConditionExpression="gsi1pk = :pk",
                ExpressionAttributeValues={":pk": _s(f"WL#{workload}")},
                ScanIndexForward=False,
                Limit=limit,
            ),
        )
        return response.get("Items", [])

    # -- internals -----------------------------------------------------------------------------

    def _update_if(self, **kwargs: Any) -> bool:
        """One conditional UpdateItem: False when its condition did not hold (not an error)."""
        try:
            self._call(
                "dynamodb.UpdateItem",
                partial(self._client.update_item, TableName=self._table, **kwargs),
            )
        except AwsApiError as exc:
            if exc.code == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def _query(self, **kwargs: Any) -> Sequence[Item]:
        items: builtins.list[Item] = []
        while True:
            response = self._call(
                "dynamodb.Query", partial(self._client.query, TableName=self._table, **kwargs)
            )
            items.extend(response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return items
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        policy = RetryPolicy(Deadline.within(20), max_attempts=5, initial_seconds=0.05)
        return policy.call(lambda: translate(fn, what), what)

    @staticmethod
    def _lock_key(workload: str) -> dict[str, Any]:
        return {"pk": _s(f"WL#{workload}"), "sk": _s("LOCK")}

    @staticmethod
    def _header_key(evacuation_id: str) -> dict[str, Any]:
        return {"pk": _s(f"EVAC#{evacuation_id}"), "sk": _s("META")}

    @staticmethod
    def _header_item(evacuation: Evacuation) -> dict[str, Any]:
        item: dict[str, Any] = {
            "pk": _s(f"EVAC#{evacuation.evacuation_id}"),
            "sk": _s("META"),
            "gsi1pk": _s(f"WL#{evacuation.workload}"),
            "gsi1sk": _s(f"{evacuation.created_at.isoformat()}#{evacuation.evacuation_id}"),
            "evacuation_id": _s(evacuation.evacuation_id),
            "workload": _s(evacuation.workload),
            "az_id": _s(evacuation.az_id),
            "status": _s(evacuation.status.value),
            "trigger": _s(evacuation.trigger.value),
            "reason": _s(evacuation.reason),
            "created_at": _s(evacuation.created_at.isoformat()),
            "updated_at": _s(evacuation.updated_at.isoformat()),
            "stop_alarms": _s(json.dumps(list(evacuation.stop_alarms))),
            "guards": _s(json.dumps(list(evacuation.guards))),
        }
        for name in ("finished_at", "recovered_at", "practice_until"):
            value = getattr(evacuation, name)
            if value is not None:
                item[name] = _s(value.isoformat())
        if evacuation.data_plane_seconds is not None:
            item["data_plane_seconds"] = _n(evacuation.data_plane_seconds)
        return item


def _field(evacuation_id: str, item: Mapping[str, Any], name: str, kind: str = "S") -> Any:
    try:
        value = item[name][kind]
    except (KeyError, TypeError) as exc:
        raise StateCorruptError(
            f"evacuation {evacuation_id}: item {_sort_key(item)}: attribute {name!r} is missing "
            f"or not of type {kind}"
        ) from exc
    if not isinstance(value, str):
        raise StateCorruptError(
            f"evacuation {evacuation_id}: item {_sort_key(item)}: attribute {name!r} is not of "
            f"type {kind}"
        )
    return value


def _optional_time(evacuation_id: str, item: Mapping[str, Any], name: str) -> datetime | None:
    if name not in item:
        return None
    return _parse(evacuation_id, item, name, _aware)


def _aware(raw: str) -> datetime:
    """An ISO time; one without a zone (hand-written) is read as UTC, as azevac writes them."""
    value = datetime.fromisoformat(raw)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _utc(item: str, name: str, raw: str) -> datetime:
    try:
        return _aware(raw)
    except ValueError as exc:
        raise StateCorruptError(f"item {item}: {name}={raw!r} is not a valid time") from exc


def _prefixed(item: Mapping[str, Any], prefix: str) -> dict[str, str]:
    """The item's string attributes named prefix + key, by key."""
    return {
        name.removeprefix(prefix): value["S"]
        for name, value in item.items()
        if name.startswith(prefix) and isinstance(value, Mapping) and "S" in value
    }


def _parse(
    evacuation_id: str,
    item: Mapping[str, Any],
    name: str,
    convert: Callable[[str], T],
    kind: str = "S",
) -> T:
    raw = _field(evacuation_id, item, name, kind)
    try:
        return convert(raw)
    except (ValueError, TypeError) as exc:
        raise StateCorruptError(
            f"evacuation {evacuation_id}: item {_sort_key(item)}: {name}={raw!r} is not valid"
        ) from exc


def _sort_key(item: Mapping[str, Any]) -> str:
    sk = item.get("sk")
    return str(sk.get("S", "?")) if isinstance(sk, Mapping) else "?"


def _parse_header(evacuation_id: str, item: Mapping[str, Any]) -> Evacuation:
    seconds = (
        _parse(evacuation_id, item, "data_plane_seconds", float, "N")
        if "data_plane_seconds" in item
        else None
    )
    return Evacuation(
        evacuation_id=_field(evacuation_id, item, "evacuation_id"),
        workload=_field(evacuation_id, item, "workload"),
        az_id=_field(evacuation_id, item, "az_id"),
        status=_parse(evacuation_id, item, "status", Status),
        trigger=_parse(evacuation_id, item, "trigger", Trigger),
        reason=_field(evacuation_id, item, "reason"),
        created_at=_parse(evacuation_id, item, "created_at", _aware),
        updated_at=_parse(evacuation_id, item, "updated_at", _aware),
        finished_at=_optional_time(evacuation_id, item, "finished_at"),
        recovered_at=_optional_time(evacuation_id, item, "recovered_at"),
        practice_until=_optional_time(evacuation_id, item, "practice_until"),
        data_plane_seconds=seconds,
        stop_alarms=tuple(
            _parse(evacuation_id, item, "stop_alarms", json.loads) if "stop_alarms" in item else ()
        ),
        guards=tuple(_parse(evacuation_id, item, "guards", json.loads) if "guards" in item else ()),
    )


def _parse_notice(evacuation_id: str, item: Mapping[str, Any]) -> Notice:
    delivered = item.get("delivered", {})
    if not isinstance(delivered, Mapping) or not isinstance(delivered.get("BOOL"), bool):
        raise StateCorruptError(
            f"evacuation {evacuation_id}: item {_sort_key(item)}: attribute 'delivered' is "
            "missing or not of type BOOL"
        )
    return Notice(
        at=_parse(evacuation_id, item, "at", _aware),
        subject=_field(evacuation_id, item, "subject"),
        delivered=delivered["BOOL"],
        error=_field(evacuation_id, item, "error") if "error" in item else None,
    )


def _parse_step(evacuation_id: str, item: Mapping[str, Any]) -> StepRecord:
    return StepRecord(
        key=_parse(evacuation_id, item, "step_key", StepKey.parse),
        outcome=_parse(evacuation_id, item, "outcome", Outcome),
        before=_parse(evacuation_id, item, "before", json.loads) if "before" in item else None,
        after=_parse(evacuation_id, item, "after", json.loads),
        error=_field(evacuation_id, item, "error") if "error" in item else None,
        reason=_field(evacuation_id, item, "reason") if "reason" in item else None,
        started_at=_optional_time(evacuation_id, item, "started_at"),
        finished_at=_optional_time(evacuation_id, item, "finished_at"),
        applied_at=_optional_time(evacuation_id, item, "applied_at"),
        revert_started_at=_optional_time(evacuation_id, item, "revert_started_at"),
        attempts=_parse(evacuation_id, item, "attempts", int, "N"),
    )
