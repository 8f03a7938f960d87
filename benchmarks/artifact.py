"""The Lambda artifact, built and run as AWS would: shared by tests/package and `make bench`.

`build` runs the Makefile's `build-<Function>` target (the one `sam build` runs) for this
machine's architecture and Python instead of Lambda's arm64 python3.12, so the result can run
here. `command` runs benchmarks/lambda_runner.py in a fresh interpreter whose import path is the
artifact and the standard library only: no checkout, no virtualenv or user site-packages.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from evacuation.emulator.table import TEMPLATE, CfnLoader

ROOT = Path(__file__).resolve().parents[1]
RUNNER = Path(__file__).with_name("lambda_runner.py")
FUNCTION_TYPE = "AWS::Serverless::Function"
# Never a real account: fake credentials, no config files, no instance metadata.
FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}


def functions(template: Path = TEMPLATE) -> dict[str, dict[str, Any]]:
    """Logical id -> Properties of every function in template.yaml, Globals applied."""
    document = yaml.load(template.read_text(encoding="utf-8"), Loader=CfnLoader)
    defaults = document.get("Globals", {}).get("Function", {})
    return {
        name: {**defaults, **resource.get("Properties", {}), "Metadata": resource.get("Metadata")}
        for name, resource in document["Resources"].items()
        if resource["Type"] == FUNCTION_TYPE
    }


def host_flags() -> dict[str, str]:
    """The Makefile's platform variables for this machine instead of Lambda's."""
    machine = {"arm64": "aarch64", "amd64": "x86_64"}.get(platform.machine(), platform.machine())
    return {
        "LAMBDA_PLATFORM": f"manylinux2014_{machine}",
        "LAMBDA_PYTHON": f"{sys.version_info.major}.{sys.version_info.minor}",
    }


def build(function: str, dest: Path) -> Path:
    """`make build-<function>` into `dest` (created) for this machine; returns `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    # This interpreter installs the wheels, not `python3` from PATH: a pyenv shim there rehashes
    # after each pip install, and two builds at once (one per test worker) race on its lock.
    flags = {"ARTIFACTS_DIR": str(dest), "PYTHON": sys.executable, **host_flags()}
    variables = [f"{k}={v}" for k, v in flags.items()]
    done = subprocess.run(
        ["make", "--no-print-directory", f"build-{function}", *variables],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"make build-{function} failed:\n{done.stdout}\n{done.stderr}")
    return dest


def isolated_env(artifact: Path, **extra: str) -> dict[str, str]:
    """The environment of a process that sees the artifact alone (plus the standard library)."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    return {
        **keep,
        **FAKE_AWS_ENV,
        "PYTHONPATH": str(artifact),
        "PYTHONNOUSERSITE": "1",
        "POWERTOOLS_METRICS_NAMESPACE": "azevac",
        "POWERTOOLS_SERVICE_NAME": "azevac",
        **extra,
    }


def python(*args: str, bytecode: bool = True) -> list[str]:
    """This interpreter without site (-S: no site-packages of any kind) and without the script's
    or the working directory on sys.path (-P); -B as on Lambda, whose /var/task is read-only."""
    return [sys.executable, "-S", "-P", *([] if bytecode else ["-B"]), *args]


def runner(handler: str, events: list[Path], out: Path, timeout: float = 300.0) -> list[str]:
    """The command line that invokes `handler` with each event, results to `out`."""
    flags = [flag for event in events for flag in ("--event", str(event))]
    return python(str(RUNNER), "--handler", handler, *flags, "--timeout", str(timeout),
                  "--out", str(out))  # fmt: skip
