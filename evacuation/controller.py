"""The public API of azevac: plan, evacuate, recover and status for one workload.

The Lambda handlers, the CLI and the drill all call this class; nothing else drives AWS.
"""

from __future__ import annotations

import contextvars
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TypeVar

import structlog

from evacuation import guards
from evacuation import verify as verifying
from evacuation.autoshift_events import active_away_from, recovery_not_due
from evacuation.aws.autoscaling import AutoScalingGateway
from evacuation.aws.clients import AwsClients, Caller
from evacuation.aws.cloudwatch import CloudWatchGateway
from evacuation.aws.ec2 import Ec2Gateway, Zone
from evacuation.aws.route53 import Route53Gateway
from evacuation.aws.ssm import ParameterReader
from evacuation.aws.zonal_shift import ZonalShiftGateway
from evacuation.azs import resolve_az_id
from evacuation.config import Config
from evacuation.detection.config import missing_dimension_sets, published_metrics
from evacuation.errors import EvacuationError, InvalidRequestError, StateCorruptError
from evacuation.executor import Executor, StepListener
from evacuation.guards import kill_switch
from evacuation.kinds import KINDS
from evacuation.kinds.base import Upkeep
from evacuation.model import (
    AZ_ID_PATTERN,
    Evacuation,
    Notice,
    Outcome,
    Phase,
    Plan,
    Status,
    StepKey,
    StepRecord,
    Trigger,
)
from evacuation.observe import Gateways, Observation, observe
from evacuation.pacing import Pacer
from evacuation.plan import build_plan, shift_comment
from evacuation.preflight import GuardReads, Verdict, preflight, read_guard_inputs
from evacuation.readiness import readiness_problems
from evacuation.recovery import Stage, staged
from evacuation.result import Result, preview
from evacuation.retry import Deadline, RetryPolicy
from evacuation.state.base import Lease, StateStore
from evacuation.steps import RunContext

log = structlog.get_logger(__name__)
T = TypeVar("T")

DEFAULT_DEADLINE_SECONDS = 600.0
LEASE_MARGIN = timedelta(seconds=30)
RECOVERED_OUTCOMES = frozenset({Outcome.REVERTED, Outcome.UNCHANGED, Outcome.SKIPPED})


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_evacuation_id(az_id: str, now: datetime) -> str:
    return f"ev-{now:%Y%m%dT%H%M%SZ}-{az_id}-{secrets.token_hex(3)}"


NO_WAIT = "recover --no-wait: traffic restored without waiting for the AZ's capacity"


@dataclass(frozen=True)
class ReconcileReport:
    results: tuple[Result, ...]
    extended_shifts: tuple[str, ...]
    readiness_problems: tuple[str, ...]
    alerts: tuple[str, ...] = ()
    """For a human now: a shift lost or about to expire, an evacuation the pass could not move
    forward, an AWS autoshift fighting ours. The reconcile handler notifies each."""
    restarted_shifts: tuple[str, ...] = ()
    """Resources whose azevac shift had expired or been cancelled and was started again."""
    announce: tuple[Result, ...] = ()
    """Results a human hears about even when they succeeded: an evacuation an AWS autoshift
    started, recovered automatically once AWS ended it and the AZ's alarms stayed OK."""

    def to_dict(self) -> dict[str, object]:
        return {
            "evacuations": [r.to_dict() for r in self.results],
            "extended_shifts": list(self.extended_shifts),
            "restarted_shifts": list(self.restarted_shifts),
            "alerts": list(self.alerts),
            "readiness_problems": list(self.readiness_problems),
        }


@dataclass(frozen=True)
class _Run:
    """What one call to the controller works with: its deadline, retry budget and gateways."""

    deadline: Deadline
    retry: RetryPolicy
    gateways: Gateways
    started: float


@dataclass(frozen=True)
class _Reads:
    """Everything a run reads before it decides: the AZ, what AWS looks like, the lock, the plan;
    and, for a new evacuation, what its guards weigh."""

    az_id: str
    observation: Observation
    held: Mapping[str, str]
    plan: Plan
    guards: GuardReads | None
    resumed: Evacuation | None = None


@dataclass(frozen=True)
class _GuardRequest:
    trigger: Trigger
    stop_alarms: Sequence[str]


