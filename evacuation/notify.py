"""Notifications for a human on a phone: what happened, to which AZ, and what to do next."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime

import structlog

from evacuation.aws.clients import AwsClients, Caller
from evacuation.aws.sns import SnsGateway
from evacuation.errors import EvacuationError
from evacuation.metrics import count
from evacuation.model import Notice, Outcome, Status
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


SUBJECT_MAX = 100
"""SNS: a subject is at most 100 printable ASCII characters, with no line break."""
MESSAGE_MAX_BYTES = 256 * 1024
"""SNS: a message is at most 256 KB (UTF-8 bytes)."""
FAILED_LINES = 20
"""Failed steps listed one per line; the rest are counted (`azevac status --az` has them all)."""
TEXT_MAX = 400


def compose(result: Result, event: str) -> tuple[str, str]:
    """(subject, message) for a result: short lines, the AZ first, bounded whatever the number
    of steps (1,000 failed steps fit in one SNS message)."""
    said = event.rstrip(":").strip()
    status = result.status.value
    headline = said if said.upper().endswith(status) else f"{said} {status}".strip()
    subject = f"azevac {result.workload}: {result.az_id} {headline}"
    counts = Counter(step.outcome.value for step in result.steps)
    lines = [
        f"Workload {result.workload}, AZ {result.az_id}: {status}",
        f"Evacuation {result.evacuation_id or '-'}",
    ]
    if result.reason:
        lines.append(f"Reason: {_short(result.reason, 4 * TEXT_MAX)}")
    if counts:
        lines.append("Steps: " + ", ".join(f"{n} {o}" for o, n in sorted(counts.items())))
    failed = [step for step in result.steps if step.outcome is Outcome.FAILED]
    for step in failed[:FAILED_LINES]:
        error = _short(step.error or "", TEXT_MAX)
        lines.append(f"FAILED {step.key.kind.value} {step.key.resource}: {error}")
    if len(failed) > FAILED_LINES:
        lines.append(
            f"... and {len(failed) - FAILED_LINES} more failed steps: "
            f"azevac status --az {result.az_id}"
        )
    if result.data_plane_seconds is not None:
        lines.append(f"Traffic moved in {result.data_plane_seconds:.1f}s")
    hint = NEXT_STEP.get(result.status)
    if hint:
        lines.append(hint.format(az=result.az_id))
    return fit_subject(subject), fit_message("\n".join(lines))


def fit_subject(subject: str) -> str:
    """A subject SNS accepts: printable ASCII, one line, at most 100 characters."""
    printable = "".join(c if " " <= c <= "~" else "?" for c in subject)
    return printable if len(printable) <= SUBJECT_MAX else printable[: SUBJECT_MAX - 3] + "..."


def fit_message(message: str, limit: int = MESSAGE_MAX_BYTES) -> str:
    """`message` cut to SNS's byte limit, saying so at the end."""
    data = message.encode("utf-8")
    if len(data) <= limit:
        return message
    tail = "\n[cut to fit SNS's 256 KB: see azevac status]"
    kept = data[: limit - len(tail.encode("utf-8"))].decode("utf-8", errors="ignore")
    return kept + tail


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Notifier:
    """Sends to the SNS topic when one is configured. A publish is retried; one that still fails
    is logged as an error and counted (NotificationsFailed, which the stack alarms on), never
    fatal: the evacuation itself already happened and is recorded."""

    def __init__(self, clients: AwsClients, topic_arn: str | None) -> None:
        self._clients = clients
        self._topic_arn = topic_arn

    def send(self, result: Result, event: str) -> Notice:
        """Publish the result; what was sent, and whether it was delivered to the topic."""
        subject, message = compose(result, event)
        error = self._publish(
            subject, message, evacuation_id=result.evacuation_id, az_id=result.az_id
        )
        return Notice(datetime.now(UTC), subject, delivered=error is None, error=error)

    def alert(self, workload: str, alerts: Sequence[str]) -> None:
        """Page about what the reconciler found and could not fix alone (one message)."""
        if not alerts:
            return
        subject = f"azevac {workload}: {len(alerts)} problem(s) need a human"
        message = "\n".join([f"Workload {workload}:", *(f"- {a}" for a in alerts)])
        self._publish(fit_subject(subject), fit_message(message), evacuation_id=None, az_id=None)

    def page(
        self,
        workload: str,
        az_id: str,
        headline: str,
        lines: Sequence[str],
        evacuation_id: str | None = None,
    ) -> Notice:
        """Page about an AZ without an evacuation result (an AWS autoshift azevac did not act
        on, or one that ended while azevac holds the AZ): what was sent, and whether it was."""
        subject = fit_subject(f"azevac {workload}: {az_id} {headline}")
        message = fit_message("\n".join([f"Workload {workload}, AZ {az_id}:", *lines]))
        error = self._publish(subject, message, evacuation_id=evacuation_id, az_id=az_id)
        return Notice(datetime.now(UTC), subject, delivered=error is None, error=error)

    def failure(self, handler: str, error: BaseException, request_id: str | None) -> None:
        """Page about an invocation that failed with an exception (any exception, not only
        bad input): what failed, and where its log is."""
        subject = f"azevac: the {handler} function failed ({type(error).__name__})"
        message = "\n".join(
            [
                f"The {handler} function failed: {type(error).__name__}: "
                + _short(str(error), 4000),
                f"Request id {request_id or '-'}: its log (CloudWatch Logs) has the trace.",
                "What it was doing may be half done: check azevac status, then re-run it.",
            ]
        )
        self._publish(fit_subject(subject), fit_message(message), evacuation_id=None, az_id=None)

    def _publish(
        self, subject: str, message: str, *, evacuation_id: str | None, az_id: str | None
    ) -> str | None:
        """None when published; else why not."""
        if not self._topic_arn:
            return "no notification topic configured (AZEVAC_TOPIC_ARN)"
        call = Caller(RetryPolicy(Deadline.within(10), max_attempts=3))
        try:
            SnsGateway(self._clients, call).publish(self._topic_arn, subject, message)
        except EvacuationError as exc:
            log.error("notify.failed", evacuation_id=evacuation_id, az_id=az_id, error=str(exc))
            count("NotificationsFailed")
            return str(exc)
        log.info("notify.sent", evacuation_id=evacuation_id, az_id=az_id, subject=subject)
        return None
