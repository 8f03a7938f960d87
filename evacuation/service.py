"""What each entry point does with a validated request: decide, act, notify, count.

The Lambda handlers and the CLI call these; they hold no AWS logic of their own."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from evacuation.alarms import AlarmDecision, AlarmSignal, FunctionIdentity, decide, verify_origin
from evacuation.autoshift_events import (
    COMPLETED,
    IN_PROGRESS,
    AutoshiftPhase,
    AutoshiftSignal,
    active_away_from,
    arc_managed,
    not_moved_by_aws,
)
from evacuation.aws.zonal_shift import Autoshift
from evacuation.controller import Controller
from evacuation.errors import InvalidRequestError
from evacuation.impairment import with_alarm_overview
from evacuation.metrics import for_workload, record_result
from evacuation.model import AZ_ID_PATTERN, AZ_NAME_PATTERN, Evacuation, Status, Trigger
from evacuation.notify import Notifier
from evacuation.requests import ManualRequest, answer, run_request
from evacuation.result import Result, bounded, fit
from evacuation.retry import Deadline

log = structlog.get_logger(__name__)


def announce(
    controller: Controller, notifier: Notifier, metrics: Metrics, result: Result, event: str
) -> None:
    """Count the result, notify the humans' topic, and keep the notice with the evacuation."""
    record_result(metrics, result)
    if result.failed and result.status is not Status.REFUSED:
        notice = notifier.send(result, f"{event} with failures:")
    else:  # the subject ends with the status (a refusal says REFUSED once)
        notice = notifier.send(result, f"{event}:")
    if result.evacuation_id is not None:
        controller.record_notice(result.evacuation_id, notice)


AlarmStates = Callable[[Iterable[str]], Mapping[str, str]]
"""alarm names -> their current state, read from CloudWatch (DescribeAlarms)."""


def _verify(
    signal: AlarmSignal,
    controller: Controller,
    identity: FunctionIdentity,
    alarm_states: AlarmStates,
    now: datetime,
) -> AlarmDecision:
    """The AZ to evacuate, or why not: the event's origin and age, the config's mapping, then
    the alarm's state as CloudWatch holds it now (an event is a claim, not the truth)."""
    config = controller.config
    why_not = verify_origin(signal, identity, now, config.max_event_age_seconds)
    if why_not is not None:
        return AlarmDecision(None, why_not)
    decision = decide(signal, config)
    if decision.az_id is None:
        return decision
    current = alarm_states([signal.alarm_name]).get(signal.alarm_name)
    if current is None:
        return AlarmDecision(
            None, f"alarm {signal.alarm_name} does not exist in this account and region"
        )
    if current != "ALARM":
        return AlarmDecision(None, f"alarm {signal.alarm_name} is {current} now, no longer ALARM")
    return decision


