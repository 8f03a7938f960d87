"""A self-contained HTML report: no script, no external CSS, fonts or network. The timeline is an
inline SVG, one bar per step on a time axis, coloured by outcome, as in the timeline view of a
fault-injection experiment."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from evacuation.drill.checks import short
from evacuation.drill.report import DrillReport, ScenarioResult, TimelineEntry

COLOURS = {
    "applied": "#2e7d32",
    "reverted": "#2e7d32",
    "unchanged": "#9e9e9e",
    "skipped": "#f9a825",
    "pending": "#0097a7",
    "failed": "#c62828",
    "interrupted": "#8e24aa",
    "applied, then died": "#8e24aa",
    "verified": "#81c784",
    "in_progress": "#1565c0",
    "planned": "#1565c0",
}
LABEL_WIDTH = 330
PLOT_WIDTH = 560
ROW = 22
AXIS = 28
CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#222}
h1{margin-bottom:.2rem} h2{margin-top:2.5rem;border-bottom:1px solid #ddd;padding-bottom:.3rem}
.PASS{color:#fff;background:#2e7d32} .FAIL{color:#fff;background:#c62828}
.badge{padding:.1rem .5rem;border-radius:.3rem;font-weight:600}
table{border-collapse:collapse;margin:.6rem 0} td,th{border:1px solid #ddd;padding:.2rem .5rem;
text-align:left;vertical-align:top} th{background:#f5f5f5} .num{text-align:right}
.ok{color:#2e7d32;font-weight:700} .ko{color:#c62828;font-weight:700}
svg text{font:11px system-ui,sans-serif} .hyp{font-style:italic} pre{white-space:pre-wrap;
font-size:11px;background:#f7f7f7;padding:.5rem;max-height:24rem;overflow:auto}
.legend span{display:inline-block;margin-right:1rem} .legend i{display:inline-block;width:.8rem;
height:.8rem;margin-right:.3rem;vertical-align:middle}
"""


def write_report(report: DrillReport, path: Path) -> None:
    path.write_text(render(report), encoding="utf-8")


def render(report: DrillReport) -> str:
    rows = "".join(
        f"<tr><td><a href='#{escape(s.name)}'>{escape(s.name)}</a></td>"
        f"<td><span class='badge {s.verdict}'>{s.verdict}</span></td>"
        f"<td class='num'>{sum(c.passed for c in s.checks)}/{len(s.checks)}</td>"
        f"<td class='num'>{_seconds(s.facts.get('alarm_to_traffic_moved_seconds'))}</td>"
        f"<td class='num'>{s.seconds:.1f} s</td></tr>"
        for s in report.scenarios
    )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>azevac drill: {report.verdict}</title><style>{CSS}</style></head><body>"
        f"<h1>azevac drill <span class='badge {report.verdict}'>{report.verdict}</span></h1>"
        f"<p>Started {escape(report.started.isoformat(timespec='seconds'))}, "
        f"{report.seconds:.1f} s, on an embedded AWS (moto + the ARC zonal-shift fake).</p>"
        "<table><tr><th>scenario</th><th>verdict</th><th>checks</th>"
        f"<th>data plane done</th><th>took</th></tr>{rows}</table>"
        + "".join(_scenario(s) for s in report.scenarios)
        + "</body></html>\n"
    )


def _scenario(result: ScenarioResult) -> str:
    parts = [
        f"<h2 id='{escape(result.name)}'>{escape(result.name)}: {escape(result.title)} "
        f"<span class='badge {result.verdict}'>{result.verdict}</span></h2>",
        f"<p class='hyp'>Hypothesis: {escape(result.hypothesis)}</p>",
    ]
    if result.error:
        parts.append(f"<p class='ko'>The drill itself broke: {escape(result.error)}</p>")
    if result.panel:
        parts.append(metric_panel_svg(result.panel, result.facts))
    if result.timeline:
        parts += [
            timeline_svg(result.timeline, result.invocations),
            _legend(),
            _timeline_table(result.timeline),
        ]
    facts = "".join(
        f"<tr><th>{escape(k)}</th><td>{escape(json.dumps(v, default=str))}</td></tr>"
        for k, v in result.facts.items()
    )
    parts.append(f"<table>{facts}</table>")
    checks = "".join(
        f"<tr><td class='{'ok' if c.passed else 'ko'}'>{'✓' if c.passed else '✗'}</td>"
        f"<td>{escape(c.name)}</td><td>{escape(c.found)}</td></tr>"
        for c in result.checks
    )
    parts.append(f"<h3>Checks (read back from AWS)</h3><table>{checks}</table>")
    answers = "".join(
        f"<tr><td>{escape(str(a['invocation']))}</td><td>{escape(str(a['status']))}</td>"
        f"<td>{escape(str(a.get('reason') or ''))}</td></tr>"
        for a in result.answers
    )
    parts.append(f"<h3>Handler answers</h3><table>{answers}</table>")
    if result.notifications:
        notes = "".join(
            f"<details><summary>{escape(n['subject'])}</summary><pre>{escape(n['message'])}"
            "</pre></details>"
            for n in result.notifications
        )
        parts.append(f"<h3>What the on-call received</h3>{notes}")
    if result.logs:
        parts.append(
            f"<details><summary>Handler logs ({len(result.logs)} lines)</summary>"
            f"<pre>{escape(chr(10).join(result.logs))}</pre></details>"
        )
    return "".join(parts)


