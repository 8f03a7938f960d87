"""Issue 13 §2, §5-§7: the kill switch stops every automatic change, state cannot wedge, crowd out
or block, failures reach a human, and the CLI never repeats a change. On moto and the fakes,
through the controller, the handlers and the CLI as a user calls them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ReadTimeoutError

from evacuation import cli, runtime
from evacuation.emulator.table import create_state_table
from evacuation.emulator.world import CallRecorder, World, snapshot
from evacuation.emulator.zonal_shift import ManualClock
from evacuation.model import Evacuation, Outcome, Status, StepKey, StepKind, StepRecord, Trigger
from evacuation.notify import MESSAGE_MAX_BYTES, SUBJECT_MAX, compose
from evacuation.requests import parse_request
from evacuation.result import RESPONSE_MAX_BYTES, Result
from evacuation.runtime import Runtime
from evacuation.service import on_manual
from evacuation.settings import Settings, build_controller
from evacuation.state import InMemoryStateStore, StateStore
from evacuation.state.dynamodb import DynamoDBStateStore
from handlers import manual
from tests.conftest import ControllerFactory
from tests.support.faults import FaultInjector, SimulatedCrash
from tests.support.lambda_context import FakeLambdaContext

AZ = "use1-az1"
SWITCH = "/azevac/kill"
TABLE = "azevac-state"
NEAR_EXPIRY = timedelta(hours=5, minutes=30)  # shifts last 6 h; the reconciler extends at 1 h


def _switch(session: boto3.Session, value: str) -> None:
    session.client("ssm").put_parameter(Name=SWITCH, Value=value, Type="String", Overwrite=True)


def _switched(world: World, **overrides: Any) -> dict[str, Any]:
    return world.config(safety={"kill_switch_parameter": SWITCH}, **overrides)


def _dynamodb(session: boto3.Session) -> DynamoDBStateStore:
    create_state_table(session.client("dynamodb"), TABLE)
    return DynamoDBStateStore(TABLE, session.client("dynamodb"))


def _shift_expiry(world: World) -> str:
    shifts = world.fake.shifts(status="ACTIVE")
    assert len(shifts) == 1, shifts
    return str(shifts[0]["expiryTime"])


# -- §2 the kill switch --------------------------------------------------------------------------


def test_a_disabled_switch_stops_a_resumed_alarm_run_and_a_human_goes_ahead(
    world: World,
    make_controller: ControllerFactory,
    session: boto3.Session,
    faults: FaultInjector,
    recorder: CallRecorder,
) -> None:
    # Given an alarm-triggered evacuation that died after its first change
    _switch(session, "enabled")
    faults.reset()  # count only the controller's mutations
    faults.crash_after_mutation = 1
    with pytest.raises(SimulatedCrash):
        make_controller(_switched(world)).evacuate(AZ, reason="alarm", trigger=Trigger.ALARM)
    faults.crash_after_mutation = None
    # and the operators then turn automation off
    _switch(session, "disabled")
    recorder.reset()
    half_done = snapshot(world)

    # When the alarm is delivered again (or the reconciler comes): nothing more is changed
    resumed = make_controller(_switched(world)).evacuate(AZ, reason="again", trigger=Trigger.ALARM)
    assert resumed.status is Status.REFUSED
    assert f"kill switch {SWITCH} is set to disabled" in (resumed.reason or "")
    assert "left as it is, nothing changed" in (resumed.reason or "")
    report = make_controller(_switched(world)).reconcile()
    assert recorder.mutations == []
    assert snapshot(world) == half_done
    assert any("drift repair skipped" in a for a in report.alerts), report.alerts

    # Then a human's run finishes it, saying the switch is off
    by_hand = make_controller(_switched(world)).evacuate(AZ, reason="operator")
    assert by_hand.status is Status.EVACUATED
    assert by_hand.evacuation_id == resumed.evacuation_id
    assert snapshot(world)["weights"]["checkout-use1-az1"] == 0


def test_a_disabled_switch_leaves_an_ended_practice_out_and_still_extends_its_shift(
    world: World, make_controller: ControllerFactory, session: boto3.Session, clock: ManualClock
) -> None:
    # Given a practice run that began while automation was on
    _switch(session, "enabled")
    practice = make_controller(_switched(world)).practice(AZ, minutes=30)
    assert practice.status is Status.EVACUATED
    # and automation turned off before it ends
    _switch(session, "disabled")
    clock.advance(timedelta(minutes=31))
    evacuated = snapshot(world)

    # When the reconciler runs past its end: the practice is not recovered automatically
    report = make_controller(_switched(world)).reconcile()
    assert report.results == ()
    assert snapshot(world) == evacuated
    assert any("ending the practice run" in a and "skipped" in a for a in report.alerts)

    # and its shift, near expiry, is still extended (the one thing a disabled switch allows)
    before = _shift_expiry(world)
    clock.advance(NEAR_EXPIRY - timedelta(minutes=31))
    report = make_controller(_switched(world)).reconcile()
    assert report.extended_shifts, report.to_dict()
    assert _shift_expiry(world) > before


def test_a_disabled_switch_stops_a_practice_from_starting(
    world: World, make_controller: ControllerFactory, session: boto3.Session, recorder: CallRecorder
) -> None:
    _switch(session, "disabled")
    recorder.reset()
    result = make_controller(_switched(world)).practice(AZ, minutes=10)
    assert result.status is Status.REFUSED and "kill switch" in (result.reason or "")
    assert recorder.mutations == []


# -- §5 state that cannot wedge, crowd out or block ---------------------------------------------


def test_a_finished_evacuation_still_holding_its_lock_is_never_resumed(
    world: World, make_controller: ControllerFactory, session: boto3.Session, recorder: CallRecorder
) -> None:
    # Given an evacuation recovered by an operator whose lock was left behind (a crash between
    # the two writes of an older azevac, or a hand edit)
    store = _dynamodb(session)
    original = snapshot(world)
    evacuated = make_controller(store=store).evacuate(AZ, reason="alarm", trigger=Trigger.ALARM)
    assert make_controller(store=store).recover(AZ).status is Status.RECOVERED
    session.client("dynamodb").update_item(
        TableName=TABLE,
        Key={"pk": {"S": "WL#checkout"}, "sk": {"S": "LOCK"}},
        UpdateExpression="SET #az = :id ADD held_count :one",
        ExpressionAttributeNames={"#az": f"az#{AZ}"},
        ExpressionAttributeValues={":id": {"S": evacuated.evacuation_id}, ":one": {"N": "1"}},
    )
    recorder.reset()

    # When the reconciler runs, then the AZ's alarm fires again
    report = make_controller(store=store).reconcile()
    again = make_controller(store=store).evacuate(AZ, reason="alarm", trigger=Trigger.ALARM)

    # Then the AZ the operator recovered stays in service: the stale lock is released, and the
    # new alarm meets flap damping like any evacuation just after a recovery
    assert report.results == ()
    assert store.held("checkout") == {}
    assert again.status is Status.REFUSED and "was recovered at" in (again.reason or "")
    assert [m for m in recorder.mutations if m[0] != "dynamodb"] == []
    assert snapshot(world) == original


def test_flap_damping_holds_after_an_evacuation_that_lasted_days(
    world: World, make_controller: ControllerFactory, clock: ManualClock, session: boto3.Session
) -> None:
    store = _dynamodb(session)
    make_controller(store=store).evacuate(AZ, reason="alarm", trigger=Trigger.ALARM)
    clock.advance(timedelta(days=3))  # far outside any history window by creation time
    assert make_controller(store=store).recover(AZ).status is Status.RECOVERED

    again = make_controller(store=store).evacuate(AZ, reason="alarm", trigger=Trigger.ALARM)

    assert again.status is Status.REFUSED and "was recovered at" in (again.reason or "")


def test_500_refused_invocations_do_not_hide_the_evacuation_of_an_hour_ago(
    world: World, make_controller: ControllerFactory, clock: ManualClock, session: boto3.Session
) -> None:
    # Given one alarm-triggered evacuation today (the daily limit is 1), recovered
    store = _dynamodb(session)
    config = world.config(safety={"max_evacuations_per_day": 1})
    make_controller(config, store=store).evacuate(AZ, reason="alarm", trigger=Trigger.ALARM)
    make_controller(config, store=store).recover(AZ)
    clock.advance(timedelta(hours=1))
    # and 500 refused invocations since (a flapping alarm, a forged event storm)
    for n in range(500):
        now = clock() + timedelta(seconds=n)
        refused = Evacuation(
            f"ev-refused-{n}", "checkout", "use1-az2", Status.REFUSED, Trigger.ALARM,
            "refused: " + "x" * 1500, created_at=now, updated_at=now,
        )  # fmt: skip
        store.save_header(refused)
    clock.advance(timedelta(minutes=10))

    # When another AZ's alarm fires: the daily limit still sees this morning's evacuation
    result = make_controller(config, store=store).evacuate(
        "use1-az2", reason="alarm", trigger=Trigger.ALARM
    )

    assert result.status is Status.REFUSED
    assert "max_evacuations_per_day" in (result.reason or ""), result.reason
    # and status lists the AZs held first whatever else happened since
    make_controller(config, store=store).evacuate("use1-az6", reason="by hand")
    listed = make_controller(config, store=store).status(limit=20)
    assert listed[0].az_id == "use1-az6" and listed[0].status.is_active


def test_a_hand_edited_old_record_never_blocks_a_new_evacuation(
    world: World, make_controller: ControllerFactory, session: boto3.Session
) -> None:
    store = _dynamodb(session)
    old = make_controller(store=store).evacuate(AZ, reason="old", trigger=Trigger.MANUAL)
    make_controller(store=store).recover(AZ)
    session.client("dynamodb").update_item(
        TableName=TABLE,
        Key={"pk": {"S": f"EVAC#{old.evacuation_id}"}, "sk": {"S": "META"}},
        UpdateExpression="SET created_at = :bad, #s = :weird",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":bad": {"S": "last tuesday"}, ":weird": {"N": "3"}},
    )

    by_alarm = make_controller(store=store).evacuate(
        "use1-az2", reason="alarm", trigger=Trigger.ALARM
    )
    listed = make_controller(store=store).status()

    assert by_alarm.status is Status.EVACUATED, by_alarm.to_dict()
    assert [e.evacuation_id for e in listed] == [by_alarm.evacuation_id]


def test_renaming_the_workload_never_orphans_an_active_evacuation(
    world: World, make_controller: ControllerFactory, clock: ManualClock
) -> None:
    original = snapshot(world)
    evacuated = make_controller().evacuate(AZ, reason="alarm", trigger=Trigger.ALARM)
    renamed = world.config(workload="checkout-v2")
    before = _shift_expiry(world)
    clock.advance(NEAR_EXPIRY)

    report = make_controller(renamed).reconcile()

    assert report.extended_shifts and _shift_expiry(world) > before
    assert any(
        evacuated.evacuation_id in p and "'checkout'" in p for p in report.readiness_problems
    ), report.readiness_problems
    recovered = make_controller(renamed).recover(AZ)
    assert recovered.status is Status.RECOVERED, recovered.to_dict()
    assert recovered.evacuation_id == evacuated.evacuation_id
    assert snapshot(world) == original


def test_dropping_a_resource_from_the_config_keeps_its_shift_and_restores_it(
    world: World, make_controller: ControllerFactory, clock: ManualClock
) -> None:
    original = snapshot(world)
    make_controller().evacuate(AZ, reason="alarm", trigger=Trigger.ALARM)
    dropped = world.config()
    del dropped["zonal_shift"]
    before = _shift_expiry(world)
    clock.advance(NEAR_EXPIRY)

    report = make_controller(dropped).reconcile()

    assert report.extended_shifts and _shift_expiry(world) > before
    assert any(
        world.load_balancer_arn in p and "no longer names" in p for p in report.readiness_problems
    ), report.readiness_problems
    assert make_controller(dropped).recover(AZ).status is Status.RECOVERED
    assert snapshot(world) == original


# -- §6 failures reach a human -------------------------------------------------------------------


@pytest.fixture
def inbox(session: boto3.Session) -> Iterator[tuple[str, Any]]:
    """An SNS topic with an SQS queue subscribed: what a human's phone would receive."""
    sns, sqs = session.client("sns"), session.client("sqs")
    topic = sns.create_topic(Name="azevac-notifications")["TopicArn"]
    queue = sqs.create_queue(QueueName="phone")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"])

    def received() -> list[dict[str, Any]]:
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)
        return [json.loads(m["Body"]) for m in messages.get("Messages", [])]

    yield topic, received


