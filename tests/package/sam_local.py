"""`make sam-local`: every sample event through `sam local invoke` (the built artifact in the
Lambda Python base image) against the embedded AWS, with the answers of the in-process tests.

Needs Docker and the base image locally (`docker pull public.ecr.aws/lambda/python:3.12-arm64`;
on an x86_64 machine also arm64 emulation, e.g. `docker run --privileged --rm
tonistiigi/binfmt --install arm64`); says what is missing and exits 1 otherwise. Not part of
`make test`. Run after `make package`.

sam passes a function only the variables its template declares, so this writes a copy of the
built template with AWS_ENDPOINT_URL declared, and fills the values in with --env-vars.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import boto3

from benchmarks import artifact
from evacuation.emulator.server import EmbeddedAwsServer
from evacuation.emulator.world import snapshot
from tests.package.test_artifact_runs import function_for, seed_deployment
from tests.support.sample_events import EVENTS, SETUP, check_answer, fire, handler_of, load

BUILD = artifact.ROOT / ".aws-sam" / "build"
SAM = artifact.ROOT / ".venv-sam" / "bin" / "sam"
IMAGE = "public.ecr.aws/lambda/python:3.12-arm64"  # Runtime python3.12, Architectures arm64


def missing() -> list[str]:
    problems = []
    if not (BUILD / "template.yaml").exists():
        problems.append("no .aws-sam/build: run `make package`")
    if not SAM.exists():
        problems.append(f"no SAM CLI at {SAM}: run `make package`")
    if shutil.which("docker") is None:
        return [*problems, "docker is not installed"]
    if subprocess.run(["docker", "info"], capture_output=True, check=False).returncode != 0:
        return [*problems, "the Docker daemon is not running (or not reachable by this user)"]
    inspect = ["docker", "image", "inspect", IMAGE]
    if subprocess.run(inspect, capture_output=True, check=False).returncode != 0:
        problems.append(f"the Lambda base image is not here: docker pull {IMAGE}")
    return problems


def local_template(endpoint_default: str) -> Path:
    """The built template, with AWS_ENDPOINT_URL declared next to AZEVAC_CONFIG (Globals)."""
    text = (BUILD / "template.yaml").read_text(encoding="utf-8")
    marker = "        AZEVAC_CONFIG:\n"
    assert text.count(marker) == 1, "the built template's Globals changed: update sam_local.py"
    text = text.replace(marker, f"        AWS_ENDPOINT_URL: {endpoint_default}\n{marker}")
    path = BUILD / "template.sam-local.yaml"  # beside the artifacts its CodeUris name
    path.write_text(text, encoding="utf-8")
    return path


def main() -> int:
    problems = missing()
    if problems:
        print("make sam-local cannot run here:", *problems, sep="\n  - ", file=sys.stderr)
        return 1
    linux = platform.system() == "Linux"
    # Linux: the container shares the host's network; Docker Desktop: host.docker.internal.
    network = ["--docker-network", "host"] if linux else []
    fake_env = {**artifact.FAKE_AWS_ENV}
    os.environ.update(fake_env)
    failures = 0
    with EmbeddedAwsServer(host="127.0.0.1" if linux else "0.0.0.0") as aws:
        port = aws.endpoint.rsplit(":", 1)[1]
        endpoint = f"http://{'127.0.0.1' if linux else 'host.docker.internal'}:{port}"
        os.environ["AWS_ENDPOINT_URL"] = aws.endpoint
        template = local_template("none")
        for path in EVENTS:
            world, variables = seed_deployment(aws, endpoint)
            session = boto3.Session(region_name="us-east-1")
            fire(session, path)
            before = snapshot(world)
            function = function_for(handler_of(path))
            events = [event for _, event in SETUP.get(path.stem, [])]
            events.append(load(path))
            answer = None
            with tempfile.TemporaryDirectory() as tmp:
                env_vars = Path(tmp) / "env.json"
                env_vars.write_text(json.dumps({"Parameters": variables}), encoding="utf-8")
                for index, event in enumerate(events):
                    event_path = Path(tmp) / f"event-{index}.json"
                    event_path.write_text(json.dumps(event), encoding="utf-8")
                    done = subprocess.run(
                        [str(SAM), "local", "invoke", function, "-t", str(template),
                         "-e", str(event_path), "-n", str(env_vars), "--skip-pull-image",
                         *network],
                        capture_output=True, text=True, check=False,
                        env={**os.environ, **fake_env, "SAM_CLI_TELEMETRY": "0"},
                    )  # fmt: skip
                    lines = done.stdout.strip().splitlines()
                    try:
                        answer = json.loads(lines[-1])
                    except (IndexError, json.JSONDecodeError):
                        answer = {"sam": done.stdout[-2000:] + done.stderr[-2000:]}
            try:
                assert isinstance(answer, dict)
                check_answer(path.stem, answer, before, snapshot(world))
                print(f"ok    {path.stem}: {answer.get('status', 'answered')}")
            except AssertionError as err:
                failures += 1
                print(f"FAIL  {path.stem}: {err or answer}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
