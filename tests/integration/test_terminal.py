"""What a person sees: `azevac` in a real pseudo-terminal (pexpect), 100 columns, colour off and
on, against `azevac sandbox` started as an on-call engineer would (its own process, its own
endpoint). Plan, a question and a refusal, evacuate, status and recover, each read as text on
the screen and checked against AWS as the sandbox reports it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pexpect
import pytest
from jsonschema import Draft202012Validator

from evacuation import schemas
from evacuation.terminal.sandbox import send

COLUMNS = 100
COLOUR_SGR = re.compile(r"\x1b\[(?:[0-9]+;)*(?:3[0-8]|9[0-7])(?:;[0-9]+)*m")
"""A foreground colour (NO_COLOR still allows bold and dim, as its convention says)."""
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
QUIET = "use1-az1"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[dict[str, str]]:
    """`azevac sandbox` in its own process; the environment it printed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "AZEVAC_"))}
    process = subprocess.Popen(
        [sys.executable, "-m", "evacuation.cli", "sandbox", "--json"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = json.loads(process.stdout.readline())
        schema = schemas.cli_output()
        Draft202012Validator({"$ref": "#/$defs/sandbox", "$defs": schema["$defs"]}).validate(first)
        yield {**env, **first["env"], "COLUMNS": str(COLUMNS), "LINES": "50"}
    finally:
        process.terminate()  # SIGTERM: the sandbox stops and says so
        _, err = process.communicate(timeout=30)
        assert process.returncode == 0, err
        assert "azevac sandbox: stopped" in err


def screen(
    env: dict[str, str], colour: bool, *args: str, answer: str | None = None
) -> tuple[int, str]:
    """Run `azevac *args` in a pseudo-terminal of 100 columns; (exit code, what it printed)."""
    env = {**env, "TERM": "xterm-256color"}
    if colour:
        env.pop("NO_COLOR", None)
    else:
        env["NO_COLOR"] = "1"
    child = pexpect.spawn(
        sys.executable,
        ["-m", "evacuation.cli", *args],
        env=env,
        dimensions=(50, COLUMNS),
        encoding="utf-8",
        timeout=120,
    )
    seen = ""
    if answer is not None:
        child.expect("Type yes to go ahead: ")
        seen = child.before + child.after
        child.sendline(answer)
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus, seen + child.before


def text_of(raw: str) -> str:
    """What stays on the screen: escapes dropped, a line redrawn after a carriage return (the
    live progress line) shown as its last drawing."""
    lines = ANSI.sub("", raw).split("\n")
    return "\n".join(line.rstrip("\r").rsplit("\r", 1)[-1] for line in lines)


def assert_fits(raw: str) -> None:
    for line in text_of(raw).splitlines():
        assert len(line) <= COLUMNS, line


def state(env: dict[str, str]) -> dict[str, Any]:
    answer = send(env["AWS_ENDPOINT_URL"], "state")
    return dict(json.loads(answer["ok"]))


@pytest.mark.parametrize(
    ("colour", "impaired"), [(False, "use1-az2"), (True, "use1-az6")], ids=["no-colour", "colour"]
)
def test_a_rehearsed_incident_as_a_person_sees_it(
    sandbox: dict[str, str], tmp_path: Path, colour: bool, impaired: str
) -> None:
    env = sandbox

    def check_colour(raw: str) -> None:
        found = COLOUR_SGR.search(raw)
        assert bool(found) is colour, "colour escapes " + ("missing" if colour else repr(found))

    # plan: every AZ's alarm, short names, subnets with their AZ, within 100 columns
    code, raw = screen(env, colour, "plan", "--az", impaired)
    out = text_of(raw)
    assert code == 0, out
    assert f"plan {impaired} · PLANNED" in out
    assert re.search(rf"alarms: .*{impaired} OK", out)
    assert "alb checkout-alb" in out and f"({impaired})" in out and "arn:aws" not in out
    assert_fits(raw)
    check_colour(raw)

    # the gray failure; evacuating the *other*, quiet AZ asks, and "no" changes nothing
    send(env["AWS_ENDPOINT_URL"], "alarm", impaired)
    before = state(env)
    code, raw = screen(env, colour, "evacuate", "--az", QUIET, answer="no")
    out = text_of(raw)
    assert code == 2, out
    assert f"{impaired} looks impaired" in " ".join(out.split())
    assert "not confirmed" in out
    assert state(env)["weights"] == before["weights"]

    # a refusal: one line per reason, no table of planned steps
    config = json.loads(Path(env["AZEVAC_CONFIG"]).read_text(encoding="utf-8"))
    config["safety"] = {"min_healthy_azs": 3}
    strict = tmp_path / "strict.json"
    strict.write_text(json.dumps(config), encoding="utf-8")
    code, raw = screen(env, colour, "evacuate", "--az", impaired, "--config", str(strict))
    out = text_of(raw)
    assert code == 2, out
    assert "REFUSED" in out and "refused, nothing changed:" in out
    assert re.search(r"^  • .*min_healthy_azs", out, flags=re.MULTILINE)
    assert not re.search(r"^planned ", out, flags=re.MULTILINE)
    assert_fits(raw)

    # evacuate the impaired AZ: no question, traffic out, read back from the sandbox
    code, raw = screen(env, colour, "evacuate", "--az", impaired, "--reason", "[INC-7] rehearsal")
    out = text_of(raw)
    assert code == 0, out
    assert f"evacuate {impaired} · EVACUATED" in out
    assert f"checkout-{impaired}: " in out and "→ 0" in out
    assert state(env)["weights"][f"checkout-{impaired}"] == 0
    assert_fits(raw)
    check_colour(raw)

    # status, then status --az: every step, the shift's expiry and time left
    code, raw = screen(env, colour, "status")
    out = text_of(raw)
    assert code == 0 and f"{impaired} EVACUATED (AZ held)" in out and "[INC-7] rehearsal" in out
    code, raw = screen(env, colour, "status", "--az", impaired)
    out = text_of(raw)
    assert code == 0, out
    assert re.search(r"expires \S+ \S+Z \(5h 5\dm left\)", out), out
    assert "started    " in out and " ago)" in out
    assert_fits(raw)

    # recover: capacity first, then traffic; the sandbox is as it was
    code, raw = screen(env, colour, "recover", "--az", impaired, "--reason", "rehearsal over")
    out = text_of(raw)
    assert code == 0, out
    assert f"recover {impaired} · RECOVERED" in out
    assert out.index("control plane") < out.index("data plane")
    assert state(env)["weights"] == before["weights"]
    assert_fits(raw)
    check_colour(raw)
    send(env["AWS_ENDPOINT_URL"], "clear")
