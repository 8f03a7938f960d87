"""template.yaml as deployed (issue 13 §1, §3, §4, §6): the runbook role's trust, the alarm
function's concurrency, who may invoke the manual function, IAM conditions checked against the
calls the code makes, and the alarms that page someone."""

from __future__ import annotations

import json
import re
from typing import Any

import boto3
import pytest

from evacuation.emulator.world import World
from evacuation.kinds import permissions
from evacuation.runtime import Runtime
from handlers import manual, reconcile
from tests.support.lambda_context import FakeLambdaContext
from tests.template.test_template import (
    FUNCTIONS,
    ROOT,
    allowed_actions,
    deployed_like,
    policy_statements,
    resources,
    template,
)

ENGINE = ROOT / "evacuation"
# Actions the engine needs that no "<service>.<Operation>" string in evacuation/ names, each
# with the caller.
INDIRECT = {
    "dynamodb:PutItem": "Powertools idempotency writes its record; TransactWriteItems Put",
    "dynamodb:DeleteItem": "Powertools idempotency deletes its record when the handler raises",
    "ssm:GetParameter": "Powertools parameters reads the config and the kill switch",
    "kms:Decrypt": "sns:Publish to the topic encrypted with NotificationKey",
    "kms:GenerateDataKey*": "sns:Publish to the topic encrypted with NotificationKey",
    "s3:GetObject": "the config at ConfigLocation=s3://... (evacuation/aws/s3.py), if given",
}


CLI_ONLY = {"lambda:Invoke"}
"""azevac --via-lambda (evacuation/cli.py): the operator's call, not the functions'."""
DETECT_VALIDATE_ONLY = {
    "cloudwatch:PutMetricAlarm",
    "cloudwatch:PutCompositeAlarm",
    "cloudwatch:PutInsightRule",
    "cloudwatch:DescribeInsightRules",
    "cloudwatch:DeleteAlarms",
    "cloudwatch:DeleteInsightRules",
}
"""`make detect-validate` (evacuation/aws/cloudwatch.py AlarmDefinitions, called only from
evacuation/detection/validate.py, which the Lambda artifact leaves out): an operator's sandbox
credentials, never the functions' role, which must not be able to rewrite alarms."""


def calls_in_code() -> set[str]:
    """Every AWS call the functions make, as an IAM action (from the Caller labels)."""
    found: set[str] = set()
    for path in ENGINE.rglob("*.py"):
        if {"emulator", "drill"} & set(path.relative_to(ENGINE).parts):
            continue
        for service, op in re.findall(r'"([a-z0-9-]+)\.([A-Z][A-Za-z]+)"', path.read_text()):
            found.add(f"{service}:{op}")
    return found - CLI_ONLY - DETECT_VALIDATE_ONLY


def statement(sid: str, function: str = "AlarmFunction") -> dict[str, Any]:
    return next(s for s in policy_statements(function) if s.get("Sid") == sid)


# -- §4 IAM: least privilege, each statement against the code -------------------------------------


def test_no_action_is_granted_that_the_code_does_not_use() -> None:
    used = calls_in_code() | set(INDIRECT)
    for function in FUNCTIONS:
        unused = allowed_actions(function) - used
        assert not unused, f"{function} is granted {sorted(unused)}, which no code calls"


def test_every_call_in_the_code_is_granted() -> None:
    for function in FUNCTIONS:
        missing = calls_in_code() - allowed_actions(function)
        assert not missing, f"{function} lacks {sorted(missing)}"


def test_update_and_cancel_zonal_shift_are_as_tight_as_aws_allows() -> None:
    extend = statement("ExtendAndCancelZonalShifts")
    assert sorted(extend["Action"]) == [
        "arc-zonal-shift:CancelZonalShift",
        "arc-zonal-shift:UpdateZonalShift",
    ]
    # the SAR lists no condition key for them: a ResourceIdentifier condition would deny recovery
    assert "Condition" not in extend
    text = (ROOT / "template.yaml").read_text()
    assert "Service Authorization" in text and "no condition key" in text


