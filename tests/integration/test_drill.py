"""`make drill`: every scenario passes on the embedded AWS, a drill whose hypothesis does not hold
in AWS fails loudly, and the HTML report draws one bar per step."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import boto3
import pytest

from evacuation import cli
from evacuation.drill import main
from evacuation.drill.scenarios import SCENARIOS
from evacuation.emulator.table import CfnLoader
from evacuation.model import StepKey
from evacuation.steps.base import Verdict, Verified
from evacuation.steps.route53 import WeightRunner
from handlers import alarm

AZ = "use1-az1"


def run_drill(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main([*args, "--json"])
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_every_scenario_passes(capsys: pytest.CaptureFixture[str], scenario: str) -> None:
    code, report = run_drill(capsys, "--scenario", scenario)

    (result,) = report["scenarios"]
    failed = [c for c in result["checks"] if not c["passed"]]
    assert (code, report["verdict"], result["verdict"]) == (0, "PASS", "PASS"), (
        result["error"],
        failed,
    )
    assert result["checks"] and result["hypothesis"]


def test_all_runs_every_scenario_in_one_document(capsys: pytest.CaptureFixture[str]) -> None:
    code, report = run_drill(capsys, "--scenario", "all")

    assert [s["name"] for s in report["scenarios"]] == list(SCENARIOS)
    assert {s["verdict"] for s in report["scenarios"]} == {"PASS"}
    assert code == 0


# -- a drill must not pass without looking at AWS --------------------------------------------------


def _undo_part_of_the_evacuation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Someone puts the AZ's subnet back in the web group right after the controller answered."""
    real = alarm.handler

    def handler(event: Any, context: Any) -> dict[str, Any]:
        answer = real(event, context)
        if answer.get("status") == "EVACUATED":
            ec2 = boto3.client("ec2", region_name="us-east-1")
            subnets = ec2.describe_subnets(Filters=[{"Name": "cidr-block", "Values": ["10.20.*"]}])[
                "Subnets"
            ]
            boto3.client("autoscaling", region_name="us-east-1").update_auto_scaling_group(
                AutoScalingGroupName="checkout-web",
                VPCZoneIdentifier=",".join(s["SubnetId"] for s in subnets),
            )
        return answer

    monkeypatch.setattr(alarm, "handler", handler)


def _route53_runner_lies(monkeypatch: pytest.MonkeyPatch) -> None:
    """The controller reports the weight applied and verified, and never calls Route 53."""

    def apply(self: WeightRunner, ctx: Any, steps: Sequence[Any]) -> Mapping[StepKey, Any]:
        return {s.key: {"weight": 0, "change_id": "C-NEVER-SENT"} for s in steps}

    def verify(
        self: WeightRunner, ctx: Any, steps: Sequence[Any], afters: Mapping[StepKey, Any]
    ) -> Mapping[StepKey, Verified]:
        return {s.key: Verified(Verdict.CONVERGED) for s in steps}

    monkeypatch.setattr(WeightRunner, "apply", apply)
    monkeypatch.setattr(WeightRunner, "verify", verify)


@pytest.mark.parametrize(
    ("sabotage", "must_fail"),
    [
        (_undo_part_of_the_evacuation, "Auto Scaling: no group has a subnet in use1-az1"),
        (_route53_runner_lies, "Route 53: weight of checkout-use1-az1 is 0"),
    ],
)
def test_a_hypothesis_that_does_not_hold_in_aws_fails_the_drill(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    sabotage: Any,
    must_fail: str,
) -> None:
    # Given the controller says EVACUATED but AWS does not agree
    sabotage(monkeypatch)

    # When the drill runs
    code, report = run_drill(capsys, "--scenario", "basic")

    # Then it fails, on the checks that read AWS, not on the controller's answer
    (result,) = report["scenarios"]
    checks = {c["name"]: c for c in result["checks"]}
    assert code == 1
    assert (report["verdict"], result["verdict"]) == ("FAIL", "FAIL")
    assert checks["alarm: the handler answers EVACUATED"]["passed"]
    assert not checks[must_fail]["passed"]
    assert not checks["Nothing else changed (whole state read back and compared)"]["passed"]


