"""Reliability campaigns: each runs many cases against one embedded AWS and tallies them.

The pytest suite runs them with small counts (and hypothesis-chosen seeds); `make reliability`
runs them with large ones and prints the figures. Every case ends by recovering and checking that
the world is exactly as it was, so one lab serves thousands of cases.
"""

from __future__ import annotations

import json
import random
import string
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Any

import boto3

from evacuation import runtime
from evacuation.drill import probes
from evacuation.drill.checks import diff
from evacuation.drill.probes import Context
from evacuation.emulator.client_cache import cache_clients
from evacuation.emulator.table import create_state_table
from evacuation.errors import ConfigurationError, InvalidRequestError, StateCorruptError
from evacuation.model import Outcome, Status, Trigger
from evacuation.runtime import Runtime
from evacuation.settings import Settings
from evacuation.state import InMemoryStateStore, StateStore
from handlers import alarm, manual
from tests.reliability.lab import AZ, Lab
from tests.support import runbook
from tests.support.alarm_events import eventbridge, set_alarm
from tests.support.faults import Fault, SimulatedCrash
from tests.support.lambda_context import FakeLambdaContext

ALARM_NAME = "checkout-use1-az1-isolated-impact"
OTHER_ALARM = "checkout-use1-az2-isolated-impact"
MUTATING_OPS = tuple(probes.mutations())
"""Every registered kind's evacuation mutations (evacuation/drill/probes.py)."""
FAULTED_SERVICES = tuple(sorted({"ec2", *(service for service, _ in MUTATING_OPS)}))
"""The services a random fault schedule hits: every kind's, and EC2 (subnets, AZ names)."""


OWN_STATE = frozenset({"dynamodb"})
"""azevac's own state table: writes there are records, not changes to the workload."""


def workload_mutations(lab: Lab) -> list[tuple[str, str]]:
    return [m for m in lab.recorder.mutations if m[0] not in OWN_STATE]


@dataclass
class Tally:
    campaign: str
    cases: int = 0
    converged: int = 0
    violations: list[str] = field(default_factory=list)
    unhandled: list[str] = field(default_factory=list)
    mutations_on_bad_input: int = 0

    def count(self, converged: bool, violations: Iterable[str] = ()) -> None:
        self.cases += 1
        self.converged += int(converged)
        self.violations.extend(violations)

    @property
    def clean(self) -> bool:
        return (
            self.converged == self.cases
            and not self.violations
            and not self.unhandled
            and self.mutations_on_bad_input == 0
        )


def _context(lab: Lab) -> Context:
    return Context(lab.world, AZ, config=lab.config)


def invariants(lab: Lab, max_azs: int = 1) -> list[str]:
    """What must hold in AWS after any case, faults or not: each registered kind's, and what
    the lab's owners set up (a process they suspended stays suspended)."""
    state = lab.state()
    ctx = _context(lab)
    broken = [p for probe in probes.probes() for p in probe.invariants(ctx, state, max_azs)]
    return broken + lab.owners_kept(state)


def _recover_and_check(lab: Lab, store: StateStore, label: str) -> list[str]:
    lab.faults.clear()
    lab.clock.advance(timedelta(hours=1))  # past any lease a killed run left behind
    if AZ not in store.held(lab.world.workload):
        # nothing was claimed (a crash before the lock): nothing may have changed either
        return [] if lab.state() == lab.original else [f"{label}: changed AWS with no record"]
    result = lab.controller(store).recover(AZ, reason="campaign reset")
    if result.status is not Status.RECOVERED:
        return [f"{label}: recover ended {result.status.value}"]
    if (now := lab.state()) != lab.original:
        differences = "; ".join(list(diff(lab.original, now))[:5])
        return [f"{label}: recover did not restore the original state: {differences}"]
    return []


def reference_end_state(lab: Lab, **config: Any) -> dict[str, Any]:
    """The AWS state after a fault-free evacuation (then recovered)."""
    lab.reset()
    store = InMemoryStateStore()
    lab.controller(store, **config).evacuate(AZ, reason="reference")
    end = lab.state()
    problems = _recover_and_check(lab, store, "reference")
    if problems:
        raise AssertionError(problems)
    lab.reset()
    return end


# -- 1. convergence under random fault schedules ------------------------------------------------


