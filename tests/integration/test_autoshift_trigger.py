"""AWS's own AZ signal as a trigger (issue 24, DET-8): ARC's autoshift events through the real
alarm handler on the embedded AWS (moto + the zonal-shift fake). Each test asserts on AWS as read
back (weights, groups, shifts) and on the page a human receives (SNS -> SQS)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from evacuation import runtime
from evacuation.autoshift_events import COMPLETED, SOURCE
from evacuation.emulator.world import CallRecorder, World, snapshot
from evacuation.errors import InvalidRequestError
from evacuation.runtime import Runtime
from evacuation.settings import Settings
from handlers import alarm, manual, reconcile
from tests.support.alarm_events import set_alarm
from tests.support.autoshift_events import autoshift_event, completed_event
from tests.support.lambda_context import FakeLambdaContext

AZ = "use1-az1"
UNUSED = "use1-az4"
"""An AZ of the region the workload does not run in."""


@dataclass
class Deployed:
    """The alarm function's world: its config file (re-read on every invocation, so a test can
    edit it between them), its on-call queue, and AWS."""

    world: World
    session: boto3.Session
    config_path: Path
    queue_url: str

    def configure(self, **overrides: Any) -> None:
        config = self.world.config(**overrides)
        self.config_path.write_text(json.dumps(config), encoding="utf-8")

    def pages(self) -> list[dict[str, str]]:
        """Drain the on-call queue: every SNS message sent so far."""
        sqs = self.session.client("sqs")
        found: list[dict[str, str]] = []
        while messages := sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            for message in messages:
                body = json.loads(message["Body"])
                found.append({"subject": body.get("Subject", ""), "message": body["Message"]})
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return found

    def start_autoshift(self, az_id: str = AZ) -> None:
        """AWS starts an autoshift away from `az_id` on the workload's load balancer."""
        self.world.fake.start_autoshift(self.world.load_balancer_arn, az_id)

    def end_autoshift(self) -> None:
        self.world.fake.end_autoshift(self.world.load_balancer_arn)


@pytest.fixture
def deployed(
    world: World, session: boto3.Session, tmp_path: Path, recorder: CallRecorder
) -> Iterator[Deployed]:
    sns, sqs = session.client("sns"), session.client("sqs")
    topic = sns.create_topic(Name="azevac-pages")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="on-call")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    here = Deployed(world, session, tmp_path / "azevac.json", queue_url)
    here.configure()
    settings = Settings(config_reference=str(here.config_path), table=None, topic_arn=topic)
    runtime.install(Runtime(settings, session))
    recorder.reset()  # the topic and queue are the test's, not azevac's
    yield here
    runtime.install(None)


def invoke(event: dict[str, Any]) -> dict[str, Any]:
    return alarm.handler(event, FakeLambdaContext())


def assert_nothing_changed(
    answer: dict[str, Any], recorder: CallRecorder, world: World, before: dict[str, Any]
) -> None:
    changed = [m for m in recorder.mutations if m[0] != "sns"]  # a page is no change to AWS
    assert changed == [], changed
    assert snapshot(world) == before, answer


# -- notify (the default) ------------------------------------------------------------------------


def test_notify_pages_what_aws_did_not_move_and_changes_nothing(
    deployed: Deployed, recorder: CallRecorder, world: World
) -> None:
    # Given AWS autoshifts away from an AZ of the workload, and the default config (notify)
    deployed.start_autoshift()
    before = snapshot(world)
    recorder.reset()

    answer = invoke(autoshift_event(AZ))

    # Then nothing changes in AWS, and on-call hears what AWS moved and what it did not
    assert answer["status"] == "NOTIFIED", answer
    assert_nothing_changed(answer, recorder, world, before)
    (page,) = deployed.pages()
    assert AZ in page["subject"] and "did not act" in page["subject"]
    assert "triggers.aws_autoshift is notify" in page["message"]
    assert "AWS does NOT move" in page["message"]
    assert "route53_weight: 1" in page["message"]  # the AZ's weighted record
    assert "asg_subnets" in page["message"]  # the groups' subnets in the AZ
    assert any(line.startswith("route53_weight") for line in answer["not_moved_by_aws"])


