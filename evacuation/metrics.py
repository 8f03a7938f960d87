"""EMF metrics through Powertools: evacuations started, steps failed, time to move traffic."""

from __future__ import annotations

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from evacuation.model import Outcome, Status
from evacuation.result import Result


def for_workload(metrics: Metrics, workload: str) -> None:
    """Every metric of this invocation carries the workload dimension (template.yaml's alarms
    name service and workload): set once, first, so what is counted later matches them."""
    metrics.add_dimension(name="workload", value=workload)


def record_result(metrics: Metrics, result: Result) -> None:
    """Add the metrics one evacuate/recover result tells."""
    if result.status is Status.REFUSED:
        metrics.add_metric(name="EvacuationsRefused", unit=MetricUnit.Count, value=1)
        return
    evacuated = result.status in (Status.EVACUATED, Status.PARTIAL, Status.DEGRADED)
    if evacuated:
        metrics.add_metric(name="EvacuationsRun", unit=MetricUnit.Count, value=1)
    failed = sum(1 for s in result.steps if s.outcome is Outcome.FAILED)
    metrics.add_metric(name="StepsFailed", unit=MetricUnit.Count, value=failed)
    if evacuated and result.data_plane_seconds is not None:
        metrics.add_metric(
            name="DataPlaneSeconds", unit=MetricUnit.Seconds, value=result.data_plane_seconds
        )


NAMESPACE = "azevac"


def count(name: str, value: int = 1) -> None:
    """Count an event in this invocation's metrics from anywhere in the library: Powertools
    keeps one metric set per process, flushed by the handler's `log_metrics`."""
    Metrics(namespace=NAMESPACE, service=NAMESPACE).add_metric(
        name=name, unit=MetricUnit.Count, value=value
    )
