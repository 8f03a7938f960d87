"""Every 5 minutes: extend expiring shifts, re-apply drift, retry failed steps, check readiness."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Metrics

from evacuation import runtime, service

metrics = Metrics(namespace="azevac", service="azevac")


@metrics.log_metrics
def handler(event: Any, context: Any) -> dict[str, Any]:
    with runtime.invocation("reconcile", context) as rt:
        return service.on_reconcile(
            rt.controller(),
            notifier=rt.notifier(),
            metrics=metrics,
            deadline=runtime.deadline_for(context),
        )