def test_off_ignores_an_autoshift_and_reads_nothing(
    deployed: Deployed, recorder: CallRecorder, world: World
) -> None:
    deployed.configure(triggers={"aws_autoshift": "off"})
    deployed.start_autoshift()
    before = snapshot(world)
    recorder.reset()

    answer = invoke(autoshift_event(AZ))

    assert answer["status"] == "IGNORED"
    assert answer["reason"] == "triggers.aws_autoshift is off"
    assert_nothing_changed(answer, recorder, world, before)
    assert ("arc-zonal-shift", "ListAutoshifts") not in recorder.counts()
    assert deployed.pages() == []


# -- evacuate -------------------------------------------------------------------------------------


def test_evacuate_moves_what_arc_does_not_and_keeps_the_az_out(
    deployed: Deployed, world: World
) -> None:
    # Given triggers.aws_autoshift: evacuate and AWS autoshifting away from the AZ
    deployed.configure(triggers={"aws_autoshift": "evacuate"})
    before = snapshot(world)
    deployed.start_autoshift()

    answer = invoke(autoshift_event(AZ))

    # Then azevac evacuates: the weight, the groups' subnets, and its own shift over AWS's
    assert answer["status"] == "EVACUATED", answer
    after = snapshot(world)
    in_az = world.set_identifiers[AZ]
    assert after["weights"][in_az] == 0
    assert all(w == before["weights"][s] for s, w in after["weights"].items() if s != in_az)
    for group, state in after["asgs"].items():
        assert not set(state["subnets"]) & set(world.subnets[AZ]), group
    assert after["shifts"] == [(world.load_balancer_arn, AZ, "ZONAL_SHIFT")]
    status = manual.handler({"action": "status"}, FakeLambdaContext())
    (held,) = status["evacuations"]
    assert (held["az_id"], held["trigger"]) == (AZ, "autoshift")
    assert any("on an AWS autoshift" in p["subject"] for p in deployed.pages())


def test_an_autoshift_away_from_an_az_the_workload_does_not_use_is_ignored(
    deployed: Deployed, recorder: CallRecorder, world: World
) -> None:
    # Given AWS autoshifts another resource of the region away from an AZ we do not run in
    other = world.load_balancer_arn.replace("checkout-alb", "other-alb")
    world.fake.register_resource(other, [UNUSED, "use1-az5"], name="other-alb")
    world.fake.start_autoshift(other, UNUSED)
    before = snapshot(world)
    for mode in ("evacuate", "notify"):
        deployed.configure(triggers={"aws_autoshift": mode})
        recorder.reset()

        answer = invoke(autoshift_event(UNUSED))

        assert answer["status"] == "IGNORED", (mode, answer)
        assert f"does not use {UNUSED}" in answer["reason"]
        assert_nothing_changed(answer, recorder, world, before)
    assert deployed.pages() == []


def test_an_event_aws_does_not_confirm_changes_nothing(
    deployed: Deployed, recorder: CallRecorder, world: World
) -> None:
    # Given an "Autoshift In Progress" event, but ListAutoshifts shows no such autoshift
    deployed.configure(triggers={"aws_autoshift": "evacuate"})
    before = snapshot(world)

    answer = invoke(autoshift_event(AZ))

    assert answer["status"] == "IGNORED"
    assert "ListAutoshifts" in answer["reason"] and "not confirmed" in answer["reason"]
    assert_nothing_changed(answer, recorder, world, before)


