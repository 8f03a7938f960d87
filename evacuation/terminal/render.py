"""The CLI's human output, built from the JSON answers, for a 100-column terminal.

Everything that is not ours (reasons, alarm names, AWS error text) goes into rich `Text` as
plain text, never through markup, so `[INC-1234]` prints as typed. Short names by default
(`alb checkout-alb`, `asg checkout-web`), full ARNs and every row with `--wide`; unchanged rows
fold into one line; a refusal is one line per reason.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.text import Text

WIDTH = 100
OUTCOME_STYLE = {
    "applied": "green",
    "unchanged": "dim",
    "skipped": "yellow",
    "pending": "cyan",
    "failed": "bold red",
    "reverted": "green",
    "planned": "blue",
    "in_progress": "blue",
    "would revert": "blue",
}
STATUS_STYLE = {
    "EVACUATED": "bold green",
    "RECOVERED": "bold green",
    "PLANNED": "bold blue",
    "PARTIAL": "bold yellow",
    "RECOVERING": "bold yellow",
    "IN_PROGRESS": "bold yellow",
    "DEGRADED": "bold red",
    "REFUSED": "bold red",
    "ABANDONED": "bold magenta",
    "OK": "bold",
}
ALARM_STYLE = {"ALARM": "bold red", "OK": "green", "INSUFFICIENT_DATA": "yellow"}
KIND_LABEL = {
    "zonal_shift": "zonal shift",
    "route53_weight": "route53 weight",
    "asg_processes": "asg processes",
    "asg_subnets": "asg subnets",
    "asg_zones": "asg AZs",
    "asg_capacity": "asg capacity",
}
PHASE_LABEL = {"data_plane": "data plane (traffic)", "control_plane": "control plane (capacity)"}
OUTCOME_W, KIND_W, RESOURCE_W = 13, 15, 28
_SUBNET = re.compile(r"\bsubnet-[0-9a-f]+\b")
_ARN = re.compile(r"arn:aws[a-z-]*:[^\s;,()]+")


@dataclass(frozen=True)
class View:
    """How to render: full names and every row (`wide`), subnet id -> AZ ID, the clock."""

    wide: bool = False
    subnet_azs: Mapping[str, str] = field(default_factory=dict)
    now: datetime | None = None
    columns: int = WIDTH
    """The terminal's width; the layout never uses more than WIDTH (100)."""
    run_started: datetime | None = None
    """When this command started: a step applied before it is an earlier run's, verified now."""

    def earlier(self, step: Mapping[str, Any]) -> bool:
        started = parse_time(step.get("started_at"))
        return (
            self.run_started is not None
            and step.get("outcome") == "applied"
            and started is not None
            and started < self.run_started
        )

    @property
    def width(self) -> int:
        return 10_000 if self.wide else max(min(self.columns, WIDTH), 60)


def subnets_in(value: Any) -> set[str]:
    """Every subnet id anywhere in a JSON answer."""
    return set(_SUBNET.findall(json.dumps(value, default=str)))


# -- names ------------------------------------------------------------------------------------


def short_resource(kind: str, resource: str) -> str:
    """`alb checkout-alb`, `asg checkout-web`, `api.example.com. A`: what a human recognises."""
    if resource.startswith("arn:"):
        rest = resource.split(":", 5)[-1]
        if ":loadbalancer/app/" in resource:
            return f"alb {rest.split('/')[2]}"
        if ":loadbalancer/net/" in resource:
            return f"nlb {rest.split('/')[2]}"
        if ":autoScalingGroup:" in resource and "autoScalingGroupName/" in resource:
            return f"asg {resource.rsplit('autoScalingGroupName/', 1)[1]}"
        if resource.startswith("arn:aws:eks:") or ":eks:" in resource:
            return f"eks {rest.rsplit('/', 1)[-1]}"
        return rest
    if kind == "route53_weight" and resource.count("/") >= 2:
        _zone, name, rtype = resource.split("/", 2)
        return f"{name} {rtype}"
    if kind.startswith("asg_"):
        return f"asg {resource}"
    return resource


def shorten_arns(text: str, view: View) -> str:
    """ARNs in a sentence (a refusal, a note) as short names, unless --wide."""
    if view.wide:
        return text
    return _ARN.sub(lambda m: short_resource("", m.group(0)), text)


def subnet_label(subnet: str, view: View) -> str:
    az = view.subnet_azs.get(subnet)
    return f"{subnet} ({az})" if az else subnet


# -- what a step changes ----------------------------------------------------------------------


