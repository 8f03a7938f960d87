"""template.yaml: what the stack must have, least privilege, and IAM that covers every call the
code makes (so a missing permission is found here, not during an outage)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from evacuation import runtime
from evacuation.emulator.table import create_state_table
from evacuation.emulator.world import CallRecorder, World
from evacuation.runtime import Runtime
from evacuation.settings import Settings
from handlers import alarm, manual, reconcile
from tests.support.lambda_context import FakeLambdaContext
from tests.support.sample_events import fire, load

ROOT = Path(__file__).parents[2]
FUNCTIONS = {
    "AlarmFunction": "handlers.alarm.handler",
    "ManualFunction": "handlers.manual.handler",
    "ReconcileFunction": "handlers.reconcile.handler",
}
# Mutating actions that AWS lets us grant only on "*", each with the reason.
STAR_ONLY = {
    "arc-zonal-shift:StartZonalShift": "scoped by the arc-zonal-shift:ResourceIdentifier condition",
    "arc-zonal-shift:UpdateZonalShift": "no resource type or condition key in the SAR",
    "arc-zonal-shift:CancelZonalShift": "no resource type or condition key in the SAR",
}
IAM_PREFIX = {"arc-zonal-shift": "arc-zonal-shift"}


class CfnLoader(yaml.SafeLoader):
    """Accepts CloudFormation short tags: !Ref X -> {"Ref": X}, !Sub s -> {"Fn::Sub": s}."""


def _intrinsic(loader: CfnLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {"Ref" if suffix == "Ref" else f"Fn::{suffix}": value}


CfnLoader.add_multi_constructor("!", _intrinsic)


def template() -> dict[str, Any]:
    return yaml.load((ROOT / "template.yaml").read_text(), Loader=CfnLoader)


def resources() -> dict[str, Any]:
    return template()["Resources"]


def policy_statements(function: str, raw: bool = False) -> list[dict[str, Any]]:
    """Every IAM statement attached to a function (inline or through a managed policy). A
    statement behind a condition (`!If [Cond, statement, !Ref AWS::NoValue]`) counts as granted
    unless `raw`: the most the function can be given."""
    res = resources()
    statements: list[dict[str, Any]] = []
    for policy in res[function]["Properties"].get("Policies", []):
        if isinstance(policy, dict) and "Ref" in policy:
            document = res[policy["Ref"]]["Properties"]["PolicyDocument"]
            statements += document["Statement"]
        elif isinstance(policy, dict) and "Statement" in policy:
            statements += policy["Statement"]
    if raw:
        return statements
    return [s["Fn::If"][1] if "Fn::If" in s else s for s in statements]


def allowed_actions(function: str) -> set[str]:
    actions: set[str] = set()
    for statement in policy_statements(function):
        if statement["Effect"] == "Allow":
            listed = statement["Action"]
            actions.update([listed] if isinstance(listed, str) else listed)
    return actions


def test_three_functions_python312_arm64_with_the_right_handlers() -> None:
    globals_ = template()["Globals"]["Function"]
    assert globals_["Runtime"] == "python3.12"
    assert globals_["Architectures"] == ["arm64"]
    for name, handler in FUNCTIONS.items():
        assert resources()[name]["Properties"]["Handler"] == handler


def test_alarm_rule_fires_on_fresh_alarms_with_the_prefix_only() -> None:
    event = resources()["AlarmFunction"]["Properties"]["Events"]["AlarmStateChange"]
    pattern = event["Properties"]["Pattern"]
    assert event["Type"] == "EventBridgeRule"
    assert pattern["source"] == ["aws.cloudwatch"]
    assert pattern["account"] == [{"Ref": "AWS::AccountId"}]
    assert pattern["detail-type"] == ["CloudWatch Alarm State Change"]
    assert pattern["detail"]["state"]["value"] == ["ALARM"]
    assert pattern["detail"]["previousState"]["value"] == [{"anything-but": "ALARM"}]
    assert pattern["detail"]["alarmName"] == [{"prefix": {"Ref": "AlarmNamePrefix"}}]


def test_reconciler_runs_every_five_minutes() -> None:
    events = resources()["ReconcileFunction"]["Properties"]["Events"]
    assert events["EveryFiveMinutes"]["Properties"]["Schedule"] == "rate(5 minutes)"


def test_state_table_is_durable() -> None:
    table = resources()["StateTable"]
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["DeletionProtectionEnabled"] is True
    assert table["DeletionPolicy"] == "Retain"


def test_every_function_logs_to_a_group_with_retention() -> None:
    res = resources()
    for name in FUNCTIONS:
        group = res[name]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert res[group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_async_invocations_have_a_failure_destination() -> None:
    for name in ("AlarmFunction", "ReconcileFunction"):
        config = resources()[name]["Properties"]["EventInvokeConfig"]
        assert config["DestinationConfig"]["OnFailure"]["Type"] == "SQS"


def test_no_mutating_action_on_every_resource_unless_aws_allows_nothing_else() -> None:
    for function in FUNCTIONS:
        for statement in policy_statements(function):
            listed = statement["Action"]
            actions = [listed] if isinstance(listed, str) else listed
            if statement["Resource"] != "*":
                continue
            for action in actions:
                verb = action.split(":", 1)[1]
                if verb.startswith(("Describe", "List", "Get")):
                    continue
                assert action in STAR_ONLY, f"{function}: {action} granted on *"


def test_start_zonal_shift_is_scoped_to_our_resources() -> None:
    start = next(
        s
        for s in policy_statements("AlarmFunction")
        if s["Action"] == "arc-zonal-shift:StartZonalShift"
    )
    assert start["Condition"]["StringLike"]["arc-zonal-shift:ResourceIdentifier"] == {
        "Ref": "ZonalShiftResourceArnPatterns"
    }


STACK_VALUES = {
    "STACK:AutomationRole.Arn": {"Fn::GetAtt": "AutomationRole.Arn"},
    "STACK:RunbookApprovers": {"Ref": "RunbookApprovers"},
    "STACK:ManualFunction": {"Ref": "ManualFunction"},
}


def _with_stack_values(value: Any) -> Any:
    if isinstance(value, str):
        return STACK_VALUES.get(value, value)
    if isinstance(value, dict):
        return {k: _with_stack_values(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_stack_values(v) for v in value]
    return value


def test_the_deployed_runbook_is_the_one_in_runbooks() -> None:
    deployed = resources()["EvacuationRunbook"]["Properties"]["Content"]
    on_disk = yaml.safe_load((ROOT / "runbooks" / "az-evacuation-automation.yaml").read_text())
    assert deployed == _with_stack_values(on_disk)
    text = (ROOT / "runbooks" / "az-evacuation-automation.yaml").read_text()
    assert all(marker in text for marker in STACK_VALUES)
    assert resources()["EvacuationRunbook"]["Properties"]["DocumentType"] == "Automation"


@pytest.mark.skipif(shutil.which("cfn-lint") is None and not (ROOT / ".venv/bin/cfn-lint").exists(),
                    reason="cfn-lint not installed")  # fmt: skip
def test_cfn_lint_passes() -> None:
    binary = shutil.which("cfn-lint") or str(ROOT / ".venv/bin/cfn-lint")
    done = subprocess.run(
        [binary, str(ROOT / "template.yaml")], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


# -- IAM covers every AWS call the code makes ----------------------------------------------------


@pytest.fixture
def deployed_like(world: World, session: boto3.Session) -> Iterator[Runtime]:
    """The three functions on moto, configured as the stack configures them."""
    create_state_table(session.client("dynamodb"), "azevac-state")
    ssm = session.client("ssm")
    ssm.put_parameter(Name="/azevac/checkout/kill-switch", Value="enabled", Type="String")
    config = world.config()
    config["safety"] = {"kill_switch_parameter": "/azevac/checkout/kill-switch", "prescale": True}
    ssm.put_parameter(Name="/azevac/checkout/config", Value=json.dumps(config), Type="String")
    topic = session.client("sns").create_topic(Name="azevac")["TopicArn"]
    settings = Settings("ssm:/azevac/checkout/config", "azevac-state", topic)
    rt = Runtime(settings, session)
    runtime.install(rt)
    yield rt
    runtime.install(None)


def test_iam_allows_every_call_a_full_cycle_makes(
    deployed_like: Runtime, recorder: CallRecorder, session: boto3.Session
) -> None:
    # Given every path: alarm evacuation, reconcile, status, plan, recover, practice
    sample = ROOT / "events/alarm-eventbridge-metric.json"
    fire(session, sample)
    recorder.reset()
    context = FakeLambdaContext()
    alarm.handler(load(sample), context)
    fire_ok = session.client("cloudwatch")  # the AZ is healthy again: practice may run
    fire_ok.set_alarm_state(AlarmName="checkout-use1-az1-isolated-impact", StateValue="OK",
                            StateReason="recovered")  # fmt: skip
    reconcile.handler({}, context)
    manual.handler({"action": "status"}, context)
    manual.handler({"action": "plan", "az": "use1-az1"}, context)
    manual.handler({"action": "recover", "az": "use1-az1"}, context)
    manual.handler({"action": "practice", "az": "use1-az2", "minutes": 5}, context)
    manual.handler({"action": "recover", "az": "use1-az2", "force": False}, context)

    # Then every call it made is allowed to every function that runs that engine
    called = {f"{IAM_PREFIX.get(s, s)}:{op}" for s, op in recorder.calls}
    called.discard("cloudwatch:SetAlarmState")  # the test's own, to end the gray failure
    assert {"arc-zonal-shift:StartZonalShift", "sns:Publish", "ssm:GetParameter"} <= called
    for function in FUNCTIONS:
        missing = called - allowed_actions(function)
        assert not missing, f"{function} lacks {sorted(missing)}"


# -- AWS's own AZ signal (issue 24) ----------------------------------------------------------------


def test_autoshift_events_reach_the_alarm_function_whoever_enabled_observer_notification() -> None:
    # The rule is unconditional: observer notification may be on from another stack or the
    # console, and ARC sends autoshift events for our own autoshift-enabled resources anyway.
    event = resources()["AlarmFunction"]["Properties"]["Events"]["AutoshiftStartedOrEnded"]
    pattern = event["Properties"]["Pattern"]
    assert event["Type"] == "EventBridgeRule"
    assert "Condition" not in event
    assert pattern == {
        "source": ["aws.arc-zonal-shift"],
        "account": [{"Ref": "AWS::AccountId"}],
        "detail-type": ["Autoshift In Progress", "Autoshift Completed"],
    }


def test_observer_notification_is_enabled_only_when_asked_and_outlives_the_stack() -> None:
    parameter = template()["Parameters"]["EnableAutoshiftObserverNotification"]
    assert (parameter["Default"], parameter["AllowedValues"]) == ("false", ["true", "false"])
    condition = template()["Conditions"]["EnablesObserverNotification"]
    assert condition == {"Fn::Equals": [{"Ref": "EnableAutoshiftObserverNotification"}, "true"]}
    resource = resources()["AutoshiftObserverNotification"]
    assert resource["Type"] == "AWS::ARCZonalShift::AutoshiftObserverNotificationStatus"
    assert resource["Condition"] == "EnablesObserverNotification"
    assert resource["Properties"] == {"Status": "ENABLED"}  # the only value the schema allows
    assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == ("Retain", "Retain")
    # It lands in no policy: the functions never call Update/GetAutoshiftObserverNotification.
    for function in FUNCTIONS:
        granted = allowed_actions(function)
        assert not {a for a in granted if "AutoshiftObserverNotification" in a}, function


def test_the_alarm_function_may_re_read_autoshifts_and_alarm_times() -> None:
    granted = allowed_actions("AlarmFunction") & allowed_actions("ReconcileFunction")
    assert {"arc-zonal-shift:ListAutoshifts", "cloudwatch:DescribeAlarms"} <= granted