def convergence_case(lab: Lab, seed: int, expected: dict[str, Any], tally: Tally) -> None:
    lab.reset()
    store = InMemoryStateStore()
    lab.faults.randomize(seed, rate=0.35, services=FAULTED_SERVICES)
    result = lab.controller(store).evacuate(AZ, reason=f"seed {seed}")
    lab.faults.clear()
    ok = result.status is Status.EVACUATED and lab.state() == expected
    problems = [f"seed {seed}: {p}" for p in invariants(lab)]
    if not ok:
        problems.append(f"seed {seed}: ended {result.status.value}, state differs: {not ok}")
    tally.count(ok, problems + _recover_and_check(lab, store, f"seed {seed}"))


def convergence(lab: Lab, seeds: Iterable[int]) -> Tally:
    tally = Tally("convergence")
    expected = reference_end_state(lab)
    for seed in seeds:
        convergence_case(lab, seed, expected, tally)
    return tally


# -- 2. crash consistency ------------------------------------------------------------------------


class CrashingStore(InMemoryStateStore):
    """Dies just before or just after the n-th state write."""

    WRITES = ("claim", "save_header", "save_step", "acquire_lease", "release_lease", "release")

    def __init__(self, when: str | None = None, at: int = 0) -> None:
        super().__init__()
        self.when, self.at, self.writes = when, at, 0
        for name in self.WRITES:
            setattr(self, name, self._wrap(getattr(self, name)))

    def _wrap(self, write: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            self.writes += 1
            if self.when == "before" and self.writes == self.at:
                raise SimulatedCrash(f"before state write {self.at}")
            answer = write(*args, **kwargs)
            if self.when == "after" and self.writes == self.at:
                raise SimulatedCrash(f"after state write {self.at}")
            return answer

        return wrapped

    def disarm(self) -> None:
        self.when = None


def crash_points(lab: Lab, **config: Any) -> Tally:
    """A crash before/after every AWS mutation and every state write; then resume, or recover."""
    tally = Tally("crash points" + (", prescale" if config else ""))
    expected = reference_end_state(lab, **config)
    counting = CrashingStore()
    lab.controller(counting, **config).evacuate(AZ, reason="count")
    writes, calls = counting.writes, Counter(lab.recorder.mutations)
    _recover_and_check(lab, counting, "count")
    # Each operation's n-th call, not the run's n-th mutation: lanes run concurrently, so the
    # run's n-th mutation is not always the same one, and a global count can miss a kind.
    points: list[tuple[str, str, Any]] = [
        ("aws", w, (*op, n)) for w in ("before", "after") for op in calls
        for n in range(1, calls[op] + 1)
    ]  # fmt: skip
    points += [("state", w, n) for w in ("before", "after") for n in range(1, writes + 1)]
    crashed_after: set[str] = set()
    for where, when, at in points:
        for then in ("resume", "recover"):
            name = f"{at[0]}.{at[1]} #{at[2]}" if where == "aws" else f"state write #{at}"
            label = f"crash {when} {name} then {then}"
            lab.reset()
            store = CrashingStore(when, at) if where == "state" else InMemoryStateStore()
            if where == "aws":
                lab.faults.crash_at_call = (when, *at)
            crashed = False
            try:
                lab.controller(store, **config).evacuate(AZ, reason=label)
            except SimulatedCrash as exc:
                crashed = True
                if where == "aws" and when == "after":
                    crashed_after.add(str(exc).removeprefix("after "))
            lab.faults.clear()
            if isinstance(store, CrashingStore):
                store.disarm()
            problems = [] if crashed else [f"{label}: the crash point was never reached"]
            ok = crashed
            if then == "resume":
                lab.clock.advance(timedelta(hours=1))  # a killed run's lease has expired
                result = lab.controller(store, **config).evacuate(AZ, reason="resume")
                ok = ok and result.status is Status.EVACUATED and lab.state() == expected
                problems += [f"{label}: {p}" for p in invariants(lab)]
            problems += _recover_and_check(lab, store, label)
            tally.count(ok and not problems, problems)
    # every mutation the lab's kinds can make must have been crashed after at least once
    never = sorted({f"{s}.{o}" for s, o in MUTATING_OPS} - crashed_after)
    tally.violations += [f"never crashed right after {op}" for op in never]
    return tally


# -- 3. lost responses ---------------------------------------------------------------------------


def lost_responses(lab: Lab) -> Tally:
    """Every mutation's response lost once: applied once in effect, never a stale write back."""
    tally = Tally("lost responses")
    expected = reference_end_state(lab)
    for service, operation in MUTATING_OPS:
        for nth in (1, 2):
            lab.reset()
            store = InMemoryStateStore()
            lab.faults.add(service, operation, Fault.LOST_RESPONSE, nth)
            result = lab.controller(store).evacuate(AZ, reason=f"lost {operation} #{nth}")
            fired = (service, operation, Fault.LOST_RESPONSE) in lab.faults.injected
            lab.faults.clear()
            label = f"lost {service}.{operation} #{nth}"
            problems = [f"{label}: {p}" for p in invariants(lab)]
            if nth == 1 and not fired:
                problems.append(f"{label}: the response was never lost (no such call was made)")
            shifts = lab.fake.shifts(lab.world.load_balancer_arn, status="ACTIVE")
            if len(shifts) != 1:
                problems.append(f"{label}: {len(shifts)} active shifts")
            ok = result.status is Status.EVACUATED and lab.state() == expected
            tally.count(ok, problems + _recover_and_check(lab, store, label))
    return tally


# -- 4. budget -----------------------------------------------------------------------------------


def budget(lab: Lab) -> Tally:
    """Faults that outlast the retry budget: that step fails, the others finish, DEGRADED; a
    later pass (the reconciler) completes it."""
    tally = Tally("retry budget")
    expected = reference_end_state(lab)
    for service, operation in MUTATING_OPS:
        for fault in (Fault.THROTTLE, Fault.SERVER_ERROR):
            lab.reset()
            store = InMemoryStateStore()
            lab.faults.add(service, operation, fault, *range(1, 100))  # until cleared
            result = lab.controller(store).evacuate(AZ, reason="storm")
            lab.faults.clear()
            label = f"{fault.name} on {service}.{operation}"
            failed = [s for s in result.steps if s.outcome is Outcome.FAILED]
            others_ok = all(
                s.outcome in (Outcome.APPLIED, Outcome.UNCHANGED, Outcome.SKIPPED)
                for s in result.steps
                if s not in failed
            )
            problems = [f"{label}: {p}" for p in invariants(lab)]
            ok = (
                result.status is Status.DEGRADED
                and len(failed) >= 1
                and all(fault.value[0] in (s.error or "") for s in failed)
                and others_ok
            )
            report = lab.controller(store).reconcile()
            ok = ok and [r.status for r in report.results] == [Status.EVACUATED]
            ok = ok and lab.state() == expected
            tally.count(ok, problems + _recover_and_check(lab, store, label))
    return tally


# -- 5. concurrency through the real alarm handler -----------------------------------------------


@contextmanager
def handler_runtime(lab: Lab, table: str = "azevac-state") -> Iterator[Runtime]:
    """The real handlers on this lab, with the DynamoDB state store and idempotency."""
    client = lab.session.client("dynamodb")
    if table not in client.list_tables()["TableNames"]:
        create_state_table(client, table)
    config = {**lab.config, "safety": {"cooldown_minutes": 0, "max_evacuations_per_day": 10_000}}
    rt = Runtime(Settings(config_reference=json.dumps(config), table=table), lab.session)
    runtime.install(rt)
    try:
        yield rt
    finally:
        runtime.install(None)


def _alarm_event(name: str, event_id: str, **where: Any) -> dict[str, Any]:
    return eventbridge(name, event_id=event_id, **where)


def _race(events: list[dict[str, Any]]) -> list[dict[str, Any] | BaseException]:
    answers: list[dict[str, Any] | BaseException] = [{} for _ in events]
    barrier = threading.Barrier(len(events))

    def invoke(i: int) -> None:
        barrier.wait()
        try:
            answers[i] = alarm.handler(events[i], FakeLambdaContext())
        except Exception as exc:
            answers[i] = exc

    threads = [threading.Thread(target=invoke, args=(i,)) for i in range(len(events))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


def concurrency(lab: Lab, rounds: int = 1, threads: int = 20) -> Tally:
    tally = Tally(f"concurrency x{threads}")
    reference_end_state(lab)
    store = InMemoryStateStore()
    lab.controller(store).evacuate(AZ, reason="count")
    reference = Counter(workload_mutations(lab))
    _recover_and_check(lab, store, "count")
    with handler_runtime(lab) as rt:
        for r in range(rounds):
            for mix in ("same AZ", "two AZs"):
                lab.reset()
                names = [ALARM_NAME] * threads
                set_alarm(lab.session, ALARM_NAME)  # the handler re-reads it: in ALARM
                set_alarm(lab.session, OTHER_ALARM, "OK")
                lab.recorder.reset()  # the test's own SetAlarmState is not azevac's change
                if mix == "two AZs":
                    # use1-az2's events arrive but CloudWatch has it OK: ignored, never a claim
                    names = [ALARM_NAME, OTHER_ALARM] * (threads // 2)
                answers = _race([_alarm_event(n, f"r{r}-{mix}-{i}") for i, n in enumerate(names)])
                label = f"round {r} {mix}"
                bad = [a for a in answers if isinstance(a, BaseException)]
                tally.unhandled += [f"{label}: {type(a).__name__}: {a}" for a in bad]
                made = Counter(workload_mutations(lab))
                problems = [f"{label}: {p}" for p in invariants(lab)]
                held = rt.controller().status()
                active = [e for e in held if e.status.is_active]
                # each mutation at most once: exactly what one uncontended evacuation makes
                ok = len(active) == 1 and made == reference
                if mix == "two AZs":
                    ignored = [
                        a for a in answers if isinstance(a, dict) and a.get("status") == "IGNORED"
                    ]
                    ok = ok and len(ignored) == threads // 2
                if not ok:
                    problems.append(f"{label}: active={len(active)} mutations={dict(made)}")
                store = rt.controller()._store
                for az in list(store.held(lab.world.workload)):
                    lab.controller(store).recover(az, reason="campaign reset")
                if lab.state() != lab.original:
                    problems.append(f"{label}: recover did not restore the original state")
                tally.count(ok and not problems, problems)
    return tally


# -- 5b. ARC precedence: AWS's own shifts and azevac's practice runs ----------------------------

OTHER_AZ = "use1-az2"


def shows_autoshift_elsewhere(operation: str, parsed: Any) -> bool:
    """Whether an ARC read's answer shows an AWS autoshift away from OTHER_AZ: ListAutoshifts'
    ACTIVE items, or the `autoshifts` of a managed resource (GetManagedResource, and each item of
    ListManagedResources). What the answer held, not when it came back: lanes read side by side,
    so a read sent before the autoshift started can return after it (and show nothing)."""
    if not isinstance(parsed, dict):
        return False
    if operation == "ListAutoshifts":
        items = parsed.get("items") or []
        return any(a.get("status") == "ACTIVE" and a.get("awayFrom") == OTHER_AZ for a in items)
    if operation == "GetManagedResource":
        resources = [parsed]
    elif operation == "ListManagedResources":
        resources = parsed.get("items") or []
    else:
        return False
    return any(a.get("awayFrom") == OTHER_AZ for r in resources for a in r.get("autoshifts") or [])


class Timeline:
    """Runs `event` just before the k-th AWS call of a run, and watches what azevac sends after:
    whether a StartZonalShift went out once one of azevac's ARC reads had shown an autoshift
    away from another AZ (un-applying AWS's shift), and how many AZs azevac's own levers held out
    at each mutation."""

    def __init__(self, lab: Lab, at: int, event: Callable[[], None] | None) -> None:
        self.lab, self.at, self.event = lab, at, event
        self.calls = 0
        # with no event, whatever was seeded before the run is visible from its first read
        self.fired_at: int | None = None if event is not None else 0
        self.seen = False  # an ARC read of azevac's answered with the autoshift elsewhere
        self.violations: list[str] = []
        self.max_out = 0
        # Its own read-backs go through the lab's session (the fakes are on it) and so through
        # these hooks: they are not azevac's calls, and must neither count nor "show" anything.
        self._own = threading.local()
        self._lock = threading.Lock()

    def __enter__(self) -> Timeline:
        self.lab.session.events.register("before-call.*.*", self._before, unique_id="timeline")
        self.lab.session.events.register("after-call.*.*", self._after, unique_id="timeline-a")
        return self

    def __exit__(self, *_: object) -> None:
        self.lab.session.events.unregister("before-call.*.*", unique_id="timeline")
        self.lab.session.events.unregister("after-call.*.*", unique_id="timeline-a")

    def _before(self, model: Any, params: Any = None, **_: Any) -> None:
        if getattr(self._own, "reading", False):
            return
        with self._lock:  # lanes call concurrently: count each call once, fire the event once
            self.calls += 1
            if self.event is not None and self.fired_at is None and self.calls >= self.at:
                self.event()
                self.fired_at = self.calls
        service, operation = model.service_model.service_name, model.name
        if service != "arc-zonal-shift":
            return
        if operation == "StartZonalShift" and self.seen and self._autoshift_elsewhere():
            self.violations.append(
                f"StartZonalShift sent after a read showed AWS autoshifting away from {OTHER_AZ}"
            )

    def _after(self, model: Any, parsed: Any = None, **_: Any) -> None:
        if getattr(self._own, "reading", False):
            return
        service, operation = model.service_model.service_name, model.name
        if service == "arc-zonal-shift" and shows_autoshift_elsewhere(operation, parsed):
            with self._lock:
                self.seen = True
        if not operation.startswith(READS) and service not in OWN_STATE:
            self._own.reading = True
            try:
                self.max_out = max(self.max_out, len(azevac_out(self.lab)))
            finally:
                self._own.reading = False

    def _autoshift_elsewhere(self) -> bool:
        return any(
            a["status"] == "ACTIVE" and a["awayFrom"] != AZ for a in self.lab.fake.autoshifts()
        )


READS = ("Describe", "List", "Get")


def azevac_out(lab: Lab) -> set[str]:
    """AZs out of service by the levers azevac pulls (a customer shift, a zero weight, ...)."""
    state, ctx = lab.state(), _context(lab)
    return {az for probe in probes.probes() for az in probe.out_of_service(ctx, state)}


def precedence_invariants(lab: Lab) -> list[str]:
    """The end state: the general invariants, and at most one AZ out by azevac's levers (the
    Timeline checks the same at every mutation, and the un-applied autoshift rule)."""
    broken = invariants(lab)
    if len(azevac_out(lab)) > 1:
        broken.append(f"azevac holds {sorted(azevac_out(lab))} out: more than 1 AZ")
    return broken


def _end_aws_shifts(lab: Lab) -> None:
    arn = lab.world.load_balancer_arn
    lab.fake.end_autoshift(arn)
    for shift in lab.fake.shifts(arn, status="ACTIVE"):
        if shift["shiftType"] != "ZONAL_SHIFT":
            lab.fake.cancel_shift(shift["zonalShiftId"])


def precedence_case(lab: Lab, seed: int, tally: Tally) -> None:
    """One seeded schedule: an AWS autoshift (away from the alarmed AZ or another) that starts
    before or during the run, or ends during it; or azevac practising the other AZ when the real
    alarm arrives. The bar: never un-apply an AWS autoshift azevac could have seen, never more
    AZs out by azevac's levers than allowed, and exactly the original state after recovery."""
    rng = random.Random(seed)
    lab.reset()
    store = InMemoryStateStore()
    arn = lab.world.load_balancer_arn
    kind = rng.choice(["before-elsewhere", "during-elsewhere", "same-az-ends", "practice"])
    at = rng.randint(1, 40)
    label = f"seed {seed} {kind} at call {at}"
    problems: list[str] = []
    event: Callable[[], None] | None = None
    if kind == "before-elsewhere":
        lab.fake.start_autoshift(arn, OTHER_AZ)
    elif kind == "during-elsewhere":
        event = partial(lab.fake.start_autoshift, arn, OTHER_AZ)
    elif kind == "same-az-ends":
        lab.fake.start_autoshift(arn, AZ)
        event = partial(lab.fake.end_autoshift, arn)
    else:
        practice = lab.controller(store).practice(OTHER_AZ, minutes=30)
        if practice.status is not Status.EVACUATED:
            problems.append(f"{label}: practice ended {practice.status.value}")
    lab.recorder.reset()
    with Timeline(lab, at, event) as timeline:
        result = lab.controller(store).evacuate(AZ, reason=label, trigger=Trigger.ALARM)
    if event is not None and timeline.fired_at is None:
        event()  # the run made fewer calls: the event comes after it
    problems += [f"{label}: {v}" for v in timeline.violations]
    if timeline.max_out > 1:
        problems.append(f"{label}: azevac held {timeline.max_out} AZs out at once")
    problems += [f"{label}: {p}" for p in precedence_invariants(lab)]
    if kind == "before-elsewhere":
        ok = result.status is Status.REFUSED and not workload_mutations(lab)
    elif kind == "during-elsewhere":
        seen_first = result.status is Status.REFUSED and not workload_mutations(lab)
        ok = seen_first or result.status is Status.EVACUATED
        if result.status is Status.EVACUATED:
            report = lab.controller(store).reconcile()
            ok = ok and any("autoshifting away" in a for a in report.alerts)
    elif kind == "same-az-ends":
        ok = result.status is Status.EVACUATED
    else:
        ok = result.status is Status.EVACUATED and [p.status for p in result.preempted] == [
            Status.RECOVERED
        ]
    if not ok:
        problems.append(f"{label}: ended {result.status.value} ({result.reason})")
    _end_aws_shifts(lab)
    problems += _recover_and_check(lab, store, label)
    tally.count(ok and not problems, problems)


def precedence(lab: Lab, seeds: Iterable[int]) -> Tally:
    tally = Tally("ARC precedence (autoshifts, practice vs real alarm)")
    for seed in seeds:
        precedence_case(lab, seed, tally)
    return tally


# -- 5c. recovery order ---------------------------------------------------------------------------

TRAFFIC_OPS = {op for probe in probes.probes() for op in probe.traffic}
"""The calls that bring traffic back into the AZ, each kind's."""


class RecoveryWatch:
    """Checks, at every call recover makes, that no traffic comes back while a capacity step is
    unfinished (REC-1, REC-2): a traffic call with a group still short of its subnets or with
    azevac's AZRebalance suspension still in place is a violation. And at every mutation of an
    evacuation, that no instance lands in the evacuated AZ because of it."""

    def __init__(self, lab: Lab, phase: str) -> None:
        self.lab, self.phase = lab, phase
        self.violations: list[str] = []
        # Its own reads go through a session without the lab's hooks: no faults, not counted.
        self._plain = cache_clients(boto3.Session(region_name="us-east-1"))
        self.in_az_before = self._in_az()

    def __enter__(self) -> RecoveryWatch:
        self.lab.session.events.register("before-call.*.*", self._before, unique_id="recwatch")
        self.lab.session.events.register("after-call.*.*", self._after, unique_id="recwatch-a")
        return self

    def __exit__(self, *_: object) -> None:
        self.lab.session.events.unregister("before-call.*.*", unique_id="recwatch")
        self.lab.session.events.unregister("after-call.*.*", unique_id="recwatch-a")

    def _before(self, model: Any, params: Any = None, **_: Any) -> None:
        key = (model.service_model.service_name, model.name)
        if self.phase != "recover" or key not in TRAFFIC_OPS:
            return
        if key[1] == "CancelZonalShift" and not self._is_lb_shift(
            (params or {}).get("zonalShiftId")
        ):
            return
        short = [
            line
            for probe in probes.probes()
            for line in probe.capacity_short(self._plain, self.lab.world, self.lab.original)
        ]
        if short:
            self.violations.append(f"{key[1]} while capacity is not back: {short}")

    def _after(self, model: Any, **_: Any) -> None:
        name = model.name
        if (
            self.phase == "evacuate"
            and not name.startswith(READS)
            and model.service_model.service_name not in OWN_STATE
        ):
            now = self._in_az()
            if now > self.in_az_before:
                self.violations.append(
                    f"{name}: {now - self.in_az_before} instance(s) launched into {AZ}"
                )

    def _is_lb_shift(self, shift_id: str | None) -> bool:
        arn = self.lab.world.load_balancer_arn
        return any(s["zonalShiftId"] == shift_id for s in self.lab.fake.shifts(arn))

    def _in_az(self) -> int:
        """Capacity units (instances, ...) of every kind running in the AZ."""
        return sum(p.units_in(self._plain, self.lab.world, AZ) for p in probes.probes())


def recovery_case(lab: Lab, seed: int, tally: Tally) -> None:
    """Evacuate (prescale or not), then recover under a random fault schedule or with a crash at
    a random call; the reconciler then carries the recovery through. Bar: no traffic before
    capacity, no instance into the AZ from azevac's changes, RECOVERED to the exact original."""
    rng = random.Random(seed)
    lab.reset()
    store = InMemoryStateStore()
    config = {"safety": {"prescale": True}} if rng.random() < 0.5 else {}
    label = f"seed {seed} {'prescale' if config else 'plain'}"
    with RecoveryWatch(lab, "evacuate") as watch:
        evacuated = lab.controller(store, **config).evacuate(AZ, reason=label)
    problems = [f"{label}: {v}" for v in watch.violations]
    if evacuated.status is not Status.EVACUATED:
        problems.append(f"{label}: evacuation ended {evacuated.status.value}")
    crash_at = rng.randint(1, 12) if rng.random() < 0.4 else None
    if crash_at is None:
        lab.faults.randomize(seed, rate=0.3, services=FAULTED_SERVICES)
    else:
        lab.faults.crash_before_mutation = crash_at
    with RecoveryWatch(lab, "recover") as watch:
        with suppress(SimulatedCrash):
            lab.controller(store, **config).recover(AZ, reason=label)
        lab.faults.clear()
        lab.clock.advance(timedelta(hours=1))  # past a killed run's lease
        if AZ in store.held(lab.world.workload):
            lab.controller(store, **config).reconcile()
    problems += [f"{label}: {v}" for v in watch.violations]
    problems += [f"{label}: {p}" for p in invariants(lab)]
    ok = AZ not in store.held(lab.world.workload) and lab.state() == lab.original
    if not ok:
        problems.append(f"{label}: not RECOVERED to the original state")
        problems += _recover_and_check(lab, store, label)
    tally.count(ok and not problems, problems)


def recovery(lab: Lab, seeds: Iterable[int]) -> Tally:
    tally = Tally("recovery order (faults, crashes)")
    for seed in seeds:
        recovery_case(lab, seed, tally)
    return tally


# -- 6. bad input --------------------------------------------------------------------------------

OTHER_REGION_AZS = ("eu-west-1a", "us-west-2b", "apne1-az1", "euw1-az3", "use1-az99", "us-east-1z")


def _junk(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(9 if depth < 3 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.randint(-(2**63), 2**63)
    if kind == 3:
        return rng.random() * 1e6
    if kind == 4:
        return "".join(rng.choice(string.printable) for _ in range(rng.randint(0, 40)))
    if kind == 5:
        return "x" * rng.choice([0, 1, 10_000, 300_000])
    if kind == 6:
        return [_junk(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {
        rng.choice(["action", "az", "detail", "Records", "alarmData", "id", "k"]): _junk(
            rng, depth + 1
        )
        for _ in range(rng.randint(0, 5))
    }


HOSTILE_TEXT = (
    'x", "action": "evacuate", "force": true, "reason": "y', '", "dry_run": true, "x": "', "}{",
    '{"action": "recover"}', "line\nbreak", "\\", "{{ Action }}", "x" * 400, "nul\x00",
)  # fmt: skip


def bad_event(rng: random.Random) -> tuple[str, Any]:
    """(handler, event): malformed, or well-formed but naming what must be refused.

    "runbook" events are the SSM runbook's parameters: run through its validation and payload
    script (tests/support/runbook.py), then the manual handler, never approved."""
    shape = rng.randrange(13)
    if shape == 8:  # forged: an unmapped alarm that names an AZ of the workload
        name = rng.choice(["checkout-use1-az1-disk-space-warning", "forged-use1-az2-impact"])
        return "alarm", _alarm_event(name, f"fuzz-{rng.random()}")
    if shape == 9:  # stale: a mapped alarm, in ALARM, delivered after max_event_age_seconds
        age = timedelta(seconds=rng.choice([601, 3600, 86_400]))
        return "alarm", _alarm_event(ALARM_NAME, f"fuzz-{rng.random()}", age=age)
    if shape == 10:  # from another account or region
        where = rng.choice([{"account": "999999999999"}, {"region": "eu-west-1"}])
        return "alarm", _alarm_event(ALARM_NAME, f"fuzz-{rng.random()}", **where)
    if shape == 11:  # the event says ALARM, CloudWatch says the alarm is not (any more)
        return "alarm", _alarm_event(OTHER_ALARM, f"fuzz-{rng.random()}")
    if shape == 12:  # hostile runbook parameters on the unapproved actions
        return "runbook", {
            "Action": rng.choice(["plan", "status"]),
            "Az": rng.choice([AZ, "us-east-1b", 'use1-az1", "action": "evacuate', ""]),
            "Reason": rng.choice(HOSTILE_TEXT),
        }
    if shape == 0:
        return rng.choice(["alarm", "manual"]), _junk(rng)
    if shape == 1:  # an alarm event with a part broken or missing
        event = _alarm_event(ALARM_NAME, f"fuzz-{rng.random()}")
        path = rng.choice([("detail",), ("detail", "state"), ("detail", "alarmName"), ("id",)])
        target = event
        for key in path[:-1]:
            target = target[key]
        if rng.random() < 0.5 or path == ("id",):  # any non-empty id is a valid event
            target.pop(path[-1], None)
        else:
            target[path[-1]] = _junk(rng)
        return "alarm", event
    if shape == 2:  # SNS whose message is not JSON, or not an alarm
        message = rng.choice(["{oops", "null", "[]", json.dumps(_junk(rng)), "x" * 100_000])
        return "alarm", {"Records": [{"Sns": {"MessageId": "m", "Message": message}}]}
    if shape == 3:  # alarm action payload, broken
        return "alarm", {"source": "aws.cloudwatch", "alarmArn": "arn", "alarmData": _junk(rng)}
    if shape == 4:  # unknown actions, wrong types
        action = rng.choice(["explode", "", None, 5, "EVACUATE", "recover ", []])
        return "manual", {"action": action, "az": AZ}
    if shape == 5:  # AZs from other regions or that do not exist
        return "manual", {"action": rng.choice(["evacuate", "plan"]), "az": rng.choice(
            OTHER_REGION_AZS)}  # fmt: skip
    if shape == 6:  # unknown fields (always refused), and a field of any type
        payload: dict[str, Any] = {"action": "evacuate", "az": AZ, "colour": _junk(rng)}
        payload[rng.choice(["dry_run", "force", "reason", "minutes"])] = _junk(rng)
        return "manual", payload
    # an ALARM naming an AZ of another region, or no AZ at all: logged, nothing changes
    name = rng.choice(["checkout-euw1-az3-impact", "checkout-apne1-az1", "latency-regional", "x"])
    return "alarm", _alarm_event(name, f"fuzz-{rng.random()}")


def _runbook(parameters: dict[str, str], context: Any) -> dict[str, Any]:
    """An execution of the runbook up to the Lambda: validated, never approved (approval-free
    actions only), its payload to the manual handler."""
    execution = runbook.run(parameters)
    if execution.approval:
        return {"status": "REFUSED", "reason": "waits for an approver; none approves in the fuzz"}
    answer: dict[str, Any] = manual.handler(json.loads(execution.payload), context)
    return answer


def fuzz(lab: Lab, events: Iterable[tuple[str, Any]]) -> Tally:
    """Never an unhandled exception type, never a mutation, always an error naming the problem."""
    tally = Tally("bad input")
    handlers = {"alarm": alarm.handler, "manual": manual.handler, "runbook": _runbook}
    with handler_runtime(lab):
        # The mapped alarm is in ALARM (so only the checks stop stale, cross-account events);
        # use1-az2's is OK (an event claiming ALARM for it is out of date).
        set_alarm(lab.session, ALARM_NAME)
        set_alarm(lab.session, OTHER_ALARM, "OK")
        for name, event in events:
            lab.recorder.reset()
            try:
                answer = handlers[name](event, FakeLambdaContext())
                named = isinstance(answer, dict) and answer.get("status") in ("IGNORED", "REFUSED")
                if name == "runbook":  # plan/status ran as asked: that is the right answer
                    named = answer.get("status") in ("PLANNED", "OK")
            except (InvalidRequestError, ConfigurationError, runbook.ParameterRejected) as exc:
                named = bool(str(exc))
            except Exception as exc:
                tally.unhandled.append(f"{name} {str(event)[:80]!r}: {type(exc).__name__}: {exc}")
                named = False
            mutations = len(workload_mutations(lab))
            tally.mutations_on_bad_input += mutations
            tally.count(named and mutations == 0)
            if mutations:  # keep the next case honest
                tally.violations.append(f"{name} {str(event)[:120]!r} changed AWS")
                store = runtime.current().controller()._store
                for az in list(store.held(lab.world.workload)):
                    lab.controller(store).recover(az, reason="campaign reset")
    return tally


# -- 7. corrupted state --------------------------------------------------------------------------


def corrupted_state(lab: Lab) -> Tally:
    """A hand-edited state record: a clear error and no AWS change, never a wrong recovery."""
    tally = Tally("corrupt state")
    with handler_runtime(lab, table="azevac-corrupt") as rt:
        for attribute, value in (("outcome", "teleported"), ("before", "{not json"),
                                 ("status", "HALF_DONE"), ("created_at", "yesterday")):  # fmt: skip
            lab.reset()
            evacuated = manual.handler({"action": "evacuate", "az": AZ}, FakeLambdaContext())
            client = lab.session.client("dynamodb")
            items = client.query(
                TableName="azevac-corrupt",
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": f"EVAC#{evacuated['evacuation_id']}"}},
            )["Items"]
            target = next(i for i in items if attribute in i)
            original_value = target[attribute]
            client.update_item(
                TableName="azevac-corrupt",
                Key={"pk": target["pk"], "sk": target["sk"]},
                UpdateExpression="SET #a = :v",
                ExpressionAttributeNames={"#a": attribute},
                ExpressionAttributeValues={":v": {"S": value}},
            )
            lab.recorder.reset()
            try:
                manual.handler({"action": "recover", "az": AZ}, FakeLambdaContext())
                ok = False
            except StateCorruptError as exc:
                ok = attribute in str(exc)
            tally.mutations_on_bad_input += len(workload_mutations(lab))
            client.update_item(
                TableName="azevac-corrupt",
                Key={"pk": target["pk"], "sk": target["sk"]},
                UpdateExpression="SET #a = :v",
                ExpressionAttributeNames={"#a": attribute},
                ExpressionAttributeValues={":v": original_value},
            )
            recovered = manual.handler({"action": "recover", "az": AZ}, FakeLambdaContext())
            ok = ok and recovered["status"] == "RECOVERED" and lab.state() == lab.original
            tally.count(ok, [] if ok else [f"corrupt {attribute}: not a clear refusal"])
    del rt
    return tally
