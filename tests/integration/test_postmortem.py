"""`azevac report` (issue 18 §2): the post-incident report of evacuations made on the emulator
(a normal one, a degraded one, a crashed and resumed one), from the state table alone and
offline from a `status --json` export. No browser here: the page is checked to be well-formed
HTML with every step, the recovery and the notifications in it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import boto3
import pytest

from evacuation import cli, postmortem, runtime
from evacuation.emulator.table import create_state_table
from evacuation.emulator.world import World
from evacuation.runtime import Runtime
from evacuation.settings import Settings
from handlers import manual
from tests.support.faults import Fault, FaultInjector, SimulatedCrash
from tests.support.lambda_context import FakeLambdaContext

AZ = "use1-az1"
TABLE = "azevac-state"
VOID = {"meta", "br", "hr", "img", "input", "link", "line", "rect", "path", "circle"}


class WellFormed(HTMLParser):
    """Every element closed in order (SVG's self-closing ones aside); rows and text collected."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.errors: list[str] = []
        self.step_rows = 0
        self.bars: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "tr" and found.get("class") == "step":
            self.step_rows += 1
        if tag == "rect" and found.get("class") == "bar":
            self.bars.append(found.get("data-outcome") or "")
        if tag not in VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "rect" and dict(attrs).get("class") == "bar":
            self.bars.append(dict(attrs).get("data-outcome") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.open or self.open[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.open[-1:] or 'nothing'}")
            return
        self.open.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> WellFormed:
    checked = WellFormed()
    checked.feed(page)
    checked.close()
    assert page.startswith("<!DOCTYPE html>")
    assert checked.errors == [] and checked.open == [], (checked.errors, checked.open)
    return checked


@pytest.fixture
def deployed(
    world: World, session: boto3.Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """The manual function with a state table and a topic, as deployed; the CLI pointed at it."""
    create_state_table(session.client("dynamodb"), TABLE)
    topic = session.client("sns").create_topic(Name="azevac")["TopicArn"]
    config = tmp_path / "azevac.json"
    config.write_text(json.dumps(world.config()))
    settings = Settings(config_reference=str(config), table=TABLE, topic_arn=topic)
    runtime.install(Runtime(settings, session))
    monkeypatch.setenv("AZEVAC_CONFIG", str(config))
    monkeypatch.setenv("AZEVAC_TABLE", TABLE)
    monkeypatch.setattr(cli, "session_factory", lambda: session)
    yield tmp_path
    runtime.install(None)


def _invoke(action: str, **payload: Any) -> dict[str, Any]:
    answer: dict[str, Any] = manual.handler(
        {"action": action, "az": AZ, "reason": "INC-42 <gray> & 'quotes'", **payload},
        FakeLambdaContext(),
    )
    return answer


def _report(tmp: Path, *args: str) -> str:
    out = tmp / "report.html"
    assert postmortem.main([*args, "--output", str(out)]) == 0
    return out.read_text(encoding="utf-8")


def test_a_normal_evacuation_and_its_recovery_in_one_picture(deployed: Path) -> None:
    evacuated = _invoke("evacuate")
    recovered = _invoke("recover")
    assert evacuated["status"] == "EVACUATED" and recovered["status"] == "RECOVERED"

    page = _report(deployed, "--az", AZ, "--latest")
    html = parse(page)

    text = " ".join(html.text)
    assert evacuated["evacuation_id"] in text and "RECOVERED" in text
    assert "INC-42 <gray> & 'quotes'" in text  # escaped in the page, read back as written
    assert html.step_rows == len(evacuated["steps"])
    for step in evacuated["steps"]:
        assert step["resource"] in text
    ran = [s for s in evacuated["steps"] if s["outcome"] != "unchanged"]
    assert html.bars.count("applied") >= len([s for s in ran if s["outcome"] == "applied"])
    assert "reverted" in html.bars  # the recovery is on the same time axis
    assert "AZs left in service" in text  # the guards weighed
    assert "evacuate:" in text and "recover:" in text  # both notifications, delivered
    assert "NOT delivered" not in text


def test_a_degraded_evacuation_shows_its_failed_step(deployed: Path, faults: FaultInjector) -> None:
    faults.add("autoscaling", "UpdateAutoScalingGroup", Fault.ACCESS_DENIED, *range(1, 20))
    evacuated = _invoke("evacuate")
    assert evacuated["status"] == "DEGRADED", evacuated

    page = _report(deployed, "--evacuation", evacuated["evacuation_id"])
    html = parse(page)

    assert "failed" in html.bars
    assert "AccessDenied" in " ".join(html.text)
    assert "with failures" in " ".join(html.text)  # the page that went out says so


def test_a_crashed_and_resumed_evacuation_from_a_status_export(
    deployed: Path, session: boto3.Session, capsys: pytest.CaptureFixture[str]
) -> None:
    crashes = [SimulatedCrash("after arc-zonal-shift.StartZonalShift")]

    def die_once(**_: Any) -> None:  # the shift was started; the invocation died with it
        if crashes:
            raise crashes.pop()

    session.events.register("after-call.arc-zonal-shift.StartZonalShift", die_once)
    with pytest.raises(SimulatedCrash):
        _invoke("evacuate")
    resumed = _invoke("evacuate")
    assert resumed["status"] == "EVACUATED"
    capsys.readouterr()
    assert cli.main(["status", "--json"]) == 0
    export = deployed / "status.json"
    export.write_text(capsys.readouterr().out)

    offline = _report(deployed, "--from", str(export), "--az", AZ, "--latest")
    online = _report(deployed, "--evacuation", resumed["evacuation_id"])

    assert parse(offline).step_rows == parse(online).step_rows == len(resumed["steps"])
    assert resumed["evacuation_id"] in offline


def test_no_such_evacuation_is_a_clear_error(
    deployed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert postmortem.main(["--evacuation", "ev-nope"]) == 2
    assert "no evacuation ev-nope" in capsys.readouterr().err
    assert postmortem.main(["--from", str(deployed / "missing.json"), "--az", AZ]) == 2
