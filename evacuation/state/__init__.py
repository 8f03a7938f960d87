"""Write-ahead state: the evacuation record, its steps, the per-workload lock and the run lease."""

from evacuation.state.base import Claim, StateStore
from evacuation.state.memory import InMemoryStateStore

__all__ = ["Claim", "InMemoryStateStore", "StateStore"]
