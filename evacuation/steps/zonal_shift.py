"""Moved: the zonal shift runner is in `evacuation.kinds.zonal_shift` (one module per kind)."""

from evacuation.kinds.zonal_shift import ShiftUpkeep, ZonalShiftRunner, held_by_autoshift

__all__ = ["ShiftUpkeep", "ZonalShiftRunner", "held_by_autoshift"]
