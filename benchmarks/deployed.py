"""The artifact `sam build` deploys, measured: its cold start (each template handler imported in
a fresh interpreter from the artifact alone, against `import boto3` from the same place) and its
peak RSS evacuating a fleet through the alarm handler, with the embedded AWS on an endpoint.

The artifact is the Makefile's build-*Function target built for this machine (benchmarks/
artifact.py). "As deployed" means no .pyc, as on Lambda: the build writes none and /var/task is
read-only, so every cold start compiles; "with .pyc" is the same import once they exist.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3

from benchmarks import artifact
from benchmarks.fleets import WORKLOAD, FleetSpec, build_fleet, register_resources
from benchmarks.worker import alarm_event
from evacuation.emulator.server import EmbeddedAwsServer
from evacuation.emulator.table import create_state_table

IMPORT_RUNS = 5


def build_all(workdir: Path) -> dict[str, Path]:
    """Every function's artifact, built side by side."""
    names = artifact.functions()
    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        futures = {name: pool.submit(artifact.build, name, workdir / name) for name in names}
        return {name: future.result() for name, future in futures.items()}


def _import_seconds(artifact_dir: Path, module: str, bytecode: bool) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    done = subprocess.run(
        artifact.python("-c", code, bytecode=bytecode),
        env=artifact.isolated_env(artifact_dir),
        cwd=artifact_dir.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"import {module} from {artifact_dir} failed:\n{done.stderr[-3000:]}")
    return float(done.stdout)


def cold_start(artifacts: dict[str, Path]) -> dict[str, Any]:
    """Median import time of each function's handler module vs boto3, from its artifact."""
    result: dict[str, Any] = {}
    for mode, bytecode in (("as_deployed_no_pyc", False), ("with_pyc", True)):
        rows = {}
        for function, artifact_dir in artifacts.items():
            module = artifact.functions()[function]["Handler"].rpartition(".")[0]
            if bytecode:  # write the .pyc once
                _import_seconds(artifact_dir, module, bytecode=True)
            boto3_s, handler_s = [], []
            for _ in range(IMPORT_RUNS):  # interleaved: a noisy neighbour hits both the same
                boto3_s.append(_import_seconds(artifact_dir, "boto3", bytecode))
                handler_s.append(_import_seconds(artifact_dir, module, bytecode))
            b, h = statistics.median(boto3_s), statistics.median(handler_s)
            rows[function] = {
                "handler": module,
                "import_boto3_seconds": round(b, 4),
                "import_handler_seconds": round(h, 4),
                "ratio": round(h / b, 2),
            }
        result[mode] = rows
    return result


def peak_rss(
    spec: FleetSpec, server: EmbeddedAwsServer, artifact_dir: Path, latency: float, workdir: Path
) -> dict[str, Any]:
    """One evacuation of `spec` by the AlarmFunction artifact in a fresh process.

    The latency is added by the server to each request (the in-process hook that also models
    the rate limits cannot be on the artifact's path); the engine still paces itself."""
    fake = server.reset()
    session = boto3.Session(region_name="us-east-1")
    config = build_fleet(session, spec)
    # The cache groups live in an in-process fake the artifact's process cannot reach (moto's
    # ElastiCache moves no primary): this run measures the artifact's RSS without them.
    config.pop("caches", None)
    register_resources(fake, spec)
    table = "azevac-bench-artifact"
    create_state_table(session.client("dynamodb"), table)
    config_path = workdir / f"{spec.name}-artifact.json"
    config_path.write_text(json.dumps(config), encoding="utf-8")
    event = workdir / f"{spec.name}-artifact-event.json"
    name = f"{WORKLOAD}-use1-az1-isolated-impact"
    # The handler re-reads the alarm's state before acting: it is in ALARM, as in a real event.
    session.client("cloudwatch").set_alarm_state(
        AlarmName=name, StateValue="ALARM", StateReason="benchmark"
    )
    event.write_text(json.dumps(alarm_event(name, str(uuid.uuid4()))), encoding="utf-8")
    out = workdir / f"{spec.name}-artifact.result.json"
    handler = artifact.functions()["AlarmFunction"]["Handler"]
    server.latency = latency
    try:
        done = subprocess.run(
            artifact.runner(handler, [event], out, timeout=900.0),
            env=artifact.isolated_env(
                artifact_dir,
                AWS_ENDPOINT_URL=server.endpoint,
                AZEVAC_CONFIG=str(config_path),
                AZEVAC_TABLE=table,
            ),
            cwd=workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            check=False,
        )
    finally:
        server.latency = 0.0
    if not out.exists():
        raise RuntimeError(f"{spec.name} artifact run failed:\n{done.stderr.decode()[-3000:]}")
    result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    if "error" in result:
        raise RuntimeError(f"{spec.name} artifact run failed:\n{result['error']}")
    answer = result["answers"][0]
    if answer.get("status") not in ("EVACUATED", "PARTIAL"):
        # a run that evacuated nothing measures nothing: say so instead of a figure
        raise RuntimeError(f"{spec.name} artifact run did not evacuate: {answer}")
    return {
        "fleet": spec.name,
        "status": answer.get("status"),
        "peak_rss_mb": round(result["peak_rss_mb"], 1),
        "seconds": round(result["invoke_seconds"][0], 2),
        "import_seconds": round(result["import_seconds"], 3),
    }
