"""What `make package` (`sam build`) leaves in .aws-sam/build is what `sam deploy` uploads: each
function's code and its runtime dependencies for Lambda (arm64, python3.12), nothing else.

`make test` builds it first and sets AZEVAC_REQUIRE_PACKAGE, so a missing build fails there;
a bare `pytest` without `make package` skips these.
"""

from __future__ import annotations

import os
import tomllib
from importlib.metadata import Distribution, distributions
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from benchmarks import artifact

BUILD = artifact.ROOT / ".aws-sam" / "build"
FUNCTIONS = artifact.functions()
LAMBDA_LIMIT_MB = 250  # unzipped, function code and layers together
BUDGET_MB = 100  # "well under" the limit: room for a layer, an extension, growth
FORBIDDEN = [
    "tests", "benchmarks", "events", "runbooks", ".venv", ".venv-sam", ".git", ".aws-sam",
    "evacuation/emulator", "evacuation/drill", "evacuation/terminal", "gameday", "detection",
    # the detection kit's tools; only its config model (evacuation/detection/config.py) ships
    "evacuation/detection/evaluate.py", "evacuation/detection/generate.py",
    "evacuation/detection/scenarios.py", "evacuation/detection/bench.py",
]  # fmt: skip
# The deployed functions' platform (template Globals), for evaluating requirement markers.
LAMBDA_ENV = {
    "python_version": "3.12",
    "python_full_version": "3.12.0",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "aarch64",
    "os_name": "posix",
}


def requirements_txt() -> list[Requirement]:
    lines = (artifact.ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    return [Requirement(line) for raw in lines if (line := raw.split("#", 1)[0].strip())]


def pyproject_dependencies() -> list[Requirement]:
    document = tomllib.loads((artifact.ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return [Requirement(text) for text in document["project"]["dependencies"]]


CLI_ONLY = {"rich", "moto", "pyyaml", "numpy"}
"""pyproject dependencies for the CLI, the drill and the sandbox (an on-call laptop's
`pipx install`), never the Lambda functions'."""


def test_requirements_txt_is_pyprojects_runtime_dependencies() -> None:
    """sam build installs requirements.txt; pip install . (the CLI) installs pyproject's: the
    same runtime dependencies plus exactly the CLI's own."""
    runtime = [r for r in pyproject_dependencies() if canonicalize_name(r.name) not in CLI_ONLY]
    assert sorted(map(str, requirements_txt())) == sorted(map(str, runtime))
    cli = {canonicalize_name(r.name) for r in pyproject_dependencies()} - {
        canonicalize_name(r.name) for r in runtime
    }
    assert cli == CLI_ONLY


def test_the_template_matches_the_functions_built() -> None:
    assert FUNCTIONS, "no AWS::Serverless::Function in template.yaml"
    for name, properties in FUNCTIONS.items():
        assert properties["Runtime"] == "python3.12", name
        assert properties["Architectures"] == ["arm64"], name
        assert properties["CodeUri"] == ".", name


@pytest.fixture(scope="module")
def built() -> Path:
    if not (BUILD / "template.yaml").exists():
        if os.environ.get("AZEVAC_REQUIRE_PACKAGE"):
            pytest.fail(f"{BUILD} is missing: `make package` did not run")
        pytest.skip("no .aws-sam/build: run `make package` first")
    return BUILD


def closure(installed: dict[str, Distribution]) -> set[str]:
    """The distributions requirements.txt needs on Lambda: its requirements, their extras and
    their dependencies, transitively, with markers evaluated for arm64 python3.12."""
    needed: set[str] = set()
    todo = [(r, r.extras) for r in requirements_txt()]
    while todo:
        requirement, extras = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in needed:
            continue
        assert name in installed, f"{requirement} is missing from the artifact"
        needed.add(name)
        for text in installed[name].requires or []:
            dependency = Requirement(text)
            marker: Marker | None = dependency.marker
            if marker is None or any(
                marker.evaluate({**LAMBDA_ENV, "extra": extra}) for extra in (extras or {""})
            ):
                todo.append((dependency, dependency.extras))
    return needed


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_the_artifact_holds_the_code_and_its_runtime_dependencies_only(
    function: str, built: Path
) -> None:
    root = built / function
    module = FUNCTIONS[function]["Handler"].rpartition(".")[0]
    assert (root / (module.replace(".", "/") + ".py")).is_file(), f"no {module} in {root}"
    for package in ("handlers", "evacuation", "evacuation/aws", "evacuation/state"):
        assert (root / package / "__init__.py").is_file(), package
    present = [path for path in FORBIDDEN if (root / path).exists()]
    assert present == [], f"{function} holds {present}"
    assert not list((root / "evacuation").rglob("__pycache__")), "the checkout's .pyc"

    installed = {canonicalize_name(d.metadata["Name"]): d for d in distributions(path=[str(root)])}
    assert set(installed) == closure(installed), "dependencies beyond requirements.txt"

    extensions = [p.name for p in root.rglob("*.so")]
    assert extensions, "pydantic-core's extension module"
    assert all(".cpython-312-aarch64-linux-gnu." in name for name in extensions), extensions


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_the_artifact_is_well_under_lambdas_size_limit(function: str, built: Path) -> None:
    size = sum(p.stat().st_size for p in (built / function).rglob("*") if p.is_file())
    assert size < BUDGET_MB * 2**20 < LAMBDA_LIMIT_MB * 2**20, f"{size / 2**20:.1f} MB unzipped"


def test_the_built_template_points_each_function_at_its_artifact(built: Path) -> None:
    deployed = artifact.functions(built / "template.yaml")
    assert set(deployed) == set(FUNCTIONS)
    for name, properties in deployed.items():
        assert properties["CodeUri"] == name
        assert properties["Handler"] == FUNCTIONS[name]["Handler"]
