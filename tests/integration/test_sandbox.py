"""`azevac sandbox`: the tests' embedded AWS in its own process, pointed at by the environment it
prints, with the drill's faults on command: throttling (server-side, so it reaches a CLI in
another process), an alarm in ALARM, an AWS autoshift; and `clear`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from evacuation.terminal.sandbox import send


@pytest.fixture(scope="module")
def sandbox() -> Iterator[dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "AZEVAC_"))}
    process = subprocess.Popen(
        [sys.executable, "-m", "evacuation.cli", "sandbox", "--json"],
        stdin=subprocess.DEVNULL,  # no prompt: it runs on until stopped
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert process.stdout is not None
        yield {**env, **json.loads(process.stdout.readline())["env"]}
    finally:
        process.terminate()
        process.communicate(timeout=30)


def azevac(env: dict[str, str], *args: str) -> tuple[int, dict[str, Any], str]:
    done = subprocess.run(
        [sys.executable, "-m", "evacuation.cli", *args, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    return done.returncode, json.loads(done.stdout) if done.stdout else {}, done.stderr


def fault(env: dict[str, str], name: str, az: str | None = None, rate: float = 0.3) -> str:
    answer = send(env["AWS_ENDPOINT_URL"], name, az, rate)
    assert "ok" in answer, answer
    return str(answer["ok"])


def test_the_environment_it_prints_points_azevac_at_it(sandbox: dict[str, str]) -> None:
    assert sandbox["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    code, body, err = azevac(sandbox, "status")
    assert code == 0, err
    assert body["workload"] == "checkout" and body["evacuations"] == []


def test_throttling_on_command_is_retried_through(sandbox: dict[str, str]) -> None:
    fault(sandbox, "throttling", rate=0.5)
    try:
        code, body, err = azevac(sandbox, "evacuate", "--az", "use1-az1", "--reason", "drill")
        injected = json.loads(fault(sandbox, "state"))["injected"]
    finally:
        fault(sandbox, "clear")
    assert code == 0, err
    assert body["status"] == "EVACUATED" and body["retries"] > 0
    assert sum(injected.values()) > 0
    code, body, err = azevac(sandbox, "recover", "--az", "use1-az1", "--reason", "drill over")
    assert code == 0 and body["status"] == "RECOVERED", err


def test_an_alarm_and_an_aws_autoshift_on_command(sandbox: dict[str, str]) -> None:
    fault(sandbox, "alarm", "use1-az2")
    fault(sandbox, "autoshift", "use1-az2")
    try:
        code, body, err = azevac(sandbox, "plan", "--az", "use1-az6")
        assert code == 2, err
        assert body["status"] == "REFUSED"
        assert any("autoshift" in r for r in body["refusals"])
        states = {a["az_id"]: a["state"] for a in body["alarm_overview"]["alarms"]}
        assert states["use1-az2"] == "ALARM"
    finally:
        assert "autoshifts ended" in fault(sandbox, "clear")
    code, body, err = azevac(sandbox, "plan", "--az", "use1-az6")
    assert code == 0 and body["status"] == "PLANNED", err


def test_a_bad_fault_is_answered_not_crashed(sandbox: dict[str, str]) -> None:
    answer = send(sandbox["AWS_ENDPOINT_URL"], "alarm", "use1-az9")
    assert "no alarm for 'use1-az9'" in answer["error"]
