"""Moved: the Auto Scaling runners are in `evacuation.kinds.autoscaling` (one module per kind)."""

from evacuation.kinds.autoscaling import (
    CapacityRunner,
    ProcessesRunner,
    SubnetsRunner,
    ZonesRunner,
    placement_of,
)

__all__ = ["CapacityRunner", "ProcessesRunner", "SubnetsRunner", "ZonesRunner", "placement_of"]
