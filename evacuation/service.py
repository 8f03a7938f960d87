"""What each entry point does with a validated request: decide, act, notify, count.

The Lambda handlers and the CLI call these; they hold no AWS logic of their own."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import structlog
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from evacuation.alarms import AlarmDecision, AlarmSignal, FunctionIdentity, decide, verify_origin
from evacuation.controller import Controller
from evacuation.errors import InvalidRequestError
from evacuation.impairment import with_alarm_overview
from evacuation.metrics import for_workload, record_result
from evacuation.model import Status, Trigger
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
    notifier.alert(controller.config.workload, report.alerts)
    return fit(report.to_dict())
