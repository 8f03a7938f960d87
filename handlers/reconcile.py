"""Every 5 minutes: extend expiring shifts, re-apply drift, retry failed steps, check readiness."""

from __future__ import annotations

from typing import Any

import structlog
from aws_lambda_powertools import Metrics

from evacuation import logs, runtime, service

metrics = Metrics(namespace="azevac", service="azevac")


@metrics.log_metrics
def handler(event: Any, context: Any) -> dict[str, Any]:
    logs.configure()
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(
        handler="reconcile", request_id=getattr(context, "aws_request_id", None)
    )
    rt = runtime.current()
    return service.on_reconcile(
        rt.controller(),
        notifier=rt.notifier(),
        metrics=metrics,
        deadline=runtime.deadline_for(context),
    )