class Controller:
    """Evacuates and recovers AZs for the workload in `config`. Safe to call again at any time."""

    def __init__(
        self,
        config: Config,
        clients: AwsClients,
        store: StateStore,
        *,
        clock: Callable[[], datetime] = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        on_step: StepListener | None = None,
        read_parameter: Callable[[str], str] | None = None,
    ) -> None:
        self.config = config
        self._read_parameter = read_parameter
        self._clients = clients
        self._store = store
        self._clock = clock
        self._monotonic = monotonic
        self._sleep = sleep
        self._on_step = on_step
        self._owner = f"run-{secrets.token_hex(6)}"
        # One pacer per controller: the buckets it models are the account's, not a run's.
        self._pacer = Pacer(config.execution.rate_limits, monotonic, sleep)

    # -- public API ----------------------------------------------------------------------------

    def plan(self, az: str, deadline: Deadline | None = None) -> Result:
        """The steps an evacuation of `az` would take, and any refusal. Changes nothing."""
        run = self._begin(deadline)
        reads = self._read_and_plan(run, az)
        plan = reads.plan
        refusals = self._refusals(plan, self._out_of_service(plan, reads.held))
        notes = [*plan.warnings]
        for kind in KINDS:
            kinds = {spec.kind for spec in kind.steps}
            note = kind.plan_note([s for s in plan.steps if s.kind in kinds])
            notes += [note] if note else []
        return Result(
            self.config.workload,
            reads.az_id,
            Status.REFUSED if refusals else Status.PLANNED,
            reason="; ".join(refusals or notes) or None,
            steps=tuple(preview(s) for s in plan.steps),
            refusals=tuple(refusals),
            retries=run.retry.retries,
            total_seconds=self._elapsed(run),
        )

    def evacuate(
        self,
        az: str,
        *,
        reason: str,
        trigger: Trigger = Trigger.MANUAL,
        deadline: Deadline | None = None,
        force: bool = False,
        practice_until: datetime | None = None,
        stop_alarms: tuple[str, ...] = (),
    ) -> Result:
        """Evacuate `az`: data plane, then control plane. Resumes an interrupted evacuation.

        Guards run before a new evacuation (not before resuming one); `force` lets a human
        override flap damping. An alarm-triggered run in shadow mode only plans.
        """
        run = self._begin(deadline)
        if trigger is Trigger.PRACTICE and not stop_alarms:
            # A practice yields to any real signal (ARC-5): the default stop list is every
            # alarm azevac knows, never empty when the config names alarms.
            stop_alarms = self._real_signal_alarms()
        guard_request = _GuardRequest(trigger, stop_alarms)
        reads = self._read_and_plan(run, az, guard_request)
        preempted: tuple[Result, ...] = ()
        if trigger in REAL_TRIGGERS and reads.held:
            preempted = self._end_practices(run, reads.az_id, trigger)
            if preempted:
                reads = self._read_and_plan(run, reads.az_id, guard_request)
        az_id, plan, held = reads.az_id, reads.plan, reads.held
        if reads.resumed is not None and trigger in SWITCHED:
            # Guards do not run for a resume, but the kill switch does: "disabled" stops every
            # automatic change, an evacuation already under way included.
            switch_off = self._automation_switch_off()
            if switch_off is not None:
                return self._switched_off(run, reads.resumed, plan, switch_off)
        out = self._out_of_service(plan, held)
        now = self._clock()
        verdict = self._verdict(
            reads, trigger=trigger, force=force, out=out, now=now, stop_alarms=stop_alarms
        )
        refusals = [*self._refusals(plan, out), *verdict.refusals]
        notes: tuple[str, ...] = (*plan.warnings, *verdict.notes)
        weighed = verdict.weighed
        evacuation = Evacuation(
            new_evacuation_id(az_id, now), self.config.workload, az_id, Status.IN_PROGRESS,
            trigger, reason, created_at=now, updated_at=now,
            practice_until=practice_until, stop_alarms=stop_alarms, guards=weighed,
        )  # fmt: skip
        if trigger in SHADOWED and self.config.safety.mode == "dry-run":
            return self._shadow(run, plan, refusals)
        if refusals:
            return replace(self._refuse(run, evacuation, plan, refusals), preempted=preempted)
        # A new evacuation is created holding its run lease: no second write before the first
        # mutation. Finding the AZ held, we resume that evacuation once its lease is ours.
        claim = self._store.claim(
            evacuation, self.config.safety.max_evacuated_azs, lease=self._lease(run)
        )
        if claim.evacuation_id is None:
            refusal = guards.too_many_azs(az_id, claim.held, self.config.safety.max_evacuated_azs)
            return self._refuse(run, evacuation, plan, [refusal or "another AZ holds the lock"])
        if not claim.created:
            stored = self.status_of(az_id)
            if stored is None:  # released between the claim and now: a recover just finished
                return self._refuse(run, evacuation, plan, ["the AZ was recovered meanwhile"])
            evacuation = stored
        bound = log.bind(evacuation_id=evacuation.evacuation_id, az_id=az_id)
        if not claim.created and not self._take_lease(run, evacuation):
            bound.warning("evacuation.busy")
            return self._busy(run, evacuation)
        try:
            if not claim.created:
                # Another invocation may have run this evacuation between our reads and our
                # lease: plan from AWS and the records as they are now, or we would redo its work.
                current = self.status_of(az_id)
                if current is None:  # recovered while we waited: report it, change nothing
                    return self._result(run, evacuation, reason="the AZ was recovered meanwhile")
                evacuation = current
                if evacuation.practice_until is not None and trigger in REAL_TRIGGERS:
                    evacuation = self._make_real(evacuation, trigger, reason)  # lease held
                plan = self._plan(observe(self.config, run.gateways), az_id, evacuation)
                notes = tuple(plan.warnings)
            bound.info(
                "evacuation.start",
                workload=self.config.workload,
                resumed=not claim.created,
                trigger=evacuation.trigger.value,
                reason=evacuation.reason,
                steps=len(plan.steps),
            )
            return replace(self._execute(run, evacuation, plan, notes), preempted=preempted)
        finally:
            self._store.release_lease(evacuation.evacuation_id, self._owner)

    def _verdict(
        self,
        reads: _Reads,
        *,
        trigger: Trigger,
        force: bool,
        out: Mapping[str, str],
        now: datetime,
        stop_alarms: tuple[str, ...],
    ) -> Verdict:
        """The start guards' verdict on a new evacuation (none for a resume: no guard reads)."""
        if reads.guards is None:
            return Verdict()
        return preflight(
            self.config,
            az_id=reads.az_id,
            trigger=trigger,
            force=force,
            workload_azs=reads.observation.workload_az_ids(self.config),
            out=out,
            reads=reads.guards,
            now=now,
            observation=reads.observation,
            stop_alarms=stop_alarms,
        )

    def practice(
        self,
        az: str,
        *,
        minutes: int,
        stop_alarms: tuple[str, ...] = (),
        reason: str = "",
        deadline: Deadline | None = None,
    ) -> Result:
        """A chaos experiment: evacuate a healthy AZ for `minutes`, then recover on its own
        (the reconciler enforces the end time and the stop alarms even if the caller dies)."""
        until = self._clock() + timedelta(minutes=minutes)
        return self.evacuate(
            az,
            reason=reason or f"practice run for {minutes} min",
            trigger=Trigger.PRACTICE,
            deadline=deadline,
            practice_until=until,
            stop_alarms=stop_alarms,
        )

    def practice_should_end(
        self,
        evacuation: Evacuation,
        run: _Run | None = None,
        observation: Observation | None = None,
    ) -> str | None:
        """Why a practice run must end now, or None: its time is up, or a real signal appeared
        (a stop alarm, any configured AZ alarm or the regional alarm in ALARM, an AWS autoshift
        or an FIS experiment shift on a configured resource). A practice yields to real events,
        as ARC's own practice runs do (aws-semantics ARC-5)."""
        if evacuation.practice_until is None:
            return None
        if self._clock() >= evacuation.practice_until:
            return f"practice run time is up ({evacuation.practice_until:%H:%M:%S}Z)"
        run = run or self._begin(None)
        own = {name for name, az in self.config.alarms.items() if az == evacuation.az_id}
        # The practised AZ's own alarm is not a reason to end it: recovering would send traffic
        # into an AZ its alarm calls impaired. The alarm handler makes the practice real instead.
        watched = [n for n in dict.fromkeys((*evacuation.stop_alarms, *self._real_signal_alarms()))]
        watched = [n for n in watched if n not in own or n in evacuation.stop_alarms]
        if watched:
            states = run.gateways.cloudwatch.alarm_states(watched)
            firing = [n for n in watched if states.get(n) == "ALARM"]
            if firing:
                return f"real signal: {', '.join(firing)} in ALARM"
        observation = observation or observe(self.config, run.gateways)
        signal = next((s for kind in KINDS if (s := kind.real_signal(observation))), None)
        return f"real signal: {signal}" if signal else None

    def recover(
        self,
        az: str,
        *,
        reason: str = "",
        deadline: Deadline | None = None,
        wait: bool = True,
    ) -> Result:
        """Undo the active evacuation of `az` from its records: capacity first, then traffic,
        then the prescale (aws-semantics REC-1). Traffic never comes back while a capacity step
        failed or the AZ's capacity is not back yet: the evacuation stays RECOVERING, holding
        the AZ, and the reconciler carries on. `wait=False` skips the wait, and says so."""
        run = self._begin(deadline)
        az_id = self._az_id_of(run, az)
        evacuation = self.status_of(az_id) or self._orphan_of(az_id)
        if evacuation is None:
            return self._nothing_to_recover(run, az_id)
        evacuation_id = evacuation.evacuation_id
        bound = log.bind(evacuation_id=evacuation_id, az_id=az_id)
        if not self._take_lease(run, evacuation):
            bound.warning("recover.busy")
            return self._busy(run, evacuation)
        try:
            bound.info("recover.start", reason=reason)
            evacuation = self._save(evacuation.evolve(status=Status.RECOVERING))
            evacuation, held_back = self._revert_in_order(run, evacuation, wait)
            if held_back is None:
                now = self._clock()
                evacuation = evacuation.evolve(
                    status=Status.RECOVERED, recovered_at=now, updated_at=now
                )
                self._store.close(evacuation)  # status and release in one transaction
            bound.info("recover.done", status=evacuation.status.value, held_back=held_back)
            notes = [n for n in (held_back, None if wait else NO_WAIT) if n]
            return self._result(run, evacuation, reason="; ".join(notes) or None)
        finally:
            self._store.release_lease(evacuation_id, self._owner)

    def _revert_in_order(
        self, run: _Run, evacuation: Evacuation, wait: bool
    ) -> tuple[Evacuation, str | None]:
        """Revert stage by stage; (the evacuation with its records, why it is held back or None
        when everything is back)."""
        executor = self._executor(run, evacuation)
        stages = staged([s for s in evacuation.steps if s.changed_something])
        steps = {s.key: s for s in evacuation.steps}

        def revert(stage: Stage) -> list[StepRecord]:
            done = executor.revert_phase(stages[stage])
            steps.update({r.key: r for r in done})
            log.info(
                "recover.stage",
                evacuation_id=evacuation.evacuation_id,
                az_id=evacuation.az_id,
                stage=stage.value,
                steps=len(done),
                failed=[str(r.key) for r in done if r.outcome not in RECOVERED_OUTCOMES],
            )
            return [r for r in done if r.outcome not in RECOVERED_OUTCOMES]

        def now_with(held_back: str | None) -> tuple[Evacuation, str | None]:
            ordered = tuple(steps[s.key] for s in evacuation.steps)
            return evacuation.evolve(steps=ordered), held_back

        failed = revert(Stage.CAPACITY)
        if failed:
            listing = ", ".join(str(r.key) for r in failed)
            return now_with(f"capacity steps not reverted ({listing}): traffic stays out of the AZ")
        if wait:
            missing = self._wait_for_capacity(run, evacuation)
            if missing:
                return now_with(
                    f"waiting for the AZ's capacity ({'; '.join(missing)}): traffic stays out "
                    "until it is back; the reconciler carries on"
                )
        failed = revert(Stage.TRAFFIC)
        if failed:
            return now_with(f"traffic steps not reverted: {', '.join(str(r.key) for r in failed)}")
        failed = revert(Stage.PRESCALE)
        if failed:
            return now_with(f"prescale not put back: {', '.join(str(r.key) for r in failed)}")
        failed = revert(Stage.DEPENDENCIES)
        if failed:
            listing = "; ".join(f"{r.key}: {r.reason or r.error}" for r in failed)
            return now_with(f"dependencies not failed back yet ({listing})")
        return now_with(None)

    def _wait_for_capacity(self, run: _Run, evacuation: Evacuation) -> list[str]:
        """Poll until every resource serves in the AZ what it did before (each kind says what
        that means: a group's InService, Healthy capacity), within
        recovery.capacity_timeout_seconds and the run's deadline; what is still missing."""
        checks = [c for kind in KINDS if (c := kind.capacity_check(evacuation)) is not None]
        if not checks:
            return []
        recovery = self.config.recovery
        until = min(self._monotonic() + recovery.capacity_timeout_seconds, run.deadline.at)
        while True:
            missing = [m for c in checks for m in c.missing(run.gateways, evacuation.az_id)]
            if not missing or self._monotonic() >= until:
                return missing
            self._sleep(min(recovery.capacity_poll_seconds, max(until - self._monotonic(), 0)))

    def abandon(self, az: str, *, reason: str, deadline: Deadline | None = None) -> Result:
        """Release the AZ of an evacuation whose recovery cannot finish, changing nothing in
        AWS: the answer lists exactly which of azevac's changes remain there."""
        run = self._begin(deadline)
        az_id = self._az_id_of(run, az)
        evacuation = self.status_of(az_id) or self._orphan_of(az_id)
        if evacuation is None:
            raise InvalidRequestError(f"{az_id} has no active evacuation to abandon")
        if not self._take_lease(run, evacuation):
            return self._busy(run, evacuation)
        try:
            remaining = tuple(s for s in evacuation.steps if s.changed_something)
            listing = "; ".join(f"{s.key.kind.value} {s.key.resource}" for s in remaining)
            why = f"abandoned: {reason}" + (f" | still in AWS: {listing}" if listing else "")
            evacuation = evacuation.evolve(
                status=Status.ABANDONED,
                reason=f"{evacuation.reason} | {why}",
                updated_at=self._clock(),
            )
            self._store.close(evacuation)  # status and release in one transaction
            log.warning(
                "evacuation.abandoned",
                evacuation_id=evacuation.evacuation_id,
                az_id=az_id,
                reason=reason,
                remaining=[str(s.key) for s in remaining],
            )
            return self._result(
                run,
                evacuation.evolve(steps=remaining),
                reason=(
                    f"released without recovering; {len(remaining)} change(s) of azevac remain "
                    f"in AWS: {listing or 'none'}"
                ),
            )
        finally:
            self._store.release_lease(evacuation.evacuation_id, self._owner)

    def recover_preview(self, az: str, deadline: Deadline | None = None) -> Result:
        """What recover would revert (the active evacuation's records). Changes nothing."""
        run = self._begin(deadline)
        az_id = self._az_id_of(run, az)
        evacuation = self.status_of(az_id) or self._orphan_of(az_id)
        if evacuation is None:
            return self._nothing_to_recover(run, az_id)
        to_revert = tuple(s for s in evacuation.steps if s.changed_something)
        return self._result(run, evacuation.evolve(steps=to_revert), reason="dry run")

    def reconcile(self, deadline: Deadline | None = None) -> ReconcileReport:
        """Keep active evacuations true: extend expiring shifts, re-apply drift, retry failed
        steps; and check that the config still matches AWS (readiness).

        Extension comes first for every evacuation and depends on nothing else (ARC-8): a
        refusal, a kill switch or a failure elsewhere never lets a shift in force expire. Each
        evacuation is handled on its own: one that fails is reported and the pass goes on.
        """
        run = self._begin(deadline)
        observation = observe(self.config, run.gateways)
        problems = list(readiness_problems(self.config, observation))
        problems += self._detection_problems(run)
        switch_off = self._automation_switch_off()
        results: list[Result] = []
        extended: list[str] = []
        restarted: list[str] = []
        alerts: list[str] = []
        announce: list[Result] = []
        locks = self._store.locks()
        for workload, held in sorted(locks.items()):
            if workload == self.config.workload:
                continue
            for az_id, evacuation_id in sorted(held.items()):
                problems.append(
                    f"evacuation {evacuation_id} of {az_id} is recorded under workload "
                    f"{workload!r}, not {self.config.workload!r} (renamed?): its shifts are kept "
                    f"and `azevac recover --az {az_id}` restores it from its records"
                )
                extended += self._keep_orphan(run, az_id, evacuation_id, alerts)
        # The own workload's lock is read consistently (the index behind locks() is eventually
        # consistent, and a lock written before it existed is not in it).
        for az_id, evacuation_id in sorted(self._store.held(self.config.workload).items()):
            bound = log.bind(evacuation_id=evacuation_id, az_id=az_id)
            try:
                holder = self._load_holder(az_id, evacuation_id)
                if holder is None:
                    continue  # a finished evacuation's stale lock, released (and logged)
                evacuation = holder
                upkeep = self._upkeep(run, evacuation)
                extended += upkeep.extended
                alerts += upkeep.alerts
                alerts += [
                    f"{az_id} ({evacuation_id}): {w}"
                    for kind in KINDS
                    for w in kind.holding_alerts(observation, az_id)
                ]
                problems += _unconfigured(self.config, observation, evacuation)
                if switch_off is not None:
                    # Disabled: no automatic change at all but the extension above, which keeps
                    # traffic out of the AZ (a disabled switch never silently brings it back).
                    skipped = _skipped_while_off(self, evacuation, run, observation)
                    bound.warning("reconcile.switched_off", why=switch_off, skipped=skipped)
                    alerts.append(
                        f"{az_id} ({evacuation_id}): {switch_off}; {skipped} skipped, shifts in "
                        "force still extended"
                    )
                    continue
                if evacuation.status is Status.RECOVERING:
                    # A recovery in progress is carried on, never skipped (REC-2): capacity
                    # first, traffic only once it is back. Each run that cannot finish pages.
                    recovered = self.recover(az_id, reason="reconcile", deadline=run.deadline)
                    results.append(recovered)
                    if recovered.status is not Status.RECOVERED:
                        alerts.append(
                            f"{az_id} ({evacuation_id}) is still RECOVERING: {recovered.reason}"
                        )
                    continue
                ended = self._ends_now(run, evacuation, observation, announce)
                if ended is not None:
                    results.append(ended)
                    continue
                result = self.evacuate(
                    az_id,
                    reason=evacuation.reason,
                    trigger=Trigger.RECONCILE,
                    deadline=run.deadline,
                )
                results.append(result)
                restarted += [key.resource for key in upkeep.lost if _restarted(result, key)]
            except Exception as exc:  # noqa: BLE001 - isolated and reported: the pass goes on
                bound.error("reconcile.evacuation_failed", error=str(exc), exc_info=exc)
                alerts.append(f"{az_id} ({evacuation_id}): reconcile failed: {exc}")
        for shift_id in extended:
            log.info("reconcile.shift_extended", workload=self.config.workload, shift=shift_id)
        for problem in problems:
            log.warning("readiness.problem", workload=self.config.workload, problem=problem)
        return ReconcileReport(
            tuple(results),
            tuple(extended),
            tuple(problems),
            tuple(alerts),
            tuple(restarted),
            tuple(announce),
        )

    def _detection_problems(self, run: _Run) -> list[str]:
        """The detection kit reads dimension sets the service must publish (README Detection):
        one the service does not is an alarm with no data, silent in exactly the incident."""
        detection = self.config.detection
        if detection is None or detection.service is None:
            return []
        found: dict[str, set[frozenset[tuple[str, str]]]] = {}
        for metric in published_metrics(detection):
            try:
                found[metric] = run.gateways.cloudwatch.dimension_sets(
                    detection.service.namespace, metric, detection.service.dimensions
                )
            except EvacuationError as exc:
                return [f"detection: could not list {detection.service.namespace}/{metric}: {exc}"]
        return missing_dimension_sets(detection, found)

    def _ends_now(
        self,
        run: _Run,
        evacuation: Evacuation,
        observation: Observation,
        announce: list[Result],
    ) -> Result | None:
        """The reconciler recovers an evacuation that ends on its own: a practice run whose
        time is up or that yields to a real signal; with `triggers.aws_autoshift_recover`, one
        an AWS autoshift started, once it is due (then also `announce`d). None: neither."""
        ending = self.practice_should_end(evacuation, run, observation)
        if ending is not None:
            log.info(
                "practice.ending",
                evacuation_id=evacuation.evacuation_id,
                az_id=evacuation.az_id,
                why=ending,
            )
            return self.recover(evacuation.az_id, reason=ending, deadline=run.deadline)
        after = self._recover_if_autoshift_over(run, evacuation)
        if after is not None:
            announce.append(after)
        return after

    def _recover_if_autoshift_over(self, run: _Run, evacuation: Evacuation) -> Result | None:
        """The reconciler's part of `triggers.aws_autoshift_recover`: ARC's events are best
        effort, so the end of the autoshift is read here too, and a lost "Autoshift Completed"
        event never leaves the AZ out for good. None: not due (logged), nothing done."""
        if not (
            evacuation.trigger is Trigger.AUTOSHIFT and self.config.triggers.aws_autoshift_recover
        ):
            return None
        after = self.recover_after_autoshift(evacuation.az_id, deadline=run.deadline)
        if isinstance(after, Result):
            return after
        log.info(
            "autoshift.recover_not_due",
            evacuation_id=evacuation.evacuation_id,
            az_id=evacuation.az_id,
            why=after,
        )
        return None

    def recover_after_autoshift(
        self, az_id: str, *, deadline: Deadline | None = None
    ) -> Result | str:
        """Recover the evacuation of `az_id` that an AWS autoshift started, once AWS no longer
        shows that autoshift (ListAutoshifts) and every configured alarm of the AZ has been OK
        for `safety.cooldown_minutes` (with `triggers.aws_autoshift_recover`); else why not: it
        stays held. The kill switch stops it like any automatic change."""
        evacuation = self.status_of(az_id)
        if evacuation is None:
            return f"azevac holds no evacuation of {az_id}"
        if evacuation.trigger is not Trigger.AUTOSHIFT:
            return (
                f"evacuation {evacuation.evacuation_id} was started by {evacuation.trigger.value}, "
                "not by the AWS autoshift: it is left held"
            )
        if not self.config.triggers.aws_autoshift_recover:
            return "triggers.aws_autoshift_recover is off: it is left held"
        if evacuation.status is Status.RECOVERING:
            return "it is RECOVERING already: the reconciler carries the recovery on"
        switch_off = self._automation_switch_off()
        if switch_off is not None:
            return f"{switch_off}: no automatic recovery"
        run = self._begin(deadline)
        still = active_away_from(az_id, run.gateways.zonal_shift.active_autoshifts())
        if still is not None:
            return f"AWS still autoshifts away from {az_id} (since {still.start:%H:%M:%S}Z)"
        names = sorted(name for name, az in self.config.alarms.items() if az == az_id)
        alarms = run.gateways.cloudwatch.alarm_details(names) if names else {}
        minutes = self.config.safety.cooldown_minutes
        why_not = recovery_not_due(az_id, names, alarms, self._clock(), minutes)
        if why_not is not None:
            return why_not
        log.info("autoshift.recover_due", evacuation_id=evacuation.evacuation_id, az_id=az_id)
        reason = (
            f"AWS ended its autoshift away from {az_id} and its alarms ({', '.join(names)}) "
            f"have been OK for {minutes} min"
        )
        return self.recover(az_id, reason=reason, deadline=run.deadline)

    def az_id(self, az: str, deadline: Deadline | None = None) -> str:
        """The AZ ID of `az`: an ID as given; a zone name resolved with DescribeAvailabilityZones
        in this account (InvalidRequestError when it names no zone)."""
        return self._az_id_of(self._begin(deadline), az)

    def _upkeep(self, run: _Run, evacuation: Evacuation) -> Upkeep:
        """Every kind keeps this evacuation's levers in force (ARC-8: shifts extended by id)."""
        ctx = self._executor_context(run, evacuation)
        done = Upkeep()
        for kind in KINDS:
            kept = kind.upkeep(ctx, evacuation, self._clock())
            done.extended += kept.extended
            done.alerts += kept.alerts
            done.lost.update(kept.lost)
        return done

    def _keep_orphan(
        self, run: _Run, az_id: str, evacuation_id: str, alerts: list[str]
    ) -> list[str]:
        """Extend the shifts of an evacuation recorded under another workload name: renaming
        the workload must not let its shifts expire. Nothing else is done to it automatically."""
        try:
            evacuation = self._load_holder(az_id, evacuation_id)
            if evacuation is None:
                return []
            upkeep = self._upkeep(run, evacuation)
        except Exception as exc:  # isolated and reported: the pass goes on
            log.error(
                "reconcile.orphan_failed",
                evacuation_id=evacuation_id,
                az_id=az_id,
                error=str(exc),
                exc_info=exc,
            )
            alerts.append(f"{az_id} ({evacuation_id}): reconcile failed: {exc}")
            return []
        alerts += upkeep.alerts
        return list(upkeep.extended)

    def _orphan_of(self, az_id: str) -> Evacuation | None:
        """The active evacuation of `az_id` recorded under another workload name (the config's
        workload was renamed): recover and abandon restore it from its records all the same."""
        for workload, held in sorted(self._store.locks().items()):
            if workload != self.config.workload and az_id in held:
                evacuation = self._load_holder(az_id, held[az_id])
                if evacuation is not None:
                    log.warning(
                        "state.orphan_found",
                        evacuation_id=evacuation.evacuation_id,
                        az_id=az_id,
                        recorded_workload=workload,
                    )
                    return evacuation
        return None

    def _automation_switch_off(self) -> str | None:
        """Why the kill switch stops automatic changes now, or None when it allows them."""
        parameter = self.config.safety.kill_switch_parameter
        if not parameter:
            return None
        try:
            value: str | None = self._parameters()(parameter)
        except EvacuationError as exc:
            log.error("guard.kill_switch.unreadable", parameter=parameter, error=str(exc))
            value = None
        return kill_switch(value, parameter)

    def verify(
        self, az: str, *, recovered: bool = False, deadline: Deadline | None = None
    ) -> dict[str, object]:
        """Check the evacuation (or recovery) hypothesis of `az` against AWS now; changes
        nothing. The answer's status is HOLDS or FAILS, with every check (evacuation/verify.py)."""
        run = self._begin(deadline)
        az_id = self._az_id_of(run, az)
        held = self.status_of(az_id) or self._orphan_of(az_id)
        observation = observe(self.config, run.gateways)
        if recovered:
            evacuation = held or self._latest_of(az_id)
            plan = build_plan(self.config, observation, az_id)
            checks = verifying.recovered_checks(evacuation, plan.steps, held is not None)
            return verifying.answer(evacuation, checks, recovered=True)
        if held is None:
            raise InvalidRequestError(
                f"{az_id} has no active evacuation to verify (after a recovery: --recovered)"
            )
        plan = self._plan(observation, az_id, held)
        zones = run.gateways.ec2.zone_ids_by_name()
        in_az = [
            instance_id
            for kind in KINDS
            for instance_id, instance_az, name in kind.instances(observation)
            if (instance_az or zones.get(name)) == az_id
        ]
        launched = run.gateways.ec2.launched_after(in_az, held.created_at) if in_az else []
        checks = verifying.evacuated_checks(held, plan.steps, launched)
        return verifying.answer(held, checks, recovered=False)

    def _latest_of(self, az_id: str) -> Evacuation:
        for evacuation in self._store.list(self.config.workload):
            if evacuation.az_id == az_id and evacuation.status is not Status.REFUSED:
                return evacuation
        raise InvalidRequestError(f"{az_id} has no evacuation on record to verify")

    def evacuation(self, evacuation_id: str) -> Evacuation | None:
        """One evacuation with its steps and notices, by id, whatever its status."""
        return self._store.load(evacuation_id)

    def record_notice(self, evacuation_id: str, notice: Notice) -> None:
        """Keep a notification sent about an evacuation with its records (the report shows it).
        A record that cannot be written is logged, never fatal: the page itself went out."""
        try:
            self._store.save_notice(evacuation_id, notice)
        except Exception as exc:  # noqa: BLE001 - logged with the notice it lost
            log.error(
                "state.notice_not_recorded",
                evacuation_id=evacuation_id,
                subject=notice.subject,
                error=str(exc),
            )

    def status_of(self, az_id: str) -> Evacuation | None:
        """The active evacuation of an AZ ID, if any."""
        evacuation_id = self._store.held(self.config.workload).get(az_id)
        if evacuation_id is None:
            return None
        return self._load_holder(az_id, evacuation_id)

    def _load_holder(self, az_id: str, evacuation_id: str) -> Evacuation | None:
        """The evacuation the lock names for `az_id`, or None when its record says it is over
        (RECOVERED, ABANDONED, REFUSED: a lock left by a crash before closes were one
        transaction, or a hand edit). Such a lock is released here: a finished evacuation is
        never resumed, and never re-evacuates an AZ an operator just recovered."""
        evacuation = self._store.load(evacuation_id)
        if evacuation is None:
            raise StateCorruptError(
                f"the lock of {az_id} names {evacuation_id}, which has no record"
            )
        if evacuation.status.is_active:
            return evacuation
        log.warning(
            "state.stale_lock_released",
            evacuation_id=evacuation_id,
            az_id=az_id,
            status=evacuation.status.value,
        )
        self._store.close(evacuation)
        return None

    def status(self, limit: int = 20) -> list[Evacuation]:
        """Every AZ held first (whatever happened since), then the newest evacuations."""
        active = [
            e
            for az_id, evacuation_id in sorted(self._store.held(self.config.workload).items())
            if (e := self._load_holder(az_id, evacuation_id)) is not None
        ]
        shown = {e.evacuation_id for e in active}
        recent = [e for e in self._store.list(self.config.workload, limit)]
        return active + [e for e in recent if e.evacuation_id not in shown]

    # -- internals -----------------------------------------------------------------------------

    def _begin(self, deadline: Deadline | None) -> _Run:
        deadline = deadline or Deadline(self._monotonic() + DEFAULT_DEADLINE_SECONDS)
        execution = self.config.execution
        retry = RetryPolicy(
            deadline,
            max_attempts=execution.max_attempts,
            initial_seconds=execution.backoff_initial_seconds,
            max_seconds=execution.backoff_max_seconds,
            sleep=self._sleep,
        )
        call = Caller(retry, self._pacer)
        gateways = Gateways(
            ec2=Ec2Gateway(self._clients, call),
            zonal_shift=ZonalShiftGateway(self._clients, call),
            route53=Route53Gateway(self._clients, call),
            autoscaling=AutoScalingGateway(self._clients, call),
            cloudwatch=CloudWatchGateway(self._clients, call),
            clients=self._clients,
            call=call,
        )
        return _Run(deadline, retry, gateways, self._monotonic())

    def _zones(self, run: _Run) -> tuple[Zone, ...]:
        return tuple(run.gateways.ec2.availability_zones())

    def _az_id_of(self, run: _Run, az: str) -> str:
        """An AZ ID as given, with no call to EC2 (a control plane this run may not need);
        a zone name resolved with DescribeAvailabilityZones (names differ per account)."""
        text = az.strip()
        if AZ_ID_PATTERN.match(text):
            return text
        return resolve_az_id(text, self._zones(run))

    def _read_and_plan(
        self, run: _Run, az: str, guard_request: _GuardRequest | None = None
    ) -> _Reads:
        """Read what the decision needs in as few sequential rounds as the dependencies allow:
        AWS's resources, the zone map and the lock at once; then, knowing the AZ, its evacuation
        (to resume) or its guards' inputs (to start one), while the resource reads finish."""
        with ThreadPoolExecutor(3, thread_name_prefix="read") as pool:

            def start(fn: Callable[[], T]) -> Future[T]:
                return pool.submit(contextvars.copy_context().run, fn)

            observing = start(partial(observe, self.config, run.gateways))
            az_id = az.strip()
            zones = None if AZ_ID_PATTERN.match(az_id) else start(partial(self._zones, run))
            held = self._store.held(self.config.workload)
            if zones is not None:
                az_id = resolve_az_id(az, zones.result())
            holder = held.get(az_id)
            resuming = start(partial(self._load_holder, az_id, holder)) if holder else None
            guard_reads = None
            if guard_request is not None and holder is None:
                guard_reads = start(partial(self._guard_reads, run, az_id, guard_request))
            observation = observing.result()
            used = observation.workload_az_ids(self.config)
            if az_id not in used:
                raise InvalidRequestError(
                    f"workload {self.config.workload} does not use {az_id}; "
                    f"it runs in {', '.join(sorted(used)) or 'no AZ azevac can see'}"
                )
            resumed = resuming.result() if resuming else None
            guards_read = guard_reads.result() if guard_reads else None
            if holder is not None and resumed is None:  # its lock was stale: now released
                held = {az: ev for az, ev in held.items() if az != az_id}
                if guard_request is not None:
                    guards_read = self._guard_reads(run, az_id, guard_request)
            plan = self._plan(observation, az_id, resumed)
            return _Reads(az_id, observation, held, plan, guards_read, resumed)

    def _guard_reads(self, run: _Run, az_id: str, request: _GuardRequest) -> GuardReads:
        workload = self.config.workload
        return read_guard_inputs(
            self.config,
            az_id=az_id,
            trigger=request.trigger,
            stop_alarms=request.stop_alarms,
            history=partial(self._store.history, workload, self._clock() - HISTORY_WINDOW),
            recovered_at=partial(self._store.recovered_at, workload),
            cloudwatch=run.gateways.cloudwatch,
            read_parameter=self._parameters(),
        )

    def _plan(self, observation: Observation, az_id: str, resumed: Evacuation | None) -> Plan:
        if resumed is None:
            return build_plan(self.config, observation, az_id)
        touched = {s.key: s for s in resumed.steps if s.changed_something}
        return build_plan(self.config, observation, az_id, resumed.evacuation_id, touched)

    def _out_of_service(self, plan: Plan, held: Mapping[str, str]) -> dict[str, str]:
        """Every AZ out of service now, by any lever: azevac's evacuations (by id) and what
        others pulled (another party's shift, a weight already 0), as the plan saw it."""
        out = {az: why for az, why in plan.out_of_service.items() if az != plan.az_id}
        out.update({az: f"azevac evacuation {ev}" for az, ev in held.items()})
        return out

    def _refusals(self, plan: Plan, out: Mapping[str, str]) -> list[str]:
        too_many = guards.too_many_azs(plan.az_id, out, self.config.safety.max_evacuated_azs)
        return [*plan.refusals, *([too_many] if too_many else [])]

    def _real_signal_alarms(self) -> tuple[str, ...]:
        regional = self.config.safety.regional_alarm
        return (*self.config.alarms, *([regional] if regional else []))

    def _end_practices(self, run: _Run, az_id: str, trigger: Trigger) -> tuple[Result, ...]:
        """A real evacuation of `az_id` pre-empts azevac's practice runs of other AZs: each is
        recovered first (reason recorded), so the real one is not refused for the lock."""
        ended = []
        for other, evacuation_id in sorted(self._store.held(self.config.workload).items()):
            if other == az_id:
                continue
            holder = self._load_holder(other, evacuation_id)
            if holder is None or holder.practice_until is None:
                continue
            why = f"practice ended: a real {trigger.value} evacuation of {az_id} takes precedence"
            log.warning("practice.preempted", evacuation_id=evacuation_id, az_id=other, by=az_id)
            ended.append(self.recover(other, reason=why, deadline=run.deadline))
        return tuple(ended)

    def _make_real(self, evacuation: Evacuation, trigger: Trigger, reason: str) -> Evacuation:
        """A real alarm (or a human) for the AZ a practice holds: the AZ stays out, and the
        practice's end time and stop alarms no longer recover it."""
        log.warning(
            "practice.made_real",
            evacuation_id=evacuation.evacuation_id,
            az_id=evacuation.az_id,
            trigger=trigger.value,
        )
        return self._save(
            evacuation.evolve(
                trigger=trigger,
                reason=f"{reason} (was: {evacuation.reason})",
                practice_until=None,
                stop_alarms=(),
            )
        )

    def _refuse(self, run: _Run, evacuation: Evacuation, plan: Plan, refusals: list[str]) -> Result:
        refused = evacuation.evolve(
            status=Status.REFUSED, reason=f"{evacuation.reason} | refused: {'; '.join(refusals)}"
        )
        self._save(refused)
        log.warning(
            "guard.refused",
            evacuation_id=evacuation.evacuation_id,
            az_id=evacuation.az_id,
            refusals=refusals,
        )
        return Result(
            self.config.workload,
            evacuation.az_id,
            Status.REFUSED,
            evacuation.evacuation_id,
            reason="; ".join(refusals),
            steps=tuple(preview(s) for s in plan.steps),
            refusals=tuple(refusals),
            retries=run.retry.retries,
            total_seconds=self._elapsed(run),
        )

    def _lease(self, run: _Run) -> Lease:
        """This run's lease: held until its deadline, with a margin."""
        remaining = timedelta(seconds=max(run.deadline.remaining(self._monotonic), 0))
        return Lease(self._owner, self._clock() + remaining + LEASE_MARGIN)

    def _take_lease(self, run: _Run, evacuation: Evacuation) -> bool:
        lease = self._lease(run)
        return self._store.acquire_lease(
            evacuation.evacuation_id, lease.owner, self._clock(), lease.until
        )

    def _busy(self, run: _Run, evacuation: Evacuation) -> Result:
        """Another invocation holds the run lease: IN_PROGRESS, whatever the record says, and
        nothing done here (the CLI exits 3 on it; never a success for work it did not do)."""
        return replace(
            self._result(run, evacuation, reason=BUSY),
            status=Status.IN_PROGRESS,
            steps=(),
        )

    def _switched_off(
        self, run: _Run, evacuation: Evacuation, plan: Plan, switch_off: str
    ) -> Result:
        """The kill switch stops an automatic resume: nothing changes, and the answer says so
        (the evacuation keeps its own record and status)."""
        log.warning(
            "guard.refused",
            evacuation_id=evacuation.evacuation_id,
            az_id=evacuation.az_id,
            refusals=[switch_off],
            resumed=True,
        )
        why = (
            f"{switch_off}; evacuation {evacuation.evacuation_id} ({evacuation.status.value}) "
            "is left as it is, nothing changed"
        )
        return Result(
            self.config.workload,
            evacuation.az_id,
            Status.REFUSED,
            evacuation.evacuation_id,
            reason=why,
            steps=tuple(preview(s) for s in plan.steps),
            refusals=(switch_off,),
            retries=run.retry.retries,
            total_seconds=self._elapsed(run),
        )

    def _shadow(self, run: _Run, plan: Plan, refusals: list[str]) -> Result:
        """Shadow mode: say what would have happened; change nothing."""
        would = "would be refused: " + "; ".join(refusals) if refusals else "would evacuate"
        log.info("evacuation.shadow", az_id=plan.az_id, refusals=refusals)
        return Result(
            self.config.workload,
            plan.az_id,
            Status.PLANNED,
            reason=f"shadow mode (safety.mode dry-run), nothing changed; {would}",
            steps=tuple(preview(s) for s in plan.steps),
            refusals=tuple(refusals),
            retries=run.retry.retries,
            total_seconds=self._elapsed(run),
        )

    def _parameters(self) -> Callable[[str], str]:
        if self._read_parameter is None:
            self._read_parameter = ParameterReader(self._clients)
        return self._read_parameter

    def _execute(
        self, run: _Run, evacuation: Evacuation, plan: Plan, notes: tuple[str, ...] = ()
    ) -> Result:
        executor = self._executor(run, evacuation)
        stored = {s.key: s for s in evacuation.steps}
        records = executor.run_phase(plan.in_phase(Phase.DATA_PLANE), stored)
        data_plane_seconds = self._elapsed(run)
        evacuation = self._save(evacuation.evolve(data_plane_seconds=data_plane_seconds))
        log.info(
            "evacuation.data_plane.done",
            evacuation_id=evacuation.evacuation_id,
            az_id=evacuation.az_id,
            seconds=data_plane_seconds,
        )
        records += executor.run_phase(plan.in_phase(Phase.CONTROL_PLANE), stored)
        now = self._clock()
        evacuation = self._save(
            evacuation.evolve(
                status=_status_of(plan, records), finished_at=now, steps=tuple(records)
            )
        )
        log.info(
            "evacuation.done",
            evacuation_id=evacuation.evacuation_id,
            az_id=evacuation.az_id,
            status=evacuation.status.value,
            failed=[str(r.key) for r in records if r.outcome is Outcome.FAILED],
            retries=run.retry.retries,
        )
        reason = "; ".join(notes) or None
        return self._result(run, evacuation, reason=reason, data_plane_seconds=data_plane_seconds)

    def _executor(self, run: _Run, evacuation: Evacuation) -> Executor:
        return Executor(
            self._executor_context(run, evacuation), self._store, self._clock, self._on_step
        )

    def _executor_context(self, run: _Run, evacuation: Evacuation) -> RunContext:
        return RunContext(
            evacuation_id=evacuation.evacuation_id,
            workload=evacuation.workload,
            az_id=evacuation.az_id,
            config=self.config,
            gateways=run.gateways,
            comment=shift_comment(evacuation.evacuation_id, evacuation.reason),
            deadline=run.deadline,
            sleep=self._sleep,
            monotonic=self._monotonic,
        )

    def _nothing_to_recover(self, run: _Run, az_id: str) -> Result:
        for evacuation in self._store.list(self.config.workload):
            if evacuation.az_id == az_id and evacuation.status is Status.RECOVERED:
                return self._result(run, evacuation, reason="already recovered; nothing to do")
        raise InvalidRequestError(f"{az_id} has no active evacuation to recover")

    def _save(self, evacuation: Evacuation) -> Evacuation:
        updated = evacuation.evolve(updated_at=self._clock())
        self._store.save_header(updated)
        return updated

    def _result(
        self,
        run: _Run,
        evacuation: Evacuation,
        reason: str | None = None,
        data_plane_seconds: float | None = None,
    ) -> Result:
        return Result(
            evacuation.workload,
            evacuation.az_id,
            evacuation.status,
            evacuation.evacuation_id,
            reason=reason,
            steps=evacuation.steps,
            retries=run.retry.retries,
            data_plane_seconds=data_plane_seconds or evacuation.data_plane_seconds,
            total_seconds=self._elapsed(run),
        )

    def _elapsed(self, run: _Run) -> float:
        return round(self._monotonic() - run.started, 3)


