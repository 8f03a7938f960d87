"""The alarm handler's answer stays small enough for its idempotency record at any fleet size."""

from __future__ import annotations

import json
from typing import Any

from evacuation.result import bounded


def _step(n: int, outcome: str) -> dict[str, Any]:
    return {
        "phase": "control_plane",
        "kind": "asg_subnets",
        "resource": f"group-{n:04d}",
        "before": [f"subnet-{i:017x}" for i in range(3)],
        "after": [f"subnet-{i:017x}" for i in range(2)],
        "outcome": outcome,
        "error": "boom" if outcome == "failed" else None,
        "reason": None,
        "started_at": "2026-11-22T03:00:00+00:00",
        "finished_at": "2026-11-22T03:00:01+00:00",
    }


def test_a_large_answer_keeps_what_did_not_converge_and_counts_the_rest() -> None:
    steps = [_step(n, "applied") for n in range(1400)] + [_step(9999, "failed")]
    answer = {"status": "DEGRADED", "steps": steps}

    small = bounded(answer, limit=200)

    assert len(json.dumps(small)) < 400_000 / 4
    assert small["steps"][0]["resource"] == "group-9999"
    assert small["steps"][0]["error"] == "boom"
    assert "before" not in small["steps"][0]
    assert small["step_counts"] == {"applied": 1400, "failed": 1}
    assert small["steps_omitted"] == 1401 - 200
    assert small["status"] == "DEGRADED"


def test_a_small_answer_keeps_every_step() -> None:
    answer = {"status": "EVACUATED", "steps": [_step(1, "applied"), _step(2, "unchanged")]}

    small = bounded(answer)

    assert [s["resource"] for s in small["steps"]] == ["group-0001", "group-0002"]
    assert small["steps_omitted"] == 0
