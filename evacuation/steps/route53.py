"""Route 53 weights: compare-and-swap batches per hosted zone, only for records that differ.

How a weight is written (R53-2, /work/shared/aws-semantics.md §2.1):

- **Compare-and-swap, never UPSERT.** A step's write is DELETE of its AZ's record exactly as
  read + CREATE of the same record at weight 0. Route 53 rejects the whole batch with
  InvalidChangeBatch when a DELETE no longer matches, so a change someone made since the read
  is never overwritten.
- **A witness against two writers passing the guard.** Swapping only our record cannot stop
  another writer from zeroing a *different* record of the set at the same time: each of us saw
  the other's record non-zero, both batches succeed, every weight is 0 and Route 53 answers with
  all of them. So the batch also rewrites, unchanged (DELETE + CREATE of the same values), the
  set's highest non-zero survivor as read (`plan.witness_for`). If that record was zeroed or
  changed meanwhile, our batch fails instead. Among writers that do the same (another azevac,
  another workload's controller), the last batch to commit always leaves its witness non-zero,
  so all-zero cannot be reached. A writer that UPSERTs blindly after our commit can still zero
  the witness; nothing on Route 53's API can prevent that. The witness costs one more swap
  (2 change tokens, 2 ResourceRecord elements) per step.
- **One retry on conflict.** On InvalidChangeBatch the chunk's record sets are read again and
  each step re-planned from the fresh records: a record already at 0 needs nothing (another
  writer did it, or our own attempt whose answer was lost and whose retry then conflicted: the
  two cannot be told apart, so recover treats it as any weight still at azevac's 0); a record
  someone set to another non-zero weight is swapped again from its new value (the evacuation
  intent stands, and recover restores *that* weight); a set whose other records are all 0 now
  is refused (`guards.all_weights_zero` on the fresh weights). The re-planned chunk is sent once
  more; a second conflict fails its steps: someone keeps changing the set, a human should look.
- **Chunks.** A zone's swaps go in as few requests as the per-request limits allow
  (`evacuation.aws.route53.chunks`); a step's swaps never straddle two requests, and verify
  waits for every request's change to be INSYNC.
- **Revert** restores the weight we replaced, only while the live weight is still azevac's 0,
  by the same DELETE (live) + CREATE (restored copy of live), with the same one retry.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

import structlog

from evacuation import guards
from evacuation.aws.errors import AwsApiError
from evacuation.aws.route53 import chunks, swaps_cost
from evacuation.config import RecordSetConfig
from evacuation.errors import EvacuationError, SafetyGuardError, StepFailedError
from evacuation.model import JsonValue, Outcome, PlannedStep, StepKey, StepRecord
from evacuation.observe import read_record_sets, record_set_key
from evacuation.plan import witness_for
from evacuation.steps.base import Failed, Reverted, RunContext, Verdict, Verified

if TYPE_CHECKING:
    from mypy_boto3_route53.type_defs import ResourceRecordSetTypeDef

    from evacuation.aws.route53 import Swap

log = structlog.get_logger(__name__)

CONFLICT = "InvalidChangeBatch"
ELB_ALIAS_TTL = 60  # alias: target's TTL, 60 s for ELB (https://aws.amazon.com/route53/faqs/)


def _zone_of(key: StepKey) -> str:
    return key.resource.split("/", 1)[0]


def ttl_of(record: Mapping[str, Any]) -> int | None:
    """How long resolvers may keep answering the old record after INSYNC (R53-6)."""
    alias = record.get("AliasTarget")
    if alias is not None:
        # alias: target's TTL, 60 s for ELB; other targets' TTLs are not known here.
        return ELB_ALIAS_TTL if "elb." in str(alias.get("DNSName", "")).lower() else None
    ttl = record.get("TTL")
    return None if ttl is None else int(ttl)


def _with_weight(record: ResourceRecordSetTypeDef, weight: int) -> ResourceRecordSetTypeDef:
    changed = copy.deepcopy(record)
    changed["Weight"] = weight
    return changed


@dataclass
class _Write:
    """One step's swaps, sent in one request, and its after-image once sent."""

    key: StepKey
    swaps: list[Swap]
    after: dict[str, Any] = field(default_factory=dict)