# -- hostile input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "why"),
    [
        (autoshift_event(AZ, account="999999999999"), "from account 999999999999"),
        (autoshift_event(AZ, region="eu-west-1"), "from region eu-west-1"),
        (autoshift_event(AZ, age=timedelta(hours=2)), "stale"),
        (autoshift_event(AZ, age=timedelta(hours=-1)), "in the future"),
        (autoshift_event(AZ, "Practice Run Started"), "not an autoshift start or end"),
        (autoshift_event(AZ, "FIS Experiment Autoshift In Progress"), "not an autoshift start"),
        (autoshift_event("not-a-zone"), "neither an AZ ID nor a zone name"),
    ],
    ids=["other-account", "other-region", "stale", "future", "practice", "fis", "bad-az"],
)
def test_hostile_or_foreign_events_are_ignored_with_the_reason(
    deployed: Deployed, recorder: CallRecorder, world: World, event: dict[str, Any], why: str
) -> None:
    # Given evacuate mode and a real autoshift away from the AZ: only the event is wrong
    deployed.configure(triggers={"aws_autoshift": "evacuate"})
    deployed.start_autoshift()
    before = snapshot(world)
    recorder.reset()

    answer = invoke(event)

    assert answer["status"] == "IGNORED", answer
    assert why in answer["reason"], answer["reason"]
    assert_nothing_changed(answer, recorder, world, before)


def test_a_malformed_autoshift_event_fails_loudly_and_pages(
    deployed: Deployed, recorder: CallRecorder, world: World
) -> None:
    deployed.start_autoshift()
    before = snapshot(world)
    event = {**autoshift_event(AZ), "detail": {"version": "0.0.1", "data": ""}}

    with pytest.raises(InvalidRequestError, match="metadata"):
        invoke(event)

    assert_nothing_changed({}, recorder, world, before)
    (page,) = deployed.pages()
    assert "alarm function failed" in page["subject"]


def test_a_zone_name_in_the_event_is_resolved_to_its_id(deployed: Deployed, world: World) -> None:
    # AWS documents AZ IDs; a name is resolved in this account (moto: us-east-1b = use1-az1)
    deployed.start_autoshift()

    answer = invoke(autoshift_event("us-east-1b"))

    assert answer["status"] == "NOTIFIED", answer
    assert answer["az_id"] == AZ


# -- the end of the autoshift ---------------------------------------------------------------------


def _evacuated_by_autoshift(deployed: Deployed, **triggers: Any) -> dict[str, Any]:
    deployed.configure(triggers={"aws_autoshift": "evacuate", **triggers})
    deployed.start_autoshift()
    answer = invoke(autoshift_event(AZ))
    assert answer["status"] == "EVACUATED", answer
    deployed.pages()  # the evacuation's own page
    return answer


def test_when_aws_ends_the_autoshift_the_az_stays_held_and_on_call_is_paged(
    deployed: Deployed, recorder: CallRecorder, world: World
) -> None:
    evacuation = _evacuated_by_autoshift(deployed)
    deployed.end_autoshift()
    held = snapshot(world)
    recorder.reset()

    answer = invoke(completed_event(AZ))

    assert answer["status"] == "HELD", answer
    assert answer["evacuation_id"] == evacuation["evacuation_id"]
    assert "aws_autoshift_recover is off" in answer["reason"]
    assert_nothing_changed(answer, recorder, world, held)
    assert snapshot(world)["weights"][world.set_identifiers[AZ]] == 0
    (page,) = deployed.pages()
    assert "AZ held" in page["subject"]
    assert f"azevac recover --az {AZ}" in page["message"]


def test_an_end_event_while_aws_still_autoshifts_is_not_believed(
    deployed: Deployed, recorder: CallRecorder, world: World
) -> None:
    _evacuated_by_autoshift(deployed, aws_autoshift_recover=True)
    deployed.configure(
        triggers={"aws_autoshift": "evacuate", "aws_autoshift_recover": True},
        safety={"cooldown_minutes": 0},
    )
    held = snapshot(world)
    recorder.reset()

    answer = invoke(completed_event(AZ))

    assert answer["status"] == "IGNORED"
    assert "still shows an active autoshift" in answer["reason"]
    assert_nothing_changed(answer, recorder, world, held)


