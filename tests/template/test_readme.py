"""Every command in the README and the on-call runbook runs as written: each `azevac` line
parses with the CLI's own parser, each `make` target exists, each template parameter, SSM
parameter, environment variable, sample event and repository path named is real."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from evacuation import cli
from evacuation.drill.cli import build_parser as drill_parser
from evacuation.emulator.table import TEMPLATE, CfnLoader
from evacuation.terminal.sandbox import build_parser as sandbox_parser

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", ROOT / "runbooks" / "az-evacuation.md"]
TEMPLATE_DOC = yaml.load(TEMPLATE.read_text(encoding="utf-8"), Loader=CfnLoader)
WORKLOAD = "checkout"


def code_lines(path: Path) -> list[str]:
    """Lines of the fenced code blocks, comments dropped, continuations joined."""
    lines, inside, pending = [], False, ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        if raw.strip().startswith("```"):
            inside = not inside
            continue
        if not inside:
            continue
        line = pending + raw.split("  #", 1)[0].split(" # ", 1)[0].rstrip()
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        pending = ""
        if line.strip():
            lines.append(line.strip())
    return lines


def every_code_line() -> list[tuple[str, str]]:
    return [(path.name, line) for path in DOCS for line in code_lines(path)]


def azevac_lines() -> list[tuple[str, str]]:
    found = []
    for doc, line in every_code_line():
        try:
            words = shlex.split(line.replace("$(", "").replace(')"', '"'))
        except ValueError:  # JSON or Python in a code block
            assert not line.startswith("azevac"), line
            continue
        if "─" in line:  # a diagram, not a command
            continue
        if words[:1] == ["eval"] and len(words) == 2:
            words = shlex.split(words[1])  # eval "$(azevac ...)"
        while words and ("=" in words[0] or words[0] in ("$", "sudo")):
            words = words[1:]  # VAR=value prefixes, a prompt
        if words and words[0] in ("azevac", ".venv/bin/azevac", "~/.local/bin/azevac"):
            found.append((doc, shlex.join(words[1:])))
    return found


AZEVAC = azevac_lines()


def test_the_docs_show_the_commands_an_on_call_needs() -> None:
    shown = {shlex.split(args)[0] for _, args in AZEVAC if args}
    wanted = {*cli.COMMANDS, "drill", "sandbox", "completion"}
    assert wanted <= shown, f"not shown: {sorted(wanted - shown)}"


@pytest.mark.parametrize(("doc", "args"), AZEVAC, ids=[f"{d}: {a}" for d, a in AZEVAC])
def test_every_azevac_command_parses(doc: str, args: str) -> None:
    argv = [a.replace("<AZ>", "use1-az1") for a in shlex.split(args)]
    if argv[:1] == ["drill"]:
        drill_parser().parse_args(argv[1:])
    elif argv[:1] == ["sandbox"]:
        sandbox_parser().parse_args(argv[1:])
    elif argv[:1] == ["completion"]:
        assert argv[1:] in (["bash"], ["zsh"])
    elif argv[:1] in (["alarms"], ["report"], ["verify"]):
        from evacuation import postmortem, verify  # noqa: PLC0415
        from evacuation.detection import cli as alarms  # noqa: PLC0415

        own = {"alarms": alarms.parser, "report": postmortem.parser, "verify": verify.parser}
        own[argv[0]]().parse_args([a for a in argv[1:] if a not in (">",)][: _before(argv)])
    else:
        cli.build_parser().parse_args(argv)


def makefile_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([a-z][a-z-]*):", text, flags=re.MULTILINE))


def test_every_make_target_named_exists() -> None:
    named = set()
    for path in DOCS:
        named |= set(re.findall(r"\bmake ([a-z][a-z-]*)", path.read_text(encoding="utf-8")))
    assert named, "the README names no make target"
    assert named <= makefile_targets(), sorted(named - makefile_targets())


def test_every_template_parameter_in_the_deploy_command_exists() -> None:
    (deploy,) = [
        line
        for _, line in every_code_line()
        if "--parameter-overrides" in line and "--guided" in line
    ]
    words = shlex.split(deploy.replace("$(", "").replace(')"', '"'))
    overrides = words[words.index("--parameter-overrides") + 1 :]
    named = {word.split("=", 1)[0] for word in overrides}
    parameters = set(TEMPLATE_DOC["Parameters"])
    assert named <= parameters, sorted(named - parameters)
    # every parameter without a default is given
    required = {k for k, v in TEMPLATE_DOC["Parameters"].items() if "Default" not in v}
    assert required <= named, sorted(required - named)


def test_every_template_output_named_exists() -> None:
    outputs = set(TEMPLATE_DOC["Outputs"])
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        named = set(re.findall(r"output `([A-Z][A-Za-z0-9]+)`", text))
        named |= set(re.findall(r"\b([A-Z][a-z]+[A-Z][A-Za-z0-9]+) output", text))
        assert named <= outputs, (path.name, sorted(named - outputs))


def test_every_ssm_parameter_named_is_the_templates() -> None:
    names = {
        resource["Properties"]["Name"]["!Sub"].replace("${WorkloadName}", WORKLOAD)
        for resource in TEMPLATE_DOC["Resources"].values()
        if resource["Type"] == "AWS::SSM::Parameter"
    }
    for path in DOCS:
        named = set(re.findall(r"/azevac/[a-z0-9-]+/[a-z-]+", path.read_text(encoding="utf-8")))
        assert named <= names, (path.name, sorted(named - names))


def test_the_kill_switch_commands_are_complete() -> None:
    commands = [line for _, line in every_code_line() if "put-parameter" in line]
    assert commands, "no kill-switch command shown"
    for line in commands:
        words = shlex.split(line)
        assert words[:3] == ["aws", "ssm", "put-parameter"], line
        assert "..." not in line, line
        assert words[words.index("--name") + 1] == f"/azevac/{WORKLOAD}/kill-switch", line
        assert words[words.index("--value") + 1] in ("enabled", "disabled"), line
        assert "--overwrite" in words, line


def test_every_environment_variable_named_is_read_by_the_code() -> None:
    code = "\n".join(
        p.read_text(encoding="utf-8")
        for folder in ("evacuation", "handlers", "tests")
        for p in (ROOT / folder).rglob("*.py")
    )
    for path in DOCS:
        named = set(re.findall(r"\bAZEVAC_[A-Z_]+[A-Z]", path.read_text(encoding="utf-8")))
        unread = {n for n in named if f'"{n}"' not in code}
        assert not unread, (path.name, sorted(unread))


def test_every_sam_local_invoke_names_a_function_and_an_event() -> None:
    functions = {
        name
        for name, resource in TEMPLATE_DOC["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    shown = [line for _, line in every_code_line() if line.startswith("sam local invoke")]
    assert shown
    for line in shown:
        words = shlex.split(line)
        assert words[3] in functions, line
        assert (ROOT / words[words.index("-e") + 1]).is_file(), line


def test_every_repository_path_named_exists() -> None:
    pattern = r"`((?:evacuation|handlers|tests|runbooks|events|benchmarks)/[A-Za-z0-9_./-]*)`"
    for path in DOCS:
        named = set(re.findall(pattern, path.read_text(encoding="utf-8")))
        missing = sorted(p for p in named if not (ROOT / p.rstrip("/")).exists())
        assert not missing, (path.name, missing)


def test_every_runbook_parameter_passed_is_the_documents() -> None:
    document = yaml.safe_load(
        (ROOT / "runbooks" / "az-evacuation-automation.yaml").read_text(encoding="utf-8")
    )
    shown = [line for _, line in every_code_line() if "start-automation-execution" in line]
    assert shown
    for line in shown:
        words = shlex.split(line)
        given = words[words.index("--parameters") + 1]
        names = {pair.split("=", 1)[0] for pair in given.split(",")}
        assert names <= set(document["parameters"]), (line, sorted(names))


def _before(argv: list[str]) -> int:
    """The arguments before a shell redirection (`azevac alarms ... > file`)."""
    rest = argv[1:]
    return rest.index(">") if ">" in rest else len(rest)