def test_any_exception_in_a_handler_pages_a_human_and_still_fails(
    world: World, session: boto3.Session, inbox: tuple[str, Any]
) -> None:
    topic, received = inbox
    config = world.config()
    del config["region"]  # any failure, not only bad input: here the engine cannot even start
    config["workload"] = "x" * 300
    settings = Settings(config_reference=json.dumps(config), table=None, topic_arn=topic)
    runtime.install(Runtime(settings, session))
    try:
        with pytest.raises(Exception, match="workload"):
            manual.handler({"action": "status"}, FakeLambdaContext(aws_request_id="req-42"))
    finally:
        runtime.install(None)

    [page] = received()
    assert page["Subject"].startswith("azevac: the manual function failed")
    assert "req-42" in page["Message"] and "workload" in page["Message"]


def test_a_failed_publish_is_retried_then_logged_and_counted(
    world: World, session: boto3.Session, capsys: pytest.CaptureFixture[str]
) -> None:
    gone = "arn:aws:sns:us-east-1:123456789012:deleted-topic"
    settings = Settings(config_reference=json.dumps(world.config()), table=None, topic_arn=gone)
    runtime.install(Runtime(settings, session))
    try:
        answer = manual.handler(
            {"action": "evacuate", "az": AZ, "reason": "drill"}, FakeLambdaContext()
        )
    finally:
        runtime.install(None)

    assert answer["status"] == "EVACUATED"  # the evacuation stands; the page did not go out
    out = capsys.readouterr().out
    assert "notify.failed" in out
    emf = [json.loads(line) for line in out.splitlines() if '"_aws"' in line]
    assert any(m.get("NotificationsFailed") == [1.0] or m.get("NotificationsFailed") == 1.0
               for m in emf), emf  # fmt: skip


