"""Run a phase's steps: observe (done by the plan) -> decide -> record before -> apply -> verify ->
record outcome. Each AWS service gets its own bounded pool, so zonal shifts never wait on Route 53,
and one failing resource never stops the others."""

from __future__ import annotations

import contextvars
import dataclasses
import itertools
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import TypeVar

import structlog

from evacuation.errors import EvacuationError
from evacuation.kinds import spec_of
from evacuation.kinds.base import SEQUENTIAL_TIERS, Tier
from evacuation.model import Outcome, PlannedStep, StepKey, StepKind, StepRecord
from evacuation.state.base import StateStore
from evacuation.steps.base import Failed, RunContext, StepRunner, Verdict, Verified

log = structlog.get_logger(__name__)
T = TypeVar("T")
U = TypeVar("U")


def _lane(kind: StepKind) -> str:
    """The AWS service whose pool runs the step: zonal shifts never wait on Route 53."""
    return spec_of(kind).lane


def _runner(kind: StepKind) -> StepRunner:
    return spec_of(kind).runner


def _tier(step: PlannedStep) -> Tier:
    return spec_of(step.kind).tier(step.resource)


StepListener = Callable[[StepRecord], None]

WRITE_AHEAD_CHUNK = 25
"""A batch of independent steps (`StepSpec.independent`: zonal shifts) is recorded and applied
chunk by chunk, the next chunk's records written while this one applies: every step is still
on record before its own change, and the first change waits for this many writes, not for the
whole batch's hundreds (300 shifts behind 300 writes held the first shift of the large
benchmark for seconds)."""


