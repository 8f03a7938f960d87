"""Resolve what an operator or alarm typed (an AZ ID or name) to the AZ ID. Pure."""

from __future__ import annotations

from collections.abc import Iterable

from evacuation.aws.ec2 import Zone
from evacuation.errors import InvalidRequestError


def resolve_az_id(given: str, zones: Iterable[Zone]) -> str:
    """The AZ ID for `given` (ID or name) in this region; InvalidRequestError if there is none."""
    text = given.strip()
    zones = list(zones)
    for zone in zones:
        if text in (zone.zone_id, zone.name):
            return zone.zone_id
    known = ", ".join(f"{z.zone_id} ({z.name})" for z in sorted(zones, key=lambda z: z.zone_id))
    raise InvalidRequestError(f"AZ {given!r} is not in this region; it has: {known}")