def _thousand_failed(az_id: str = AZ) -> tuple[Evacuation, tuple[StepRecord, ...]]:
    image = {"subnets": [f"subnet-{i:017x}" for i in range(40)], "note": "y" * 1500}
    arn = (
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/checkout-{0}/{0:016x}"
    )
    steps = tuple(
        StepRecord(
            StepKey(StepKind.ZONAL_SHIFT, arn.format(i)),
            Outcome.FAILED,
            before=image,
            after=image,
            error="AccessDenied: " + "z" * 3000,
        )
        for i in range(1000)
    )
    now = ManualClock()()
    evacuation = Evacuation("ev-big", "checkout", az_id, Status.DEGRADED, Trigger.ALARM,
                            "alarm", created_at=now, updated_at=now, steps=steps)  # fmt: skip
    return evacuation, steps


def test_every_answer_and_page_fits_at_1000_failed_steps(
    world: World, make_controller: ControllerFactory
) -> None:
    evacuation, steps = _thousand_failed()
    result = Result("checkout", AZ, Status.DEGRADED, "ev-big", reason="r" * 10_000, steps=steps)

    subject, message = compose(result, "evacuation with failures:")
    assert len(subject) <= SUBJECT_MAX and subject.isascii()
    assert len(message.encode()) <= MESSAGE_MAX_BYTES
    assert "1000 failed" in message and "980 more failed steps" in message

    store: StateStore = InMemoryStateStore()
    store.claim(evacuation, max_azs=3)
    store.save_steps(evacuation.evacuation_id, steps)
    controller = make_controller(store=store)
    for _ in range(5):  # status shows up to 20 evacuations: five of 1,000 failed steps each
        other = evacuation.evolve(evacuation_id=f"ev-big-{_}", status=Status.RECOVERED)
        store.save_header(other)
        store.save_steps(other.evacuation_id, steps)
    for request in ({"action": "status"}, {"action": "recover", "az": AZ, "dry_run": True}):
        answer = on_manual(
            controller, parse_request(request), notifier=_silent(), metrics=_metrics()
        )
        assert len(json.dumps(answer).encode()) <= RESPONSE_MAX_BYTES, request
        shown = answer.get("evacuations", [answer])[0]
        assert shown.get("step_counts", {}).get("failed") == 1000, request