class WeightRunner:
    # -- evacuate -------------------------------------------------------------------------------

    def apply(
        self, ctx: RunContext, steps: Sequence[PlannedStep]
    ) -> Mapping[StepKey, JsonValue | Failed]:
        targets = {s.key: str(s.current["set_identifier"]) for s in steps}
        results: dict[StepKey, JsonValue | Failed] = {}
        writes: list[_Write] = []
        for step in steps:
            witness = step.current.get("witness")
            refusal = guards.all_weights_zero(str(step.key), step.intended["weights"])
            planned = self._zero(step.key, step.current["record"], witness, refusal)
            if isinstance(planned, _Write):
                writes.append(planned)
            else:
                results[step.key] = planned
        for chunk in chunks(writes, lambda w: swaps_cost(w.swaps)):
            results.update(
                self._send(ctx, chunk, lambda w, fresh: self._replan(w.key, targets, fresh))
            )
        return results

    @staticmethod
    def _zero(
        key: StepKey,
        live: ResourceRecordSetTypeDef,
        witness: ResourceRecordSetTypeDef | None,
        refusal: str | None,
    ) -> _Write | Failed:
        if witness is None or refusal is not None:
            reason = refusal or f"{key}: no other record has a non-zero weight; not zeroing"
            return Failed(SafetyGuardError(reason))
        after = {
            "weight": 0,
            "replaced_weight": int(live["Weight"]),
            "ttl": ttl_of(live),
            "dns_off_by": None,
        }
        swaps: list[Swap] = [(live, _with_weight(live, 0)), (witness, copy.deepcopy(witness))]
        return _Write(key, swaps, after)

    def _replan(
        self,
        key: StepKey,
        targets: Mapping[StepKey, str],
        fresh: list[ResourceRecordSetTypeDef],
    ) -> _Write | JsonValue | Failed:
        """Re-plan one step from records read after a conflict."""
        target = targets[key]
        by_id = {str(r.get("SetIdentifier")): r for r in fresh if "Weight" in r}
        live = by_id.get(target)
        if live is None:
            return Failed(StepFailedError(f"{key}: record {target} no longer exists"))
        weights = {sid: int(r["Weight"]) for sid, r in by_id.items()}
        if weights[target] == 0:
            # Zeroed since our read: by someone else, or by our own attempt whose answer was
            # lost (a retried DELETE then conflicts). Nothing to write; recover restores it like
            # any weight still at azevac's 0.
            return {"weight": 0, "change_id": None, "ttl": ttl_of(live), "dns_off_by": None}
        refusal = guards.all_weights_zero(str(key), {**weights, target: 0})
        if refusal is not None:
            refusal = f"re-read after a concurrent change: {refusal}"
        witness = witness_for(weights, target)
        return self._zero(key, live, by_id[witness] if witness else None, refusal)

    def _send(
        self,
        ctx: RunContext,
        chunk: list[_Write],
        replan: Any,
    ) -> dict[StepKey, Any]:
        """Send one chunk; on a conflict, re-read its sets, re-plan with `replan(write, fresh)`
        (a _Write to send again, or a final after / Failed / Reverted) and send once more."""
        zone = _zone_of(chunk[0].key)
        results: dict[StepKey, Any] = {}
        try:
            return self._swap(ctx, zone, chunk)
        except AwsApiError as exc:
            if exc.code != CONFLICT:
                return {w.key: Failed(exc) for w in chunk}
            conflict = exc
        except EvacuationError as exc:
            return {w.key: Failed(exc) for w in chunk}
        log.warning(
            "route53.write_conflict", zone=zone, steps=len(chunk), error=str(conflict), retry=True
        )
        fresh = _read(ctx, [w.key for w in chunk])
        again: list[_Write] = []
        for write in chunk:
            records = fresh[write.key]
            if isinstance(records, EvacuationError):
                results[write.key] = Failed(records)
                continue
            planned = replan(write, records)
            if isinstance(planned, _Write):
                again.append(planned)
            else:
                results[write.key] = planned
        for retry in chunks(again, lambda w: swaps_cost(w.swaps)):
            try:
                results.update(self._swap(ctx, zone, retry))
            except AwsApiError as exc:
                error: EvacuationError = exc
                if exc.code == CONFLICT:
                    log.error("route53.write_conflict", zone=zone, steps=len(retry), retry=False)
                    error = StepFailedError(
                        "the record set changed again while azevac wrote it (compare-and-swap "
                        f"failed twice; nothing of this batch was written): {exc}. Someone is "
                        "editing these records: check them, then evacuate again"
                    )
                results.update({w.key: Failed(error) for w in retry})
            except EvacuationError as exc:
                results.update({w.key: Failed(exc) for w in retry})
        return results

    @staticmethod
    def _swap(ctx: RunContext, zone: str, chunk: list[_Write]) -> dict[StepKey, Any]:
        swaps = [swap for write in chunk for swap in write.swaps]
        change_id = ctx.gateways.route53.swap(zone, swaps, ctx.comment)
        log.info("route53.swapped", zone=zone, steps=len(chunk), change_id=change_id)
        return {w.key: {**w.after, "change_id": change_id} for w in chunk}

    def verify(
        self, ctx: RunContext, steps: Sequence[PlannedStep], afters: Mapping[StepKey, Any]
    ) -> Mapping[StepKey, Verified]:
        """Every request's change INSYNC; then DNS is off the AZ by INSYNC + TTL (R53-6)."""
        ids = sorted({str(afters[s.key]["change_id"]) for s in steps if afters[s.key]["change_id"]})
        insync_at: dict[str, datetime] = {}

        def check() -> Verified:
            for change_id in ids:
                if change_id in insync_at:
                    continue
                if ctx.gateways.route53.change_status(change_id) == "INSYNC":
                    insync_at[change_id] = ctx.clock()
            pending = [c for c in ids if c not in insync_at]
            if pending:
                return Verified(Verdict.PENDING, f"changes {', '.join(pending)} not INSYNC yet")
            return Verified(Verdict.CONVERGED)

        if ids:
            ctx.poll(check)
        verified: dict[StepKey, Verified] = {}
        for step in steps:
            after = afters[step.key]
            change_id = after["change_id"]
            if change_id is None:
                reason = (
                    "weight already 0 when re-read after a conflict (another writer, or an "
                    "earlier attempt of ours whose answer was lost); nothing written"
                )
                verified[step.key] = Verified(Verdict.CONVERGED, reason)
            elif change_id in insync_at:
                verified[step.key] = Verified(
                    Verdict.CONVERGED, after=_dns_off(step.key, after, insync_at[change_id])
                )
            else:
                verified[step.key] = Verified(Verdict.PENDING, f"change {change_id} is PENDING")
        return verified

    # -- recover --------------------------------------------------------------------------------

    def revert(self, ctx: RunContext, records: Sequence[StepRecord]) -> Mapping[StepKey, Reverted]:
        by_key = {record.key: record for record in records}
        fresh = _read(ctx, list(by_key))
        results: dict[StepKey, Reverted] = {}
        writes: list[_Write] = []
        for record in records:
            decided = self._decide_restore(record, fresh[record.key])
            if isinstance(decided, _Write):
                writes.append(decided)
            else:
                results[record.key] = decided

        def replan(write: _Write, live: list[ResourceRecordSetTypeDef]) -> Any:
            return self._decide_restore(by_key[write.key], live)

        for chunk in chunks(writes, lambda w: swaps_cost(w.swaps)):
            for key, result in self._send(ctx, chunk, replan).items():
                if isinstance(result, Failed):
                    error = f"revert: {result.error}"
                    results[key] = Reverted(Outcome.FAILED, error)
                elif isinstance(result, Reverted):
                    results[key] = result
                else:
                    results[key] = Reverted(Outcome.REVERTED, after=result)
        return results

    @staticmethod
    def _decide_restore(
        record: StepRecord, live_records: list[ResourceRecordSetTypeDef] | EvacuationError
    ) -> Reverted | _Write:
        before: dict[str, Any] = record.before
        set_identifier = before["set_identifier"]
        after: dict[str, Any] = record.after if isinstance(record.after, dict) else {}
        # The weight our swap replaced: the one read at plan time, or the one someone set
        # between that read and our write (re-planned after a conflict).
        original = after.get("replaced_weight", before["weights"][set_identifier])
        ours = after.get("weight", 0)
        if "weights" in after:
            ours = after["weights"][set_identifier]
        if isinstance(live_records, EvacuationError):
            return Reverted(Outcome.FAILED, f"revert: cannot read the record set: {live_records}")
        current = {r.get("SetIdentifier"): r for r in live_records}
        live = current.get(set_identifier)
        if live is None:
            return Reverted(Outcome.SKIPPED, f"record {set_identifier} no longer exists")
        weight = live.get("Weight")
        if weight == original:
            return Reverted(Outcome.UNCHANGED, f"weight is already {original}")
        if weight != ours:
            reason = f"weight is {weight}, set by someone else since; left as it is"
            return Reverted(Outcome.SKIPPED, reason)
        restored = _with_weight(live, int(original))
        return _Write(record.key, [(live, restored)], {"weight": original, "ttl": ttl_of(live)})


