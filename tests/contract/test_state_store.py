"""One suite, both state stores: the in-memory one must behave exactly like DynamoDB."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from evacuation.emulator.table import create_state_table
from evacuation.errors import StateCorruptError
from evacuation.model import Evacuation, Outcome, Status, StepKey, StepKind, StepRecord, Trigger
from evacuation.state import InMemoryStateStore, StateStore
from evacuation.state.base import Lease
from evacuation.state.dynamodb import DynamoDBStateStore

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
TABLE = "azevac-state"


@pytest.fixture(params=["memory", "dynamodb"])
def make_store(request: pytest.FixtureRequest) -> Iterator[Callable[[], StateStore]]:
    if request.param == "memory":
        shared = InMemoryStateStore()
        yield lambda: shared
        return
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        _atomic_requests(session)
        create_state_table(session.client("dynamodb"), TABLE)
        yield lambda: DynamoDBStateStore(TABLE, session.client("dynamodb"))


def _atomic_requests(session: boto3.Session) -> None:
    """DynamoDB makes each request atomic (a conditional write or a transaction is decided as a
    whole); moto does not under threads. Serialize requests so the test checks the store's
    logic, not moto's thread safety."""
    lock = threading.RLock()

    def acquire(**_: object) -> None:  # a before-call handler that returns a value answers
        lock.acquire()

    session.events.register("before-call.dynamodb.*", acquire)
    session.events.register("after-call.dynamodb.*", lambda **_: lock.release())


def evacuation(az: str = "use1-az1", n: int = 1, created: datetime = T0) -> Evacuation:
    return Evacuation(
        f"ev-{az}-{n}", "checkout", az, Status.IN_PROGRESS, Trigger.ALARM, "gray failure",
        created_at=created, updated_at=created,
    )  # fmt: skip


def test_claim_creates_then_returns_the_holder(make_store: Callable[[], StateStore]) -> None:
    store = make_store()
    first = store.claim(evacuation(n=1), max_azs=1)
    assert first.created and first.evacuation_id == "ev-use1-az1-1"
    again = store.claim(evacuation(n=2), max_azs=1)
    assert not again.created and again.evacuation_id == "ev-use1-az1-1"
    assert store.held("checkout") == {"use1-az1": "ev-use1-az1-1"}
    assert store.load("ev-use1-az1-2") is None


def test_claim_beyond_max_azs_is_refused_with_the_holders(
    make_store: Callable[[], StateStore],
) -> None:
    store = make_store()
    store.claim(evacuation("use1-az1"), max_azs=1)
    refused = store.claim(evacuation("use1-az2"), max_azs=1)
    assert not refused.created and refused.evacuation_id is None
    assert refused.held == {"use1-az1": "ev-use1-az1-1"}
    assert store.claim(evacuation("use1-az2"), max_azs=2).created


def test_release_only_by_the_holder(make_store: Callable[[], StateStore]) -> None:
    store = make_store()
    store.claim(evacuation(n=1), max_azs=1)
    store.release("checkout", "use1-az1", "ev-someone-else")
    assert store.held("checkout") == {"use1-az1": "ev-use1-az1-1"}
    store.release("checkout", "use1-az1", "ev-use1-az1-1")
    assert store.held("checkout") == {}
    assert store.claim(evacuation("use1-az2", n=3), max_azs=1).created


