"""Route 53 weighted records (`route53`): the AZ's record of each configured set to weight 0,
by compare-and-swap batches per hosted zone, only for records that differ.

How a weight is written (R53-2, /work/shared/aws-semantics.md §2.1):

- **Compare-and-swap, never UPSERT.** A step's write is DELETE of its AZ's record exactly as
  read + CREATE of the same record at weight 0. Route 53 rejects the whole batch with
  InvalidChangeBatch when a DELETE no longer matches, so a change someone made since the read
  is never overwritten.
- **A witness against two writers passing the guard.** Swapping only our record cannot stop
  another writer from zeroing a *different* record of the set at the same time: each of us saw
  the other's record non-zero, both batches succeed, every weight is 0 and Route 53 answers with
  all of them. So the batch also rewrites, unchanged (DELETE + CREATE of the same values), the
  set's highest non-zero survivor as read (`witness_for`). If that record was zeroed or
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
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, cast

import structlog
from pydantic import AfterValidator, Field, StringConstraints, field_validator

from evacuation import guards
from evacuation.aws.errors import AwsApiError
from evacuation.aws.route53 import chunks, swaps_cost
from evacuation.config import AzId, NonEmptyStr, Strict
from evacuation.errors import EvacuationError, SafetyGuardError, StepFailedError
from evacuation.kinds.base import (
    Kind,
    KindPlan,
    Permission,
    PlanInput,
    Stage,
    StepSpec,
    Tier,
    failed_step,
    fixed,
)
from evacuation.model import JsonValue, Outcome, Phase, PlannedStep, StepKey, StepKind, StepRecord
from evacuation.reads import each, guarded, page_budget
from evacuation.steps.base import Failed, Reverted, RunContext, Verdict, Verified

if TYPE_CHECKING:
    from mypy_boto3_route53.type_defs import ResourceRecordSetTypeDef

    from evacuation.aws.route53 import Swap
    from evacuation.config import Config
    from evacuation.observe import Gateways, Observation

# -- config ---------------------------------------------------------------------------------------


class RecordSetConfig(Strict):
    hosted_zone_id: Annotated[str, StringConstraints(pattern=r"^(/hostedzone/)?[A-Z0-9]{1,32}$")]
    name: NonEmptyStr
    type: Literal["A", "AAAA", "CNAME", "MX", "TXT", "SRV", "CAA", "NS", "PTR", "SPF", "NAPTR"]
    set_identifiers: dict[AzId, NonEmptyStr] = Field(min_length=2)

    @field_validator("hosted_zone_id")
    @classmethod
    def _bare_zone_id(cls, value: str) -> str:
        return value.removeprefix("/hostedzone/")

    @field_validator("name")
    @classmethod
    def _fqdn(cls, value: str) -> str:
        return value.lower() if value.endswith(".") else value.lower() + "."

    @field_validator("set_identifiers")
    @classmethod
    def _distinct(cls, value: dict[str, str]) -> dict[str, str]:
        if len(set(value.values())) != len(value):
            raise ValueError("two AZs share one set identifier")
        return value


def _listed_once(record_sets: list[RecordSetConfig]) -> list[RecordSetConfig]:
    seen: set[tuple[str, str, str]] = set()
    for record_set in record_sets:
        key = (record_set.hosted_zone_id, record_set.name, record_set.type)
        if key in seen:
            raise ValueError(f"route53 lists {record_set.name} {record_set.type} twice")
        seen.add(key)
    return record_sets


Route53Config = Annotated[list[RecordSetConfig], AfterValidator(_listed_once)]


def record_set_key(record_set: RecordSetConfig) -> str:
    """How a record set is named in steps and logs: zone/name/type."""
    return f"{record_set.hosted_zone_id}/{record_set.name}/{record_set.type}"


# -- reads ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route53Observation:
    record_sets: Mapping[str, list[ResourceRecordSetTypeDef] | EvacuationError] = field(
        default_factory=dict
    )
    other_types: Mapping[str, list[ResourceRecordSetTypeDef]] = field(default_factory=dict)
    """Per configured record set (its key): the records of the same name in other types, read
    with it (absent where the read failed)."""


RecordSetReads = tuple[
    dict[str, list["ResourceRecordSetTypeDef"] | EvacuationError],
    dict[str, list["ResourceRecordSetTypeDef"]],
]


def read_record_sets(
    gateways: Gateways, record_sets: list[RecordSetConfig], workers: int
) -> RecordSetReads:
    """Each record set's records, and its name's records of other types, by record set key.

    A zone holding several of the sets is listed from its start (within the page budget); the
    rest are read one name at a time, which returns every type of the name in the same read."""
    by_zone: dict[str, list[RecordSetConfig]] = {}
    for record_set in record_sets:
        by_zone.setdefault(record_set.hosted_zone_id, []).append(record_set)
    batched = {zone: sets for zone, sets in by_zone.items() if len(sets) > 1}

    def list_zone(zone: str) -> Mapping[tuple[str, str], list[ResourceRecordSetTypeDef]]:
        wanted = [(rs.name, rs.type) for rs in batched[zone]]
        listed = guarded(
            lambda: gateways.route53.zone_records(zone, wanted, page_budget(len(wanted)))
        )
        if isinstance(listed, EvacuationError):
            log.warning("observe.list_failed", service="route53", zone=zone, error=str(listed))
            return {}
        return listed

    zones = each(list(batched), list_zone, workers)
    found: dict[str, list[ResourceRecordSetTypeDef] | EvacuationError] = {}
    others: dict[str, list[ResourceRecordSetTypeDef]] = {}
    rest: dict[str, RecordSetConfig] = {}
    for record_set in record_sets:
        zone_records = zones.get(record_set.hosted_zone_id, {})
        name = record_set.name.rstrip(".").lower()
        if isinstance(zone_records, Mapping) and (name, record_set.type) in zone_records:
            key = record_set_key(record_set)
            found[key] = list(zone_records[(name, record_set.type)])
            others[key] = [
                r for (n, t), rs in zone_records.items() if n == name and t != record_set.type
                for r in rs
            ]  # fmt: skip
        else:
            rest[record_set_key(record_set)] = record_set

    def read_one(key: str) -> list[ResourceRecordSetTypeDef]:
        rs = rest[key]
        return gateways.route53.name_records(rs.hosted_zone_id, rs.name)

    for key, read in each(list(rest), read_one, workers).items():
        if isinstance(read, EvacuationError):
            found[key] = read
            continue
        found[key] = [r for r in read if r["Type"] == rest[key].type]
        others[key] = [r for r in read if r["Type"] != rest[key].type]
    return {key: found[key] for key in map(record_set_key, record_sets)}, others


# -- plan -----------------------------------------------------------------------------------------


def _route53_step(
    record_set: RecordSetConfig,
    observed: Sequence[Mapping[str, Any]] | EvacuationError,
    az_id: str,
) -> tuple[PlannedStep, str | None]:
    name = record_set_key(record_set)
    key = StepKey(StepKind.ROUTE53_WEIGHT, name)
    group = record_set.hosted_zone_id
    if isinstance(observed, EvacuationError):
        return failed_step(key, observed, group), None
    by_id = {str(r.get("SetIdentifier")): r for r in observed if "SetIdentifier" in r}
    weights = {sid: int(str(r["Weight"])) for sid, r in by_id.items() if "Weight" in r}
    target = record_set.set_identifiers.get(az_id)
    if target is None:
        reason = f"the record set has no record for {az_id}"
        return PlannedStep(key, {"weights": weights}, None, False, skip_reason=reason), None
    if target not in weights:
        error = EvacuationError(f"{name}: no weighted record with SetIdentifier {target!r}")
        return failed_step(key, error, group), None
    intended_weights = {**weights, target: 0}
    current = {"weights": weights, "set_identifier": target, "record": by_id[target]}
    witness = witness_for(weights, target)
    if witness is not None:
        current["witness"] = by_id[witness]
    intended = {"weights": intended_weights, "set_identifier": target}
    refusal = guards.all_weights_zero(name, intended_weights)
    return PlannedStep(key, current, intended, weights[target] != 0, group=group), refusal


def witness_for(weights: Mapping[str, int], target: str) -> str | None:
    """The surviving record whose value the weight write rewrites unchanged (DELETE + CREATE),
    so that the write also fails if someone zeroed that record since it was read (R53-2):
    the non-zero record with the highest weight, None when there is none (then the write is
    refused: it would zero every weight)."""
    survivors = [(-weight, sid) for sid, weight in weights.items() if sid != target and weight]
    return min(survivors)[1] if survivors else None


def _weights_at_zero(
    record_set: RecordSetConfig,
    observed: Sequence[Mapping[str, Any]] | EvacuationError,
    az_id: str,
) -> dict[str, str]:
    """Other AZs whose configured record is already at weight 0: out of service by a lever that
    is not this plan's (a human, another tool, an earlier run)."""
    if isinstance(observed, EvacuationError):
        return {}
    weights = {str(r.get("SetIdentifier")): r.get("Weight") for r in observed if "Weight" in r}
    return {
        other: f"{record_set.name} {record_set.type} record {sid} is at weight 0"
        for other, sid in record_set.set_identifiers.items()
        if other != az_id and weights.get(sid) == 0
    }