def test_with_recover_the_az_comes_back_once_its_alarms_have_been_ok_long_enough(
    deployed: Deployed, world: World, session: boto3.Session
) -> None:
    # Given an evacuation the autoshift started, AWS ending it, and the AZ's alarm OK again
    original = snapshot(world)
    evacuation = _evacuated_by_autoshift(deployed, aws_autoshift_recover=True)
    deployed.end_autoshift()
    for name in world.alarms:
        set_alarm(session, name, "OK")

    # When the end event comes before the alarms have been OK for cooldown_minutes (30)
    answer = invoke(completed_event(AZ))

    # Then the AZ stays held, and the page says the reconciler recovers it when due
    assert answer["status"] == "HELD", answer
    assert answer["recovers_when_due"] is True
    assert "have not been OK for safety.cooldown_minutes=30" in answer["reason"]
    assert snapshot(world)["weights"][world.set_identifiers[AZ]] == 0
    (page,) = deployed.pages()
    assert "reconciler recovers it when due" in page["message"]

    # When it is due (here: a cooldown of 0) the reconciler recovers it and pages
    deployed.configure(
        triggers={"aws_autoshift": "evacuate", "aws_autoshift_recover": True},
        safety={"cooldown_minutes": 0},
    )
    report = reconcile.handler({}, FakeLambdaContext())

    (result,) = report["evacuations"]
    assert (result["evacuation_id"], result["status"]) == (evacuation["evacuation_id"], "RECOVERED")
    assert snapshot(world) == original
    assert any("recovered after AWS ended its autoshift" in p["subject"] for p in deployed.pages())


def test_with_recover_and_due_the_end_event_recovers_at_once(
    deployed: Deployed, world: World, session: boto3.Session
) -> None:
    original = snapshot(world)
    _evacuated_by_autoshift(deployed, aws_autoshift_recover=True)
    deployed.end_autoshift()
    for name, az in world.alarms.items():
        if az == AZ:
            set_alarm(session, name, "OK")
    deployed.configure(
        triggers={"aws_autoshift": "evacuate", "aws_autoshift_recover": True},
        safety={"cooldown_minutes": 0},
    )

    answer = invoke(completed_event(AZ))

    assert answer["status"] == "RECOVERED", answer
    assert snapshot(world) == original


def test_recover_waits_while_an_alarm_of_the_az_is_not_ok(
    deployed: Deployed, world: World, session: boto3.Session
) -> None:
    _evacuated_by_autoshift(deployed, aws_autoshift_recover=True)
    deployed.end_autoshift()
    (name,) = [n for n, az in world.alarms.items() if az == AZ]
    set_alarm(session, name, "ALARM")
    deployed.configure(
        triggers={"aws_autoshift": "evacuate", "aws_autoshift_recover": True},
        safety={"cooldown_minutes": 0},
    )

    answer = invoke(completed_event(AZ))
    report = reconcile.handler({}, FakeLambdaContext())

    assert answer["status"] == "HELD"
    assert f"alarm {name} of {AZ} is ALARM, not OK" in answer["reason"]
    assert [r["status"] for r in report["evacuations"]] != ["RECOVERED"]
    assert snapshot(world)["weights"][world.set_identifiers[AZ]] == 0


def test_an_alarm_triggered_evacuation_is_never_recovered_by_the_autoshift_end(
    deployed: Deployed, world: World, session: boto3.Session
) -> None:
    # Given an evacuation a human started, while AWS autoshifted away from the same AZ
    deployed.configure(
        triggers={"aws_autoshift": "notify", "aws_autoshift_recover": True},
        safety={"cooldown_minutes": 0},
    )
    deployed.start_autoshift()
    manual.handler({"action": "evacuate", "az": AZ}, FakeLambdaContext())
    deployed.end_autoshift()
    deployed.pages()

    answer = invoke(completed_event(AZ))

    assert answer["status"] == "HELD", answer
    assert "started by manual, not by the AWS autoshift" in answer["reason"]
    assert snapshot(world)["weights"][world.set_identifiers[AZ]] == 0


def test_an_end_with_nothing_held_is_a_page_only(
    deployed: Deployed, recorder: CallRecorder, world: World
) -> None:
    before = snapshot(world)

    answer = invoke(completed_event(AZ))

    assert answer["status"] == "NOTIFIED", answer
    assert_nothing_changed(answer, recorder, world, before)
    (page,) = deployed.pages()
    assert "AWS autoshift ended" in page["subject"]


def test_the_documented_event_source_and_detail_type_are_the_ones_parsed() -> None:
    event = completed_event(AZ)
    assert (event["source"], event["detail-type"]) == (SOURCE, COMPLETED)
