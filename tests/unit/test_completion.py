"""Shell completion is generated from the CLI's own parser: every subcommand and flag completes
in bash (and zsh, through bashcompinit), a new one without anyone editing a script."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from evacuation import cli
from evacuation.terminal import completion


def complete(*words: str) -> list[str]:
    """What bash offers after `azevac <words>` (the last word is the one being typed)."""
    script = completion.bash_script(cli.build_parser())
    line = " ".join(f"'{w}'" for w in ("azevac", *words))
    program = (
        f"{script}\nCOMP_WORDS=({line}); COMP_CWORD={len(words)}; _azevac; "
        'printf "%s\\n" "${COMPREPLY[@]}"'
    )
    done = subprocess.run(
        ["bash", "--norc", "-c", program], capture_output=True, text=True, check=True, timeout=30
    )
    return done.stdout.split()


pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")


def test_subcommands_complete() -> None:
    assert sorted(complete("re")) == ["reconcile", "recover", "report"]
    assert set(complete("")) >= {*cli.COMMANDS, "drill", "sandbox", "completion"}


def test_each_subcommands_own_flags_complete() -> None:
    assert "--yes" in complete("evacuate", "--")
    assert "--yes" not in complete("recover", "--")
    assert {"--no-wait", "--dry-run", "--wide", "--json"} <= set(complete("recover", "--"))
    assert complete("practice", "--mi") == ["--minutes"]


def test_values_complete_where_they_are_known() -> None:
    assert "use1-az1" in complete("plan", "--az", "use1")
    assert complete("drill", "--scenario", "cr") == ["crash"]
    assert complete("completion", "z") == ["zsh"]


def test_zsh_gets_the_same_script_through_bashcompinit(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["completion", "zsh"]) == 0
    script = capsys.readouterr().out
    assert "bashcompinit" in script and "complete -F _azevac azevac" in script
    assert cli.main(["completion", "fish"]) == 2
