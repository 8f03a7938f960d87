"""Issue 14: the CLI an on-call engineer can trust at 3 a.m., on the embedded AWS.

Each test here failed before its fix: the alarm warning for manual runs, refusing state commands
without a table, lazy clients and the config's region, one-line environment errors, Rich markup
in user text, the 100-column tables, `status --az`, `recover --dry-run` and `reconcile`.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from evacuation import cli, runtime
from evacuation.emulator.table import create_state_table
from evacuation.emulator.world import World, snapshot
from evacuation.emulator.zonal_shift import ManualClock, ZonalShiftFake
from evacuation.runtime import Runtime
from evacuation.settings import Settings
from handlers import manual
from tests.support.alarm_events import set_alarm
from tests.support.lambda_context import FakeLambdaContext

AZ = "use1-az1"
OTHER_ALARM = "checkout-use1-az2-isolated-impact"
EARLIER = timedelta(hours=5, minutes=30)


@pytest.fixture
def clock() -> ManualClock:
    """ARC's clock, 5h30 behind the wall clock: a 6 h shift started now expires in 30 min, so
    `status` has a real time left and `reconcile` a shift to extend (after `catch_up`)."""
    return ManualClock(datetime.now(UTC) - EARLIER)


def catch_up(clock: ManualClock) -> None:
    clock.advance(datetime.now(UTC) - clock())


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
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # not a terminal: nobody to ask
    yield config


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code, out, _ = run(capsys, *argv, "--json")
    return code, json.loads(out)


# -- another AZ's alarm in ALARM --------------------------------------------------------------


def test_plan_shows_every_az_alarm_state_and_names_the_az_that_looks_impaired(
    world: World, session: boto3.Session, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given use1-az2's alarm in ALARM, use1-az1's OK
    set_alarm(session, OTHER_ALARM)
    # When the operator plans use1-az1
    code, out, _ = run(capsys, "plan", "--az", AZ)
    # Then every AZ's alarm state is shown, and the warning names use1-az2
    assert code == 0
    assert "alarms: use1-az1 OK · use1-az2 ALARM · use1-az6 OK" in out
    assert "use1-az2 looks impaired, not use1-az1" in " ".join(out.split())


def test_evacuating_a_quiet_az_while_another_alarms_needs_yes(
    world: World, session: boto3.Session, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    set_alarm(session, OTHER_ALARM)
    original = snapshot(world)
    # When nobody can confirm (stdin is not a terminal) and there is no --yes
    code, _, err = run(capsys, "evacuate", "--az", AZ, "--reason", "tickets from az1")
    # Then nothing changes, and the operator is told why and what to pass
    assert code == cli.EXIT_REFUSED
    assert "use1-az2 looks impaired" in err and "--yes" in err
    assert snapshot(world) == original
    # With --yes it goes ahead, and the answer still carries the warning
    code, body = run_json(capsys, "evacuate", "--az", AZ, "--yes")
    assert code == 0 and body["status"] == "EVACUATED"
    assert snapshot(world)["weights"]["checkout-use1-az1"] == 0
    states = {a["az_id"]: a["state"] for a in body["alarm_overview"]["alarms"]}
    assert states == {"use1-az1": "OK", "use1-az2": "ALARM", "use1-az6": "OK"}
    assert any("use1-az2 looks impaired" in w for w in body["warnings"])


def test_a_typed_yes_confirms_and_anything_else_does_not(
    world: World,
    session: boto3.Session,
    env: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    set_alarm(session, OTHER_ALARM)

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stdin", Tty("no\n"))
    code, out, err = run(capsys, "evacuate", "--az", AZ)
    assert code == cli.EXIT_REFUSED and "not confirmed" in err
    assert snapshot(world)["weights"]["checkout-use1-az1"] == 100
    monkeypatch.setattr("sys.stdin", Tty("yes\n"))
    code, out, _ = run(capsys, "evacuate", "--az", AZ)
    assert code == 0 and "anyway?" in out
    assert snapshot(world)["weights"]["checkout-use1-az1"] == 0


def test_the_manual_handler_answer_carries_the_same_warning(
    world: World, session: boto3.Session
) -> None:
    set_alarm(session, OTHER_ALARM)
    rt = Runtime(Settings(config_reference=json.dumps(world.config()), table=None), session)
    runtime.install(rt)
    try:
        body = manual.handler({"action": "plan", "az": AZ}, FakeLambdaContext())
    finally:
        runtime.install(None)
    assert body["alarm_overview"]["alarms"][1] == {
        "alarm": OTHER_ALARM,
        "az_id": "use1-az2",
        "state": "ALARM",
    }
    assert any("use1-az2 looks impaired" in w for w in body["warnings"])


# -- the state table --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["status"],
        ["status", "--az", AZ],
        ["recover", "--az", AZ],
        ["recover", "--az", AZ, "--dry-run"],
        ["abandon", "--az", AZ, "--reason", "x"],
        ["evacuate", "--az", AZ],
        ["reconcile"],
    ],
)
def test_state_commands_refuse_without_a_table(
    world: World,
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
) -> None:
    # Before: `status` printed an empty table and exited 0 ("nothing is evacuated")
    monkeypatch.delenv("AZEVAC_TABLE")
    code, out, err = run(capsys, *argv)
    assert code == cli.EXIT_REFUSED
    assert "needs the state table (AZEVAC_TABLE or --table)" in err
    assert out == ""


def test_plan_runs_without_a_table_and_says_what_it_cannot_count(
    world: World, env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AZEVAC_TABLE")
    code, body = run_json(capsys, "plan", "--az", AZ)
    assert code == 0 and body["status"] == "PLANNED"
    assert any("no state table" in w for w in body["warnings"])


# -- clients, region, environment -------------------------------------------------------------


def test_a_file_config_needs_no_ssm_and_takes_its_region_from_the_config(
    world: World,
    env: Path,
    fake: ZonalShiftFake,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given no region in the environment at all (the config names us-east-1)
    for key in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(key, raising=False)
    regionless = boto3.Session()
    assert regionless.region_name is None
    fake.install(regionless)
    monkeypatch.setattr(cli, "session_factory", lambda: regionless)
    # When planning: before, an SSM client was built and the CLI died with NoRegionError
    code, body = run_json(capsys, "plan", "--az", AZ)
    assert code == 0, body
    assert body["status"] == "PLANNED"


def test_a_missing_region_is_one_line_and_exit_2(
    world: World, env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = json.loads(env.read_text())
    del config["region"]
    env.write_text(json.dumps(config))
    for key in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr(cli, "session_factory", boto3.Session)
    code, _, err = run(capsys, "status")
    assert code == cli.EXIT_REFUSED
    assert len(err.strip().splitlines()) == 1, err
    assert "region" in err and "Traceback" not in err


def test_an_unknown_profile_is_one_line_and_exit_2(
    world: World, env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    monkeypatch.setattr(cli, "session_factory", lambda: None)
    code, _, err = run(capsys, "status")
    assert code == cli.EXIT_REFUSED
    assert len(err.strip().splitlines()) == 1, err
    assert "no-such-profile" in err


# -- Rich markup ------------------------------------------------------------------------------


def test_reasons_and_errors_print_as_typed_never_as_markup(
    world: World, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reason = "[INC-1234] 5xx in az1 [/INC-1234] [bold]"
    # Before: this reason made every later `status` crash with a MarkupError
    assert run(capsys, "evacuate", "--az", AZ, "--reason", reason)[0] == 0
    code, out, _ = run(capsys, "status", "--wide")
    assert code == 0 and reason in out
    code, out, _ = run(capsys, "status", "--az", AZ)
    assert code == 0 and reason in out
    # An error message keeps its square brackets
    code, _, err = run(capsys, "plan", "--az", "[az]")
    assert code == cli.EXIT_REFUSED and "'[az]'" in err


# -- tables -----------------------------------------------------------------------------------


def lines_of(out: str) -> list[str]:
    return out.rstrip("\n").splitlines()


def test_plan_fits_100_columns_with_short_names_and_subnet_azs(
    world: World, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "plan", "--az", AZ)
    assert code == 0
    assert max(len(line) for line in lines_of(out)) <= 100
    assert "alb checkout-alb" in out and "arn:aws" not in out
    assert f"- {world.subnets[AZ]} ({AZ})" in out
    assert "checkout-use1-az1: 100 → 0" in out
    assert "1 unchanged: asg processes asg checkout-worker" in out
    # --wide: the full ARN, every row
    code, out, _ = run(capsys, "plan", "--az", AZ, "--wide")
    assert world.load_balancer_arn in out
    assert "unchanged    asg processes" in out


def test_a_refusal_is_one_line_per_reason_without_planned_rows(
    world: World, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = json.loads(env.read_text())
    config["safety"] = {"min_healthy_azs": 3}
    env.write_text(json.dumps(config))
    code, out, _ = run(capsys, "evacuate", "--az", AZ)
    assert code == cli.EXIT_REFUSED
    assert "REFUSED" in out and "refused, nothing changed:" in out
    bullets = [line for line in lines_of(out) if line.startswith("  • ")]
    assert len(bullets) >= 1 and "min_healthy_azs" in out
    assert not [line for line in lines_of(out) if line.startswith("planned ")]
    assert "planned steps not started" in out


def test_a_rerun_folds_what_an_earlier_run_applied(
    world: World, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "evacuate", "--az", AZ)
    code, out, _ = run(capsys, "evacuate", "--az", AZ)
    assert code == 0
    assert not [line for line in lines_of(out) if line.startswith("applied ")], out
    assert "2 applied by an earlier run, still in effect" in out


def test_status_az_shows_every_step_shift_expiry_time_left_and_age(
    world: World, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "evacuate", "--az", AZ, "--reason", "drill")
    code, out, _ = run(capsys, "status", "--az", "us-east-1b")  # a zone name resolves too
    assert code == 0
    assert "use1-az1 · EVACUATED (holds the AZ)" in out
    assert "started    " in out and "ago)" in out
    assert "expires " in out and ("29m" in out or "30m" in out) and "left" in out
    rows = [line for line in lines_of(out) if line.startswith(("applied ", "unchanged "))]
    assert len(rows) == 6  # every step, the unchanged one too
    code, body = run_json(capsys, "status", "--az", AZ)
    (shift,) = body["shifts"]
    assert shift["status"] == "ACTIVE" and shift["applied_status"] == "APPLIED"
    expiry = datetime.fromisoformat(shift["expiry_time"])
    assert timedelta(minutes=25) < expiry - datetime.now(UTC) < timedelta(minutes=31)


def test_recover_dry_run_shows_what_would_be_reverted_and_changes_nothing(
    world: World, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "evacuate", "--az", AZ)
    evacuated = snapshot(world)
    code, out, _ = run(capsys, "recover", "--az", AZ, "--dry-run")
    assert code == 0
    assert snapshot(world) == evacuated
    assert "checkout-use1-az1: 0 → 100" in out
    assert f"+ {world.subnets[AZ]} ({AZ})" in out
    assert "resume AZRebalance" in out and "cancel shift" in out
    assert out.index("control plane") < out.index("data plane")  # capacity first (REC-1)
    assert len([line for line in lines_of(out) if line.startswith("would revert ")]) == 5


def test_reconcile_extends_a_shift_near_expiry_like_the_scheduled_function(
    world: World,
    env: Path,
    fake: ZonalShiftFake,
    clock: ManualClock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run(capsys, "evacuate", "--az", AZ)
    (before,) = fake.shifts(status="ACTIVE")
    catch_up(clock)  # ARC's clock reaches now: the shift expires in under an hour
    code, body = run_json(capsys, "reconcile")
    assert code == 0
    assert body["extended_shifts"] == [before["zonalShiftId"]]
    (after,) = fake.shifts(status="ACTIVE")
    assert after["expiryTime"] - datetime.now(UTC) > timedelta(hours=5)
    code, out, _ = run(capsys, "reconcile")
    assert code == 0 and "extended   0 shift(s)" in out


def test_a_refusal_names_resources_by_short_name_within_100_columns(
    world: World, env: Path, fake: ZonalShiftFake, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given AWS autoshifting the load balancer away from use1-az2
    fake.start_autoshift(world.load_balancer_arn, "use1-az2")
    code, out, _ = run(capsys, "evacuate", "--az", "use1-az6", "--yes")
    assert code == cli.EXIT_REFUSED
    assert max(len(line) for line in lines_of(out)) <= 100
    assert "arn:aws" not in out  # an ARN cut across two lines helps nobody
    assert "alb checkout-alb has AWS zonal autoshift away from use1-az2" in " ".join(out.split())
    code, out, _ = run(capsys, "evacuate", "--az", "use1-az6", "--yes", "--wide")
    assert f"{world.load_balancer_arn} has AWS zonal autoshift" in out


def test_abandon_lists_every_change_that_remains(
    world: World, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "evacuate", "--az", AZ)
    code, out, _ = run(capsys, "abandon", "--az", AZ, "--reason", "stack gone")
    assert code == 0 and "ABANDONED" in out
    assert len([line for line in lines_of(out) if line.startswith("applied ")]) == 5
    assert snapshot(world)["weights"]["checkout-use1-az1"] == 0  # nothing changed in AWS