def _silent() -> Any:
    from evacuation.aws.clients import AwsClients  # noqa: PLC0415
    from evacuation.notify import Notifier  # noqa: PLC0415

    return Notifier(AwsClients(), None)


def _metrics() -> Any:
    from aws_lambda_powertools import Metrics  # noqa: PLC0415

    return Metrics(namespace="azevac-test")


def test_a_config_larger_than_a_parameter_loads_from_s3_and_an_advanced_parameter(
    world: World, session: boto3.Session
) -> None:
    config = world.config()
    # Hundreds of alarms, as a large workload maps: beyond CloudFormation's 4 KB parameter
    config["alarms"] = {f"checkout-use1-az{1 + n % 3}-impact-{n}": f"use1-az{1 + n % 3}"
                        for n in range(120)}  # fmt: skip
    text = json.dumps(config)
    assert 4096 < len(text) < 8192
    session.client("s3").create_bucket(Bucket="azevac-config")
    session.client("s3").put_object(Bucket="azevac-config", Key="checkout.json", Body=text)
    session.client("ssm").put_parameter(
        Name="/azevac/checkout/big-config", Value=text, Type="String", Tier="Advanced"
    )

    for reference in ("s3://azevac-config/checkout.json", "ssm:/azevac/checkout/big-config"):
        controller = build_controller(Settings(config_reference=reference, table=None), session)
        assert len(controller.config.alarms) == 120, reference


