"""`make bench`: time to mitigate at fleet scale, against the lower bound and a sequential
baseline, with API calls, peak RSS and the alarm handler's import cost; then, for the artifact
`sam build` deploys (benchmarks/deployed.py), its cold start and its peak RSS on each fleet.

AWS is a moto server in this process (plus, in the measured process, the zonal-shift fake and
the latency and rate-limit hook); each measured evacuation runs in a fresh worker process, so
its peak RSS is azevac's own.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from rich.console import Console
from rich.table import Table

from benchmarks import deployed
from benchmarks.fleets import FLEETS, FleetSpec, build_fleet
from benchmarks.lower_bound import lower_bound
from evacuation.config import DEFAULT_RATE_LIMITS
from evacuation.emulator.server import EmbeddedAwsServer
from evacuation.emulator.table import create_state_table

RESULTS = Path(__file__).parent / "results.json"
TABLE = "azevac-bench-state"
FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}
IMPORT_RUNS = 7


def measure(
    spec: FleetSpec, mode: str, endpoint: str, latency: float, workdir: Path
) -> dict[str, Any]:
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"))
    session = boto3.Session(region_name="us-east-1")
    started = time.monotonic()
    config = build_fleet(session, spec)
    create_state_table(session.client("dynamodb", endpoint_url=endpoint), TABLE)
    built = time.monotonic() - started
    if mode == "sequential":
        config["execution"]["max_workers_per_service"] = 1
    config_path = workdir / f"{spec.name}-{mode}.json"
    config_path.write_text(json.dumps(config), encoding="utf-8")
    out = workdir / f"{spec.name}-{mode}.result.json"
    env = {
        **os.environ,
        **FAKE_ENV,
        "AWS_ENDPOINT_URL": endpoint,
        "AZEVAC_CONFIG": str(config_path),
        "AZEVAC_TABLE": TABLE,
        "POWERTOOLS_METRICS_NAMESPACE": "azevac",
    }
    command = [
        sys.executable, "-m", "benchmarks.worker", "--fleet", spec.name, "--mode", mode,
        "--latency", str(latency), "--out", str(out),
    ]  # fmt: skip
    done = subprocess.run(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
    )
    if not out.exists():
        raise RuntimeError(f"{spec.name}/{mode} worker failed:\n{done.stderr.decode()[-3000:]}")
    result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    result["build_seconds"] = built
    return result


def import_ratio() -> dict[str, float]:
    """Median wall time to import the alarm handler vs boto3 alone, each in a fresh interpreter."""

    def timed(module: str) -> float:
        code = (
            f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
        )
        env = {**os.environ, **FAKE_ENV}
        return float(
            subprocess.run(
                [sys.executable, "-c", code], env=env, capture_output=True, check=True, text=True
            ).stdout
        )

    boto3_s, handler_s = [], []
    for _ in range(IMPORT_RUNS):  # interleaved: a noisy neighbour hits both the same
        boto3_s.append(timed("boto3"))
        handler_s.append(timed("handlers.alarm"))
    b, h = statistics.median(boto3_s), statistics.median(handler_s)
    return {"import_boto3_seconds": b, "import_handler_seconds": h, "ratio": h / b}


def summarize(
    spec: FleetSpec, parallel: dict[str, Any], sequential: dict[str, Any] | None, latency: float
) -> dict[str, Any]:
    bound = lower_bound(spec, latency, DEFAULT_RATE_LIMITS)
    first = parallel["first"]
    changed = first["step_counts"].get("applied", 0)
    read_budget = 2 * spec.resources + spec.hosted_zones
    return {
        "fleet": spec.name,
        "resources": spec.resources,
        "status": first["status"],
        "mitigate_seconds": round(first["mitigate_seconds"], 3),
        "total_seconds": round(first["total_seconds"], 3),
        "lower_bound_mitigate_seconds": round(bound.mitigate_seconds, 3),
        "lower_bound_total_seconds": round(bound.total_seconds, 3),
        "mitigate_vs_lower_bound": round(first["mitigate_seconds"] / bound.mitigate_seconds, 2),
        "total_vs_lower_bound": round(first["total_seconds"] / bound.total_seconds, 2),
        "sequential_mitigate_seconds": _seq(sequential, "mitigate_seconds"),
        "sequential_total_seconds": _seq(sequential, "total_seconds"),
        "speedup_mitigate": _ratio(_seq(sequential, "mitigate_seconds"), first["mitigate_seconds"]),
        "speedup_total": _ratio(_seq(sequential, "total_seconds"), first["total_seconds"]),
        "reads": first["reads"],
        "read_budget": read_budget,
        "mutations": first["mutations"],
        "state_reads_and_writes": first["state_calls"],
        "steps_applied": changed,
        "second_run_mutations": parallel["second"]["mutations"],
        "second_run_status": parallel["second"]["status"],
        "throttled": first["throttled"],
        "retries": first["retries"],
        "peak_rss_mb": round(parallel["peak_rss_mb"], 1),
        "sequential_peak_rss_mb": sequential and round(sequential["peak_rss_mb"], 1),
        "calls": first["calls"],
    }


def _seq(run: dict[str, Any] | None, key: str) -> float | None:
    return None if run is None else round(run["first"][key], 3)


def _ratio(a: float | None, b: float) -> float | None:
    return None if a is None else round(a / b, 1)


def _num(value: float | None, fmt: str) -> str:
    return "not run" if value is None else format(value, fmt)


def render(rows: list[dict[str, Any]], imports: dict[str, float], latency: float) -> Table:
    table = Table(
        title=f"azevac benchmark: {latency * 1000:.0f} ms per call, AWS rate limits modelled"
    )
    for column in (
        "fleet", "resources", "mitigate s", "lower bound s", "ratio", "both phases s",
        "sequential s", "speed-up", "reads (budget)", "mutations", "2nd run mut.", "peak RSS MB",
    ):  # fmt: skip
        table.add_column(column, justify="left" if column == "fleet" else "right")
    for r in rows:
        table.add_row(
            r["fleet"], str(r["resources"]), f"{r['mitigate_seconds']:.2f}",
            f"{r['lower_bound_mitigate_seconds']:.2f}", f"{r['mitigate_vs_lower_bound']:.2f}",
            f"{r['total_seconds']:.2f} ({r['total_vs_lower_bound']:.2f}x LB)",
            f"{_num(r['sequential_mitigate_seconds'], '.2f')} / "
            f"{_num(r['sequential_total_seconds'], '.2f')}",
            f"{_num(r['speedup_mitigate'], '.1f')}x / {_num(r['speedup_total'], '.1f')}x",
            f"{r['reads']} ({r['read_budget']})", f"{r['mutations']} = {r['steps_applied']} steps",
            str(r["second_run_mutations"]), f"{r['peak_rss_mb']:.0f}",
        )  # fmt: skip
    table.caption = (
        f"import handlers.alarm / import boto3 = {imports['ratio']:.2f} "
        f"({imports['import_handler_seconds'] * 1000:.0f} ms / "
        f"{imports['import_boto3_seconds'] * 1000:.0f} ms); "
        "sequential and speed-up: time to mitigate / both phases"
    )
    return table


def render_artifact(rows: list[dict[str, Any]], cold: dict[str, Any]) -> list[Table]:
    fleets = Table(title="the deployed artifact: one evacuation through the alarm handler")
    for column in ("fleet", "status", "alarm handler s", "peak RSS MB"):
        fleets.add_column(column, justify="left" if column == "fleet" else "right")
    for r in rows:
        fleets.add_row(
            r["fleet"], str(r["status"]), f"{r['seconds']:.2f}", f"{r['peak_rss_mb']:.0f}"
        )
    imports = Table(title="the deployed artifact: cold start, fresh interpreter, artifact only")
    for column in ("function", "handler", ".pyc", "import handler ms", "import boto3 ms", "ratio"):
        imports.add_column(column, justify="left" if column in ("function", "handler") else "right")
    for mode, per_function in cold.items():
        for function, v in per_function.items():
            imports.add_row(
                function, v["handler"], "none (as deployed)" if "no_pyc" in mode else "written",
                f"{v['import_handler_seconds'] * 1000:.0f}",
                f"{v['import_boto3_seconds'] * 1000:.0f}", f"{v['ratio']:.2f}",
            )  # fmt: skip
    return [fleets, imports]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__.split("\n")[0])
    parser.add_argument("--fleets", default=",".join(FLEETS), help="comma-separated")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per AWS call")
    parser.add_argument(
        "--sequential",
        default="small,medium",
        help="fleets that also run the sequential baseline (large's takes minutes: rate-bound)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    sequential_fleets = set(args.sequential.split(","))
    os.environ.update(FAKE_ENV)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the moto server's request log
    console = Console(width=max(Console().width, 160))
    # moto (Route 53 batches as strict as the real API, as in the tests), plus the zonal-shift
    # fake for the artifact (the worker has its own, in-process)
    server = EmbeddedAwsServer().start()
    endpoint = server.endpoint
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    rows, raw, artifact_rows = [], [], []
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="azevac-bench-") as tmp:
            console.print("[dim]building the Lambda artifacts (make build-*Function) ...[/]")
            artifacts = deployed.build_all(Path(tmp) / "artifacts")
            console.print("[dim]cold start of the artifacts ...[/]")
            cold = deployed.cold_start(artifacts)  # first: while the artifacts have no .pyc
            for name in args.fleets.split(","):
                spec = FLEETS[name]
                runs = {}
                modes = ["parallel"] + (["sequential"] if name in sequential_fleets else [])
                for mode in modes:
                    console.print(f"[dim]{name}: {mode} evacuation ...[/]")
                    runs[mode] = measure(spec, mode, endpoint, args.latency, Path(tmp))
                raw.append(runs)
                rows.append(summarize(spec, runs["parallel"], runs.get("sequential"), args.latency))
                console.print(f"[dim]{name}: the deployed artifact ...[/]")
                artifact_rows.append(
                    deployed.peak_rss(
                        spec, server, artifacts["AlarmFunction"], args.latency, Path(tmp)
                    )
                )
            imports = import_ratio()
    finally:
        server.stop()
    console.print(render(rows, imports, args.latency))
    for table in render_artifact(artifact_rows, cold):
        console.print(table)
    document = {
        "ran_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "latency_seconds": args.latency,
        "rate_limits": {s: limit.model_dump() for s, limit in DEFAULT_RATE_LIMITS.items()},
        "fleets": rows,
        "imports": imports,
        "artifact": {"cold_start": cold, "fleets": artifact_rows},
        "bench_seconds": round(time.monotonic() - started, 1),
        "runs": raw,
    }
    args.out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    console.print(f"written to {args.out} in {document['bench_seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
