"""The azevac CLI on the embedded AWS: the same engine, human or JSON output, honest exit codes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from evacuation import cli
from evacuation.emulator.table import create_state_table
from evacuation.emulator.world import World, snapshot
from tests.support.faults import Fault


@pytest.fixture
def env(
    world: World, session: boto3.Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    config = tmp_path / "azevac.json"
    config.write_text(json.dumps(world.config()))
    monkeypatch.setenv("AZEVAC_CONFIG", str(config))
    create_state_table(session.client("dynamodb"), "azevac-state")
    monkeypatch.setenv("AZEVAC_TABLE", "azevac-state")
    monkeypatch.setattr(cli, "session_factory", lambda: session)
    yield config


def test_plan_prints_the_steps_and_changes_nothing(
    world: World, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    original = snapshot(world)
    assert cli.main(["plan", "--az", "us-east-1b"]) == 0
    out = capsys.readouterr().out
    assert "plan use1-az1 · PLANNED" in out
    assert "zonal shift" in out and "asg subnets" in out
    assert snapshot(world) == original


def test_evacuate_json_is_the_manual_handlers_answer(
    world: World, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["evacuate", "--az", "use1-az1", "--reason", "drill", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["status"] == "EVACUATED" and answer["az_id"] == "use1-az1"
    assert snapshot(world)["weights"]["checkout-use1-az1"] == 0


def test_refusal_and_bad_input_exit_non_zero(
    world: World, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["evacuate", "--az", "eu-west-1a"]) == 2
    assert "not in this region" in capsys.readouterr().err
    config = json.loads(env.read_text())
    config["safety"] = {"min_healthy_azs": 3}
    env.write_text(json.dumps(config))
    assert cli.main(["evacuate", "--az", "use1-az1"]) == 2
    assert "min_healthy_azs" in capsys.readouterr().out


def test_a_failed_step_exits_one(
    world: World, env: Path, faults, capsys: pytest.CaptureFixture[str]
) -> None:
    faults.add("route53", "ChangeResourceRecordSets", Fault.ACCESS_DENIED, *range(1, 10))
    assert cli.main(["evacuate", "--az", "use1-az1"]) == 1
    assert "AccessDenied" in capsys.readouterr().out


def test_recover_and_status(world: World, env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    original = snapshot(world)
    cli.main(["evacuate", "--az", "use1-az1"])
    assert cli.main(["recover", "--az", "use1-az1"]) == 0
    assert snapshot(world) == original
    capsys.readouterr()
    assert cli.main(["status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["evacuations"][0]["status"] == "RECOVERED"


def test_mutating_without_a_state_table_is_refused(
    world: World, env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AZEVAC_TABLE")
    original = snapshot(world)
    assert cli.main(["evacuate", "--az", "use1-az1"]) == 2
    assert "needs the state table" in capsys.readouterr().err
    assert snapshot(world) == original
    assert cli.main(["plan", "--az", "use1-az1"]) == 0  # reading needs no table
