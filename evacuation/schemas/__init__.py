"""Versioned JSON Schemas of what azevac prints with --json (package data)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CLI_OUTPUT = Path(__file__).resolve().parent / "cli-output.schema.json"


def cli_output() -> dict[str, Any]:
    """The JSON Schema of every `azevac ... --json` output (its `$defs` name each command's)."""
    schema: dict[str, Any] = json.loads(CLI_OUTPUT.read_text(encoding="utf-8"))
    return schema
