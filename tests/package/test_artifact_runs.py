"""The Lambda artifact runs: every function's Makefile target, built for this machine, invoked
with every sample event in a fresh interpreter whose import path is the artifact alone, against
the embedded AWS on a local endpoint (AWS_ENDPOINT_URL), with the answers of the in-process
handler tests (tests/support/sample_events.py).

The environment is the deployed one: config in an SSM parameter, state (and Powertools'
idempotency records) in the DynamoDB table built from template.yaml, notifications to SNS.
"""

from __future__ import annotations

import json
import subprocess
import sysconfig
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest

from benchmarks import artifact
from evacuation.emulator.server import EmbeddedAwsServer
from evacuation.emulator.table import create_state_table
from evacuation.emulator.world import World, build_world, snapshot
from tests.support.sample_events import EVENTS, SETUP, check_answer, fire, handler_of, load

# One worker builds the artifacts once and runs every invocation (make test: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("artifact")

FUNCTIONS = artifact.functions()
TABLE = "azevac-state"
CONFIG_PARAMETER = "/azevac/checkout/config"
STDLIB = [sysconfig.get_path("stdlib"), sysconfig.get_path("platstdlib")]


def function_for(kind: str) -> str:
    """The template's function for a kind of sample event: "alarm" -> "AlarmFunction"."""
    return f"{kind.capitalize()}Function"


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("artifacts")
    with ThreadPoolExecutor(max_workers=len(FUNCTIONS)) as pool:
        built = {name: pool.submit(artifact.build, name, root / name) for name in FUNCTIONS}
        return {name: future.result() for name, future in built.items()}


@pytest.fixture(scope="module")
def aws() -> Iterator[EmbeddedAwsServer]:
    with EmbeddedAwsServer() as server:
        yield server


@pytest.fixture
def deployed(
    aws: EmbeddedAwsServer, monkeypatch: pytest.MonkeyPatch
) -> tuple[World, dict[str, str]]:
    """A fresh world on the server, plus the environment the template gives the functions."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws.endpoint)
    world, env = seed_deployment(aws, aws.endpoint)
    return world, {**env, "LOG_LEVEL": "INFO"}


def seed_deployment(aws: EmbeddedAwsServer, endpoint: str) -> tuple[World, dict[str, str]]:
    """What a deployed stack has on the (reset) server, the world and the config in SSM, the
    state table, the topic; and the variables the template gives the functions, with the
    functions reaching AWS at `endpoint`. Call with AWS_ENDPOINT_URL pointing at the server."""
    fake = aws.reset()
    session = boto3.Session(region_name="us-east-1")
    world = build_world(session, fake, pre_suspended={"checkout-worker": ["AZRebalance"]})
    session.client("ssm").put_parameter(
        Name=CONFIG_PARAMETER, Type="String", Value=json.dumps(world.config())
    )
    create_state_table(session.client("dynamodb"), TABLE)
    topic = session.client("sns").create_topic(Name="azevac")["TopicArn"]
    return world, {
        "AWS_ENDPOINT_URL": endpoint,
        "AZEVAC_CONFIG": f"ssm:{CONFIG_PARAMETER}",
        "AZEVAC_TABLE": TABLE,
        "AZEVAC_TOPIC_ARN": topic,
    }


def invoke(
    artifact_dir: Path, handler: str, events: list[Any], env: dict[str, str], tmp: Path
) -> dict[str, Any]:
    """Run `handler` on `events`, in order, in one fresh process; return the runner's result."""
    paths = []
    for index, event in enumerate(events):
        paths.append(tmp / f"event-{index}.json")
        paths[-1].write_text(json.dumps(event), encoding="utf-8")
    out = tmp / "result.json"
    done = subprocess.run(
        artifact.runner(handler, paths, out),
        env=artifact.isolated_env(artifact_dir, **env),
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert out.exists(), f"runner died ({done.returncode}):\n{done.stderr[-4000:]}"
    result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    assert "error" not in result, result["error"]
    assert_isolated(result, artifact_dir)
    return result


def assert_isolated(result: dict[str, Any], artifact_dir: Path) -> None:
    """Everything the process imported came from the artifact or the standard library."""
    assert str(artifact_dir) in result["sys_path"]
    assert not [p for p in result["sys_path"] if "site-packages" in p], result["sys_path"]
    outside = [
        path
        for path in result["module_files"]
        if path != str(artifact.RUNNER)
        and not path.startswith(str(artifact_dir))
        and not (any(path.startswith(s) for s in STDLIB) and "site-packages" not in path)
    ]
    assert outside == [], outside


def test_every_function_is_in_the_template_with_an_event_sample() -> None:
    assert set(FUNCTIONS) == {function_for(handler_of(path)) for path in EVENTS}
    for properties in FUNCTIONS.values():
        assert properties["Metadata"] == {"BuildMethod": "makefile"}


@pytest.mark.parametrize("path", EVENTS, ids=[p.stem for p in EVENTS])
def test_sample_event_runs_through_the_artifact(
    path: Path,
    artifacts: dict[str, Path],
    aws: EmbeddedAwsServer,
    deployed: tuple[World, dict[str, str]],
    tmp_path: Path,
) -> None:
    world, env = deployed
    function = function_for(handler_of(path))
    setup = SETUP.get(path.stem, [])
    assert {function_for(kind) for kind, _ in setup} <= {function}, "one container"
    fire(world.session, path)
    before = snapshot(world)

    result = invoke(
        artifacts[function],
        FUNCTIONS[function]["Handler"],
        [event for _, event in setup] + [load(path)],
        env,
        tmp_path,
    )

    check_answer(path.stem, result["answers"][-1], before, snapshot(world))
    assert aws.errors == []