def timeline_svg(
    timeline: list[TimelineEntry], invocations: Sequence[Mapping[str, Any]] = ()
) -> str:
    """One <rect class='bar'> per step: x = start after the alarm, width = duration; a dashed
    <line class='invocation'> where each handler invocation (evacuating or recovering) began."""
    span = _nice(
        max([*(e.end for e in timeline), *(i["end_seconds"] for i in invocations)], default=0.0)
    )
    height = AXIS + ROW * len(timeline) + 8
    width = LABEL_WIDTH + PLOT_WIDTH + 20

    def x(seconds: float) -> float:
        return LABEL_WIDTH + seconds / span * PLOT_WIDTH

    ticks = []
    for i in range(6):
        at = span * i / 5
        ticks.append(
            f"<line x1='{x(at):.1f}' y1='{AXIS - 6}' x2='{x(at):.1f}' y2='{height}' "
            "stroke='#e0e0e0'/>"
            f"<text x='{x(at):.1f}' y='{AXIS - 10}' text-anchor='middle'>{at:.3g} s</text>"
        )
    bars = []
    for row, entry in enumerate(timeline):
        y = AXIS + row * ROW
        colour = COLOURS.get(entry.outcome, "#616161")
        label = f"{entry.invocation} · {entry.kind} {short(entry.resource)}"
        tip = (
            f"{entry.invocation}: {entry.phase} {entry.kind} {entry.resource} — {entry.outcome}, "
            f"start {entry.start:.3f} s, {entry.duration * 1000:.0f} ms"
        )
        bar_width = max(entry.duration / span * PLOT_WIDTH, 2.0)
        bars.append(
            f"<text x='{LABEL_WIDTH - 6}' y='{y + 15}' text-anchor='end'>{escape(label[:56])}"
            "</text>"
            f"<rect class='bar' data-outcome='{escape(entry.outcome)}' x='{x(entry.start):.1f}' "
            f"y='{y + 4}' width='{bar_width:.1f}' height='{ROW - 8}' fill='{colour}' rx='2'>"
            f"<title>{escape(tip)}</title></rect>"
        )
    marks = [
        f"<line class='invocation' data-invocation='{escape(str(i['invocation']))}' "
        f"x1='{x(i['start_seconds']):.1f}' y1='{AXIS - 2}' x2='{x(i['start_seconds']):.1f}' "
        f"y2='{height}' stroke='#1565c0' stroke-dasharray='3 3'>"
        f"<title>{escape(str(i['invocation']))} started at {i['start_seconds']:.3f} s"
        f" ({escape(str(i.get('status')))})</title></line>"
        for i in invocations
    ]
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' role='img' aria-label='step timeline'>"
        + "".join(ticks)
        + "".join(marks)
        + "".join(bars)
        + "</svg>"
    )


LINE_COLOURS = ("#c62828", "#1565c0", "#2e7d32", "#8e24aa")
STATE_COLOURS = {"ALARM": "#c62828", "OK": "#c8e6c9", "INSUFFICIENT_DATA": "#e0e0e0"}


