"""The post-incident report of one real evacuation, from its records alone (issue 18 §2).

`azevac report --evacuation ID` (or `--az X --latest`) reads the state table; `--from FILE`
reads a `status --json` export instead, so the report can be built offline, by anyone, after
the fact. The page is the drill's own (the same CSS and step timeline, `evacuation.drill`):
header, trigger and reason, the guards weighed, every step with its phase, before and after,
outcome, timing and attempts, the recovery on the same time axis, and the notifications sent.
Self-contained HTML: no script, no external resource.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Any

from evacuation.drill.html_report import COLOURS, CSS, timeline_svg
from evacuation.drill.report import TimelineEntry
from evacuation.errors import EvacuationError, InvalidRequestError
from evacuation.result import evacuation_dict

EXIT_OK, EXIT_INVALID = 0, 2
Record = Mapping[str, Any]


def timeline(evacuation: Record) -> list[TimelineEntry]:
    """Every step's apply and, once recovered, its revert, in seconds from the start."""
    t0 = _time(evacuation.get("created_at"))
    if t0 is None:
        return []
    entries: list[TimelineEntry] = []
    for step in evacuation.get("steps", []):
        started = _time(step.get("started_at"))
        if started is None:  # planned, never run
            continue
        reverted = step.get("revert_started_at") is not None
        applied_end = _time(step.get("applied_at") if reverted else step.get("finished_at"))
        outcome = "applied" if reverted else str(step.get("outcome"))
        entries.append(_entry("evacuate", step, t0, (started, applied_end or started), outcome))
        if reverted:
            revert_start = _time(step["revert_started_at"]) or started
            revert_end = _time(step.get("finished_at")) or revert_start
            span = (revert_start, revert_end)
            entries.append(_entry("recover", step, t0, span, str(step.get("outcome"))))
    return sorted(entries, key=lambda e: (e.start, e.invocation))


def render(evacuation: Record) -> str:
    """The report as one HTML page."""
    title = f"azevac evacuation {evacuation.get('evacuation_id')}"
    status = str(evacuation.get("status"))
    steps = evacuation.get("steps", [])
    bars = timeline(evacuation)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{escape(title)} <span class='badge {_badge(status)}'>{escape(status)}</span></h1>"
        + _header(evacuation)
        + "<h2>Guards weighed</h2>"
        + _guards(evacuation)
        + "<h2>Timeline</h2>"
        + (
            "<p>Seconds from the start of the evacuation; the recovery on the same axis.</p>"
            + timeline_svg(bars)
            + _legend()
            if bars
            else "<p>No step ran.</p>"
        )
        + f"<h2>Steps ({len(steps)})</h2>"
        + _steps(steps)
        + "<h2>Notifications</h2>"
        + _notices(evacuation.get("notices", []))
        + "<p>Built by <code>azevac report</code> from the evacuation's records in the state "
        "table (or a <code>status --json</code> export).</p></body></html>\n"
    )


def from_export(data: Any, evacuation_id: str | None, az_id: str | None) -> Record:
    """The evacuation chosen in a `status --json` export (or a single evacuation's JSON)."""
    if isinstance(data, Mapping) and "evacuation_id" in data and "steps" in data:
        found: list[Record] = [data]
    elif isinstance(data, Mapping) and isinstance(data.get("evacuations"), list):
        found = [e for e in data["evacuations"] if isinstance(e, Mapping)]
    else:
        raise InvalidRequestError("the file is not a status --json export nor an evacuation")
    return _choose(found, evacuation_id, az_id)


def main(argv: Sequence[str] | None = None) -> int:
    """`azevac report`: write the report of one evacuation to --output (or stdout)."""
    args = parser().parse_args(argv)
    try:
        if args.source is not None:
            record = from_export(_read_json(Path(args.source)), args.evacuation, args.az)
        else:
            record = _from_store(args)
        page = render(record)
    except EvacuationError as exc:
        print(f"azevac report: {exc}", file=sys.stderr)  # noqa: T201 - the CLI's own output
        return EXIT_INVALID
    if args.output in (None, "-"):
        sys.stdout.write(page)
    else:
        Path(args.output).write_text(page, encoding="utf-8")
        print(f"report written to {args.output}", file=sys.stderr)  # noqa: T201 - CLI output
    return EXIT_OK


# -- internals ------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    """`azevac report`'s arguments."""
    parser = argparse.ArgumentParser(
        prog="azevac report", description="The post-incident report of one evacuation (HTML)."
    )
    parser.add_argument("--evacuation", metavar="ID", help="the evacuation id")
    parser.add_argument("--az", help="the AZ ID (with --latest: its newest evacuation)")
    parser.add_argument("--latest", action="store_true", help="the newest evacuation of --az")
    parser.add_argument(
        "--from", dest="source", metavar="FILE", help="a status --json export instead of the table"
    )
    parser.add_argument("--output", "-o", metavar="PATH", help="where to write (default stdout)")
    parser.add_argument("--config", help="AZEVAC_CONFIG (file, JSON, ssm:NAME or s3://...)")
    parser.add_argument("--table", help="AZEVAC_TABLE: the state table")
    return parser