def test_a_config_object_that_is_missing_is_a_clear_error(
    world: World, session: boto3.Session
) -> None:
    from evacuation.errors import ConfigurationError  # noqa: PLC0415

    session.client("s3").create_bucket(Bucket="azevac-config")
    with pytest.raises(ConfigurationError, match=r"s3://azevac-config/nope\.json"):
        build_controller(Settings("s3://azevac-config/nope.json", table=None), session)


# -- §7 the CLI never repeats a change ------------------------------------------------------------


@pytest.fixture
def cli_env(
    world: World, session: boto3.Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[DynamoDBStateStore]:
    config = tmp_path / "azevac.json"
    config.write_text(json.dumps(world.config()))
    monkeypatch.setenv("AZEVAC_CONFIG", str(config))
    monkeypatch.setenv("AZEVAC_TABLE", TABLE)
    monkeypatch.setattr(cli, "session_factory", lambda: session)
    yield _dynamodb(session)


def test_via_lambda_invokes_once_and_says_the_function_may_still_run(
    session: boto3.Session, cli_env: DynamoDBStateStore, capsys: pytest.CaptureFixture[str]
) -> None:
    sent: list[dict[str, Any]] = []

    def no_answer(request: Any, **_: Any) -> None:
        sent.append(dict(request.headers))
        raise ReadTimeoutError(endpoint_url=request.url)

    session.events.register("before-send.lambda.Invoke", no_answer)

    code = cli.main(["evacuate", "--az", AZ, "--reason", "x", "--via-lambda", "azevac-manual"])

    assert len(sent) == 1  # no botocore retry, no retry of ours
    assert code == 2
    said = capsys.readouterr()
    out = said.out + said.err  # the CLI prints errors to stderr
    assert "may still be" in out and "azevac status" in out


def test_recover_while_another_invocation_runs_it_exits_3_and_changes_nothing(
    world: World,
    session: boto3.Session,
    cli_env: DynamoDBStateStore,
    clock: ManualClock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["evacuate", "--az", AZ, "--reason", "drill"]) == 0
    evacuated = snapshot(world)
    [evacuation_id] = cli_env.held("checkout").values()
    from datetime import UTC, datetime  # noqa: PLC0415

    now = datetime.now(UTC)
    assert cli_env.acquire_lease(evacuation_id, "run-other", now, now + timedelta(minutes=10))
    capsys.readouterr()

    code = cli.main(["recover", "--az", AZ, "--json"])

    answer = json.loads(capsys.readouterr().out)
    assert code == 3
    assert answer["status"] == "IN_PROGRESS" and answer["steps"] == []
    assert "another invocation" in answer["reason"]
    assert snapshot(world) == evacuated
