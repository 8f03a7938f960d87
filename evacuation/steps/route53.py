"""Route 53 weights: one UPSERT batch per hosted zone, only for records that differ."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from evacuation.model import JsonValue, Outcome, PlannedStep, StepKey, StepRecord
from evacuation.steps.base import Reverted, RunContext, Verdict, Verified

if TYPE_CHECKING:
    from mypy_boto3_route53.type_defs import ResourceRecordSetTypeDef


def _zone_of(key: StepKey) -> str:
    return key.resource.split("/", 1)[0]


class WeightRunner:
    def apply(self, ctx: RunContext, steps: Sequence[PlannedStep]) -> Mapping[StepKey, JsonValue]:
        records = []
        for step in steps:
            record = copy.deepcopy(step.current["record"])
            record["Weight"] = 0
            records.append(cast("ResourceRecordSetTypeDef", record))
        change_id = ctx.gateways.route53.upsert(_zone_of(steps[0].key), records, ctx.comment)
        return {s.key: {"weight": 0, "change_id": change_id} for s in steps}

    def verify(
        self, ctx: RunContext, steps: Sequence[PlannedStep], afters: Mapping[StepKey, Any]
    ) -> Mapping[StepKey, Verified]:
        change_id = afters[steps[0].key]["change_id"]
        verified = ctx.poll(lambda: self._insync(ctx, change_id))
        return dict.fromkeys((s.key for s in steps), verified)

    @staticmethod
    def _insync(ctx: RunContext, change_id: str) -> Verified:
        status = ctx.gateways.route53.change_status(change_id)
        if status == "INSYNC":
            return Verified(Verdict.CONVERGED)
        return Verified(Verdict.PENDING, f"change {change_id} is {status}")

    def revert(self, ctx: RunContext, records: Sequence[StepRecord]) -> Mapping[StepKey, Reverted]:
        results: dict[StepKey, Reverted] = {}
        restores: list[tuple[StepKey, ResourceRecordSetTypeDef]] = []
        for record in records:
            result, restore = self._decide_restore(ctx, record)
            if restore is None:
                results[record.key] = result
            else:
                restores.append((record.key, restore))
        if restores:
            zone = _zone_of(restores[0][0])
            change_id = ctx.gateways.route53.upsert(zone, [r for _, r in restores], ctx.comment)
            for key, restored in restores:
                after = {"weight": restored["Weight"], "change_id": change_id}
                results[key] = Reverted(Outcome.REVERTED, after=after)
        return results

    @staticmethod
    def _decide_restore(
        ctx: RunContext, record: StepRecord
    ) -> tuple[Reverted, ResourceRecordSetTypeDef | None]:
        before: dict[str, Any] = record.before
        set_identifier = before["set_identifier"]
        original = before["weights"][set_identifier]
        ours = record.after.get("weight", 0) if isinstance(record.after, dict) else 0
        if isinstance(record.after, dict) and "weights" in record.after:
            ours = record.after["weights"][set_identifier]
        zone, name, record_type = record.key.resource.split("/", 2)
        current = {
            r.get("SetIdentifier"): r
            for r in ctx.gateways.route53.weighted_records(zone, name, record_type)
        }
        live = current.get(set_identifier)
        if live is None:
            return Reverted(Outcome.SKIPPED, f"record {set_identifier} no longer exists"), None
        weight = live.get("Weight")
        if weight == original:
            return Reverted(Outcome.UNCHANGED, f"weight is already {original}"), None
        if weight != ours:
            reason = f"weight is {weight}, set by someone else since; left as it is"
            return Reverted(Outcome.SKIPPED, reason), None
        restored = copy.deepcopy(live)
        restored["Weight"] = original
        return Reverted(Outcome.REVERTED), restored
