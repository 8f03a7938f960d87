"""Readiness of the detection kit: its outlier tests and regional alarm read the region's totals,
a dimension set the service must publish beside the per-AZ one (README Detection). The
reconciler says so when CloudWatch does not list it, instead of leaving alarms with no data."""

from __future__ import annotations

from typing import Any

import boto3

from evacuation.emulator.world import World
from tests.conftest import ControllerFactory

NAMESPACE = "checkout"
METRICS = ("Requests", "Faults", "Latency")


def _config(world: World) -> dict[str, Any]:
    detection = {
        "az_ids": list(world.az_ids),
        "service": {"namespace": NAMESPACE, "dimensions": {"Operation": "all"}},
    }
    return world.config() | {"detection": detection}


def _publish(session: boto3.Session, dimension_sets: list[list[tuple[str, str]]]) -> None:
    cloudwatch = session.client("cloudwatch", region_name="us-east-1")
    for metric in METRICS:
        cloudwatch.put_metric_data(
            Namespace=NAMESPACE,
            MetricData=[
                {
                    "MetricName": metric,
                    "Dimensions": [{"Name": k, "Value": v} for k, v in dims],
                    "Value": 1.0,
                }
                for dims in dimension_sets
            ],
        )


def _detection_problems(make_controller: ControllerFactory, world: World) -> list[str]:
    report = make_controller(_config(world)).reconcile()
    return [p for p in report.readiness_problems if p.startswith("detection:")]


def test_a_service_that_publishes_only_per_az_metrics_is_a_readiness_problem(
    world: World, session: boto3.Session, make_controller: ControllerFactory
) -> None:
    # Given the service's EMF carries only [Operation, AZ-ID]
    _publish(session, [[("Operation", "all"), ("AZ-ID", az)] for az in world.az_ids])

    # When the reconciler checks readiness
    problems = _detection_problems(make_controller, world)

    # Then each metric the alarms read is named, with the missing region's total
    assert len(problems) == len(METRICS)
    for metric, problem in zip(METRICS, problems, strict=True):
        assert f"{NAMESPACE}/{metric} [Operation=all]" in problem
        assert "(no AZ: the region's total)" in problem
        assert not any(az in problem.split("for ")[1].split(":")[0] for az in world.az_ids)


def test_a_missing_az_is_named(
    world: World, session: boto3.Session, make_controller: ControllerFactory
) -> None:
    first, *rest = world.az_ids
    _publish(
        session, [[("Operation", "all")], *([("Operation", "all"), ("AZ-ID", az)] for az in rest)]
    )
    problems = _detection_problems(make_controller, world)
    assert problems and all(f"for {first}:" in p for p in problems)


def test_both_dimension_sets_published_is_ready(
    world: World, session: boto3.Session, make_controller: ControllerFactory
) -> None:
    _publish(
        session,
        [[("Operation", "all")], *([("Operation", "all"), ("AZ-ID", az)] for az in world.az_ids)],
    )
    assert _detection_problems(make_controller, world) == []