def test_route53_changes_are_limited_to_our_records_types_and_actions() -> None:
    change = statement("WeightsOfOurRecords")
    assert change["Action"] == "route53:ChangeResourceRecordSets"
    condition = change["Condition"]["ForAllValues:StringEquals"]
    assert condition["route53:ChangeResourceRecordSetsNormalizedRecordNames"] == {
        "Ref": "WeightedRecordNames"
    }
    assert condition["route53:ChangeResourceRecordSetsRecordTypes"] == {
        "Ref": "WeightedRecordTypes"
    }
    assert condition["route53:ChangeResourceRecordSetsActions"] == ["DELETE", "CREATE"]
    read = statement("ReadOurHostedZones")
    assert read["Action"] == "route53:ListResourceRecordSets"
    assert read["Resource"] == change["Resource"]


def test_route53_conditions_match_the_changes_the_code_sends(
    world: World, deployed_like: Runtime, session: boto3.Session
) -> None:
    sent: list[dict[str, Any]] = []
    session.events.register(
        "provide-client-params.route53.ChangeResourceRecordSets",
        lambda params, **_: sent.extend(params["ChangeBatch"]["Changes"]),
    )
    context = FakeLambdaContext()
    manual.handler({"action": "evacuate", "az": "use1-az1"}, context)
    reconcile.handler({}, context)
    manual.handler({"action": "recover", "az": "use1-az1"}, context)

    assert sent
    condition = statement("WeightsOfOurRecords")["Condition"]["ForAllValues:StringEquals"]
    assert {c["Action"] for c in sent} <= set(condition["route53:ChangeResourceRecordSetsActions"])
    config = world.config()
    names = {rs["name"].lower().rstrip(".") for rs in config["route53"]}
    types = {rs["type"] for rs in config["route53"]}
    # the values an operator puts in WeightedRecordNames / WeightedRecordTypes (README Deploy)
    assert {c["ResourceRecordSet"]["Name"].lower().rstrip(".") for c in sent} <= names
    assert {c["ResourceRecordSet"]["Type"] for c in sent} <= types
    default_types = template()["Parameters"]["WeightedRecordTypes"]["Default"].split(",")
    assert types <= set(default_types)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        if "Fn::If" in value:  # a partition choice: its literal ARNs are per partition
            condition = value["Fn::If"][0]
            if condition in ("InAwsCn", "InAwsUsGov"):
                return []
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def test_every_arn_takes_its_partition_from_aws_partition() -> None:
    res = resources()
    for name in ("EvacuationPolicy", "OperatorPolicy", "AutomationRole", "NotificationKey"):
        literal = [s for s in _strings(res[name]["Properties"]) if "arn:aws:" in s]
        assert not literal, f"{name}: {literal}"
    conditions = template()["Conditions"]
    assert conditions["InAwsCn"] == {"Fn::Equals": [{"Ref": "AWS::Partition"}, "aws-cn"]}


# -- §1 the runbook's role ------------------------------------------------------------------------