def _subnet_list(value: Any) -> list[str] | None:
    if isinstance(value, Mapping):
        value = value.get("placement", value.get("subnets"))
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def _weight(value: Any, set_identifier: str | None) -> Any:
    if isinstance(value, Mapping):
        if "weight" in value:
            return value["weight"]
        weights = value.get("weights")
        if isinstance(weights, Mapping) and set_identifier in weights:
            return weights[set_identifier]
    return value if isinstance(value, int | float) else None


def _processes(value: Any) -> list[str]:
    if isinstance(value, Mapping):
        value = value.get("suspended", value.get("resumed", []))
    return [str(v) for v in value] if isinstance(value, list) else []


def change(step: Mapping[str, Any], az_id: str, view: View, *, undo: bool = False) -> str:
    """What the step changes (or, `undo`, what reverting it would change), in a phrase."""
    kind, before, after = step["kind"], step.get("before"), step.get("after")
    outcome = step.get("outcome")
    if kind == "zonal_shift":
        return _shift_change(before, after, az_id, outcome, undo)
    if kind == "route53_weight":
        sid = before.get("set_identifier") if isinstance(before, Mapping) else None
        sid = sid or (after.get("set_identifier") if isinstance(after, Mapping) else None)
        old, new = _weight(before, sid), _weight(after, sid)
        if outcome == "reverted":
            return f"{sid or 'weight'}: back to {new}"
        if undo:
            old, new = new, old
        return f"{sid or 'weight'}: {old} → {new}"
    if kind in ("asg_subnets", "asg_zones"):
        old_list, new_list = _subnet_list(before), _subnet_list(after)
        if old_list is not None and new_list is not None:
            if outcome == "reverted":
                back = [v for v in new_list if view.subnet_azs.get(v) == az_id]
                if back:
                    return ", ".join(f"+ {subnet_label(v, view)}" for v in back) + " back"
                return f"back to {', '.join(subnet_label(v, view) for v in new_list)}"
            if undo:
                old_list, new_list = new_list, old_list
            removed = [v for v in old_list if v not in new_list]
            added = [v for v in new_list if v not in old_list]
            parts = [f"- {subnet_label(v, view)}" for v in removed]
            parts += [f"+ {subnet_label(v, view)}" for v in added]
            return ", ".join(parts) or f"{len(new_list)} kept as they are"
    if kind == "asg_capacity" and isinstance(before, int) and isinstance(after, int):
        if outcome == "reverted":
            return f"desired back to {after}"
        old_c, new_c = (after, before) if undo else (before, after)
        return f"desired {old_c} → {new_c}"
    if kind == "asg_processes":
        old_p, new_p = _processes(before), _processes(after)
        if isinstance(after, Mapping) and "resumed" in after:
            return "resume " + (", ".join(new_p) or "nothing")
        if undo:
            ours = [p for p in new_p if p not in old_p]
            return "resume " + ", ".join(ours) if ours else "nothing to resume"
        ours = [p for p in new_p if p not in old_p]
        if ours:
            return "suspend " + ", ".join(ours)
        return (", ".join(new_p) or "none") + " suspended already"
    return f"{compact(before, view)} → {compact(after, view)}"


def _shift_change(before: Any, after: Any, az_id: str, outcome: Any, undo: bool) -> str:
    shift_id = after.get("shift_id") if isinstance(after, Mapping) else None
    if undo:
        return f"cancel shift {str(shift_id)[:8]}" if shift_id else "nothing to cancel"
    if isinstance(after, Mapping) and "cancelled" in after:
        cancelled = ", ".join(str(s)[:8] for s in after["cancelled"]) or "none of ours"
        return f"shift cancelled ({cancelled})"
    if isinstance(after, Mapping) and "away_from" in after:
        return f"start a shift away from {after['away_from']}"
    if shift_id:
        whose = "" if after.get("ours", True) else ", someone else's, adopted"
        return f"away from {az_id} (shift {str(shift_id)[:8]}{whose})"
    weight = before.get("weight") if isinstance(before, Mapping) else None
    return f"weight {weight} → {compact(after, View())}" if outcome != "unchanged" else "as wanted"


def compact(value: Any, view: View) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "none"
    text = value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)
    limit = 10_000 if view.wide else 40
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- layout -----------------------------------------------------------------------------------


def fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _cell(text: str, width: int, view: View) -> str:
    if view.wide:
        return text.ljust(width) if len(text) < width else text + " "
    return fit(text, width).ljust(width)


