"""Every command's --json output validates against the versioned schema in the package
(evacuation/schemas/cli-output.schema.json), so scripts and chatops bots can rely on it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from jsonschema import Draft202012Validator

from evacuation import cli, schemas
from evacuation.emulator.table import create_state_table
from evacuation.emulator.world import World
from tests.support.alarm_events import set_alarm

AZ = "use1-az1"
SCHEMA = schemas.cli_output()


def validator(definition: str) -> Draft202012Validator:
    """The validator of one command's shape (`$defs/<definition>`), with the whole schema's
    `$defs` in reach for its references."""
    return Draft202012Validator(
        {"$ref": f"#/$defs/{definition}", "$defs": SCHEMA["$defs"]},
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def check(definition: str, document: dict[str, Any]) -> None:
    errors = sorted(validator(definition).iter_errors(document), key=str)
    assert errors == [], "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])
    assert Draft202012Validator(SCHEMA).is_valid(document)  # the top level accepts it too


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


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    cli.main([*argv, "--json"])
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert document["schema_version"] == SCHEMA["version"]
    return document


def test_the_schema_is_a_valid_versioned_json_schema() -> None:
    Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["version"] == cli.SCHEMA_VERSION
    assert SCHEMA["$id"].endswith(f"/v{SCHEMA['version']}.json")


def test_every_command_json_follows_the_schema(
    world: World, session: boto3.Session, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    set_alarm(session, "checkout-use1-az2-isolated-impact")  # plan and evacuate warn
    check("result", run_json(capsys, "plan", "--az", AZ))
    check("result", run_json(capsys, "evacuate", "--az", AZ, "--yes", "--reason", "[INC-1]"))
    check("status", run_json(capsys, "status"))
    check("status_detail", run_json(capsys, "status", "--az", AZ))
    check("result", run_json(capsys, "recover", "--az", AZ, "--dry-run"))
    check("reconcile", run_json(capsys, "reconcile"))
    check("result", run_json(capsys, "recover", "--az", AZ))
    check("status_detail", run_json(capsys, "status", "--az", "use1-az6"))  # none recorded
    check("result", run_json(capsys, "evacuate", "--az", "use1-az2", "--reason", "x"))
    check("result", run_json(capsys, "abandon", "--az", "use1-az2", "--reason", "gone"))
    config = json.loads(env.read_text())
    config["safety"] = {"min_healthy_azs": 3}
    env.write_text(json.dumps(config))
    refused = run_json(capsys, "evacuate", "--az", AZ, "--yes")
    assert refused["status"] == "REFUSED"
    check("result", refused)


def test_a_document_that_drifted_from_the_schema_is_caught() -> None:
    # The schema is strict where it matters: an unknown key or status is a finding
    with pytest.raises(AssertionError):
        check("status", {"workload": "w", "status": "OK", "evacuations": [], "extra": 1})


def test_the_drill_json_follows_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["drill", "--scenario", "duplicate", "--json"]) == 0
    check("drill", json.loads(capsys.readouterr().out))
