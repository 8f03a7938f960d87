"""AWS's own AZ signal (aws-semantics DET-8): the EventBridge events ARC sends when AWS starts or
ends a zonal autoshift, turned into a validated signal, and the pure decisions about it.

What AWS documents (ARC developer guide, "Using zonal autoshift with Amazon EventBridge",
https://docs.aws.amazon.com/r53recovery/latest/dg/eventbridge-zonal-autoshift.html):
- `source` is `aws.arc-zonal-shift`; the autoshift detail-types are `Autoshift In Progress` and
  `Autoshift Completed` (the EventBridge reference lists the same,
  https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-arc-zonal-shift.html).
- The example `Autoshift In Progress` event carries the AZ as an AZ ID in
  `detail.metadata.awayFrom` ("use1-az2"), with `detail.metadata.notes`, `detail.version` and
  `detail.data`; with observer notification enabled and no resource of yours in the autoshift,
  `resources` is empty.
- With autoshift observer notification ENABLED "ARC includes all autoshift events", even for an
  account with no resource enabled for zonal autoshift
  (https://docs.aws.amazon.com/r53recovery/latest/dg/arc-zonal-autoshift.enable-autoshift-observer.html,
  https://docs.aws.amazon.com/arc-zonal-shift/latest/api/API_UpdateAutoshiftObserverNotificationStatus.html).
- "Events are emitted on a best effort basis ... situations can arise that might delay or prevent
  delivery of an event." An end event may never come: the reconciler does not depend on it.

Where the docs are silent:
- No example `Autoshift Completed` event is given: we read it with the same shape as the
  `Autoshift In Progress` example (`detail.metadata.awayFrom`).
- An AZ *name* in `awayFrom` is not documented (every example and ListAutoshifts give AZ IDs);
  one is resolved to its ID in this account like an operator's input, never trusted as an ID.
- The event is a claim: AWS's own listing (ListAutoshifts, ACTIVE) is re-read before acting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from evacuation.aws.cloudwatch import AlarmState
from evacuation.aws.zonal_shift import Autoshift
from evacuation.errors import InvalidRequestError
from evacuation.model import Outcome, StepKind, StepRecord

SOURCE = "aws.arc-zonal-shift"
IN_PROGRESS = "Autoshift In Progress"
COMPLETED = "Autoshift Completed"


class AutoshiftPhase(StrEnum):
    STARTED = "started"
    ENDED = "ended"


PHASES: Mapping[str, AutoshiftPhase] = {
    IN_PROGRESS: AutoshiftPhase.STARTED,
    COMPLETED: AutoshiftPhase.ENDED,
}


@dataclass(frozen=True)
class AutoshiftSignal:
    """One ARC autoshift event, as the event claims it. Plain values only: the handler's
    idempotency layer hashes it (`dedupe_key`) and rebuilds it from a dict."""

    detail_type: str
    away_from: str
    """The AZ as the event names it (an AZ ID in every documented example)."""
    dedupe_key: str
    """Same for every delivery of one event (EventBridge's id): the idempotency key."""
    account: str | None = None
    region: str | None = None
    time: str | None = None
    notes: str = ""

    @property
    def phase(self) -> AutoshiftPhase | None:
        """Started or ended; None for another ARC detail-type (a practice run, an FIS shift)."""
        return PHASES.get(self.detail_type)


def is_autoshift_event(event: Any) -> bool:
    """An event from ARC zonal shift (any detail-type): the alarm function's second shape."""
    return isinstance(event, Mapping) and event.get("source") == SOURCE


def _text(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequestError(f"event: {what} must be a non-empty string")
    return value.strip()


def _optional(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def parse_autoshift_event(event: Any) -> AutoshiftSignal:
    """The signal in an ARC EventBridge event; InvalidRequestError names what is malformed.

    Another ARC detail-type parses (its `awayFrom` may be absent): the service ignores it with
    the reason, so a rule widened to the whole source does not page on every practice run."""
    if not is_autoshift_event(event):
        raise InvalidRequestError(f"event: not an ARC zonal shift event (source {SOURCE})")
    detail_type = _text(event.get("detail-type"), "detail-type")
    detail = event.get("detail")
    metadata = detail.get("metadata") if isinstance(detail, Mapping) else None
    if detail_type in PHASES:
        if not isinstance(metadata, Mapping):
            raise InvalidRequestError(f"event: {detail_type} without detail.metadata")
        away_from = _text(metadata.get("awayFrom"), "detail.metadata.awayFrom")
        if len(away_from) > 20:  # AutoshiftSummary.awayFrom: "Maximum length of 20"
            raise InvalidRequestError("event: detail.metadata.awayFrom is longer than an AZ ID")
    else:
        away_from = str(metadata.get("awayFrom", "")) if isinstance(metadata, Mapping) else ""
    notes = metadata.get("notes") if isinstance(metadata, Mapping) else None
    return AutoshiftSignal(
        detail_type=detail_type,
        away_from=away_from[:20],
        dedupe_key=f"eventbridge:{_text(event.get('id'), 'id')}",
        account=_optional(event.get("account")),
        region=_optional(event.get("region")),
        time=_optional(event.get("time")),
        notes=str(notes or "")[:400],
    )


def active_away_from(az_id: str, autoshifts: Sequence[Autoshift]) -> Autoshift | None:
    """AWS's active autoshift away from `az_id` (ListAutoshifts), if any: the truth an event
    claims."""
    return next((a for a in autoshifts if a.away_from == az_id), None)


def recovery_not_due(
    az_id: str,
    names: Sequence[str],
    alarms: Mapping[str, AlarmState],
    now: datetime,
    minutes: int,
) -> str | None:
    """Why an AZ an autoshift took out must not be recovered automatically yet, or None: every
    configured alarm of the AZ must exist and have been OK for `minutes`. With no alarm to read,
    azevac cannot tell the AZ is healthy, and AWS ending its autoshift is not proof enough for
    this workload: a human decides."""
    if not names:
        return f"no alarm is configured for {az_id} (alarms), so azevac cannot tell it is healthy"
    wanted = timedelta(minutes=minutes)
    waiting: list[str] = []
    for name in names:
        alarm = alarms.get(name)
        if alarm is None:
            return f"alarm {name} of {az_id} does not exist in CloudWatch"
        if alarm.state != "OK":
            return f"alarm {name} of {az_id} is {alarm.state}, not OK"
        if alarm.since is None:
            return f"alarm {name} of {az_id} is OK, but CloudWatch gives no time since when"
        if now - alarm.since < wanted:
            due = alarm.since + wanted
            waiting.append(f"{name} OK since {alarm.since:%H:%M:%S}Z (due {due:%H:%M:%S}Z)")
    if waiting:
        return (
            f"the alarms of {az_id} have not been OK for safety.cooldown_minutes={minutes} yet: "
            + "; ".join(waiting)
        )
    return None


NAMES_SHOWN = 5


def not_moved_by_aws(steps: Sequence[StepRecord]) -> list[str]:
    """What azevac's plan for the AZ would change that an AWS autoshift does not: AWS shifts
    only resources ARC manages (load balancers, zonal-shift-enabled Auto Scaling groups, EKS
    clusters) and enabled for zonal autoshift; Route 53 weights, routing controls, DB writers,
    cache primaries, ECS subnets and the other groups' subnets stay as they are. One line per
    kind of step, from a plan's steps that need a change."""
    by_kind: dict[str, list[str]] = {}
    for step in steps:
        if step.key.kind is StepKind.ZONAL_SHIFT or step.outcome is not Outcome.PLANNED:
            continue
        by_kind.setdefault(step.key.kind.value, []).append(step.key.resource)
    lines = []
    for kind, resources in sorted(by_kind.items()):
        shown = ", ".join(resources[:NAMES_SHOWN])
        more = f" and {len(resources) - NAMES_SHOWN} more" if len(resources) > NAMES_SHOWN else ""
        lines.append(f"{kind}: {len(resources)} ({shown}{more})")
    return lines


def arc_managed(steps: Sequence[StepRecord]) -> list[str]:
    """The plan's ARC-managed resources: AWS's autoshift moves these only if they are enabled
    for zonal autoshift (azevac's own shift would move them either way)."""
    return [s.key.resource for s in steps if s.key.kind is StepKind.ZONAL_SHIFT]
