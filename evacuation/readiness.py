"""Is the config still true of AWS? Found by the 5-minute reconciler, not on the day it's needed.
Pure: an observation in, a list of problems out; each resource kind finds its own."""

from __future__ import annotations

from evacuation.config import Config
from evacuation.kinds import KINDS
from evacuation.observe import Observation


def readiness_problems(config: Config, observation: Observation) -> list[str]:
    """Every way the workload could not be evacuated as configured, one sentence each."""
    return [problem for kind in KINDS for problem in kind.readiness(config, observation)]
