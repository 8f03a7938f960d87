"""One measured evacuation, in a process of its own: the "Lambda". AWS (a moto server) runs in
the parent, so this process's peak RSS is azevac's, not moto's.

    python -m benchmarks.worker --fleet medium --mode parallel --endpoint URL --out result.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any


def alarm_event(alarm: str, event_id: str) -> dict[str, Any]:
    """The EventBridge "CloudWatch Alarm State Change" event for `alarm` going to ALARM, now
    (the alarm handler ignores events older than max_event_age_seconds)."""
    EVENT_TIME = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "version": "0",
        "id": event_id,
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": "123456789012",
        "time": EVENT_TIME,
        "region": "us-east-1",
        "resources": [f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{alarm}"],
        "detail": {
            "alarmName": alarm,
            "state": {"value": "ALARM", "reason": "benchmark", "timestamp": EVENT_TIME},
            "previousState": {"value": "OK", "reason": "", "timestamp": EVENT_TIME},
            "configuration": {"metrics": []},
        },
    }


def before_first_mutation(
    timeline: list[tuple[float, str, str]], started: float, services: frozenset[str]
) -> dict[str, Any]:
    """The calls made before the first data-plane mutation: the serial part of the critical path."""
    from evacuation.emulator.faults import is_mutation  # noqa: PLC0415

    calls = []
    for at, service, operation in timeline:
        if service in services and is_mutation(operation):
            return {"seconds": round(at - started, 3), "calls": calls}
        calls.append(f"+{at - started:.3f} {service}.{operation}")
    return {"seconds": None, "calls": calls}


def mutations_at(
    timeline: list[tuple[float, str, str]], started: float, services: frozenset[str]
) -> dict[str, list[float]]:
    """When each of these services' mutations was sent: where the data plane's time goes."""
    from evacuation.emulator.faults import is_mutation  # noqa: PLC0415

    return {
        service: [
            round(at - started, 3) for at, s, op in timeline if s == service and is_mutation(op)
        ]
        for service in sorted(services)
    }


def install_fakes(session: Any, spec: Any) -> None:
    """What moto lacks, in this process (the fakes' state lives here): ARC zonal shift with the
    fleet's load balancers, ECS deployments, ElastiCache with the fleet's cache groups."""
    from benchmarks.fleets import register_cache_groups, register_resources  # noqa: PLC0415
    from evacuation.emulator.ecs import EcsDeployments  # noqa: PLC0415
    from evacuation.emulator.elasticache import ElastiCacheFake  # noqa: PLC0415
    from evacuation.emulator.zonal_shift import ZonalShiftFake  # noqa: PLC0415

    fake = ZonalShiftFake()
    fake.install(session)
    register_resources(fake, spec)
    EcsDeployments().install(session)
    cache = ElastiCacheFake()
    cache.install(session)
    register_cache_groups(cache, spec)


def peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the
    parent across fork and exec, so it would report the moto server's memory."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


class Context:
    function_name = "azevac-bench"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:azevac-bench"

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fleet", required=True)
    parser.add_argument("--mode", choices=("parallel", "sequential"), required=True)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--az", default="use1-az1")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    import boto3  # noqa: PLC0415 - after argument parsing: keep `--help` instant

    from benchmarks.baseline import SequentialRuntime  # noqa: PLC0415
    from benchmarks.fleets import FLEETS, WORKLOAD  # noqa: PLC0415
    from evacuation import runtime  # noqa: PLC0415
    from evacuation.config import DEFAULT_RATE_LIMITS  # noqa: PLC0415
    from evacuation.emulator.latency import SimulatedAws  # noqa: PLC0415
    from evacuation.runtime import Runtime  # noqa: PLC0415
    from evacuation.settings import Settings  # noqa: PLC0415
    from handlers import alarm  # noqa: PLC0415

    spec = FLEETS[args.fleet]
    session = boto3.Session(region_name="us-east-1")
    aws = SimulatedAws(args.latency, DEFAULT_RATE_LIMITS)
    aws.install(session)
    install_fakes(session, spec)
    settings = Settings.from_env()
    rt = (
        SequentialRuntime(settings, session)
        if args.mode == "sequential"
        else Runtime(settings, session)
    )
    runtime.install(rt)
    name = f"{WORKLOAD}-{args.az}-isolated-impact"

    data_plane = frozenset({"arc-zonal-shift", "route53"})
    # The workload's AWS APIs; the state table (DynamoDB) and SNS are counted apart.
    workload = frozenset(
        {*data_plane, "autoscaling", "ec2", "cloudwatch", "rds", "ecs", "elasticache"}
    )
    # The handler re-reads the alarm's state before acting: it is in ALARM, as in a real event.
    session.client("cloudwatch").set_alarm_state(
        AlarmName=name, StateValue="ALARM", StateReason="benchmark"
    )
    aws.reset()
    started = time.monotonic()
    answer = alarm.handler(alarm_event(name, str(uuid.uuid4())), Context())
    finished = time.monotonic()
    reads, mutations = aws.reads_and_mutations(workload)
    data_reads, data_mutations = aws.reads_and_mutations(data_plane)
    last_data = max((aws.last_mutation_at.get(s, started) for s in data_plane), default=started)
    first = {
        "status": answer.get("status"),
        "reason": answer.get("reason"),
        "mitigate_seconds": last_data - started,
        "total_seconds": finished - started,
        "reads": reads,
        "mutations": mutations,
        "state_calls": sum(aws.reads_and_mutations(frozenset({"dynamodb"}))),
        "data_plane_reads": data_reads,
        "data_plane_mutations": data_mutations,
        "calls": {f"{s}.{o}": n for (s, o), n in sorted(aws.calls.items())},
        "throttled": dict(aws.throttled),
        "retries": answer.get("retries"),
        "before_first_data_plane_mutation": before_first_mutation(
            aws.timeline, started, data_plane
        ),
        "data_plane_mutations_at": mutations_at(aws.timeline, started, data_plane),
        "step_counts": answer.get("step_counts", {}),
        "not_converged": [
            s for s in answer.get("steps", []) if s["outcome"] in ("failed", "pending")
        ],
    }
    aws.reset()
    again = alarm.handler(alarm_event(name, str(uuid.uuid4())), Context())
    second_reads, second_mutations = aws.reads_and_mutations(workload)
    result = {
        "fleet": spec.name,
        "mode": args.mode,
        "first": first,
        "second": {
            "status": again.get("status"),
            "reason": again.get("reason"),
            "reads": second_reads,
            "mutations": second_mutations,
            "calls": {f"{s}.{o}": n for (s, o), n in sorted(aws.calls.items()) if n},
        },
        "peak_rss_mb": peak_rss_mb(),
    }
    with open(args.out, "w", encoding="utf-8") as out:
        json.dump(result, out, indent=2)
    return 0 if first["status"] == "EVACUATED" else 1


if __name__ == "__main__":
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    sys.exit(main())
