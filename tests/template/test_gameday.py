"""gameday/template.yaml (issue 18 §3): the FIS experiment impairs exactly the workload's tagged
resources in one AZ, stops on the alarms the README documents, and its role can do nothing else."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import pytest
import yaml

from tests.template.test_template import ROOT, CfnLoader, template

GAMEDAY = ROOT / "gameday" / "template.yaml"
TAG = "azevac:workload"


def gameday() -> dict[str, Any]:
    return yaml.load(GAMEDAY.read_text(), Loader=CfnLoader)


def experiment() -> dict[str, Any]:
    return gameday()["Resources"]["GrayFailureExperiment"]["Properties"]


def test_every_target_is_the_tagged_workload_in_the_chosen_az() -> None:
    targets = experiment()["Targets"]
    assert targets, "the experiment has targets"
    for name, target in targets.items():
        assert target["ResourceTags"] == {TAG: {"Ref": "TargetTagValue"}}, name
        paths = {f["Path"]: f["Values"] for f in target["Filters"]}
        zone_path = (
            "Placement.AvailabilityZone"
            if "instance" in target["ResourceType"]
            else ("AvailabilityZone")
        )
        assert paths[zone_path] == [{"Ref": "AvailabilityZoneName"}], name
        assert target["SelectionMode"] == "ALL"
    assert experiment()["ExperimentOptions"]["EmptyTargetResolutionMode"] == "fail"


def test_the_gray_failure_is_latency_and_loss_and_the_hard_failure_is_opt_in() -> None:
    actions = experiment()["Actions"]
    documents = {
        name: a["Parameters"]["documentArn"]["Fn::Sub"]
        for name, a in actions.items()
        if isinstance(a, dict) and a.get("ActionId") == "aws:ssm:send-command"
    }
    assert {d.rsplit("/", 1)[1] for d in documents.values()} == {
        "AWSFIS-Run-Network-Latency",
        "AWSFIS-Run-Network-Packet-Loss",
    }
    hard = actions["HardFailure"]["Fn::If"]
    assert hard[0] == "HardFailure" and hard[1]["ActionId"] == "aws:network:disrupt-connectivity"
    assert gameday()["Parameters"]["IncludeHardFailure"]["Default"] == "false"


def test_it_stops_on_the_workloads_availability_and_azevacs_own_failure_alarms() -> None:
    stops = experiment()["StopConditions"]
    assert {s["Source"] for s in stops} == {"aws:cloudwatch:alarm"}
    assert [s["Value"]["Ref"] for s in stops] == [
        "WorkloadAvailabilityAlarmArn",
        "AzevacStepsFailedAlarmArn",
        "AzevacFunctionErrorsAlarmArn",
    ]
    # and the azevac stack outputs exactly the alarms those parameters ask for
    outputs = template()["Outputs"]
    assert outputs["StepsFailedAlarmArn"]["Value"] == {"Fn::GetAtt": "StepsFailedAlarm.Arn"}
    assert outputs["AlarmFunctionErrorsAlarmArn"]["Value"] == {
        "Fn::GetAtt": "AlarmFunctionErrorsAlarm.Arn"
    }


def test_the_role_is_fis_only_for_this_account_and_grants_only_the_experiments_actions() -> None:
    role = gameday()["Resources"]["ExperimentRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "fis.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert "experiment/*" in trust["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Sub"]
    granted: set[str] = set()
    for listed in role["Policies"]:
        policy = listed["Fn::If"][1] if "Fn::If" in listed else listed
        for statement in policy["PolicyDocument"]["Statement"]:
            action = statement["Action"]
            granted.update([action] if isinstance(action, str) else action)
    assert granted == {
        "ssm:SendCommand", "ssm:ListCommands", "ssm:CancelCommand", "ec2:DescribeInstances",
        "ec2:DescribeSubnets", "logs:CreateLogDelivery", "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
        # the hard failure only (behind its condition)
        "ec2:CreateNetworkAcl", "ec2:CreateTags", "ec2:CreateNetworkAclEntry",
        "ec2:DeleteNetworkAcl", "ec2:ReplaceNetworkAclAssociation", "ec2:DescribeNetworkAcls",
        "ec2:DescribeVpcs", "ec2:DescribeManagedPrefixLists", "ec2:GetManagedPrefixListEntries",
    }  # fmt: skip


def test_the_readme_and_runbook_document_the_tag_alarms_and_parameters() -> None:
    readme = (ROOT / "README.md").read_text()
    runbook = (ROOT / "runbooks" / "game-day.md").read_text()
    section = readme[readme.index("## Game days") :]
    for text in (section, runbook):
        assert TAG in text
        for parameter in ("AvailabilityZoneName", "WorkloadAvailabilityAlarmArn"):
            assert parameter in text
    named = {p for p in gameday()["Parameters"] if f"`{p}" in section}
    assert named, "the README names the game day stack's parameters"


def test_cfn_lint_passes_on_the_gameday_stack() -> None:
    lint = shutil.which("cfn-lint") or str(ROOT / ".venv" / "bin" / "cfn-lint")
    if not shutil.which(lint):
        pytest.skip("cfn-lint is not installed")
    done = subprocess.run([lint, str(GAMEDAY)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
