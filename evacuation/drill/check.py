"""A check of a hypothesis against AWS, and the small formatting helpers the drill shares."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from evacuation.verify import Check  # one Check for the drill and azevac verify

State = dict[str, Any]
__all__ = ["Check", "State", "fmt", "short"]


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
