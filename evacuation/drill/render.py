"""The drill in a terminal: live progress while it runs, then timeline, checks and verdict."""

from __future__ import annotations

import threading
from datetime import datetime

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from evacuation.drill.checks import short
from evacuation.drill.lab import Invocation, StepEvent
from evacuation.drill.report import DrillReport, ScenarioResult, TimelineEntry
from evacuation.model import Outcome
from evacuation.terminal.render import OUTCOME_STYLE as STEP_STYLE

VERDICT_STYLE = {"PASS": "bold green", "FAIL": "bold red"}
OUTCOME_STYLE = {
    **STEP_STYLE,
    "interrupted": "bold magenta",
    "verified": "dim green",
    "applied, then died": "bold magenta",
}
BAR_WIDTH = 24
"""The Gantt's width at most; it narrows so that the whole table fits the terminal."""
FIXED_COLUMNS = 72
"""What the timeline's other columns take at most, borders included."""


class ConsoleNarrator:
    """Prints each step as the controller records it (from its worker threads), then the rest."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._t0: datetime | None = None
        self._lock = threading.Lock()

    def begin(self, result: ScenarioResult) -> None:
        self._t0 = None
        self.console.rule(f"[bold]{result.name}[/] · {escape(result.title)}")
        self.console.print(f"[bold]Hypothesis:[/] {escape(result.hypothesis)}\n")

    def zero(self, t0: datetime) -> None:
        self._t0 = t0

    def say(self, text: str) -> None:
        self._print(f"{self._offset(None)}  {escape(text)}")

    def step(self, event: StepEvent) -> None:
        record = event.record
        if record.outcome is Outcome.IN_PROGRESS:
            mark, detail = "[blue]▶[/]", "[blue]started[/]"
        else:
            style = OUTCOME_STYLE.get(record.outcome.value, "")
            took = ""
            if record.outcome is not Outcome.REVERTED and record.started_at and record.finished_at:
                took = f" in {_ms((record.finished_at - record.started_at).total_seconds())}"
            mark = "[red]✗[/]" if record.outcome is Outcome.FAILED else "[green]✓[/]"
            note = record.error or ""
            detail = f"[{style}]{record.outcome.value}[/]{took}" + (
                f" [red]{escape(note[:80])}[/]" if note else ""
            )
        self._print(
            f"{self._offset(event.at)}    {mark} {record.phase.value:<13} "
            f"{record.key.kind.value:<14} {escape(short(record.key.resource)):<32} {detail}"
        )

    def answer(self, invocation: Invocation) -> None:
        at = self._offset(invocation.finished)
        if invocation.crashed:
            self._print(
                f"{at}  [bold magenta]✝ the invocation died:[/] {escape(invocation.crashed)}"
            )
            return
        answer = invocation.answer or {}
        status = str(answer.get("status"))
        parts = [f"[bold]{escape(status)}[/]"]
        if answer.get("evacuation_id"):
            parts.append(f"evacuation {escape(str(answer['evacuation_id']))}")
        if answer.get("data_plane_seconds") is not None and status != "RECOVERED":
            # The controller's own figure: from its start, after the handler's start-up.
            parts.append(f"controller's data plane {_ms(answer['data_plane_seconds'])}")
        if answer.get("total_seconds") is not None:
            parts.append(f"done in {_ms(answer['total_seconds'])}")
        if answer.get("retries"):
            parts.append(f"{answer['retries']} retries")
        if answer.get("reason"):
            parts.append(f"[dim]{escape(str(answer['reason'])[:160])}[/]")
        self._print(f"{at}  ← {'  '.join(parts)}")

    def end(self, result: ScenarioResult) -> None:
        self.console.print()
        if result.timeline:
            self.console.print(timeline_table(result.timeline, self.console.width))
            self.console.print(Text(_invocations_line(result), "dim"))
            self.console.print(_timing_line(result))
        if result.checks:
            self.console.print(checks_table(result))
        if result.notifications:
            self.console.print("[bold]What the on-call received (SNS → SQS):[/]")
            for note in result.notifications:
                self.console.print(f"  • {escape(note['subject'])}")
        if result.error:
            self.console.print(f"[bold red]The drill itself broke:[/] {escape(result.error)}")
        style = VERDICT_STYLE[result.verdict]
        passed = sum(c.passed for c in result.checks)
        self.console.print(
            f"\n[{style}]{result.verdict}[/]  {result.name}: {passed}/{len(result.checks)} checks "
            f"passed in {result.seconds:.1f} s\n"
        )

    def _offset(self, at: datetime | None) -> str:
        if self._t0 is None:
            return "[dim]        [/]"
        seconds = ((at or datetime.now(self._t0.tzinfo)) - self._t0).total_seconds()
        return f"[dim]{seconds:+7.3f}s[/]"

    def _print(self, text: str) -> None:
        with self._lock:
            self.console.print(text, highlight=False, overflow="ellipsis", no_wrap=True)


class SilentNarrator:
    """For --json: nothing on the terminal while the drill runs."""

    def begin(self, result: ScenarioResult) -> None:
        return None

    def zero(self, t0: datetime) -> None:
        return None

    def say(self, text: str) -> None:
        return None

    def step(self, event: StepEvent) -> None:
        return None

    def answer(self, invocation: Invocation) -> None:
        return None

    def end(self, result: ScenarioResult) -> None:
        return None


def timeline_table(timeline: list[TimelineEntry], width: int = 100) -> Table:
    """One row per step: when it started after the alarm, how long it took, and a bar; the
    whole table fits `width` columns (the bar narrows, never the bar is cut)."""
    span = max((e.end for e in timeline), default=0.0) or 1.0
    bar_width = max(min(BAR_WIDTH, width - FIXED_COLUMNS), 8)
    table = Table(title="Timeline (seconds after the alarm fired)", title_justify="left")
    table.add_column("invocation", overflow="fold", max_width=12)
    table.add_column("step", overflow="fold", max_width=14)
    table.add_column("resource", overflow="fold", max_width=16)
    table.add_column("start", justify="right", no_wrap=True)
    table.add_column("took", justify="right", no_wrap=True)
    table.add_column("outcome", overflow="fold", max_width=11)
    table.add_column(f"0 → {span:.2f} s", no_wrap=True, min_width=bar_width)
    for entry in timeline:
        style = OUTCOME_STYLE.get(entry.outcome, "")
        table.add_row(
            Text(entry.invocation),
            Text(entry.kind),
            Text(short(entry.resource)),
            f"{entry.start:.3f}",
            _ms(entry.duration),
            Text(entry.outcome, style),
            _bar(entry, span, style, bar_width),
        )
    return table


def _bar(entry: TimelineEntry, span: float, style: str, width: int = BAR_WIDTH) -> Text:
    start = min(int(entry.start / span * width), width - 1)
    length = max(round(entry.duration / span * width), 1)
    length = min(length, width - start)
    return Text(" " * start + "█" * length + " " * (width - start - length), style=style)


def _invocations_line(result: ScenarioResult) -> str:
    return "invocations: " + "; ".join(
        f"{i['invocation']} {i['start_seconds']:.3f}-{i['end_seconds']:.3f} s"
        + (f" {i['status']}" if i.get("status") else "")
        for i in result.invocations
    )


def _timing_line(result: ScenarioResult) -> Text:
    """The timing facts, every figure with what it is measured from."""
    facts = result.facts
    line = Text()
    if facts.get("alarm_to_traffic_moved_seconds") is not None:
        line.append(
            f"data plane done {facts['alarm_to_traffic_moved_seconds']:.3f} s after the alarm",
            "bold",
        )
        started = facts.get("evacuating_invocation_started_seconds")
        if started is not None and facts.get("data_plane_seconds") is not None:
            line.append(
                f" (its invocation started at {started:.3f} s; the controller, from its own start "
                f"after the handler's start-up, reports {facts['data_plane_seconds']:.3f} s)"
            )
    if facts.get("alarm_to_evacuated_seconds") is not None:
        line.append(f"; last evacuation step done at {facts['alarm_to_evacuated_seconds']:.3f} s")
    if facts.get("retries"):
        line.append(f"; {facts['retries']} retries")
    return line


def checks_table(result: ScenarioResult) -> Table:
    table = Table(title="Checks (read back from AWS)", title_justify="left")
    table.add_column("", width=1)
    table.add_column("check", overflow="fold")
    table.add_column("found", overflow="fold")
    for check in result.checks:
        mark = "[green]✓[/]" if check.passed else "[bold red]✗[/]"
        found = escape(check.found)
        table.add_row(mark, escape(check.name), found if check.passed else f"[red]{found}[/]")
    return table


def summary_table(report: DrillReport) -> Table:
    table = Table(title=f"Drill: {report.verdict} in {report.seconds:.1f} s", title_justify="left")
    for column in ("scenario", "verdict", "checks", "data plane done", "retries", "seconds"):
        table.add_column(column)
    for result in report.scenarios:
        moved = result.facts.get("alarm_to_traffic_moved_seconds")
        table.add_row(
            result.name,
            f"[{VERDICT_STYLE[result.verdict]}]{result.verdict}[/]",
            f"{sum(c.passed for c in result.checks)}/{len(result.checks)}",
            f"{moved:.3f} s" if moved is not None else "-",
            str(result.facts.get("retries") or 0),
            f"{result.seconds:.1f}",
        )
    return table


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"