def _wrapped(text: str, indent: int, view: View) -> list[str]:
    if view.wide:
        return [" " * indent + text]
    return textwrap.wrap(
        text,
        width=view.width,
        initial_indent=" " * indent,
        subsequent_indent=" " * indent,
        break_on_hyphens=False,
    ) or [" " * indent]


def _chunks(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width, break_on_hyphens=False) or [""]


def step_lines(
    steps: Sequence[Mapping[str, Any]],
    az_id: str,
    view: View,
    *,
    undo: bool = False,
    fold_unchanged: bool = True,
) -> list[Text]:
    """One line per step (grouped by phase), its note or error wrapped beneath; unchanged rows
    folded into one line unless `view.wide` or not `fold_unchanged`."""
    lines: list[Text] = []
    fold = fold_unchanged and not view.wide
    header = Text(
        f"{'outcome':<{OUTCOME_W}}{'step':<{KIND_W}}{'resource':<{RESOURCE_W}} change", "bold"
    )
    if not steps:
        return [Text("no steps", "dim")]
    lines.append(header)
    change_w = max(view.width - OUTCOME_W - KIND_W - RESOURCE_W - 1, 20)
    # Recovery runs capacity first, then traffic (REC-1): a recovery is shown in that order.
    recovering = undo or any(s.get("outcome") == "reverted" for s in steps)
    phases = ("control_plane", "data_plane") if recovering else ("data_plane", "control_plane")
    for phase in phases:
        rows = [s for s in steps if s.get("phase") == phase]
        shown = [
            s
            for s in rows
            if not (fold and (s.get("outcome") == "unchanged" or (not undo and view.earlier(s))))
        ]
        folded = [s for s in rows if s not in shown and s.get("outcome") == "unchanged"]
        earlier = [s for s in rows if s not in shown and s not in folded]
        if not rows:
            continue
        lines.append(Text(PHASE_LABEL[phase], "dim italic"))
        for step in shown:
            outcome = "would revert" if undo else str(step.get("outcome"))
            resource = (
                step["resource"] if view.wide else short_resource(step["kind"], step["resource"])
            )
            what = change(step, az_id, view, undo=undo)
            chunks = [what] if view.wide else _chunks(what, change_w)
            line = Text()
            line.append(_cell(outcome, OUTCOME_W, view), OUTCOME_STYLE.get(outcome, ""))
            line.append(_cell(KIND_LABEL.get(step["kind"], step["kind"]), KIND_W, view))
            line.append(_cell(resource, RESOURCE_W, view))
            line.append(" " + chunks[0])
            lines.append(line)
            pad = OUTCOME_W + KIND_W + RESOURCE_W + 1
            lines += [Text(" " * pad + chunk) for chunk in chunks[1:]]
            for label, note, style in (
                ("error", step.get("error"), "red"),
                ("", step.get("reason"), "dim"),
            ):
                if note:
                    prefix = f"└ {label}: " if label else "└ "
                    for text in _wrapped(prefix + shorten_arns(str(note), view), 4, view):
                        lines.append(Text(text, style))
        for group, label in (
            (earlier, "applied by an earlier run, still in effect"),
            (folded, "unchanged"),
        ):
            if group:
                names = ", ".join(
                    f"{KIND_LABEL.get(s['kind'], s['kind'])} "
                    f"{short_resource(s['kind'], s['resource'])}"
                    for s in group
                )
                lines.append(Text(fit(f"{len(group)} {label}: {names}", view.width), "dim"))
    return lines