def _dns_off(key: StepKey, after: Mapping[str, Any], insync_at: datetime) -> dict[str, Any]:
    ttl = after.get("ttl")
    off_by = None if ttl is None else (insync_at + timedelta(seconds=int(ttl))).isoformat()
    log.info(
        "route53.insync",
        step=str(key),
        change_id=after["change_id"],
        insync_at=insync_at.isoformat(),
        ttl=ttl,
        dns_off_by=off_by,
    )
    return {**after, "insync_at": insync_at.isoformat(), "dns_off_by": off_by}


def _read(
    ctx: RunContext, keys: Sequence[StepKey]
) -> dict[StepKey, list[ResourceRecordSetTypeDef] | EvacuationError]:
    """The record sets of `keys` as they are now: one zone listing when there are several."""
    configured = {record_set_key(rs): rs for rs in ctx.config.route53}
    record_sets = []
    for key in keys:
        record_set = configured.get(key.resource)
        if record_set is None:  # the config no longer lists it: read it all the same
            zone, name, record_type = key.resource.split("/", 2)
            record_set = RecordSetConfig.model_construct(
                hosted_zone_id=zone, name=name, type=cast("Any", record_type), set_identifiers={}
            )
        record_sets.append(record_set)
    workers = ctx.config.execution.max_workers_per_service
    found, _ = read_record_sets(ctx.gateways, record_sets, workers)
    return {key: cast("Any", found[key.resource]) for key in keys}