@pytest.mark.parametrize("azs", [("use1-az1",) * 20, ("use1-az1", "use1-az2") * 10])
def test_concurrent_claims_create_exactly_one(
    make_store: Callable[[], StateStore], azs: tuple[str, ...]
) -> None:
    barrier = threading.Barrier(len(azs))
    created = []

    def claim(i: int, az: str) -> None:
        store = make_store()
        barrier.wait()
        if store.claim(evacuation(az, n=i), max_azs=1).created:
            created.append(az)

    threads = [threading.Thread(target=claim, args=(i, az)) for i, az in enumerate(azs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(created) == 1
    assert len(make_store().held("checkout")) == 1


def test_lease_is_exclusive_until_it_expires(make_store: Callable[[], StateStore]) -> None:
    store = make_store()
    store.claim(evacuation(), max_azs=1)
    eid = "ev-use1-az1-1"
    assert store.acquire_lease(eid, "a", T0, T0 + timedelta(minutes=5))
    assert store.acquire_lease(eid, "a", T0, T0 + timedelta(minutes=6))  # re-entrant
    assert not store.acquire_lease(eid, "b", T0 + timedelta(minutes=1), T0 + timedelta(minutes=9))
    store.release_lease(eid, "b")  # not the owner: ignored
    assert not store.acquire_lease(eid, "b", T0 + timedelta(minutes=2), T0 + timedelta(minutes=9))
    assert store.acquire_lease(eid, "b", T0 + timedelta(minutes=7), T0 + timedelta(minutes=9))
    store.release_lease(eid, "b")
    assert store.acquire_lease(eid, "c", T0, T0 + timedelta(minutes=1))
    assert not store.acquire_lease("ev-missing", "c", T0, T0)


def test_a_claim_can_take_the_run_lease_in_the_same_write(
    make_store: Callable[[], StateStore],
) -> None:
    store = make_store()
    claim = store.claim(evacuation(), max_azs=1, lease=Lease("a", T0 + timedelta(minutes=5)))
    assert claim.created
    eid = "ev-use1-az1-1"
    assert not store.acquire_lease(eid, "b", T0 + timedelta(minutes=1), T0 + timedelta(minutes=9))
    assert store.acquire_lease(eid, "a", T0, T0 + timedelta(minutes=6))  # the claimer holds it
    store.release_lease(eid, "a")
    assert store.acquire_lease(eid, "b", T0 + timedelta(minutes=1), T0 + timedelta(minutes=9))
    # A claim that finds the AZ held takes no lease.
    again = store.claim(evacuation(n=2), max_azs=1, lease=Lease("c", T0 + timedelta(hours=1)))
    assert not again.created and again.evacuation_id == eid
    assert not store.acquire_lease(eid, "c", T0 + timedelta(minutes=2), T0 + timedelta(hours=1))


def test_save_steps_writes_every_record_in_order_and_keeps_first_before_images(
    make_store: Callable[[], StateStore],
) -> None:
    store = make_store()
    store.claim(evacuation(), max_azs=1)
    eid = "ev-use1-az1-1"
    # More records than the store writes at once.
    keys = [StepKey(StepKind.ASG_SUBNETS, f"group-{n:03d}") for n in range(130)]
    store.save_step(eid, StepRecord(keys[7], Outcome.IN_PROGRESS, before={"subnets": ["a"]}))
    store.save_steps(
        eid, [StepRecord(k, Outcome.IN_PROGRESS, before={"n": i}) for i, k in enumerate(keys)]
    )
    store.save_steps(eid, [StepRecord(k, Outcome.APPLIED, before={"late": 1}) for k in keys])

    loaded = store.load(eid)

    assert loaded is not None
    assert [s.key for s in loaded.steps] == [keys[7], *keys[:7], *keys[8:]]
    assert {s.outcome for s in loaded.steps} == {Outcome.APPLIED}
    befores = {s.key: s.before for s in loaded.steps}
    assert befores[keys[7]] == {"subnets": ["a"]}
    assert befores[keys[0]] == {"n": 0} and befores[keys[129]] == {"n": 129}


def test_history_is_headers_newest_first_without_steps(
    make_store: Callable[[], StateStore],
) -> None:
    store = make_store()
    for n in range(3):
        store.claim(evacuation(n=n, created=T0 + timedelta(minutes=n)), max_azs=5)
        step = StepRecord(StepKey(StepKind.ASG_SUBNETS, "web"), Outcome.APPLIED, before={"s": 1})
        store.save_step(f"ev-use1-az1-{n}", step)
        store.release("checkout", "use1-az1", f"ev-use1-az1-{n}")

    history = store.history("checkout", since=T0 + timedelta(minutes=1))

    assert [e.evacuation_id for e in history] == ["ev-use1-az1-2", "ev-use1-az1-1"]
    assert all(e.steps == () for e in history)
    assert [e.evolve(steps=()) for e in store.list("checkout", limit=2)] == list(history)
    assert store.history("other-workload", since=T0) == []


def test_no_number_of_refusals_hides_an_evacuation_from_the_history(
    make_store: Callable[[], StateStore],
) -> None:
    store = make_store()
    store.claim(evacuation(n=0, created=T0), max_azs=5)
    for n in range(1, 501):  # 500 refused invocations after it, each with a long reason
        refused = evacuation(n=n, created=T0 + timedelta(seconds=n)).evolve(
            status=Status.REFUSED, reason="refused: " + "x" * 2000
        )
        store.save_header(refused)

    history = store.history("checkout", since=T0 - timedelta(hours=1))

    assert [e.evacuation_id for e in history] == ["ev-use1-az1-0"]


def test_close_writes_the_final_status_and_releases_the_az_at_once(
    make_store: Callable[[], StateStore],
) -> None:
    store = make_store()
    store.claim(evacuation(), max_azs=2)
    recovered_at = T0 + timedelta(days=3)  # long after it began: no history window finds it
    done = evacuation().evolve(status=Status.RECOVERED, recovered_at=recovered_at)

    store.close(done)

    assert store.held("checkout") == {}
    loaded = store.load("ev-use1-az1-1")
    assert loaded is not None and loaded.status is Status.RECOVERED
    assert store.recovered_at("checkout") == {"use1-az1": recovered_at}
    assert store.locks() == {}


def test_close_leaves_another_evacuations_lock_alone(make_store: Callable[[], StateStore]) -> None:
    store = make_store()
    store.claim(evacuation(n=2), max_azs=2)
    stale = evacuation(n=1).evolve(status=Status.ABANDONED)

    store.close(stale)

    assert store.held("checkout") == {"use1-az1": "ev-use1-az1-2"}
    loaded = store.load("ev-use1-az1-1")
    assert loaded is not None and loaded.status is Status.ABANDONED
    assert store.recovered_at("checkout") == {}


def test_locks_list_every_workload_holding_an_az(make_store: Callable[[], StateStore]) -> None:
    store = make_store()
    store.claim(evacuation(az="use1-az1"), max_azs=2)
    store.claim(evacuation(az="use1-az2").evolve(workload="checkout-v1"), max_azs=2)

    assert store.locks() == {
        "checkout": {"use1-az1": "ev-use1-az1-1"},
        "checkout-v1": {"use1-az2": "ev-use1-az2-1"},
    }


def test_steps_round_trip_in_first_save_order_and_before_is_written_once(
    make_store: Callable[[], StateStore],
) -> None:
    store = make_store()
    store.claim(evacuation(), max_azs=1)
    eid = "ev-use1-az1-1"
    shift = StepKey(StepKind.ZONAL_SHIFT, "arn:aws:elasticloadbalancing:us-east-1:1:lb/app/x/y")
    weight = StepKey(StepKind.ROUTE53_WEIGHT, "Z1/api.example.com./A")
    before = {"weights": {"a": 50, "b": 100}, "f": 0.1, "none": None}
    store.save_step(eid, StepRecord(shift, Outcome.IN_PROGRESS, before=before, started_at=T0))
    store.save_step(eid, StepRecord(weight, Outcome.PLANNED))
    store.save_step(
        eid,
        StepRecord(
            shift, Outcome.APPLIED, before={"other": 1}, after={"shift_id": "s-1", "ours": True},
            reason="done", started_at=T0, finished_at=T0 + timedelta(seconds=2), attempts=2,
        ),
    )  # fmt: skip

    loaded = store.load(eid)

    assert loaded is not None
    assert [s.key for s in loaded.steps] == [shift, weight]
    first = loaded.steps[0]
    assert first.before == before  # the first before-image survives the later save
    assert first.after == {"shift_id": "s-1", "ours": True}
    assert (first.outcome, first.reason, first.attempts) == (Outcome.APPLIED, "done", 2)
    assert first.finished_at == T0 + timedelta(seconds=2)
    assert loaded.steps[1].before is None and loaded.steps[1].outcome is Outcome.PLANNED


def test_error_is_cleared_by_a_later_save(make_store: Callable[[], StateStore]) -> None:
    store = make_store()
    store.claim(evacuation(), max_azs=1)
    key = StepKey(StepKind.ASG_SUBNETS, "web")
    store.save_step("ev-use1-az1-1", StepRecord(key, Outcome.FAILED, error="Throttling"))
    store.save_step("ev-use1-az1-1", StepRecord(key, Outcome.APPLIED))
    loaded = store.load("ev-use1-az1-1")
    assert loaded is not None and loaded.steps[0].error is None


def test_header_fields_round_trip_and_list_is_newest_first(
    make_store: Callable[[], StateStore],
) -> None:
    store = make_store()
    for n in range(3):
        store.claim(evacuation(n=n, created=T0 + timedelta(minutes=n)), max_azs=5)
        store.release("checkout", "use1-az1", f"ev-use1-az1-{n}")
    done = evacuation(n=1, created=T0 + timedelta(minutes=1)).evolve(
        status=Status.RECOVERED, recovered_at=T0 + timedelta(hours=1), data_plane_seconds=1.25,
        practice_until=T0 + timedelta(minutes=30), stop_alarms=("a", "b"),
    )  # fmt: skip
    store.save_header(done)

    listed = store.list("checkout", limit=2)

    assert [e.evacuation_id for e in listed] == ["ev-use1-az1-2", "ev-use1-az1-1"]
    assert listed[1] == done
    assert store.list("other-workload") == []


def test_corrupt_record_is_a_clear_error_never_a_guess(
    make_store: Callable[[], StateStore],
) -> None:
    store = make_store()
    if not isinstance(store, DynamoDBStateStore):
        pytest.skip("a hand-edited item only exists in DynamoDB")
    store.claim(evacuation(), max_azs=1)
    key = StepKey(StepKind.ASG_SUBNETS, "web")
    store.save_step("ev-use1-az1-1", StepRecord(key, Outcome.APPLIED, before=["subnet-1"]))
    client = boto3.client("dynamodb", region_name="us-east-1")
    for attribute, value in (("outcome", "teleported"), ("before", "{not json")):
        client.update_item(
            TableName=TABLE,
            Key={"pk": {"S": "EVAC#ev-use1-az1-1"}, "sk": {"S": f"STEP#{key}"}},
            UpdateExpression="SET #a = :v",
            ExpressionAttributeNames={"#a": attribute},
            ExpressionAttributeValues={":v": {"S": value}},
        )
        with pytest.raises(StateCorruptError, match=f"ev-use1-az1-1.*{attribute}"):
            store.load("ev-use1-az1-1")
        client.update_item(
            TableName=TABLE,
            Key={"pk": {"S": "EVAC#ev-use1-az1-1"}, "sk": {"S": f"STEP#{key}"}},
            UpdateExpression="SET outcome = :o, #b = :b",
            ExpressionAttributeNames={"#b": "before"},
            ExpressionAttributeValues={":o": {"S": "applied"}, ":b": {"S": '["subnet-1"]'}},
        )


def _edit(key: dict[str, dict[str, str]], attribute: str, value: dict[str, object]) -> None:
    boto3.client("dynamodb", region_name="us-east-1").update_item(
        TableName=TABLE,
        Key=key,  # type: ignore[arg-type]
        UpdateExpression="SET #a = :v",
        ExpressionAttributeNames={"#a": attribute},
        ExpressionAttributeValues={":v": value},  # type: ignore[dict-item]
    )


def test_a_hand_edited_old_record_is_skipped_never_blocking(
    make_store: Callable[[], StateStore],
) -> None:
    store = make_store()
    if not isinstance(store, DynamoDBStateStore):
        pytest.skip("a hand-edited item only exists in DynamoDB")
    for n in (1, 2):
        store.claim(evacuation(n=n, created=T0 + timedelta(minutes=n)), max_azs=5)
        store.release("checkout", "use1-az1", f"ev-use1-az1-{n}")
    header = {"pk": {"S": "EVAC#ev-use1-az1-1"}, "sk": {"S": "META"}}
    _edit(header, "status", {"S": "WEDGED"})

    history = store.history("checkout", since=T0)
    listed = store.list("checkout")

    assert [e.evacuation_id for e in history] == ["ev-use1-az1-2"]
    assert [e.evacuation_id for e in listed] == ["ev-use1-az1-2"]


def test_a_wrong_attribute_type_names_the_item_and_attribute(
    make_store: Callable[[], StateStore],
) -> None:
    store = make_store()
    if not isinstance(store, DynamoDBStateStore):
        pytest.skip("a hand-edited item only exists in DynamoDB")
    store.claim(evacuation(), max_azs=1)
    header = {"pk": {"S": "EVAC#ev-use1-az1-1"}, "sk": {"S": "META"}}
    for attribute, value in (("reason", {"N": "7"}), ("data_plane_seconds", {"S": "fast"})):
        _edit(header, attribute, value)
        with pytest.raises(StateCorruptError, match=f"ev-use1-az1-1.*META.*{attribute}"):
            store.load("ev-use1-az1-1")
        _edit(header, "reason", {"S": "ok"})
        boto3.client("dynamodb", region_name="us-east-1").update_item(
            TableName=TABLE, Key=header, UpdateExpression="REMOVE data_plane_seconds"
        )  # type: ignore[arg-type]


def test_a_naive_datetime_is_read_as_utc(make_store: Callable[[], StateStore]) -> None:
    store = make_store()
    if not isinstance(store, DynamoDBStateStore):
        pytest.skip("a hand-edited item only exists in DynamoDB")
    store.claim(evacuation(), max_azs=1)
    header = {"pk": {"S": "EVAC#ev-use1-az1-1"}, "sk": {"S": "META"}}
    _edit(header, "created_at", {"S": "2026-11-22T10:00:00"})

    loaded = store.load("ev-use1-az1-1")

    assert loaded is not None and loaded.created_at == T0