def _from_store(args: argparse.Namespace) -> Record:
    from evacuation.cli import state_controller  # noqa: PLC0415 - the CLI's, as its commands

    if not args.evacuation and not (args.az and args.latest):
        raise InvalidRequestError("give --evacuation ID, --az AZ --latest, or --from FILE")
    controller = state_controller(args.config, args.table, "report")
    if args.evacuation:
        evacuation = controller.evacuation(args.evacuation)
        if evacuation is None:
            raise InvalidRequestError(f"no evacuation {args.evacuation} in the state table")
        return evacuation_dict(evacuation)
    listed = [evacuation_dict(e) for e in controller.status(limit=50)]
    return _choose(listed, None, args.az)


def _choose(found: Sequence[Record], evacuation_id: str | None, az_id: str | None) -> Record:
    if evacuation_id:
        for record in found:
            if record.get("evacuation_id") == evacuation_id:
                return record
        raise InvalidRequestError(f"no evacuation {evacuation_id} in the records given")
    matching = [r for r in found if az_id is None or r.get("az_id") == az_id]
    matching = [r for r in matching if r.get("status") != "REFUSED"] or matching
    if not matching:
        raise InvalidRequestError(f"no evacuation of {az_id} in the records given")
    return max(matching, key=lambda r: str(r.get("created_at") or ""))


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidRequestError(f"cannot read {path}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise InvalidRequestError(f"{path} is not JSON: {exc}") from exc


def _entry(
    invocation: str, step: Record, t0: datetime, span: tuple[datetime, datetime], outcome: str
) -> TimelineEntry:
    start, end = span
    return TimelineEntry(
        invocation=invocation,
        phase=str(step.get("phase")),
        kind=str(step.get("kind")),
        resource=str(step.get("resource")),
        start=max((start - t0).total_seconds(), 0.0),
        duration=max((end - start).total_seconds(), 0.0),
        outcome=outcome,
    )


def _header(evacuation: Record) -> str:
    seconds = evacuation.get("data_plane_seconds")
    rows = [
        ("workload", evacuation.get("workload")),
        ("AZ", evacuation.get("az_id")),
        ("status", evacuation.get("status")),
        ("trigger", evacuation.get("trigger")),
        ("reason", evacuation.get("reason")),
        ("started", evacuation.get("created_at")),
        ("traffic moved after", f"{seconds:.3f} s" if isinstance(seconds, int | float) else "-"),
        ("finished", evacuation.get("finished_at")),
        ("recovered", evacuation.get("recovered_at")),
    ]
    if evacuation.get("practice_until"):
        rows.append(("practice until", evacuation.get("practice_until")))
    body = "".join(f"<tr><th>{escape(k)}</th><td>{_text(v)}</td></tr>" for k, v in rows)
    return f"<table class='header'>{body}</table>"


def _guards(evacuation: Record) -> str:
    guards = evacuation.get("guards") or []
    if not guards:
        return (
            "<p>None recorded: a resumed evacuation, an evacuation recorded by an azevac "
            "older than this report, or one refused before its guards (see the reason).</p>"
        )
    return "<ul>" + "".join(f"<li>{_text(g)}</li>" for g in guards) + "</ul>"


def _steps(steps: Sequence[Record]) -> str:
    head = (
        "<tr><th>phase</th><th>kind</th><th>resource</th><th>before</th><th>after</th>"
        "<th>outcome</th><th>started</th><th>finished</th><th>attempts</th><th>note</th></tr>"
    )
    rows = []
    for step in steps:
        outcome = str(step.get("outcome"))
        colour = COLOURS.get(outcome, "#616161")
        note = step.get("error") or step.get("reason") or ""
        rows.append(
            "<tr class='step'>"
            f"<td>{_text(step.get('phase'))}</td><td>{_text(step.get('kind'))}</td>"
            f"<td>{_text(step.get('resource'))}</td>"
            f"<td><pre>{_json(step.get('before'))}</pre></td>"
            f"<td><pre>{_json(step.get('after'))}</pre></td>"
            f"<td style='color:{colour};font-weight:600'>{escape(outcome)}</td>"
            f"<td>{_text(step.get('started_at'))}</td><td>{_text(step.get('finished_at'))}</td>"
            f"<td class='num'>{_text(step.get('attempts', '-'))}</td><td>{_text(note)}</td></tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"


def _notices(notices: Sequence[Record]) -> str:
    if not notices:
        return "<p>None recorded.</p>"
    rows = "".join(
        f"<tr><td>{_text(n.get('at'))}</td><td>{_text(n.get('subject'))}</td>"
        f"<td>{'delivered' if n.get('delivered') else 'NOT delivered'}</td>"
        f"<td>{_text(n.get('error') or '')}</td></tr>"
        for n in notices
    )
    return f"<table><tr><th>at</th><th>subject</th><th>sent</th><th>error</th></tr>{rows}</table>"


def _legend() -> str:
    shown = ("applied", "reverted", "pending", "failed", "skipped", "unchanged")
    return (
        "<p class='legend'>"
        + "".join(f"<span><i style='background:{COLOURS[o]}'></i>{o}</span>" for o in shown)
        + "</p>"
    )


def _badge(status: str) -> str:
    return "PASS" if status in ("EVACUATED", "RECOVERED") else "FAIL"


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _text(value: Any) -> str:
    return "-" if value is None else escape(str(value))


def _json(value: Any) -> str:
    return escape(json.dumps(value, indent=1, sort_keys=True, default=str))
