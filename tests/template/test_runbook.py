"""The SSM runbook's approval cannot be bypassed (issue 13 §1): the payload is built by the
document's own script, run here in-process with hostile parameter values, and the manual handler
receives exactly the intended action; plus the static checks on approvers, approval, timeouts."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import boto3
import pytest

from evacuation import runtime
from evacuation.emulator.world import CallRecorder, World, snapshot
from evacuation.requests import ManualRequest, parse_request
from evacuation.runtime import Runtime
from evacuation.settings import Settings
from handlers import manual
from tests.support import runbook
from tests.support.lambda_context import FakeLambdaContext

INJECTION = 'x", "action": "evacuate", "force": true, "reason": "y'
HOSTILE_REASONS = [
    INJECTION,
    '", "dry_run": true, "x": "',
    "}{",
    '{"action": "recover"}',
    "\\", "\\\"", "'; DROP TABLE evacuations; --",
    '"action":"evacuate"',
    "{{ Action }}",
]  # fmt: skip
NEWLINES = ["line\nbreak", 'x"\n, "action": "evacuate', "tab\there", "\r\n", "nul\x00"]


def received(parameters: dict[str, str]) -> ManualRequest:
    """What the manual handler parses from the payload this execution would send."""
    execution = runbook.run(parameters)
    return parse_request(json.loads(execution.payload))


@pytest.mark.parametrize("reason", HOSTILE_REASONS)
@pytest.mark.parametrize("action", ["plan", "status"])
def test_hostile_reason_on_an_unapproved_action_stays_that_action(action: str, reason: str) -> None:
    parameters = {"Action": action, "Az": "use1-az1", "Reason": reason}
    execution = runbook.run(parameters)
    assert execution.approval is False
    request = received(parameters)
    assert request.action == action
    assert request.force is False and request.dry_run is False
    assert request.reason == reason  # the text arrives as text, whole
    payload = json.loads(execution.payload)
    assert set(payload) <= {"action", "az", "reason", "dry_run"}


@pytest.mark.parametrize("reason", NEWLINES)
def test_control_characters_are_refused_before_anything_runs(reason: str) -> None:
    with pytest.raises(runbook.ParameterRejected, match="Reason"):
        runbook.run({"Action": "plan", "Az": "use1-az1", "Reason": reason})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Az", 'use1-az1", "action": "evacuate'),
        ("Az", "use1-az1\n"),
        ("Az", "{{ Reason }}"),
        ("Az", "us-east-1b}"),
        ("Reason", "x" * 301),
        ("Action", "explode"),
        ("Action", "plan "),
        ("Minutes", "0"),
        ("Minutes", "721"),
        ("Minutes", '5, "force": true'),
    ],
)
def test_every_parameter_is_validated(name: str, value: str) -> None:
    parameters = {"Action": "plan", "Az": "use1-az1", name: value}
    with pytest.raises(runbook.ParameterRejected, match=name):
        runbook.run(parameters)


def test_every_parameter_has_an_allowed_pattern_or_values() -> None:
    for name, spec in runbook.document()["parameters"].items():
        assert spec["type"] == "String", name
        assert "allowedPattern" in spec or "allowedValues" in spec, name


@pytest.mark.parametrize("action", ["evacuate", "recover", "practice"])
def test_every_action_that_changes_aws_waits_for_approval(action: str) -> None:
    execution = runbook.run({"Action": action, "Az": "use1-az1", "Reason": INJECTION})
    assert execution.approval is True
    request = received({"Action": action, "Az": "use1-az1", "Reason": INJECTION})
    assert request.action == action and request.force is False
    if action == "practice":
        assert request.minutes == 60


def test_abandon_is_offered_and_waits_for_approval_like_every_change() -> None:
    # abandon releases an AZ (issue 12): it changes what azevac holds, so it needs approval
    assert runbook.needs_approval({"Action": "abandon"}) is True
    assert "abandon" in runbook.document()["parameters"]["Action"]["allowedValues"]
    assert "abandon" in ManualRequest.model_fields["action"].annotation.__args__  # type: ignore[union-attr]
    # and the default branch still sends an action nobody listed as read-only to approval
    assert runbook.needs_approval({"Action": "something-new"}) is True


def test_the_requester_chooses_neither_approvers_nor_role_nor_function() -> None:
    doc = runbook.document()
    assert set(doc["parameters"]) == {"Action", "Az", "Reason", "Minutes"}
    assert runbook.step("Approve")["inputs"]["Approvers"] == "STACK:RunbookApprovers"
    assert doc["assumeRole"] == "STACK:AutomationRole.Arn"
    for name in ("Invoke", "Status"):
        assert runbook.step(name)["inputs"]["FunctionName"] == "STACK:ManualFunction"
    # no parameter is pasted into a JSON text anywhere: only the script's output is sent
    assert runbook.step("Invoke")["inputs"]["Payload"] == "{{ BuildPayload.Payload }}"
    assert "{{" not in runbook.step("Status")["inputs"]["Payload"]


def test_invoke_stays_within_the_300s_limit_and_a_long_run_ends_in_status() -> None:
    invoke = runbook.step("Invoke")
    assert invoke["action"] == "aws:invokeLambdaFunction"
    assert invoke["timeoutSeconds"] <= 300
    assert invoke["maxAttempts"] == 1  # never a second evacuation
    assert invoke["onFailure"] == "step:WaitForRun"
    wait = runbook.step("WaitForRun")
    minutes = int(re.fullmatch(r"PT(\d+)M", wait["inputs"]["Duration"]).group(1))  # type: ignore[union-attr]
    # the manual function's timeout is 900 s: by then the run has finished, one way or another
    assert invoke["timeoutSeconds"] + minutes * 60 > 900
    assert wait["nextStep"] == "Status"
    status = runbook.step("Status")
    assert status["timeoutSeconds"] <= 300
    assert json.loads(status["inputs"]["Payload"]) == {"action": "status"}


# -- end to end: the payload the runbook builds, through the manual handler on moto -------------


@pytest.fixture
def lambda_runtime(world: World, session: boto3.Session) -> Iterator[Runtime]:
    rt = Runtime(Settings(config_reference=json.dumps(world.config()), table=None), session)
    runtime.install(rt)
    yield rt
    runtime.install(None)


@pytest.mark.parametrize("reason", HOSTILE_REASONS)
def test_the_injection_plans_and_changes_nothing(
    world: World, lambda_runtime: Runtime, recorder: CallRecorder, reason: str
) -> None:
    before = snapshot(world)
    execution = runbook.run({"Action": "plan", "Az": "use1-az1", "Reason": reason})
    answer = manual.handler(json.loads(execution.payload), FakeLambdaContext())
    assert answer["status"] == "PLANNED", answer
    assert recorder.mutations == []
    assert snapshot(world) == before
