"""Gray-failure alarm -> evacuate that AZ. Accepts EventBridge, SNS and alarm-action payloads,
and ARC's autoshift events (source aws.arc-zonal-shift: AWS's own AZ signal, `triggers`).

EventBridge delivers at least once: Powertools idempotency on the event's own id keeps a
re-delivered event from starting anything, on top of the engine's own idempotency.

The engine (`evacuation`: pydantic models, structlog, tenacity) is imported by the first
invocation, not at module load: module load is boto3 and Powertools only (`make bench` checks
the ratio to `import boto3`), and a malformed event never pays for the engine.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
)

if TYPE_CHECKING:
    from evacuation.alarms import AlarmSignal
    from evacuation.autoshift_events import AutoshiftSignal

metrics = Metrics(namespace="azevac", service="azevac")
IDEMPOTENCY = IdempotencyConfig(event_key_jmespath="dedupe_key", expires_after_seconds=6 * 3600)


@metrics.log_metrics
def handler(event: Any, context: Any) -> dict[str, Any]:
    from evacuation import runtime, service  # noqa: PLC0415 - see the module docstring
    from evacuation.alarms import AlarmSignal, parse_alarm_event  # noqa: PLC0415
    from evacuation.autoshift_events import (  # noqa: PLC0415
        AutoshiftSignal,
        is_autoshift_event,
        parse_autoshift_event,
    )

    with runtime.invocation("alarm", context) as rt:
        identity = rt.identity(context)
        signal: AlarmSignal | AutoshiftSignal
        if is_autoshift_event(event):
            signal = parse_autoshift_event(event)

            def act(signal: dict[str, Any]) -> dict[str, Any]:
                return service.on_autoshift(
                    rt.controller(),
                    AutoshiftSignal(**signal),
                    notifier=rt.notifier(),
                    metrics=metrics,
                    identity=identity,
                    autoshifts=rt.active_autoshifts,
                    deadline=runtime.deadline_for(context),
                )
        else:
            signal = parse_alarm_event(event)

            def act(signal: dict[str, Any]) -> dict[str, Any]:
                return service.on_alarm(
                    rt.controller(),
                    AlarmSignal(**signal),
                    notifier=rt.notifier(),
                    metrics=metrics,
                    identity=identity,
                    alarm_states=rt.alarm_states,
                    deadline=runtime.deadline_for(context),
                )

        layer = rt.idempotency_layer()
        if layer is None:
            return act(asdict(signal))
        IDEMPOTENCY.register_lambda_context(context)
        once = idempotent_function(
            data_keyword_argument="signal", persistence_store=layer, config=IDEMPOTENCY
        )(act)
        try:
            answer: dict[str, Any] = once(signal=asdict(signal))
        except IdempotencyAlreadyInProgressError:
            return {"status": "DUPLICATE", "reason": "this alarm event is being handled already"}
        return answer
