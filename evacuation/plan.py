"""Decide the steps of an evacuation from an observation. Pure: no I/O, nothing changes.

Each resource kind plans its own steps (`evacuation/kinds/`); this module puts them together in
registry order: the data plane's, then the control plane's, as each step's phase says.
"""

from __future__ import annotations

from collections.abc import Mapping

from evacuation.config import Config
from evacuation.kinds import KINDS
from evacuation.kinds.base import PlanInput
from evacuation.kinds.route53 import witness_for
from evacuation.model import Plan, PlannedStep, StepKey, StepRecord
from evacuation.observe import Observation

__all__ = ["build_plan", "shift_comment", "witness_for"]


def build_plan(
    config: Config,
    observation: Observation,
    az_id: str,
    evacuation_id: str | None = None,
    touched: Mapping[StepKey, StepRecord] | None = None,
) -> Plan:
    """The ordered steps to evacuate `az_id`: data plane (shifts, weights), then control plane.

    `touched`: records of steps an earlier run of this evacuation may have changed. Their
    resources can look "not in the AZ" only because of us, so they are planned to converge to
    the intent recorded before that run acted, never skipped.
    """
    given = PlanInput(config, observation, az_id, evacuation_id, touched or {})
    steps: list[PlannedStep] = []
    refusals: list[str] = []
    warnings: list[str] = []
    out_of_service: dict[str, str] = {}
    for kind in KINDS:
        planned = kind.plan(given)
        steps.extend(planned.steps)
        refusals.extend(planned.refusals)
        warnings.extend(planned.warnings)
        for other_az, why in planned.out_of_service.items():
            out_of_service.setdefault(other_az, why)
    return Plan(
        config.workload,
        az_id,
        tuple(steps),
        tuple(refusals),
        tuple(warnings),
        out_of_service,
    )


def shift_comment(evacuation_id: str, reason: str) -> str:
    """The comment on every change azevac makes that takes one (a zonal shift, a Route 53
    change batch): it carries the evacuation id (ARC allows 128 characters)."""
    return f"azevac {evacuation_id}: {reason}"[:128]