def test_a_drill_that_breaks_fails(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(event: Any, context: Any) -> dict[str, Any]:
        raise RuntimeError("the handler blew up")

    monkeypatch.setattr(alarm, "handler", broken)

    code, report = run_drill(capsys, "--scenario", "basic")

    assert code == 1
    assert "the handler blew up" in report["scenarios"][0]["error"]


# -- output --------------------------------------------------------------------------------------


def test_report_is_self_contained_html_with_one_bar_per_step(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "drill.html"

    code, report = run_drill(capsys, "--scenario", "crash", "--report", str(path))

    html = path.read_text(encoding="utf-8")
    timeline = report["scenarios"][0]["timeline"]
    assert code == 0
    assert html.count("<svg") == 1
    assert len(re.findall(r"<rect class='bar'", html)) == len(timeline) > 0
    # the run that died, drawn as such: its change made, its record never finished
    assert "data-outcome='applied, then died'" in html
    assert not re.search(r"<script|<link|src=|@import|url\(", html)


def test_terminal_output_shows_progress_timeline_and_verdict(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["--scenario", "basic"])

    out = capsys.readouterr().out
    assert code == 0
    for text in ("Hypothesis:", "started", "applied", "Timeline", "Checks", "PASS"):
        assert text in out


def test_azevac_drill_is_the_same_drill(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["drill", "--scenario", "regional", "--json"])

    report = json.loads(capsys.readouterr().out)
    assert (code, report["verdict"], [s["name"] for s in report["scenarios"]]) == (
        0,
        "PASS",
        ["regional"],
    )


def test_unknown_az_fails_with_the_reason(capsys: pytest.CaptureFixture[str]) -> None:
    code, report = run_drill(capsys, "--scenario", "basic", "--az", "use1-az9")

    assert code == 1
    assert "use1-az9 is not an AZ" in report["scenarios"][0]["error"]


def test_cloudformation_short_form_tags_load() -> None:
    import yaml  # noqa: PLC0415

    text = "Value: !Ref StateTable\nTags: !Tags {a: b}\nList: !GetAZs ''\n"
    assert yaml.load(text, Loader=CfnLoader) == {
        "Value": {"!Ref": "StateTable"},
        "Tags": {"!Tags": {"a": "b"}},
        "List": {"!GetAZs": ""},
    }


def test_gray_failure_report_draws_metrics_alarm_states_and_end_to_end_times(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Given the drill that starts from customer impact (a library scenario replayed)
    path = tmp_path / "drill.html"

    # When it runs with a report
    code, report = run_drill(capsys, "--scenario", "gray-failure", "--report", str(path))

    # Then it passes, the detection alarm decided, and the report shows the whole incident
    (result,) = report["scenarios"]
    html = path.read_text(encoding="utf-8")
    facts = result["facts"]
    assert code == 0
    assert facts["onset_to_detection_seconds"] == 180
    assert facts["onset_to_traffic_off_seconds"] == pytest.approx(
        180 + facts["alarm_to_traffic_moved_seconds"]
    )
    assert set(result["panel"]["fault_rate"]) == {"use1-az1", "use1-az2", "use1-az6"}
    assert html.count("class='metric'") == 3
    assert "data-state='ALARM'" in html
    assert [e["what"] for e in result["panel"]["events"]] == [
        "azevac evacuates",
        "operator recovers",
    ]


def test_aws_autoshift_drill_evacuates_holds_pages_and_recovers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given AWS autoshifting away from the AZ, with triggers.aws_autoshift: evacuate
    code, report = run_drill(capsys, "--scenario", "aws-autoshift")

    # Then the autoshift's event evacuates, its end leaves the AZ held and pages, and the
    # operator's recovery (verified by azevac verify --recovered too) passes every check
    (result,) = report["scenarios"]
    assert (code, result["verdict"]) == (0, "PASS"), [
        c for c in result["checks"] if not c["passed"]
    ]
    statuses = {a["invocation"]: a["status"] for a in result["answers"]}
    assert statuses["autoshift started"] == "EVACUATED"
    assert statuses["autoshift completed"] == "HELD"
    assert statuses["recover"] == "RECOVERED"
    subjects = [n["subject"] for n in result["notifications"]]
    assert any("on an AWS autoshift" in s for s in subjects), subjects
    assert any("AZ held" in s for s in subjects), subjects
    assert any(
        c["name"] == "azevac verify: recovered holds" and c["passed"] for c in result["checks"]
    )