REAL_TRIGGERS = frozenset({Trigger.ALARM, Trigger.MANUAL, Trigger.AUTOSHIFT})
"""Triggers of a real evacuation: they pre-empt azevac's practice runs."""
SWITCHED = frozenset({Trigger.ALARM, Trigger.PRACTICE, Trigger.RECONCILE, Trigger.AUTOSHIFT})
"""Triggers the kill switch stops: every run no human asked for just now (a practice runs on its
own once started)."""
SHADOWED = frozenset({Trigger.ALARM, Trigger.AUTOSHIFT})
"""Triggers shadow mode (`safety.mode: dry-run`) turns into a plan and a notification."""
BUSY = "another invocation is running this evacuation now; nothing done here (check: azevac status)"
HISTORY_WINDOW = timedelta(hours=24)
"""What the guards weigh: the daily limit counts the last 24 hours (flap damping reads the
lock's recovery times, which no window can hide)."""


def _skipped_while_off(
    controller: Controller, evacuation: Evacuation, run: _Run, observation: Observation
) -> str:
    """What the reconciler would have done for `evacuation` but does not with the switch off."""
    if evacuation.status is Status.RECOVERING:
        return "carrying on its recovery"
    ending = controller.practice_should_end(evacuation, run, observation)
    if ending is not None:
        return f"ending the practice run ({ending})"
    return "drift repair"