def metric_panel_svg(panel: dict[str, Any], facts: dict[str, Any]) -> str:
    """gray-failure: fault rate per AZ (one line each) and each alarm's state per minute (one band
    each) on one axis of simulated minutes, with the onset, the detection (azevac's steps ran
    then, in the seconds the step timeline below shows) and the operator's recovery."""
    minutes = int(panel["minutes"])
    series: dict[str, list[float | None]] = panel["fault_rate"]
    states: dict[str, list[str]] = panel["alarm_states"]
    top = max([v for vs in series.values() for v in vs if v is not None] + [1.0])
    plot_h, band, left, width = 160, 16, LABEL_WIDTH, PLOT_WIDTH
    height = AXIS + plot_h + band * len(states) + 30

    def x(minute: float) -> float:
        return left + minute / minutes * width

    def y(value: float) -> float:
        return AXIS + plot_h - value / top * plot_h

    out = [
        f"<text x='{left - 6}' y='{AXIS + 10}' text-anchor='end'>"
        f"fault rate % (max {top:.1f})</text>"
    ]
    for i, (az, values) in enumerate(series.items()):
        colour = LINE_COLOURS[i % len(LINE_COLOURS)]
        points = " ".join(
            f"{x(t + 0.5):.1f},{y(v):.1f}" for t, v in enumerate(values) if v is not None
        )
        out.append(
            f"<polyline class='metric' data-az='{escape(az)}' fill='none' stroke='{colour}' "
            f"stroke-width='1.5' points='{points}'><title>{escape(az)}</title></polyline>"
            f"<text x='{left - 6}' y='{AXIS + 28 + 14 * i}' text-anchor='end' fill='{colour}'>"
            f"{escape(az)}</text>"
        )
    cell = width / minutes
    for row, (name, bands) in enumerate(states.items()):
        y0 = AXIS + plot_h + 8 + row * band
        out.append(
            f"<text x='{left - 6}' y='{y0 + 11}' text-anchor='end'>{escape(name[-44:])}</text>"
        )
        for t, state in enumerate(bands):
            fill = STATE_COLOURS.get(state, "#9e9e9e")
            out.append(
                f"<rect class='state' data-state='{state}' x='{x(t):.1f}' y='{y0}' "
                f"width='{cell:.1f}' height='{band - 3}' fill='{fill}'>"
                f"<title>{escape(name)} minute {t}: {state}</title></rect>"
            )
    marks = [("onset", panel.get("onset"), 0)] + [
        (e["what"], e["minute"], 1) for e in panel.get("events", [])
    ]
    for label, minute, after in marks:
        if minute is None:
            continue
        at = x(minute + after)  # an event at the end of its minute, the onset at its start
        out.append(
            f"<line class='event' x1='{at:.1f}' y1='{AXIS - 4}' x2='{at:.1f}' "
            f"y2='{height - 24}' stroke='#424242' stroke-dasharray='3,3'/>"
            f"<text x='{at:.1f}' y='{AXIS - 8}' text-anchor='middle'>{escape(label)}</text>"
        )
    for tick in range(0, minutes + 1, 10):
        out.append(
            f"<text x='{x(tick):.1f}' y='{height - 8}' text-anchor='middle'>{tick} min</text>"
        )
    summary = (
        f"<p>Onset → isolated-impact alarm: {_seconds(facts.get('onset_to_detection_seconds'))}"
        f" (simulated minutes); alarm → traffic off: "
        f"{_seconds(facts.get('alarm_to_traffic_moved_seconds'))} (the controller, real time); "
        f"total: <b>{_seconds(facts.get('onset_to_traffic_off_seconds'))}</b></p>"
    )
    total_w = left + width + 20
    return (
        "<h3>Metrics and alarms (detection kit, evaluated minute by minute)</h3>"
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{total_w}' height='{height}' "
        f"viewBox='0 0 {total_w} {height}' role='img' aria-label='metrics and alarm states'>"
        + "".join(out)
        + "</svg>"
        + summary
    )


def _timeline_table(timeline: list[TimelineEntry]) -> str:
    rows = "".join(
        f"<tr><td>{escape(e.invocation)}</td><td>{e.phase}</td><td>{e.kind}</td>"
        f"<td>{escape(e.resource)}</td><td class='num'>{e.start:.3f}</td>"
        f"<td class='num'>{e.duration * 1000:.0f} ms</td><td>{escape(e.outcome)}</td></tr>"
        for e in timeline
    )
    return (
        "<table><tr><th>invocation</th><th>phase</th><th>step</th><th>resource</th>"
        f"<th>start (s)</th><th>duration</th><th>outcome</th></tr>{rows}</table>"
    )


def _legend() -> str:
    shown = (
        "applied", "verified", "unchanged", "skipped", "pending", "failed", "interrupted",
        "applied, then died", "reverted",
    )  # fmt: skip
    items = "".join(f"<span><i style='background:{COLOURS[o]}'></i>{o}</span>" for o in shown)
    return f"<p class='legend'>{items}</p>"


def _nice(value: float) -> float:
    """A round axis end at or above `value`."""
    for step in (0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 2.5, 5, 10, 20, 30, 60, 120, 300, 600):
        if value <= step:
            return float(step)
    return value


def _seconds(value: object) -> str:
    return f"{value:.3f} s" if isinstance(value, float | int) else "-"
