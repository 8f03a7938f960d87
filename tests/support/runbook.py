"""The SSM Automation runbook, run as SSM would run it up to the Lambda invoke: parameters
validated against allowedValues / allowedPattern, the approval branch taken, and the payload
built by the document's own aws:executeScript Python, executed in-process."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

RUNBOOK = Path(__file__).parents[2] / "runbooks" / "az-evacuation-automation.yaml"


def document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(RUNBOOK.read_text(encoding="utf-8"))
    return loaded


def step(name: str, doc: dict[str, Any] | None = None) -> dict[str, Any]:
    return next(s for s in (doc or document())["mainSteps"] if s["name"] == name)


class ParameterRejected(ValueError):
    """SSM refuses to start the execution: a parameter fails its allowedValues/allowedPattern."""


def validated(parameters: dict[str, str], doc: dict[str, Any] | None = None) -> dict[str, str]:
    """The execution's parameters with defaults filled in, as SSM checks them at start."""
    declared = (doc or document())["parameters"]
    unknown = set(parameters) - set(declared)
    if unknown:
        raise ParameterRejected(f"unknown parameters {sorted(unknown)}")
    values: dict[str, str] = {}
    for name, spec in declared.items():
        if name not in parameters and "default" not in spec:
            raise ParameterRejected(f"{name} is required")
        value = parameters.get(name, spec.get("default"))
        if not isinstance(value, str):
            raise ParameterRejected(f"{name} must be a string")
        if "allowedValues" in spec and value not in spec["allowedValues"]:
            raise ParameterRejected(f"{name}: {value!r} is not an allowed value")
        # SSM matches allowedPattern against the whole value (Java regex; these use no syntax
        # Java and Python read differently). fullmatch: "$" must not accept a trailing newline.
        if "allowedPattern" in spec and re.fullmatch(spec["allowedPattern"], value) is None:
            raise ParameterRejected(f"{name}: {value!r} does not match {spec['allowedPattern']}")
        values[name] = value
    return values


def substitute(value: Any, parameters: dict[str, str]) -> Any:
    """SSM's substitution of {{ Name }} into a step's inputs: into each string value, as text."""
    if isinstance(value, str):
        return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: parameters[m.group(1)], value)
    if isinstance(value, dict):
        return {k: substitute(v, parameters) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, parameters) for v in value]
    return value


def needs_approval(parameters: dict[str, str], doc: dict[str, Any] | None = None) -> bool:
    """Whether the NeedsApproval branch sends this execution to the Approve step."""
    branch = step("NeedsApproval", doc)["inputs"]
    for choice in branch["Choices"]:
        tests = choice.get("Or", [choice])
        if any(substitute(t["Variable"], parameters) == t["StringEquals"] for t in tests):
            return bool(choice["NextStep"] == "Approve")
    return bool(branch["Default"] == "Approve")


@dataclass(frozen=True)
class Execution:
    approval: bool
    payload: str
    """The text the Invoke step sends as the Lambda payload."""


def run(parameters: dict[str, str], doc: dict[str, Any] | None = None) -> Execution:
    """Validate, branch, and build the payload with the document's own script."""
    doc = doc or document()
    values = validated(parameters, doc)
    build = step("BuildPayload", doc)
    inputs = build["inputs"]
    namespace: dict[str, Any] = {}
    exec(compile(inputs["Script"], "BuildPayload", "exec"), namespace)
    output = namespace[inputs["Handler"]](substitute(inputs["InputPayload"], values), None)
    selector = build["outputs"][0]["Selector"]  # $.Payload.<key>: the script's return value
    key = selector.removeprefix("$.Payload.")
    payload = output[key]
    invoke = step("Invoke", doc)["inputs"]["Payload"]
    sent = invoke.replace("{{ BuildPayload.Payload }}", payload)
    return Execution(approval=needs_approval(values, doc), payload=sent)
