"""Operator requests from a runbook, the SSM Automation document or the CLI's --via-lambda.

Payload: {"action": "plan"|"evacuate"|"recover"|"status", "az": "use1-az1", "dry_run": false,
"reason": "why"}. An invalid payload raises an error naming the bad field; nothing changes.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Metrics

from evacuation import runtime, service
from evacuation.requests import parse_request

metrics = Metrics(namespace="azevac", service="azevac")


@metrics.log_metrics
def handler(event: Any, context: Any) -> dict[str, Any]:
    with runtime.invocation("manual", context) as rt:
        request = parse_request(event)
        return service.on_manual(
            rt.controller(),
            request,
            notifier=rt.notifier(),
            metrics=metrics,
            deadline=runtime.deadline_for(context),
            alarm_states=rt.alarm_states,
        )