def _unconfigured(config: Config, observation: Observation, evacuation: Evacuation) -> list[str]:
    """Readiness drift: azevac's changes on resources the config no longer names. They stay
    true (shifts extended from the records) and recover restores them from the records."""
    planned = {s.key for s in build_plan(config, observation, evacuation.az_id).steps}
    return [
        f"evacuation {evacuation.evacuation_id} of {evacuation.az_id} changed "
        f"{s.key.kind.value} {s.key.resource}, which the config no longer names: it stays "
        "as azevac left it (shifts still extended) and recover restores it from the record"
        for s in evacuation.steps
        if s.changed_something and s.key not in planned
    ]


def _status_of(plan: Plan, records: Sequence[StepRecord]) -> Status:
    """EVACUATED only when every lever is in effect as AWS shows it (R53-7, ARC-4): a failed
    step makes it DEGRADED; a pending one, or a step a guard skipped, PARTIAL."""
    if any(r.outcome is Outcome.FAILED for r in records):
        return Status.DEGRADED
    if plan.partial or any(r.outcome is Outcome.PENDING for r in records):
        return Status.PARTIAL
    return Status.EVACUATED


def _restarted(result: Result, key: StepKey) -> bool:
    return any(s.key == key and s.outcome is Outcome.APPLIED for s in result.steps)