# -- readiness ------------------------------------------------------------------------------------


def _record_set_problems(
    config: Config, observation: Observation, part: Route53Observation
) -> list[str]:
    problems: list[str] = []
    workload_azs = observation.workload_az_ids(config)
    for record_set in config.route53:
        key = record_set_key(record_set)
        records = part.record_sets[key]
        if isinstance(records, EvacuationError):
            problems.append(f"record set {key}: cannot read it ({records})")
            continue
        present = {r.get("SetIdentifier") for r in records if "Weight" in r}
        for az_id, set_identifier in sorted(record_set.set_identifiers.items()):
            if set_identifier not in present:
                problems.append(f"record set {key}: no weighted record {set_identifier} ({az_id})")
        for az_id in sorted(workload_azs - set(record_set.set_identifiers)):
            problems.append(f"record set {key}: no record configured for {az_id}")
        problems.extend(_health_checked(key, records))
        problems.extend(_unlisted_siblings(config, record_set, part))
    return problems


def _health_checked(key: str, records: Sequence[Mapping[str, Any]]) -> list[str]:
    """R53-1: weight 0 is a soft removal. When every non-zero record is unhealthy, Route 53
    answers with the zero-weight ones, the evacuated AZ's too
    (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/health-checks-how-route-53-chooses-records.html);
    an alias that evaluates its target's health behaves like a health-checked record."""
    checked = sorted(
        str(r.get("SetIdentifier"))
        for r in records
        if "Weight" in r
        and (r.get("HealthCheckId") or r.get("AliasTarget", {}).get("EvaluateTargetHealth"))
    )
    if not checked:
        return []
    return [
        f"record set {key}: records {', '.join(checked)} have health checks "
        "(HealthCheckId or EvaluateTargetHealth); if every non-zero record turns unhealthy, "
        "Route 53 answers with the evacuated AZ's zero-weight record too: watch the survivors' "
        "health while evacuated"
    ]