def duration(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def clock(value: Any, now: datetime) -> str:
    """`00:47:32Z (3m 10s ago)`, or `in 5h 59m` for a time ahead."""
    at = parse_time(value)
    if at is None:
        return "-"
    delta = (now - at).total_seconds()
    when = f"{at:%Y-%m-%d %H:%M:%S}Z"
    return f"{when} ({duration(delta)} ago)" if delta >= 0 else f"{when} (in {duration(-delta)})"


# -- whole answers ----------------------------------------------------------------------------


def headline(action: str, body: Mapping[str, Any]) -> Text:
    status = str(body.get("status"))
    line = Text()
    line.append(f"{body.get('workload')} · {action} {body.get('az_id')} · ", "bold")
    line.append(status, STATUS_STYLE.get(status, "bold"))
    if body.get("evacuation_id"):
        line.append(f" · {body['evacuation_id']}")
    return line


def timing(body: Mapping[str, Any], action: str) -> Text | None:
    parts = []
    if body.get("data_plane_seconds") is not None and action in ("evacuate", "practice"):
        parts.append(f"traffic moved in {body['data_plane_seconds']:.2f} s")
    if body.get("total_seconds") is not None:
        parts.append(f"this run took {body['total_seconds']:.2f} s")
    if body.get("retries"):
        parts.append(f"{body['retries']} retries")
    return Text(" · ".join(parts), "dim") if parts else None


def alarm_lines(overview: Mapping[str, Any] | None) -> list[Text]:
    if not overview or not overview.get("alarms"):
        return []
    line = Text("alarms: ", "bold")
    for index, alarm in enumerate(overview["alarms"]):
        if index:
            line.append(" · ")
        where = alarm.get("az_id") or "regional"
        line.append(f"{where} ")
        line.append(str(alarm["state"]), ALARM_STYLE.get(str(alarm["state"]), "yellow"))
    lines = [line]
    if overview.get("warning"):
        lines.append(Text("! " + str(overview["warning"]), "bold yellow"))
    return lines


def result_lines(action: str, body: Mapping[str, Any], view: View) -> list[Text]:
    """plan, evacuate, recover (and its --dry-run), abandon, practice."""
    az_id = str(body.get("az_id"))
    lines = [headline(action, body)]
    if (t := timing(body, action)) is not None:
        lines.append(t)
    lines += alarm_lines(body.get("alarm_overview"))
    refused = body.get("status") == "REFUSED"
    if refused:
        lines.append(Text("refused, nothing changed:", "bold red"))
        refusals = body.get("refusals") or [body.get("reason") or "no reason given"]
        for refusal in refusals:
            for index, text in enumerate(_wrapped(shorten_arns(str(refusal), view), 4, view)):
                lines.append(Text(("  • " + text[4:]) if index == 0 else text))
    warnings = [
        w
        for w in body.get("warnings", [])
        if w != (body.get("alarm_overview") or {}).get("warning")
    ]
    for warning in warnings:
        lines += [
            Text(t, "yellow") for t in _wrapped("! " + shorten_arns(str(warning), view), 0, view)
        ]
    preview = action == "recover --dry-run"
    steps = body.get("steps", [])
    if refused and not view.wide:
        if steps:
            lines.append(Text(f"{len(steps)} planned steps not started (--wide lists them)", "dim"))
    else:
        lines.append(Text(""))
        if action not in ("evacuate", "practice"):  # an abandon lists what remains, all of it
            view = replace(view, run_started=None)
        lines += step_lines(steps, az_id, view, undo=preview)
    if body.get("reason") and not refused:
        label = "would revert" if preview else "note"
        text = "nothing" if preview and not steps else str(body["reason"])
        if preview:
            text = f"{len(steps)} change(s) of {body.get('evacuation_id')}"
            text += ", capacity first, then traffic"
        lines += [Text(t, "dim") for t in _wrapped(f"{label}: {shorten_arns(text, view)}", 0, view)]
    for practice in body.get("preempted", []):
        lines.append(
            Text(
                f"practice {practice.get('evacuation_id')} ended first: {practice.get('status')}",
                "magenta",
            )
        )
    return lines


def status_lines(body: Mapping[str, Any], view: View) -> list[Text]:
    now = view.now or datetime.now(UTC)
    evacuations = body.get("evacuations", [])
    active = [e for e in evacuations if e["status"] in ACTIVE]
    head = Text(f"{body.get('workload')} · ", "bold")
    if active:
        head.append(", ".join(f"{e['az_id']} {e['status']}" for e in active), "bold yellow")
        head.append(" (AZ held)" if len(active) == 1 else " (AZs held)")
    else:
        head.append("no AZ evacuated", "bold green")
    lines = [head]
    if not evacuations:
        return [*lines, Text("no evacuations recorded", "dim")]
    columns = f"{'AZ':<10}{'status':<12}{'started':<22}{'trigger':<10}"
    columns += "evacuation" if view.wide else "reason"
    lines.append(Text(columns, "bold"))
    for e in evacuations:
        started = parse_time(e.get("created_at"))
        age = f"{duration((now - started).total_seconds())} ago" if started else "-"
        line = Text(f"{e['az_id']:<10}")
        line.append(f"{e['status']:<12}", STATUS_STYLE.get(e["status"], ""))
        line.append(f"{age:<22}{e['trigger']:<10}")
        if view.wide:
            line.append(f"{e['evacuation_id']}  {e.get('reason') or ''}")
        else:
            line.append(fit(e.get("reason") or "", view.width - 54))
        lines.append(line)
    lines.append(
        Text("azevac status --az <AZ> shows every step, shift expiry and time left", "dim")
    )
    return lines


ACTIVE = ("IN_PROGRESS", "EVACUATED", "PARTIAL", "DEGRADED", "RECOVERING")


def detail_lines(body: Mapping[str, Any], view: View) -> list[Text]:
    """`status --az`: one evacuation with every step, its shifts' expiry and time left."""
    now = view.now or datetime.now(UTC)
    evacuation = body.get("evacuation")
    if not evacuation:
        return [
            Text(f"{body.get('workload')} · {body.get('az_id')}: no evacuation recorded", "bold")
        ]
    status = evacuation["status"]
    head = Text(f"{evacuation['workload']} · {evacuation['az_id']} · ", "bold")
    head.append(status, STATUS_STYLE.get(status, "bold"))
    head.append(" (holds the AZ)" if status in ACTIVE else " (AZ released)")
    lines = [
        head,
        Text(f"evacuation {evacuation['evacuation_id']} · trigger {evacuation['trigger']}"),
    ]
    lines.append(Text(f"started    {clock(evacuation.get('created_at'), now)}"))
    if evacuation.get("finished_at"):
        lines.append(Text(f"finished   {clock(evacuation.get('finished_at'), now)}"))
    if evacuation.get("recovered_at"):
        lines.append(Text(f"recovered  {clock(evacuation.get('recovered_at'), now)}"))
    lines += [Text(t) for t in _wrapped(f"reason     {evacuation.get('reason') or '-'}", 0, view)]
    for shift in body.get("shifts", []):
        expiry = parse_time(shift.get("expiry_time"))
        name = shift["resource"] if view.wide else short_resource("zonal_shift", shift["resource"])
        line = Text(f"shift      {name} {str(shift.get('shift_id'))[:8]} ")
        if shift.get("status") != "ACTIVE" or expiry is None:
            line.append(
                f"{shift.get('status') or 'not found'}: not holding traffic away", "bold red"
            )
        elif expiry <= now:
            line.append(f"expired at {expiry:%Y-%m-%d %H:%M:%S}Z", "bold red")
        else:
            left = (expiry - now).total_seconds()
            style = "bold red" if left < 1800 else ""
            line.append(f"expires {expiry:%Y-%m-%d %H:%M:%S}Z ({duration(left)} left)", style)
            line.append(f" · {shift.get('applied_status', '').lower()}")
        lines.append(line)
    if body.get("shift_error"):
        lines.append(Text(f"shift      expiry unreadable: {body['shift_error']}", "yellow"))
    lines.append(Text(""))
    lines += step_lines(
        evacuation.get("steps", []), evacuation["az_id"], view, fold_unchanged=False
    )
    return lines


def reconcile_lines(body: Mapping[str, Any], view: View) -> list[Text]:
    lines = [Text(f"{body.get('workload', '')} · reconcile", "bold")]
    for label, key in (
        ("extended", "extended_shifts"),
        ("restarted", "restarted_shifts"),
    ):
        values = body.get(key, [])
        lines.append(
            Text(
                f"{label:<11}{len(values)} shift(s)"
                + (f": {', '.join(values)}" if values and view.wide else "")
            )
        )
    for e in body.get("evacuations", []):
        line = Text(f"{e.get('az_id'):<11}")
        line.append(str(e.get("status")), STATUS_STYLE.get(str(e.get("status")), ""))
        failed = [s for s in e.get("steps", []) if s.get("outcome") == "failed"]
        if failed:
            line.append(f" · {len(failed)} step(s) failed")
        lines.append(line)
    for alert in body.get("alerts", []):
        said = shorten_arns(str(alert), view)
        lines += [Text(t, "bold red") for t in _wrapped("! " + said, 0, view)]
    for problem in body.get("readiness_problems", []):
        said = shorten_arns(str(problem), view)
        lines += [Text(t, "yellow") for t in _wrapped("readiness: " + said, 0, view)]
    if not body.get("alerts") and not body.get("readiness_problems"):
        lines.append(Text("no alerts, no readiness problems", "green"))
    return lines


def print_lines(console: Console, lines: Iterable[Text], wide: bool = False) -> None:
    for line in lines:
        if wide:  # one line per row, however long: the terminal wraps it, nothing is cut
            console.print(line, soft_wrap=True, crop=False)
        else:
            console.print(line, overflow="fold", crop=False)
