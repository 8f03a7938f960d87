"""Run a Lambda handler the way the Python runtime does: import the module named by the
template's ``Handler``, then call it with each event in turn, in this one process.

Standard library only: it runs with the built artifact alone on its import path
(``python -S -P lambda_runner.py`` with ``PYTHONPATH=<artifact>``; see benchmarks/artifact.py),
so a runtime import of the emulator, the drill or a dev dependency fails here as it would on AWS.

    python -S -P benchmarks/lambda_runner.py --handler handlers.alarm.handler \
        --event events/alarm-sns.json --out result.json
"""

from __future__ import annotations

import argparse
import importlib
import json
import resource
import sys
import time
import traceback
import uuid
from pathlib import Path
from typing import Any


class LambdaContext:
    """The attributes of the runtime's context object that azevac and Powertools read."""

    function_name = "azevac-artifact"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:azevac-artifact"
    log_group_name = "/aws/lambda/azevac-artifact"
    log_stream_name = "artifact"

    def __init__(self, timeout_seconds: float = 300.0) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(int((self._deadline - time.monotonic()) * 1000), 0)


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM; ru_maxrss would include the parent's across exec).

    The twin of benchmarks.worker.peak_rss_mb, kept apart on purpose: this runner executes with
    the artifact alone on its import path, so it can import nothing from the checkout."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--handler", required=True, help="module.function, as in template.yaml")
    parser.add_argument("--event", action="append", default=[], help="JSON file; repeatable")
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    result: dict[str, Any] = {"sys_path": sys.path, "answers": [], "invoke_seconds": []}
    try:
        started = time.perf_counter()
        module_name, _, function = args.handler.rpartition(".")
        handler = getattr(importlib.import_module(module_name), function)
        result["import_seconds"] = time.perf_counter() - started
        for path in args.event:
            event = json.loads(Path(path).read_text(encoding="utf-8"))
            started = time.perf_counter()
            result["answers"].append(handler(event, LambdaContext(args.timeout)))
            result["invoke_seconds"].append(time.perf_counter() - started)
    except Exception:  # noqa: BLE001 - reported to the parent, which fails
        result["error"] = traceback.format_exc()
    result["peak_rss_mb"] = peak_rss_mb()
    result["module_files"] = sorted(
        {str(f) for m in list(sys.modules.values()) if (f := getattr(m, "__file__", None))}
    )
    Path(args.out).write_text(json.dumps(result, default=str), encoding="utf-8")
    return 1 if "error" in result else 0


if __name__ == "__main__":
    sys.exit(main())
