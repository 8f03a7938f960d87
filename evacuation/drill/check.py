"""A check of a hypothesis against AWS, and the small formatting helpers the drill shares."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

State = dict[str, Any]


@dataclass(frozen=True)
class Check:
    """One question asked of AWS, what was found, and whether it was what we expected."""

    name: str
    passed: bool
    found: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "found": self.found}


def short(resource: str) -> str:
    """A readable name: an ALB ARN becomes its name, a Route 53 key drops the zone id."""
    if resource.startswith("arn:") and ":loadbalancer/" in resource:
        return resource.split("/")[-2]
    if resource.startswith("arn:"):
        return resource.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
    parts = resource.split("/")
    if len(parts) == 3:  # a Route 53 record set: zone/name/type
        return f"{parts[1]} {parts[2]}"
    return resource


def fmt(value: Mapping[str, Any]) -> str:
    return ", ".join(f"{short(str(k))}: {v}" for k, v in value.items())
