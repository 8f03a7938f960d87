"""What `pipx install .` or `pip install azevac` puts on an on-call laptop: a wheel whose CLI,
drill and sandbox work with no checkout beside them.

The wheel is built from this checkout without its dependencies; it is unpacked into a directory
that comes first on the import path of a fresh interpreter started elsewhere (the dependencies
still come from this virtualenv), so `evacuation` is the wheel's, and nothing can reach the
checkout's template.yaml.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
# One worker builds the wheel: setuptools writes build/ inside the checkout, and two workers
# building at once race on it (as the artifact tests share their `sam build`).
pytestmark = pytest.mark.xdist_group("artifact")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
         "-w", str(out), str(ROOT)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (built,) = out.glob("azevac-*.whl")
    return built


@pytest.fixture(scope="module")
def unpacked(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("site")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(target)
    return target


def test_the_wheel_carries_the_drill_data_the_schema_and_the_cli_dependencies(
    wheel: Path,
) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        message = Parser().parsestr(archive.read(metadata).decode())
        scripts = archive.read(entry_points).decode()
    assert "evacuation/emulator/state_table.json" in names
    assert "evacuation/schemas/cli-output.schema.json" in names
    assert "azevac = evacuation.cli:run" in scripts
    required = {
        canonicalize_name(Requirement(r).name)
        for r in message.get_all("Requires-Dist") or []
        if "extra ==" not in r
    }
    # Before: rich and moto were extras, so `pip install .` gave a CLI that died on import
    assert {"rich", "moto", "pyyaml", "boto3"} <= required


def fresh_python(unpacked: Path, code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "AZEVAC_"))
    }
    env["PYTHONPATH"] = str(unpacked)
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_installed_drill_runs_without_a_checkout(unpacked: Path, tmp_path: Path) -> None:
    code = (
        "import json, sys, evacuation\n"
        f"assert evacuation.__file__.startswith({str(unpacked)!r}), evacuation.__file__\n"
        "from evacuation import cli\n"
        "sys.exit(cli.main(['drill', '--scenario', 'duplicate', '--json']))\n"
    )
    done = fresh_python(unpacked, code, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout)["verdict"] == "PASS"


def test_the_installed_cli_explains_a_missing_config_in_one_line(
    unpacked: Path, tmp_path: Path
) -> None:
    code = "import sys\nfrom evacuation import cli\nsys.exit(cli.main(['status']))\n"
    done = fresh_python(unpacked, code, tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "azevac: AZEVAC_CONFIG is not set: give a file path, JSON, ssm:<name> or s3://bucket/key"
    )
