"""`azevac verify` (issue 18 §1) against the emulator as live AWS: the hypothesis holds after an
evacuation and after a recovery, and fails, naming the check, when AWS says otherwise."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from evacuation import cli, runtime
from evacuation.emulator.table import create_state_table
from evacuation.emulator.world import World
from evacuation.runtime import Runtime
from evacuation.settings import Settings
from handlers import manual
from tests.support.lambda_context import FakeLambdaContext

AZ = "use1-az1"
TABLE = "azevac-state"


@pytest.fixture
def env(
    world: World, session: boto3.Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    config = tmp_path / "azevac.json"
    config.write_text(json.dumps(world.config()))
    create_state_table(session.client("dynamodb"), TABLE)
    monkeypatch.setenv("AZEVAC_CONFIG", str(config))
    monkeypatch.setenv("AZEVAC_TABLE", TABLE)
    monkeypatch.setattr(cli, "session_factory", lambda: session)
    yield config


def _verify(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = cli.main(["verify", "--az", AZ, "--json", *args])
    return code, json.loads(capsys.readouterr().out)


def _failing(answer: dict[str, Any]) -> list[str]:
    return [c["name"] for c in answer["checks"] if not c["passed"]]


def test_an_evacuation_holds_and_a_recovery_holds(
    world: World, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["evacuate", "--az", AZ, "--reason", "game day", "--yes"]) == 0

    code, evacuated = _verify(capsys)
    assert code == 0, _failing(evacuated)
    assert evacuated["status"] == "HOLDS" and evacuated["hypothesis"] == "evacuated"
    names = " ".join(c["name"] for c in evacuated["checks"])
    assert "zonal_shift" in names and "route53_weight" in names and "asg_subnets" in names
    assert "no instance launched into use1-az1" in names

    assert cli.main(["recover", "--az", AZ, "--reason", "game day over"]) == 0
    code, recovered = _verify(capsys, "--recovered")
    assert code == 0, _failing(recovered)
    assert recovered["status"] == "HOLDS"


def test_traffic_back_in_the_az_fails_the_hypothesis_naming_the_check(
    world: World, env: Path, session: boto3.Session, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["evacuate", "--az", AZ, "--reason", "game day", "--yes"]) == 0
    # someone cancels azevac's shift and puts the weight back by hand
    for shift in world.fake.shifts(status="ACTIVE"):
        session.client("arc-zonal-shift").cancel_zonal_shift(zonalShiftId=shift["zonalShiftId"])
    record = world.set_identifiers[AZ]
    session.client("route53").change_resource_record_sets(
        HostedZoneId=world.zone_id,
        ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": {
            "Name": world.record_name, "Type": "A", "SetIdentifier": record, "Weight": 100,
            "TTL": 60, "ResourceRecords": [{"Value": "10.0.0.1"}]}}]},
    )  # fmt: skip

    code, answer = _verify(capsys)
    human = cli.main(["verify", "--az", AZ])
    text = capsys.readouterr().out

    assert code == 1 and human == 1
    assert answer["status"] == "FAILS"
    failing = _failing(answer)
    assert any(world.load_balancer_arn in name for name in failing), failing
    assert any("route53_weight" in name for name in failing), failing
    assert "FAIL  zonal_shift" in text and "failing check(s)" in text


def test_a_resource_not_restored_fails_the_recovered_hypothesis(
    world: World, env: Path, session: boto3.Session, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["evacuate", "--az", AZ, "--reason", "game day", "--yes"]) == 0
    assert cli.main(["recover", "--az", AZ, "--reason", "game day over"]) == 0
    session.client("autoscaling").suspend_processes(
        AutoScalingGroupName="checkout-web", ScalingProcesses=["AZRebalance"]
    )  # left behind by hand

    code, answer = _verify(capsys, "--recovered")

    assert code == 1
    assert any("checkout-web" in name for name in _failing(answer)), answer["checks"]


def test_the_manual_function_answers_verify_as_the_runbook_runs_it(
    world: World, session: boto3.Session, env: Path
) -> None:
    runtime.install(Runtime(Settings(config_reference=str(env), table=TABLE), session))
    try:
        manual.handler({"action": "evacuate", "az": AZ, "reason": "x"}, FakeLambdaContext())
        answer = manual.handler({"action": "verify", "az": AZ}, FakeLambdaContext())
    finally:
        runtime.install(None)
    assert answer["status"] == "HOLDS", _failing(answer)


def test_verify_without_an_evacuation_is_a_clear_error(
    world: World, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["verify", "--az", AZ]) == 2
    assert "no active evacuation to verify" in capsys.readouterr().err