class Executor:
    """Applies and reverts steps for one run of one evacuation, saving every record as it goes."""

    def __init__(
        self,
        ctx: RunContext,
        store: StateStore,
        clock: Callable[[], datetime],
        on_step: StepListener | None = None,
    ) -> None:
        self._ctx = dataclasses.replace(ctx, clock=clock)
        self._store = store
        self._clock = clock
        self._on_step = on_step
        self._log = log.bind(evacuation_id=ctx.evacuation_id, az_id=ctx.az_id)

    # -- evacuate -------------------------------------------------------------------------------

    def run_phase(
        self, steps: Sequence[PlannedStep], stored: Mapping[StepKey, StepRecord]
    ) -> list[StepRecord]:
        """Run every step of one phase; returns their final records in plan order. The control
        plane runs tier after tier (dependencies, then capacity: `kinds.base.Tier`); the data
        plane's lanes run side by side, never waiting on each other."""
        if steps and SEQUENTIAL_TIERS[steps[0].phase]:
            tiers = sorted({_tier(s) for s in steps})
            done = [
                r
                for t in tiers
                for r in self._run_lanes([s for s in steps if _tier(s) is t], stored)
            ]
        else:
            done = self._run_lanes(steps, stored)
        by_key = {record.key: record for record in done}
        return [by_key[step.key] for step in steps]

    def _run_lanes(
        self, steps: Sequence[PlannedStep], stored: Mapping[StepKey, StepRecord]
    ) -> list[StepRecord]:
        groups = _groups(steps, lambda s: (_lane(s.kind), s.group or str(s.key)))
        return self._in_lanes(groups, lambda group: self._run_group(group, stored))

    def _run_group(
        self, steps: Sequence[PlannedStep], stored: Mapping[StepKey, StepRecord]
    ) -> list[StepRecord]:
        records: list[StepRecord] = []
        for _, batch in itertools.groupby(steps, key=lambda s: s.kind):
            records.extend(self._run_batch(list(batch), stored))
        return records

    def _run_batch(
        self, steps: list[PlannedStep], stored: Mapping[StepKey, StepRecord]
    ) -> list[StepRecord]:
        final: dict[StepKey, StepRecord] = {}
        to_apply: list[PlannedStep] = []
        started: dict[StepKey, StepRecord] = {}
        for step in steps:
            previous = stored.get(step.key)
            decided = self._decide(step, previous)
            if decided is not None:
                final[step.key] = decided
                continue
            if previous is not None and previous.outcome in (Outcome.APPLIED, Outcome.PENDING):
                self._log.warning(
                    "step.drift", step=str(step.key), phase=step.phase.value, current=step.current
                )
            started[step.key] = StepRecord(
                step.key,
                Outcome.IN_PROGRESS,
                before=_before(step, previous),
                after=step.intended,
                started_at=self._clock(),
                attempts=(previous.attempts if previous else 0) + 1,
            )
            to_apply.append(step)
        chunks = _chunks(to_apply)
        later = {s.key for chunk in chunks[1:] for s in chunk}
        # Write-ahead, one round trip for the batch (or its first chunk): every before-image is
        # on record before any mutation it covers is sent.
        self._save([(final.get(s.key) or started[s.key], s) for s in steps if s.key not in later])
        unsettled = [
            s for s in steps if s.key in final and final[s.key].outcome is Outcome.IN_PROGRESS
        ]
        if unsettled:
            final.update(self._reverify(unsettled, final))
        if to_apply:
            final.update(self._apply(chunks, started))
        return [final[step.key] for step in steps]

    def _reverify(
        self, steps: list[PlannedStep], records: Mapping[StepKey, StepRecord]
    ) -> dict[StepKey, StepRecord]:
        """Steps already as intended whose effect AWS did not show (a shift not yet applied, a
        Route 53 change not yet INSYNC): read back now, never reported done on trust."""
        runner = _runner(steps[0].kind)
        afters = {step.key: records[step.key].after for step in steps}
        try:
            verified = runner.verify(self._ctx, steps, afters)
        except Exception as exc:  # noqa: BLE001 - recorded as the step's failure, logged, reported
            return self._fail(records, steps, exc)
        results = {
            step.key: self._verified(records[step.key], afters[step.key], verified[step.key])
            for step in steps
        }
        self._save([(results[step.key], step) for step in steps])
        return results

    def _decide(self, step: PlannedStep, previous: StepRecord | None) -> StepRecord | None:
        """The final record of a step that needs no mutation, or None when it must be applied."""
        now = self._clock()
        if step.error is not None:
            return StepRecord(
                step.key, Outcome.FAILED, before=previous.before if previous else None,
                after=previous.after if previous else None, error=step.error,
                started_at=now, finished_at=now,
                attempts=previous.attempts if previous else 0,
            )  # fmt: skip
        if step.needs_change:
            return None
        if step.ours or (previous is not None and previous.changed_something):
            # Already as wanted because this evacuation did it (an earlier, interrupted run).
            # Applied only if AWS shows it took effect; otherwise it is read back (_reverify).
            outcome = Outcome.APPLIED if _settled(step, previous) else Outcome.IN_PROGRESS
            return StepRecord(
                step.key, outcome, before=_before(step, previous),
                after=previous.after if previous and previous.after is not None else step.intended,
                reason=step.note, started_at=previous.started_at if previous else now,
                finished_at=now if outcome is Outcome.APPLIED else None,
                attempts=previous.attempts if previous else 0,
            )  # fmt: skip
        outcome = Outcome.SKIPPED if step.skip_reason else Outcome.UNCHANGED
        return StepRecord(
            step.key, outcome, before=step.current, after=step.current,
            reason=step.skip_reason or step.note, started_at=now, finished_at=now,
        )  # fmt: skip

    def _apply(
        self, chunks: list[list[PlannedStep]], started: Mapping[StepKey, StepRecord]
    ) -> dict[StepKey, StepRecord]:
        """Apply chunk after chunk (the first already on record; each next one recorded while
        the one before applies), then read them all back at once."""
        runner = _runner(chunks[0][0].kind)
        afters: dict[StepKey, object] = {}
        results: dict[StepKey, StepRecord] = {}
        with ThreadPoolExecutor(1, thread_name_prefix="write-ahead") as writer:
            recording: Future[None] | None = None
            for index, chunk in enumerate(chunks):
                if recording is not None:
                    recording.result()  # this chunk is on record: a failed write raises here
                upcoming = chunks[index + 1] if index + 1 < len(chunks) else []
                recording = (
                    writer.submit(
                        contextvars.copy_context().run,
                        self._save,
                        [(started[s.key], s) for s in upcoming],
                    )
                    if upcoming
                    else None
                )
                for step in chunk:
                    self._log.info("step.apply.start", **_fields(step))
                try:
                    afters.update(runner.apply(self._ctx, chunk))
                except Exception as exc:  # noqa: BLE001 - recorded as the steps' failure, logged
                    results.update(self._fail(started, chunk, exc))
        steps = [step for chunk in chunks for step in chunk if step.key not in results]
        applied = [step for step in steps if not isinstance(afters[step.key], Failed)]
        try:
            verified = runner.verify(self._ctx, applied, afters) if applied else {}
        except Exception as exc:  # noqa: BLE001 - recorded as the step's failure, logged, reported
            return {**results, **self._fail(started, steps, exc)}
        failed_alone: list[StepKey] = []
        for step in steps:
            after = afters[step.key]
            if isinstance(after, Failed):
                results[step.key] = self._failed(started[step.key], step, after.error)
                failed_alone.append(step.key)
                continue
            results[step.key] = self._verified(
                started[step.key], after, verified[step.key], note=step.note
            )
        self._save([(results[step.key], step) for step in steps], logged=failed_alone)
        return results

    def _verified(
        self, record: StepRecord, after: object, verified: Verified, note: str | None = None
    ) -> StepRecord:
        outcome = {
            Verdict.CONVERGED: Outcome.APPLIED,
            Verdict.PENDING: Outcome.PENDING,
            Verdict.DIVERGED: Outcome.FAILED,
        }[verified.verdict]
        reason = "; ".join(r for r in (verified.detail, note or record.reason) if r) or None
        return record.evolve(
            outcome=outcome,
            after=verified.after if verified.after is not None else after,
            error=verified.detail if outcome is Outcome.FAILED else None,
            reason=reason,
            finished_at=self._clock(),
        )

    def _fail(
        self, started: Mapping[StepKey, StepRecord], steps: list[PlannedStep], exc: Exception
    ) -> dict[StepKey, StepRecord]:
        """The whole batch failed (one call applies it, or the runner raised)."""
        failed = {step.key: self._failed(started[step.key], step, exc) for step in steps}
        self._save([(failed[step.key], step) for step in steps], logged=list(failed))
        return failed

    def _failed(self, record: StepRecord, step: PlannedStep, exc: Exception) -> StepRecord:
        error = _describe(exc)
        self._log.error(
            "step.failed",
            **_fields(step),
            error=error,
            # The exception itself: a step that failed alone is recorded outside its except block.
            exc_info=False if isinstance(exc, EvacuationError) else exc,
        )
        return record.evolve(outcome=Outcome.FAILED, error=error, finished_at=self._clock())

    # -- recover --------------------------------------------------------------------------------

    def revert_phase(self, records: Sequence[StepRecord]) -> list[StepRecord]:
        """Revert records of one phase; within a resource, in reverse order of application."""
        groups = _groups(records, lambda r: (_lane(r.key.kind), _group_of(r)))
        done = self._in_lanes(groups, lambda group: self._revert_group(list(reversed(group))))
        by_key = {record.key: record for record in done}
        return [by_key[record.key] for record in records]

    def _revert_group(self, records: list[StepRecord]) -> list[StepRecord]:
        out: list[StepRecord] = []
        for kind, batch_iter in itertools.groupby(records, key=lambda r: r.key.kind):
            batch = list(batch_iter)
            for record in batch:
                self._log.info(
                    "step.revert.start", step=str(record.key), resource=record.key.resource
                )
            started = self._clock()
            try:
                reverted = _runner(kind).revert(self._ctx, batch)
            except Exception as exc:  # noqa: BLE001 - recorded as the revert's failure and reported
                error = (
                    str(exc) if isinstance(exc, EvacuationError) else f"{type(exc).__name__}: {exc}"
                )
                for record in batch:
                    self._log.error("step.revert.failed", step=str(record.key), error=error)
                    failed = record.evolve(
                        outcome=Outcome.FAILED,
                        error=f"revert: {error}",
                        applied_at=record.applied_at or record.finished_at,
                        revert_started_at=started,
                        finished_at=self._clock(),
                    )
                    out.append(self._store_record(failed))
                continue
            for record in batch:
                result = reverted[record.key]
                self._log.info(
                    "step.revert.done",
                    step=str(record.key),
                    resource=record.key.resource,
                    outcome=result.outcome.value,
                    reason=result.reason,
                )
                done = record.evolve(
                    outcome=result.outcome,
                    reason=result.reason,
                    error=None,
                    after=result.after if result.after is not None else record.after,
                    finished_at=self._clock(),
                    # the apply's end and the revert's start, for the post-incident report
                    applied_at=record.applied_at or record.finished_at,
                    revert_started_at=started,
                )
                out.append(self._store_record(done))
        return out

    # -- shared ---------------------------------------------------------------------------------

    def _in_lanes(
        self, groups: Mapping[tuple[str, str], list[T]], work: Callable[[list[T]], list[U]]
    ) -> list[U]:
        workers = self._ctx.config.execution.max_workers_per_service
        lanes = sorted({lane for lane, _ in groups})
        pools = {lane: ThreadPoolExecutor(workers, thread_name_prefix=lane) for lane in lanes}
        try:
            futures: list[Future[list[U]]] = [
                # Each task gets a copy of the caller's context: log fields bound at the entry
                # point (request id) follow the work into the pool's threads.
                pools[lane].submit(contextvars.copy_context().run, work, group)
                for (lane, _), group in groups.items()
            ]
            return [record for future in futures for record in future.result()]
        finally:
            for pool in pools.values():
                pool.shutdown(wait=True)

    def _save(
        self, saved: Sequence[tuple[StepRecord, PlannedStep]], logged: Collection[StepKey] = ()
    ) -> None:
        """Record a batch's steps in one round trip, logging each (but those in `logged`)."""
        if not saved:
            return
        for record, step in saved:
            if record.key not in logged:
                self._log.info(
                    "step.recorded",
                    **_fields(step),
                    outcome=record.outcome.value,
                    reason=record.reason,
                    error=record.error,
                )
        self._store.save_steps(self._ctx.evacuation_id, [record for record, _ in saved])
        if self._on_step is not None:
            for record, _ in saved:
                self._on_step(record)

    def _store_record(self, record: StepRecord) -> StepRecord:
        self._store.save_step(self._ctx.evacuation_id, record)
        if self._on_step is not None:
            self._on_step(record)
        return record