def _unlisted_siblings(
    config: Config, record_set: RecordSetConfig, part: Route53Observation
) -> list[str]:
    """R53-3: a config entry covers one name and one type. A weighted set of the same name in
    another type (AAAA beside A) with the same set identifiers keeps its clients in the AZ."""
    key = record_set_key(record_set)
    configured = {
        rs.type for rs in config.route53
        if rs.hosted_zone_id == record_set.hosted_zone_id and rs.name == record_set.name
    }  # fmt: skip
    identifiers = set(record_set.set_identifiers.values())
    by_type: dict[str, set[str]] = {}
    for record in part.other_types.get(key, []):
        if record["Type"] not in configured and record.get("SetIdentifier") in identifiers:
            by_type.setdefault(record["Type"], set()).add(str(record["SetIdentifier"]))
    return [
        f"record set {key}: the same name has a weighted {kind} set with the same set "
        f"identifiers ({', '.join(sorted(ids))}) that the config does not list; evacuating "
        f"{record_set.type} alone leaves {kind} clients in the AZ"
        for kind, ids in sorted(by_type.items())
    ]


# -- apply, verify, revert ------------------------------------------------------------------------

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
        fresh = _read_sets(ctx, [w.key for w in chunk])
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
        fresh = _read_sets(ctx, list(by_key))
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


def _read_sets(
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


# -- the kind -------------------------------------------------------------------------------------

ROUTE53_PLANE = (
    "Route 53 weight changes are calls to the Route 53 control plane (us-east-1): they move "
    "traffic, so they run in the first phase, in their own lane beside the ARC shifts, which "
    "never wait on them"
)


class Route53Kind(Kind):
    name = "route53"
    section = "route53"
    config_types: ClassVar[Mapping[str, Any]] = {"Route53Config": Route53Config}
    steps = (
        StepSpec(
            StepKind.ROUTE53_WEIGHT,
            Phase.DATA_PLANE,
            WeightRunner(),
            lane="route53",
            tier=fixed(Tier.WEIGHTS),
            stage=fixed(Stage.TRAFFIC),
            group=_zone_of,
        ),
    )
    permissions = (
        Permission("ReadOurHostedZones", ("route53:ListResourceRecordSets",)),
        Permission("WeightsOfOurRecords", ("route53:ChangeResourceRecordSets",)),
        Permission("ChangeStatus", ("route53:GetChange",)),
    )

    def part(self, observation: Observation) -> Route53Observation:
        found = observation.parts.get(self.name)
        return found if isinstance(found, Route53Observation) else Route53Observation()

    def read(self, config: Config, gateways: Gateways) -> Route53Observation:
        workers = config.execution.max_workers_per_service
        records, other_types = read_record_sets(gateways, config.route53, workers)
        return Route53Observation(records, other_types)

    def plan(self, given: PlanInput) -> KindPlan:
        part = self.part(given.observation)
        steps: list[PlannedStep] = []
        refusals: list[str] = []
        out_of_service: dict[str, str] = {}
        for record_set in given.config.route53:
            records = part.record_sets[record_set_key(record_set)]
            step, refusal = _route53_step(record_set, records, given.az_id)
            steps.append(step)
            refusals.extend([refusal] if refusal else [])
            for other_az, why in _weights_at_zero(record_set, records, given.az_id).items():
                out_of_service.setdefault(other_az, why)
        return KindPlan(steps, refusals, (), out_of_service)

    def readiness(self, config: Config, observation: Observation) -> list[str]:
        return _record_set_problems(config, observation, self.part(observation))

    def configured_az_ids(self, config: Config) -> set[str]:
        return {az for rs in config.route53 for az in rs.set_identifiers}

    def plan_note(self, steps: Sequence[PlannedStep]) -> str | None:
        return ROUTE53_PLANE if steps else None


KIND = Route53Kind()
