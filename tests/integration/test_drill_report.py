"""Issue 14: the drill report tells the time right: every invocation at its real start, credit
for a change to the invocation that made it, consistent figures, recovery on the timeline, a
Gantt that fits the terminal, subjects without a doubled status, a bad --report path refused
before the drill runs."""

from __future__ import annotations

import io
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from evacuation.drill import main
from evacuation.drill.render import ConsoleNarrator, timeline_table
from evacuation.drill.report import DIED_AFTER_APPLYING, VERIFIED
from evacuation.drill.scenarios import SCENARIOS, run_scenario

AZ = "use1-az1"


def scenario(capsys: pytest.CaptureFixture[str], name: str, *extra: str) -> dict[str, Any]:
    assert main(["--scenario", name, "--json", *extra]) == 0
    (result,) = json.loads(capsys.readouterr().out)["scenarios"]
    return dict(result)


def test_crash_each_invocation_is_drawn_at_its_own_start_and_credited_with_its_own_changes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = scenario(capsys, "crash")
    starts = {i["invocation"]: i["start_seconds"] for i in result["invocations"]}
    first, second = "alarm #1 (dies)", "alarm #2 (resumes)"
    assert starts[second] > starts[first]
    for entry in result["timeline"]:
        assert entry["start_seconds"] >= starts[entry["invocation"]] - 1e-3, entry
    # The change #1 made before it died is #1's; #2 only found it in effect
    died = [e for e in result["timeline"] if e["outcome"] == DIED_AFTER_APPLYING]
    assert len(died) == 1 and died[0]["invocation"] == first
    (verified,) = [e for e in result["timeline"] if e["outcome"] == VERIFIED]
    assert verified["invocation"] == second
    assert (verified["kind"], verified["resource"]) == (died[0]["kind"], died[0]["resource"])
    assert not [
        e
        for e in result["timeline"]
        if e["invocation"] == second
        and e["outcome"] == "applied"
        and (e["kind"], e["resource"]) == (died[0]["kind"], died[0]["resource"])
    ]


def test_the_timing_figures_agree_with_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    result = scenario(capsys, "basic")
    facts = result["facts"]
    (evacuating,) = [i for i in result["invocations"] if not i["recovery"]]
    moved = facts["alarm_to_traffic_moved_seconds"]
    # The controller's figure counts from its own start, inside the invocation: it fits
    assert evacuating["start_seconds"] + facts["data_plane_seconds"] <= moved + 0.01
    assert moved <= evacuating["end_seconds"]
    assert facts["evacuating_invocation_started_seconds"] == evacuating["start_seconds"]


def test_the_terminal_says_what_each_figure_is_measured_from() -> None:
    out = io.StringIO()
    console = Console(file=out, width=100, force_terminal=False, color_system=None)
    result = run_scenario(SCENARIOS["basic"], AZ, ConsoleNarrator(console))
    text = out.getvalue()
    assert result.verdict == "PASS"
    assert "traffic moved in" not in text  # read as if from the alarm: it is not
    assert "controller's data plane" in text
    assert "after the alarm (its invocation started at" in text
    assert "invocations: alarm " in text and " recover " in text


def test_recovery_steps_are_on_the_html_timeline_with_every_invocation(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    report = tmp_path / "drill.html"
    result = scenario(capsys, "basic", "--report", str(report))
    html = report.read_text(encoding="utf-8")
    reverted = [e for e in result["timeline"] if e["outcome"] == "reverted"]
    assert len(reverted) == 5 and {e["invocation"] for e in reverted} == {"recover"}
    assert html.count("data-outcome='reverted'") == len(reverted)
    for invocation in result["invocations"]:
        assert f"data-invocation='{invocation['invocation']}'" in html
    assert {i["invocation"] for i in result["invocations"]} == {"alarm", "recover"}


def test_the_terminal_gantt_fits_100_columns_unclipped() -> None:
    result = run_scenario(SCENARIOS["crash"], AZ, ConsoleNarrator(Console(file=io.StringIO())))
    out = io.StringIO()
    console = Console(file=out, width=100, color_system=None)
    console.print(timeline_table(result.timeline, console.width))
    lines = out.getvalue().splitlines()
    assert max(len(line) for line in lines) <= 100
    header = next(line for line in lines if "0 → " in line)
    bar_column = header.split("┃")[-2]
    for line in lines:
        if "█" in line:
            cell = line.split("│")[-2]
            assert len(cell) == len(bar_column), line
            assert "…" not in line


def test_a_refusal_notification_names_the_status_once(capsys: pytest.CaptureFixture[str]) -> None:
    result = scenario(capsys, "regional")
    subjects = [n["subject"] for n in result["notifications"]]
    assert subjects and all(s.endswith("REFUSED") for s in subjects), subjects
    assert not [s for s in subjects if re.search(r"REFUSED\W+REFUSED", s)]


@pytest.mark.parametrize("bad", ["/no/such/directory/report.html", "{tmp}"])
def test_a_bad_report_path_fails_before_the_drill(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, bad: str
) -> None:
    began = time.monotonic()
    assert main(["--scenario", "basic", "--report", bad.format(tmp=tmp_path)]) == 2
    captured = capsys.readouterr()
    assert time.monotonic() - began < 2.0  # no drill ran
    assert captured.out == ""
    assert "--report" in captured.err