def _settled(step: PlannedStep, previous: StepRecord | None) -> bool:
    """AWS shows the step in effect: no need to read it back again. A step the last run left
    PENDING is read back, since its plan cannot see every effect (Route 53 INSYNC)."""
    return step.settled and not (previous is not None and previous.outcome is Outcome.PENDING)


def _chunks(steps: list[PlannedStep]) -> list[list[PlannedStep]]:
    """The batch as one chunk, or, for independent steps, in chunks of WRITE_AHEAD_CHUNK in tier
    order (a chunk's apply keeps its tiers' order: EKS-1's load balancers first)."""
    if not steps or not spec_of(steps[0].kind).independent or len(steps) <= WRITE_AHEAD_CHUNK:
        return [steps] if steps else []
    ordered = sorted(steps, key=_tier)  # stable: plan order within a tier
    return [ordered[i : i + WRITE_AHEAD_CHUNK] for i in range(0, len(ordered), WRITE_AHEAD_CHUNK)]


def _before(step: PlannedStep, previous: StepRecord | None) -> object:
    """The before-image is taken once: an earlier run's stays, even after a re-apply."""
    if previous is not None and previous.before is not None:
        return previous.before
    return step.current


def _group_of(record: StepRecord) -> str:
    return spec_of(record.key.kind).group(record.key)


def _groups(
    items: Iterable[T], key: Callable[[T], tuple[str, str]]
) -> dict[tuple[str, str], list[T]]:
    groups: dict[tuple[str, str], list[T]] = {}
    for item in items:
        groups.setdefault(key(item), []).append(item)
    return groups


def _fields(step: PlannedStep) -> dict[str, str]:
    return {"phase": step.phase.value, "step": str(step.key), "resource": step.resource}


def _describe(exc: Exception) -> str:
    """Our errors already say what failed; anything else is a bug: name its type too."""
    return str(exc) if isinstance(exc, EvacuationError) else f"{type(exc).__name__}: {exc}"
