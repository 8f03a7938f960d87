"""Notifications for a human on a phone: what happened, to which AZ, and what to do next."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import structlog

from evacuation.aws.clients import AwsClients, Caller
from evacuation.aws.sns import SnsGateway
from evacuation.errors import EvacuationError
from evacuation.model import Outcome, Status
from evacuation.result import Result
from evacuation.retry import Deadline, RetryPolicy

log = structlog.get_logger(__name__)

NEXT_STEP = {
    Status.EVACUATED: "Traffic and new capacity are out of the AZ. Recover when it is healthy: "
    "azevac recover --az {az}",
    Status.DEGRADED: "Some steps failed; the reconciler retries every 5 minutes. "
    "Check: azevac status",
    Status.PARTIAL: "Not every lever is in effect yet (pending or skipped by a guard: see the "
    "steps); the reconciler keeps working on it. Check: azevac status",
    Status.REFUSED: "Nothing was changed. Read the reason; evacuate by hand only if it is wrong.",
    Status.RECOVERED: "The AZ is back in service.",
    Status.ABANDONED: "The AZ was released without a full recovery: the changes listed remain "
    "in AWS; undo them by hand.",
    Status.RECOVERING: "Recover is incomplete; re-run: azevac recover --az {az}",
}


def compose(result: Result, event: str) -> tuple[str, str]:
    """(subject, message) for a result: short lines, the AZ first."""
    subject = f"azevac {result.workload}: {result.az_id} {event} {result.status.value}"
    counts = Counter(step.outcome.value for step in result.steps)
    lines = [
        f"Workload {result.workload}, AZ {result.az_id}: {result.status.value}",
        f"Evacuation {result.evacuation_id or '-'}",
    ]
    if result.reason:
        lines.append(f"Reason: {result.reason}")
    if counts:
        lines.append("Steps: " + ", ".join(f"{n} {o}" for o, n in sorted(counts.items())))
    for step in result.steps:
        if step.outcome is Outcome.FAILED:
            lines.append(f"FAILED {step.key.kind.value} {step.key.resource}: {step.error}")
    if result.data_plane_seconds is not None:
        lines.append(f"Traffic moved in {result.data_plane_seconds:.1f}s")
    hint = NEXT_STEP.get(result.status)
    if hint:
        lines.append(hint.format(az=result.az_id))
    return subject, "\n".join(lines)


class Notifier:
    """Sends to the SNS topic when one is configured; a failure to notify is logged, never fatal
    (the evacuation itself already happened and is recorded)."""

    def __init__(self, clients: AwsClients, topic_arn: str | None) -> None:
        self._clients = clients
        self._topic_arn = topic_arn

    def send(self, result: Result, event: str) -> None:
        subject, message = compose(result, event)
        self._publish(subject, message, evacuation_id=result.evacuation_id, az_id=result.az_id)

    def alert(self, workload: str, alerts: Sequence[str]) -> None:
        """Page about what the reconciler found and could not fix alone (one message)."""
        if not alerts:
            return
        subject = f"azevac {workload}: {len(alerts)} problem(s) need a human"
        message = "\n".join([f"Workload {workload}:", *(f"- {a}" for a in alerts)])
        self._publish(subject, message, evacuation_id=None, az_id=None)

    def _publish(
        self, subject: str, message: str, *, evacuation_id: str | None, az_id: str | None
    ) -> None:
        if not self._topic_arn:
            return
        call = Caller(RetryPolicy(Deadline.within(10), max_attempts=3))
        try:
            SnsGateway(self._clients, call).publish(self._topic_arn, subject, message)
        except EvacuationError as exc:
            log.error("notify.failed", evacuation_id=evacuation_id, az_id=az_id, error=str(exc))