def test_the_automation_role_trusts_only_this_accounts_automation() -> None:
    role = resources()["AutomationRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "ssm.amazonaws.com"}
    assert trust["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
    assert trust["Condition"]["ArnLike"]["aws:SourceArn"] == {
        "Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:"
        "automation-execution/*"
    }
    (inline,) = role["Policies"]
    (only,) = inline["PolicyDocument"]["Statement"]
    assert only["Action"] == "lambda:InvokeFunction"
    assert only["Resource"] == {"Fn::GetAtt": "ManualFunction.Arn"}


def test_the_deployed_runbook_takes_approvers_role_and_function_from_the_stack() -> None:
    content = resources()["EvacuationRunbook"]["Properties"]["Content"]
    steps = {s["name"]: s for s in content["mainSteps"]}
    assert steps["Approve"]["inputs"]["Approvers"] == {"Ref": "RunbookApprovers"}
    assert content["assumeRole"] == {"Fn::GetAtt": "AutomationRole.Arn"}
    assert steps["Invoke"]["inputs"]["FunctionName"] == {"Ref": "ManualFunction"}
    assert template()["Parameters"]["RunbookApprovers"]["Type"] == "CommaDelimitedList"
    assert "Approvers" not in content["parameters"]


# -- §4 who may evacuate --------------------------------------------------------------------------


def test_operator_policy_invokes_the_manual_function_and_starts_only_this_runbook() -> None:
    policy = resources()["OperatorPolicy"]
    assert policy["Type"] == "AWS::IAM::ManagedPolicy"
    statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    assert statements["InvokeManualFunction"]["Action"] == "lambda:InvokeFunction"
    assert statements["InvokeManualFunction"]["Resource"] == {"Fn::GetAtt": "ManualFunction.Arn"}
    start = statements["StartTheRunbook"]
    assert start["Action"] == "ssm:StartAutomationExecution"
    assert "automation-definition/${EvacuationRunbook}:*" in start["Resource"]["Fn::Sub"]
    passing = statements["PassTheRunbookRoleToSsmOnly"]
    assert passing["Resource"] == {"Fn::GetAtt": "AutomationRole.Arn"}
    assert passing["Condition"]["StringEquals"]["iam:PassedToService"] == "ssm.amazonaws.com"
    for s in statements.values():
        assert s["Resource"] != "*", s["Sid"]


def test_the_manual_functions_resource_policy_names_only_the_runbook_role_and_operators() -> None:
    permissions = {
        name: r["Properties"]
        for name, r in resources().items()
        if r["Type"] == "AWS::Lambda::Permission"
        and r["Properties"]["FunctionName"] == {"Fn::GetAtt": "ManualFunction.Arn"}
    }
    principals = [p["Principal"] for p in permissions.values()]
    assert {"Fn::GetAtt": "AutomationRole.Arn"} in principals
    others = [p for p in principals if p != {"Fn::GetAtt": "AutomationRole.Arn"}]
    assert others and all("OperatorPrincipalArns" in json.dumps(p) for p in others)
    assert all(p["Action"] == "lambda:InvokeFunction" for p in permissions.values())
    assert not [p for p in principals if isinstance(p, str)]  # no "*", no service, no account


# -- §3 the alarm function ------------------------------------------------------------------------


def test_the_alarm_function_has_reserved_concurrency_from_a_parameter() -> None:
    props = resources()["AlarmFunction"]["Properties"]
    assert props["ReservedConcurrentExecutions"] == {"Ref": "AlarmFunctionReservedConcurrency"}
    parameter = template()["Parameters"]["AlarmFunctionReservedConcurrency"]
    assert 1 <= parameter["Default"] <= parameter["MaxValue"]
    assert parameter["MinValue"] >= 1


# -- §6 failures reach a human --------------------------------------------------------------------


def alarms() -> dict[str, dict[str, Any]]:
    return {
        name: r["Properties"]
        for name, r in resources().items()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    }


def test_every_alarm_notifies_the_topic() -> None:
    assert alarms()
    for name, props in alarms().items():
        assert props["AlarmActions"] == [{"Ref": "NotificationTopic"}], name
        assert props["TreatMissingData"] == "notBreaching", name


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_each_function_has_errors_and_throttles_alarms(function: str, metric: str) -> None:
    found = [
        p
        for p in alarms().values()
        if p["Namespace"] == "AWS/Lambda"
        and p["MetricName"] == metric
        and p["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function}}]
    ]
    assert len(found) == 1


def test_the_failed_invocations_queue_depth_alarms() -> None:
    (queue,) = [p for p in alarms().values() if p["Namespace"] == "AWS/SQS"]
    assert queue["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert queue["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": "FailedInvocationsQueue.QueueName"}}
    ]


@pytest.mark.parametrize(
    "metric", ["EvacuationsRefused", "StepsFailed", "ReconcileAlerts", "NotificationsFailed"]
)
def test_azevacs_own_metrics_alarm_with_the_names_and_dimensions_the_code_emits(
    metric: str,
) -> None:
    code = "".join((ENGINE / f).read_text() for f in ("metrics.py", "service.py", "notify.py"))
    assert f'name="{metric}"' in code or f'count("{metric}")' in code
    namespace = template()["Globals"]["Function"]["Environment"]["Variables"]
    (alarm,) = [p for p in alarms().values() if p["MetricName"] == metric]
    assert alarm["Namespace"] == namespace["POWERTOOLS_METRICS_NAMESPACE"] == "azevac"
    assert alarm["Dimensions"] == [
        {"Name": "service", "Value": namespace["POWERTOOLS_SERVICE_NAME"]},
        {"Name": "workload", "Value": {"Ref": "WorkloadName"}},
    ]


def test_the_topic_key_lets_cloudwatch_alarms_publish() -> None:
    res = resources()
    assert res["NotificationTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "NotificationKey"}
    statements = res["NotificationKey"]["Properties"]["KeyPolicy"]["Statement"]
    cloudwatch = next(s for s in statements if s["Principal"].get("Service"))
    assert cloudwatch["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(cloudwatch["Action"])


def test_a_config_location_is_read_with_exactly_the_grant_it_needs() -> None:
    params = template()["Parameters"]
    pattern = re.compile(params["ConfigLocation"]["AllowedPattern"])
    for good in ("", "ssm:/azevac/checkout/config", "s3://my-config-bucket/azevac/checkout.json"):
        assert pattern.fullmatch(good), good
    for bad in ("s3://", "s3://b/", "https://example.com/c.json", "ssm:name", "ssm:/a b"):
        assert not pattern.fullmatch(bad), bad
    env = template()["Globals"]["Function"]["Environment"]["Variables"]
    assert env["AZEVAC_CONFIG"] == {
        "Fn::If": [
            "HasConfigLocation",
            {"Ref": "ConfigLocation"},
            {"Fn::Sub": "ssm:${ConfigParameter}"},
        ]
    }
    conditional = [
        s["Fn::If"] for s in policy_statements("AlarmFunction", raw=True) if "Fn::If" in s
    ]
    by_condition = {c[0]: c[1] for c in conditional}
    assert by_condition["ConfigInS3"]["Action"] == "s3:GetObject"
    assert by_condition["ConfigInOwnParameter"]["Action"] == "ssm:GetParameter"
    assert "ConfigGiven" in template()["Rules"]


def test_readme_names_only_parameters_that_exist() -> None:
    readme = (ROOT / "README.md").read_text()
    readme = readme[readme.index("### Deploy") : readme.index("### By hand")]
    parameters = set(template()["Parameters"])
    named = set(re.findall(r"`([A-Z][A-Za-z0-9]+)=", readme))
    assert named, "README Deploy names the template parameters as `Name=value`"
    assert named <= parameters, sorted(named - parameters)
    for required in ("RunbookApprovers", "OperatorPrincipalArns", "WeightedRecordNames"):
        assert required in readme


__all__ = ["deployed_like"]  # the fixture, shared with test_template


# -- §1 of issue 15: the policy is what the resource kinds declare -------------------------------


def test_the_policy_grants_what_the_registered_kinds_declare_and_no_more() -> None:
    # Given every permission the engine and each registered kind declare (by statement Sid)
    declared: dict[str, set[str]] = {}
    for permission in permissions():
        declared.setdefault(permission.sid, set()).update(permission.actions)

    # Then each statement grants exactly what is declared under its Sid
    for function in FUNCTIONS:
        granted: dict[str, set[str]] = {}
        for s in policy_statements(function):
            listed = s["Action"]
            granted.setdefault(s.get("Sid", ""), set()).update(
                [listed] if isinstance(listed, str) else listed
            )
        assert granted == declared, f"{function}: policy {granted} != kinds {declared}"


def test_the_sandbox_checks_alarm_writes_are_granted_to_no_function() -> None:
    # The code does make these calls (make detect-validate); the deployed roles must not
    for function in FUNCTIONS:
        assert not DETECT_VALIDATE_ONLY & allowed_actions(function), function
    text = (ENGINE / "aws" / "cloudwatch.py").read_text()
    assert all(f'"{a.replace(":", ".")}"' in text for a in DETECT_VALIDATE_ONLY)