def on_alarm(
    controller: Controller,
    signal: AlarmSignal,
    *,
    notifier: Notifier,
    metrics: Metrics,
    identity: FunctionIdentity,
    alarm_states: AlarmStates,
    deadline: Deadline | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Evacuate the AZ a fresh, verified ALARM names; anything else is logged, answered IGNORED
    with the reason, and changes nothing."""
    for_workload(metrics, controller.config.workload)
    decision = _verify(signal, controller, identity, alarm_states, now or datetime.now(UTC))
    log.info(
        "alarm.decision",
        alarm=signal.alarm_name,
        state=signal.state,
        previous_state=signal.previous_state,
        source=signal.source,
        account=signal.account,
        region=signal.region,
        event_time=signal.time,
        az_id=decision.az_id,
        act=decision.az_id is not None,
        why=decision.why,
    )
    ignored = {"status": "IGNORED", "alarm": signal.alarm_name, "reason": decision.why}
    if decision.az_id is None:
        metrics.add_metric(name="AlarmsIgnored", unit=MetricUnit.Count, value=1)
        return ignored
    reason = f"alarm {signal.alarm_name} went to {signal.state}: {signal.reason}"[:400]
    try:
        result = controller.evacuate(
            decision.az_id, reason=reason, trigger=Trigger.ALARM, deadline=deadline
        )
    except InvalidRequestError as exc:
        log.warning("alarm.ignored", alarm=signal.alarm_name, az_id=decision.az_id, error=str(exc))
        metrics.add_metric(name="AlarmsIgnored", unit=MetricUnit.Count, value=1)
        return {**ignored, "reason": str(exc)}
    metrics.add_metric(name="EvacuationsTriggered", unit=MetricUnit.Count, value=1)
    for practice in result.preempted:
        announce(controller, notifier, metrics, practice, "practice ended by a real alarm")
    announce(controller, notifier, metrics, result, "evacuation")
    return bounded({**result.to_dict(), "alarm": signal.alarm_name})


ActiveAutoshifts = Callable[[], Sequence[Autoshift]]
"""AWS's autoshifts in progress in this region, read from ARC (ListAutoshifts, ACTIVE)."""


def on_autoshift(
    controller: Controller,
    signal: AutoshiftSignal,
    *,
    notifier: Notifier,
    metrics: Metrics,
    identity: FunctionIdentity,
    autoshifts: ActiveAutoshifts,
    deadline: Deadline | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """AWS started or ended a zonal autoshift (ARC observer notification, DET-8). The event is
    verified as an alarm event is (account, region, age) and re-read (ListAutoshifts) before
    anything is decided; `triggers.aws_autoshift` then says evacuate, page, or nothing."""
    config = controller.config
    for_workload(metrics, config.workload)
    mode = config.triggers.aws_autoshift
    bound = log.bind(
        autoshift=signal.detail_type, away_from=signal.away_from, mode=mode, event_time=signal.time
    )

    def ignored(why: str, az_id: str | None = None) -> dict[str, Any]:
        bound.info("autoshift.decision", az_id=az_id, act=False, why=why)
        metrics.add_metric(name="AutoshiftsIgnored", unit=MetricUnit.Count, value=1)
        return {"status": "IGNORED", "autoshift": signal.detail_type, "reason": why}

    why = verify_origin(signal, identity, now or datetime.now(UTC), config.max_event_age_seconds)
    if why is not None:
        return ignored(why)
    phase = signal.phase
    if phase is None:
        return ignored(
            f"detail-type {signal.detail_type!r} is not an autoshift start or end "
            f"({IN_PROGRESS!r}, {COMPLETED!r})"
        )
    if mode == "off":
        return ignored("triggers.aws_autoshift is off")
    given = signal.away_from
    if not (AZ_ID_PATTERN.match(given) or AZ_NAME_PATTERN.match(given)):
        return ignored(f"awayFrom {given!r} is neither an AZ ID nor a zone name")
    try:
        az_id = controller.az_id(given, deadline)
    except InvalidRequestError as exc:
        return ignored(str(exc))
    # The event is a claim, not the truth: AWS's own listing decides.
    active = active_away_from(az_id, autoshifts())
    context = _AutoshiftContext(controller, signal, notifier, metrics, az_id, deadline)
    if phase is AutoshiftPhase.ENDED:
        if active is not None:
            return ignored(
                f"AWS still shows an active autoshift away from {az_id} since "
                f"{active.start:%Y-%m-%d %H:%M:%S}Z (ListAutoshifts): its end is not confirmed",
                az_id,
            )
        return _autoshift_ended(context, ignored)
    if active is None:
        return ignored(
            f"AWS shows no active autoshift away from {az_id} (ListAutoshifts): not confirmed",
            az_id,
        )
    bound = bound.bind(az_id=az_id)
    if mode == "notify":
        return _autoshift_notify(context, active, ignored)
    reason = (
        f"AWS zonal autoshift away from {az_id} since {active.start:%Y-%m-%d %H:%M:%S}Z "
        f"(ARC event {signal.dedupe_key.removeprefix('eventbridge:')})"
    )
    try:
        result = controller.evacuate(
            az_id, reason=reason, trigger=Trigger.AUTOSHIFT, deadline=deadline
        )
    except InvalidRequestError as exc:
        return ignored(str(exc), az_id)
    bound.info("autoshift.decision", act=True, why="triggers.aws_autoshift is evacuate")
    metrics.add_metric(name="EvacuationsTriggered", unit=MetricUnit.Count, value=1)
    for practice in result.preempted:
        announce(controller, notifier, metrics, practice, "practice ended by an AWS autoshift")
    announce(controller, notifier, metrics, result, "evacuation on an AWS autoshift")
    return bounded({**result.to_dict(), "autoshift": signal.detail_type})


@dataclass(frozen=True)
class _AutoshiftContext:
    """What the halves of an autoshift decision share."""

    controller: Controller
    signal: AutoshiftSignal
    notifier: Notifier
    metrics: Metrics
    az_id: str
    deadline: Deadline | None

    @property
    def workload(self) -> str:
        return self.controller.config.workload

    def answer(self, status: str, reason: str, **more: Any) -> dict[str, Any]:
        log.info(
            "autoshift.decision",
            az_id=self.az_id,
            autoshift=self.signal.detail_type,
            act=False,
            status=status,
            why=reason,
        )
        self.metrics.add_metric(name="AutoshiftsNotified", unit=MetricUnit.Count, value=1)
        return {
            "status": status,
            "autoshift": self.signal.detail_type,
            "az_id": self.az_id,
            "reason": reason,
            **more,
        }


def _autoshift_notify(
    ctx: _AutoshiftContext, active: Autoshift, ignored: Callable[[str, str | None], dict[str, Any]]
) -> dict[str, Any]:
    """`notify`: page what AWS did and what it did not move; change nothing."""
    try:  # changes nothing; says what azevac would do, and whether the AZ is the workload's
        plan = ctx.controller.plan(ctx.az_id, ctx.deadline)
    except InvalidRequestError as exc:
        return ignored(str(exc), ctx.az_id)
    left = not_moved_by_aws(plan.steps)
    managed = arc_managed(plan.steps)
    lines = [
        f"AWS started a zonal autoshift away from {ctx.az_id} at "
        f"{active.start:%Y-%m-%d %H:%M:%S}Z (ARC observer notification, confirmed by "
        "ListAutoshifts).",
        "azevac did not act: triggers.aws_autoshift is notify.",
        "AWS shifts only what ARC manages and you enabled for zonal autoshift "
        f"({len(managed)} such resource(s) in azevac's plan: load balancers, zonal-shift-enabled "
        "Auto Scaling groups, EKS clusters).",
        *(
            ["AWS does NOT move (azevac's plan for this AZ would):", *(f"- {x}" for x in left)]
            if left
            else ["azevac's plan for this AZ has nothing beyond ARC-managed resources."]
        ),
        *([f"Refusals azevac would give now: {'; '.join(plan.refusals)}"] if plan.refusals else []),
        f"To evacuate: azevac evacuate --az {ctx.az_id} (or set triggers.aws_autoshift to "
        "evacuate).",
    ]
    notice = ctx.notifier.page(
        ctx.workload, ctx.az_id, "AWS autoshift started; azevac did not act", lines
    )
    return ctx.answer(
        "NOTIFIED",
        "triggers.aws_autoshift is notify: paged, nothing changed",
        not_moved_by_aws=left,
        delivered=notice.delivered,
    )


def _autoshift_ended(
    ctx: _AutoshiftContext, ignored: Callable[[str, str | None], dict[str, Any]]
) -> dict[str, Any]:
    """AWS ended its autoshift: an evacuation of the AZ stays held and the operator is paged,
    unless it was the autoshift's and `aws_autoshift_recover` finds it due."""
    controller, az_id = ctx.controller, ctx.az_id
    held = controller.status_of(az_id)
    if held is None:
        try:  # only an AZ of the workload is news
            controller.plan(az_id, ctx.deadline)
        except InvalidRequestError as exc:
            return ignored(str(exc), az_id)
        notice = ctx.notifier.page(
            ctx.workload,
            az_id,
            "AWS autoshift ended",
            [f"AWS ended its zonal autoshift away from {az_id}.", "azevac holds nothing there."],
        )
        return ctx.answer(
            "NOTIFIED", "azevac holds no evacuation of the AZ", delivered=notice.delivered
        )
    outcome = controller.recover_after_autoshift(az_id, deadline=ctx.deadline)
    if not isinstance(outcome, str):
        announce(
            controller, ctx.notifier, ctx.metrics, outcome, "recovery after AWS ended its autoshift"
        )
        return bounded({**outcome.to_dict(), "autoshift": ctx.signal.detail_type})
    return _still_held(ctx, held, outcome)


def _still_held(ctx: _AutoshiftContext, held: Evacuation, why: str) -> dict[str, Any]:
    later = (
        held.trigger is Trigger.AUTOSHIFT and ctx.controller.config.triggers.aws_autoshift_recover
    )
    lines = [
        f"AWS ended its zonal autoshift away from {ctx.az_id}.",
        f"azevac keeps {ctx.az_id} evacuated: evacuation {held.evacuation_id} "
        f"({held.status.value}, started by {held.trigger.value}).",
        f"Not recovered: {why}.",
        "The reconciler recovers it when due (every 5 minutes)."
        if later
        else f"Recover when the AZ is healthy: azevac recover --az {ctx.az_id}",
    ]
    notice = ctx.notifier.page(ctx.workload, ctx.az_id, "AWS autoshift ended; AZ held", lines)
    ctx.controller.record_notice(held.evacuation_id, notice)
    return ctx.answer(
        "HELD",
        why,
        evacuation_id=held.evacuation_id,
        recovers_when_due=later,
        delivered=notice.delivered,
    )


def on_manual(
    controller: Controller,
    request: ManualRequest,
    *,
    notifier: Notifier,
    metrics: Metrics,
    deadline: Deadline | None = None,
    alarm_states: AlarmStates | None = None,
) -> dict[str, Any]:
    """Carry out an operator's request; notify on evacuate and recover. With `alarm_states`,
    a plan or evacuation answers every AZ's alarm state and warns when another AZ looks
    impaired (evacuation.impairment)."""
    for_workload(metrics, controller.config.workload)
    metrics.add_metric(name="ManualRequests", unit=MetricUnit.Count, value=1)
    outcome = run_request(controller, request, deadline)
    acted = request.action in ("evacuate", "recover", "practice", "abandon") and not request.dry_run
    if acted and isinstance(outcome, Result):
        announce(controller, notifier, metrics, outcome, request.action)
    body = answer(controller.config.workload, outcome)
    if alarm_states is not None and request.action in ("plan", "evacuate"):
        body |= with_alarm_overview(controller.config, body, alarm_states)
    return fit(body)


def on_reconcile(
    controller: Controller,
    *,
    notifier: Notifier,
    metrics: Metrics,
    deadline: Deadline | None = None,
) -> dict[str, Any]:
    """The 5-minute pass: keep evacuations true, report readiness problems."""
    for_workload(metrics, controller.config.workload)
    report = controller.reconcile(deadline)
    metrics.add_metric(
        name="ReadinessProblems", unit=MetricUnit.Count, value=len(report.readiness_problems)
    )
    metrics.add_metric(
        name="ShiftsExtended", unit=MetricUnit.Count, value=len(report.extended_shifts)
    )
    metrics.add_metric(
        name="ShiftsRestarted", unit=MetricUnit.Count, value=len(report.restarted_shifts)
    )
    metrics.add_metric(name="ReconcileAlerts", unit=MetricUnit.Count, value=len(report.alerts))
    for result in report.results:
        record_result(metrics, result)
        if result.failed or result.status is Status.PARTIAL:
            notice = notifier.send(
                result, "reconcile found failures:" if result.failed else "reconcile:"
            )
            if result.evacuation_id is not None:
                controller.record_notice(result.evacuation_id, notice)
    for result in report.announce:  # a success a human must hear of: no failure said it
        notice = notifier.send(result, "recovered after AWS ended its autoshift:")
        if result.evacuation_id is not None:
            controller.record_notice(result.evacuation_id, notice)
    notifier.alert(controller.config.workload, report.alerts)
    return fit(report.to_dict())
