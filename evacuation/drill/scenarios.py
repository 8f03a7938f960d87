"""The drill's scenarios: inject a gray failure, let the real handlers react, check AWS.

Each scenario runs in its own embedded AWS and ends with a verdict that rests on what AWS looks
like afterwards, read back through boto3, never on what the controller said it did.
"""

from __future__ import annotations

import copy
import json
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from evacuation.autoshift_events import COMPLETED, IN_PROGRESS
from evacuation.drill import checks
from evacuation.drill.checks import Check, State
from evacuation.drill.lab import Invocation, Lab, StepEvent, autoshift_event, embedded_aws
from evacuation.drill.report import ScenarioResult, build_timeline, traffic_moved_at
from evacuation.emulator.world import writer_of, zone_names
from evacuation.kinds import Tier, spec_of
from evacuation.model import Phase
from handlers import alarm, manual

REGIONAL = "regional"


class Narrator(Protocol):
    """Tells a human what the drill is doing while it does it."""

    def begin(self, result: ScenarioResult) -> None: ...

    def zero(self, t0: datetime) -> None:
        """The alarm fired at `t0`: times shown from now on count from there."""
        ...

    def say(self, text: str) -> None: ...

    def step(self, event: StepEvent) -> None: ...

    def answer(self, invocation: Invocation) -> None: ...

    def end(self, result: ScenarioResult) -> None: ...


class Drill:
    """One scenario in progress: its embedded AWS, what it found so far, who is watching."""

    def __init__(self, lab: Lab, result: ScenarioResult, narrator: Narrator) -> None:
        self.lab = lab
        self.result = result
        self.narrator = narrator
        self.az_id = result.az_id
        self.t0 = datetime.now(UTC)
        """When the first alarm fired: the timeline's zero."""
        self.fired = False
        self.evacuations: list[str] = []
        """Labels of the invocations that evacuate: their steps make the timeline."""
        self.recoveries: list[str] = []
        """Labels of the invocations that recover: on the timeline too, after the evacuation."""
        self.spans: dict[str, tuple[datetime, datetime]] = {}
        """label -> when the invocation started and ended (each is drawn at its real start)."""

    # -- acting ------------------------------------------------------------------------------

    def read(self) -> State:
        """The workload's state, read from AWS (faults off: the drill's reads must not fail)."""
        armed, self.lab.faults.armed = self.lab.faults.armed, False
        try:
            return checks.read_aws(self.lab.session, self.lab.world)
        finally:
            self.lab.faults.armed = armed

    def fire(self, az_id: str) -> dict[str, Any]:
        """The gray failure: the AZ's isolated-impact alarm goes to ALARM."""
        name = self.lab.alarm_for(az_id)
        if not self.fired:
            self.fired, self.t0 = True, datetime.now(UTC)
            self.narrator.zero(self.t0)
        self.narrator.say(f"Gray failure in {az_id}: alarm {name} goes to ALARM")
        return self.lab.set_alarm(
            az_id, "ALARM", f"Threshold crossed: 5xx from targets in {az_id} only"
        )

    def deliver(self, label: str, event: dict[str, Any], evacuates: bool = True) -> Invocation:
        """Deliver an EventBridge event to the real alarm handler."""
        self.narrator.say(f"EventBridge → handlers.alarm.handler  [{label}, event {event['id']}]")
        if evacuates:
            self.evacuations.append(label)
        return self._invoke(label, alarm.handler, event)

    def manual(self, label: str, payload: dict[str, Any]) -> Invocation:
        """Send an operator's request to the real manual handler."""
        self.narrator.say(f"Operator → handlers.manual.handler  {payload}")
        if payload.get("action") == "evacuate":
            self.evacuations.append(label)
        if payload.get("action") == "recover":
            self.recoveries.append(label)
        return self._invoke(label, manual.handler, payload)

    def _invoke(self, label: str, handler: Callable[[Any, Any], Any], event: Any) -> Invocation:
        invocation = self.lab.invoke(label, handler, event)
        self.spans[label] = (invocation.started, invocation.finished)
        answer = invocation.answer or {}
        self.result.answers.append(
            {
                "invocation": label,
                "status": answer.get("status", "DIED" if invocation.crashed else None),
                "reason": invocation.crashed or answer.get("reason"),
                "evacuation_id": answer.get("evacuation_id"),
                "retries": answer.get("retries"),
                "data_plane_seconds": answer.get("data_plane_seconds"),
                "total_seconds": answer.get("total_seconds"),
                "seconds": round((invocation.finished - invocation.started).total_seconds(), 4),
            }
        )
        self.narrator.answer(invocation)
        return invocation

    @contextmanager
    def faulty(self) -> Iterator[None]:
        """The embedded AWS throttles and fails a share of calls while inside."""
        self.lab.faults.armed = True
        try:
            yield
        finally:
            self.lab.faults.armed = False

    # -- checking ----------------------------------------------------------------------------

    def check(self, *found: Check) -> None:
        self.result.checks.extend(found)

    def expect_status(self, invocation: Invocation, *statuses: str) -> dict[str, Any]:
        answer = invocation.answer or {}
        status = answer.get("status", "DIED" if invocation.crashed else None)
        reason = invocation.crashed or answer.get("reason") or ""
        self.check(
            Check(
                f"{invocation.label}: the handler answers {' or '.join(statuses)}",
                status in statuses,
                f"{status}" + (f": {reason}" if reason else ""),
            )
        )
        return answer

    def expect_steps_ok(self, invocation: Invocation) -> None:
        steps = (invocation.answer or {}).get("steps", [])
        failed = [
            f"{s['kind']} {checks.short(s['resource'])}" for s in steps if s["outcome"] == "failed"
        ]
        self.check(
            Check(
                f"{invocation.label}: no step failed",
                bool(steps) and not failed,
                f"{len(steps)} steps" + (f", failed: {', '.join(failed)}" if failed else ""),
            )
        )

    def hypothesis(self, before: State) -> State:
        """Read AWS and check the evacuation hypothesis against the state before the drill."""
        self.narrator.say("Checking the hypothesis against AWS")
        after = self.read()
        suspend = self._suspend_processes()
        self.check(*checks.evacuated(self.lab.world, self.az_id, before, after, suspend))
        self.verified("evacuated")
        return after

    def verified(self, hypothesis: str) -> None:
        """`azevac verify` (the manual function's verify action, as the runbook runs it) must
        agree with the drill's own read-back: the same hypothesis, checked by the product."""
        payload = {"action": "verify", "az": self.az_id, "recovered": hypothesis == "recovered"}
        answer = self.lab.invoke(f"verify {hypothesis}", manual.handler, payload).answer or {}
        failing = [c["name"] for c in answer.get("checks", []) if not c["passed"]]
        self.check(
            Check(
                f"azevac verify: {hypothesis} holds",
                answer.get("status") == "HOLDS",
                f"{answer.get('status')}: {len(answer.get('checks', []))} checks"
                + (f", failing: {'; '.join(failing)}" if failing else ""),
            )
        )

    def evacuation_records(self) -> list[dict[str, Any]]:
        """The workload's evacuation records, as the state store holds them (manual status)."""
        answer = self.lab.invoke("status", manual.handler, {"action": "status"}).answer or {}
        evacuations: list[dict[str, Any]] = answer.get("evacuations", [])
        return evacuations

    def recover(self, before: State) -> None:
        """The AZ heals, the alarm returns to OK, an operator recovers: exactly `before` again."""
        self.narrator.say(f"{self.az_id} is healthy again: alarm back to OK")
        ok = self.lab.set_alarm(self.az_id, "OK", "Threshold no longer crossed")
        self.expect_status(self.deliver("alarm OK", ok, evacuates=False), "IGNORED")
        payload = {"action": "recover", "az": self.az_id, "reason": "drill: the AZ is healthy"}
        recovered = self.manual("recover", payload)
        self.expect_status(recovered, "RECOVERED")
        self.result.facts["recover_seconds"] = (recovered.answer or {}).get("total_seconds")
        self.check(
            checks.nothing_else_changed(
                before, self.read(), "Recovered: AWS is exactly as it was before the drill"
            )
        )
        self.verified("recovered")

    def timing(self) -> None:
        timed = [*self.evacuations, *self.recoveries]
        self.result.timeline = build_timeline(
            self.lab.steps.events, self.t0, timed, self.spans, self.recoveries
        )
        facts = self.result.facts
        facts["alarm_to_traffic_moved_seconds"] = traffic_moved_at(
            self.result.timeline, self.recoveries
        )
        ends = [e.end for e in self.result.timeline if e.invocation not in self.recoveries]
        facts["alarm_to_evacuated_seconds"] = round(max(ends), 4) if ends else None
        statuses = {a["invocation"]: a["status"] for a in self.result.answers}
        self.result.invocations = [
            {
                "invocation": label,
                "start_seconds": round((start - self.t0).total_seconds(), 4),
                "end_seconds": round((end - self.t0).total_seconds(), 4),
                "status": statuses.get(label),
                "recovery": label in self.recoveries,
            }
            for label, (start, end) in self.spans.items()
            if label in timed
        ]
        # The figure the controller reports (from its own start, after the handler's start-up)
        # and the one from the alarm, told apart: the evacuation's last invocation's start.
        finishing = [i for i in self.result.invocations if not i["recovery"]]
        if finishing:
            facts["evacuating_invocation_started_seconds"] = finishing[-1]["start_seconds"]
        onset = facts.get("onset_to_detection_seconds")
        moved = facts["alarm_to_traffic_moved_seconds"]
        if onset is not None and moved is not None:  # gray-failure: from customer impact on
            facts["onset_to_traffic_off_seconds"] = round(onset + moved, 4)

    def _suspend_processes(self) -> list[str]:
        config = self.lab.world.config()
        return list(config["autoscaling"]["suspend_processes"])


# -- the scenarios -------------------------------------------------------------------------------


def basic(d: Drill) -> None:
    before = d.read()
    event = d.fire(d.az_id)
    invocation = d.deliver("alarm", event)
    answer = d.expect_status(invocation, "EVACUATED")
    d.expect_steps_ok(invocation)
    _evacuation_facts(d, answer)
    d.hypothesis(before)
    d.recover(before)


def throttling(d: Drill) -> None:
    before = d.read()
    event = d.fire(d.az_id)
    faults = d.lab.faults
    d.narrator.say(
        f"The embedded AWS throttles {faults.throttle_rate:.0%} and fails "
        f"{faults.error_rate:.0%} of the calls to {', '.join(sorted(faults.services))}"
    )
    with d.faulty():
        invocation = d.deliver("alarm", event)
    answer = d.expect_status(invocation, "EVACUATED")
    d.expect_steps_ok(invocation)
    _evacuation_facts(d, answer)
    injected = dict(faults.injected)
    d.result.facts.update(faults_injected=injected, faulted_calls=faults.calls)
    retries = answer.get("retries") or 0
    d.check(
        Check(
            "Faults were injected and the controller retried through them",
            sum(injected.values()) > 0 and retries > 0,
            f"{sum(injected.values())} faults in {faults.calls} calls ({_counts(injected)}); "
            f"{retries} retries",
        )
    )
    d.hypothesis(before)
    with d.faulty():
        d.recover(before)
    d.result.facts["faults_injected"] = dict(faults.injected)


def crash(d: Drill) -> None:
    before = d.read()
    event = d.fire(d.az_id)
    d.lab.crash.armed = True
    d.narrator.say("The controller will die right after its first data-plane change")
    start = len(d.lab.workload_mutations())
    died = d.deliver("alarm #1 (dies)", event)
    d.lab.crash.armed = False
    made_by_first = d.lab.workload_mutations()[start:]
    d.check(
        Check(
            "alarm #1: the controller died in the middle of the data plane",
            died.crashed is not None,
            died.crashed or "it did not die: the crash hook never fired",
        )
    )
    middle = d.read()
    changed = list(checks.diff(before, middle))
    d.check(
        Check(
            "After the crash: traffic partly moved, control plane untouched",
            bool(changed) and middle["groups"] == before["groups"],
            "; ".join(changed) or "nothing changed",
        )
    )
    # A killed Lambda never runs its `finally`; here the crash unwinds through the controller's
    # `finally`, which gives the run lease back, exactly as if the process had released it (the
    # alternative, a lease left behind, is resumed once the lease expires: tests cover it).
    # The dead invocation's idempotency record stays IN_PROGRESS until its Lambda timeout, so a
    # re-delivery of the same event id would be answered DUPLICATE: the second invocation is the
    # same alarm with a new event id (the next state change, or an operator re-driving it).
    again = {**event, "id": str(uuid.uuid4())}
    start = len(d.lab.workload_mutations())
    resumed = d.deliver("alarm #2 (resumes)", again)
    made_by_second = d.lab.workload_mutations()[start:]
    repeated = sorted(set(made_by_first) & set(made_by_second))
    d.check(
        Check(
            "alarm #2 did not repeat a change alarm #1 had made (mutating calls on the wire)",
            bool(made_by_first) and not repeated,
            f"#1 made {_calls(made_by_first)}; #2 made {_calls(made_by_second)}",
        )
    )
    answer = d.expect_status(resumed, "EVACUATED")
    d.expect_steps_ok(resumed)
    _evacuation_facts(d, answer)
    records = d.evacuation_records()
    d.check(
        Check(
            "alarm #2 resumed the same evacuation (one record in the state store)",
            len(records) == 1 and records[0]["evacuation_id"] == answer.get("evacuation_id"),
            ", ".join(f"{r['evacuation_id']} {r['status']}" for r in records) or "no record",
        )
    )
    d.hypothesis(before)
    d.recover(before)


def regional(d: Drill) -> None:
    before = d.read()
    other = _other_az(d.lab.world.az_ids, d.az_id)
    events = [d.fire(d.az_id), d.fire(other)]
    d.narrator.say(f"A regional event: {d.az_id} and {other} alarm at once")
    mutations = len(d.lab.workload_mutations())
    answers = [
        d.deliver(f"alarm {az}", event, evacuates=False)
        for az, event in zip((d.az_id, other), events, strict=True)
    ]
    for invocation in answers:
        answer = d.expect_status(invocation, "REFUSED")
        reason = str(answer.get("reason") or "")
        d.check(
            Check(
                f"{invocation.label}: the refusal says the impact is regional",
                REGIONAL in reason.lower(),
                reason or "no reason given",
            )
        )
    after = d.read()
    d.check(checks.nothing_else_changed(before, after, "Nothing changed in AWS"))
    made = d.lab.workload_mutations()[mutations:]
    d.check(
        Check(
            "No mutating call reached the workload's services",
            not made,
            ", ".join(f"{s}.{o}" for s, o in made) or "none",
        )
    )
    active = [r for r in d.evacuation_records() if r["status"] not in ("REFUSED", "RECOVERED")]
    d.check(
        Check(
            "No evacuation is active in the state store",
            not active,
            ", ".join(f"{r['az_id']} {r['status']}" for r in active) or "none",
        )
    )


def duplicate(d: Drill) -> None:
    before = d.read()
    event = d.fire(d.az_id)
    start = len(d.lab.workload_mutations())
    first = d.deliver("delivery 1", event)
    once = len(d.lab.workload_mutations()) - start
    later = [d.deliver(f"delivery {n}", event) for n in (2, 3)]
    total = len(d.lab.workload_mutations()) - start
    answer = d.expect_status(first, "EVACUATED")
    _evacuation_facts(d, answer)
    ids = [(i.answer or {}).get("evacuation_id") for i in (first, *later)]
    d.check(
        Check(
            "All three deliveries answer with the same evacuation",
            len(set(ids)) == 1 and ids[0] is not None,
            ", ".join(str(i) for i in ids),
        ),
        Check(
            "Each change was made once (mutating calls counted on the wire)",
            once > 0 and total == once,
            f"{once} after delivery 1, {total} after delivery 3",
        ),
    )
    records = d.evacuation_records()
    d.check(
        Check(
            "One evacuation record in the state store",
            len(records) == 1,
            ", ".join(f"{r['evacuation_id']} {r['status']}" for r in records) or "no record",
        )
    )
    d.hypothesis(before)
    d.recover(before)


def capacity(d: Drill) -> None:
    model = d.lab.autoscaling
    if model is None:
        raise RuntimeError("the capacity scenario needs the emulator's Auto Scaling model")
    groups = d.lab.world.groups
    before = d.read()
    spread = {"before": {g: model.instances_by_az(g) for g in groups}}
    d.narrator.say(f"InService instances per AZ before: {_spread(spread['before'])}")
    invocation = d.deliver("alarm", d.fire(d.az_id))
    answer = d.expect_status(invocation, "EVACUATED")
    _evacuation_facts(d, answer)
    d.hypothesis(before)
    # Load grows while the AZ is out: the groups scale out, and none of it may land in the AZ.
    autoscaling = d.lab.session.client("autoscaling")
    desired = {g: before["groups"][g]["desired"] for g in groups}
    for name in groups:
        autoscaling.set_desired_capacity(
            AutoScalingGroupName=name, DesiredCapacity=desired[name] + 3
        )
    spread["during"] = {g: model.instances_by_az(g) for g in groups}
    d.narrator.say(f"Scaled out by 3 while {d.az_id} is out: {_spread(spread['during'])}")
    d.check(
        Check(
            f"Scale-out while evacuated launched nothing into {d.az_id}",
            all(
                spread["during"][g].get(d.az_id, 0) <= spread["before"][g].get(d.az_id, 0)
                for g in groups
            ),
            _spread(spread["during"]),
        )
    )
    ok = d.lab.set_alarm(d.az_id, "OK", "Threshold no longer crossed")
    d.expect_status(d.deliver("alarm OK", ok, evacuates=False), "IGNORED")
    recovered = d.manual("recover", {"action": "recover", "az": d.az_id, "reason": "healthy"})
    d.expect_status(recovered, "RECOVERED")
    for name in groups:  # the extra load is gone again
        autoscaling.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=desired[name])
    d.check(checks.nothing_else_changed(before, d.read(), "Recovered: AWS is as it was before"))
    spread["after"] = {g: model.instances_by_az(g) for g in groups}
    d.narrator.say(f"InService instances per AZ after recovery: {_spread(spread['after'])}")
    d.result.facts["instances_per_az"] = spread
    d.check(
        Check(
            f"After recovery {d.az_id} has its capacity back",
            all(
                spread["after"][g].get(d.az_id, 0) >= spread["before"][g].get(d.az_id, 0)
                for g in groups
            ),
            _spread(spread["after"]),
        ),
        _recovery_order(d),
    )


def gray_failure(d: Drill) -> None:
    from evacuation.drill import gray_failure as replay  # noqa: PLC0415 - imports the kit

    replay.play(d)


def blackhole(d: Drill) -> None:
    from evacuation.drill import gray_failure as replay  # noqa: PLC0415 - imports the kit

    replay.play(d, "blackhole")


def dependencies(d: Drill) -> None:
    deps = d.lab.dependencies
    if deps is None:
        raise RuntimeError("the dependencies scenario needs the Aurora, ElastiCache and ARC fakes")
    session, az = d.lab.session, d.az_id
    ids = {name: zone for zone, name in zone_names(session).items()}
    before = d.read()
    writer, writer_zone = writer_of(session, deps.cluster_id)
    primary, primary_zone = deps.cache.primary_of(deps.group_id)
    db_primary, db_standby = deps.rds.zones_of(deps.instance_id)
    d.narrator.say(
        f"Aurora writer {writer}, ElastiCache primary {primary} and the primary of Multi-AZ DB "
        f"instance {deps.instance_id} are in {az}; one ARC routing control per AZ, all On, under "
        f"the rule at least {len(deps.controls) - 1} On; ECS service {deps.service} in every AZ"
    )
    d.check(
        Check(
            f"Before: the writer and the primaries are in {az}, every routing control On",
            ids[writer_zone] == az == ids[primary_zone] == ids[db_primary]
            and all(deps.arc.state(a) == "On" for a in deps.controls.values()),
            f"writer {writer} in {ids[writer_zone]}, primary {primary} in {ids[primary_zone]}, "
            f"{deps.instance_id} in {ids[db_primary]} (standby {ids[db_standby]})",
        )
    )
    invocation = d.deliver("alarm", d.fire(az))
    answer = d.expect_status(invocation, "EVACUATED")
    d.expect_steps_ok(invocation)
    _evacuation_facts(d, answer)
    # the hypothesis holds the writer's, the primaries', the routing controls' and the ECS
    # service's checks (the kinds' probes), read back from AWS
    after = d.hypothesis(before)
    d.check(_evacuation_order(d, "alarm"))
    d.evacuations.append("recover")  # the recovery is on the timeline too
    # fail_back is off: recovered means as before (every routing control On again), but with
    # the writer and the primary where the evacuation put them; d.recover compares it all
    kept = copy.deepcopy(before)
    kept["db_clusters"][deps.cluster_id] = after["db_clusters"][deps.cluster_id]
    kept["cache_groups"][deps.group_id] = after["cache_groups"][deps.group_id]
    kept["db_instances"][deps.instance_id] = after["db_instances"][deps.instance_id]
    d.recover(kept)
    d.check(_recovery_order(d))


def aws_autoshift(d: Drill) -> None:
    """AWS's own AZ signal: an autoshift moves only what ARC manages; azevac moves the rest,
    keeps the AZ out when AWS ends it, and pages; the operator recovers."""
    world, az = d.lab.world, d.az_id
    world.extra_config["triggers"] = {"aws_autoshift": "evacuate"}
    d.lab.config_path.write_text(json.dumps(world.config(), indent=2), encoding="utf-8")
    before = d.read()
    d.fired, d.t0 = True, datetime.now(UTC)
    d.narrator.zero(d.t0)
    d.narrator.say(
        f"AWS starts a zonal autoshift away from {az}: ARC shifts the load balancer only "
        "(triggers.aws_autoshift: evacuate)"
    )
    world.fake.start_autoshift(world.load_balancer_arn, az)
    started = d.deliver("autoshift started", autoshift_event(az, IN_PROGRESS))
    answer = d.expect_status(started, "EVACUATED")
    d.expect_steps_ok(started)
    _evacuation_facts(d, answer)
    records = d.evacuation_records()
    d.check(
        Check(
            "The evacuation is recorded as the autoshift's (trigger autoshift)",
            [r.get("trigger") for r in records] == ["autoshift"],
            ", ".join(f"{r['evacuation_id']} {r.get('trigger')}" for r in records) or "no record",
        )
    )
    evacuated = d.hypothesis(before)
    d.narrator.say(f"AWS ends its autoshift away from {az}")
    world.fake.end_autoshift(world.load_balancer_arn)
    ended = d.deliver("autoshift completed", autoshift_event(az, COMPLETED), evacuates=False)
    d.expect_status(ended, "HELD")
    d.check(
        checks.nothing_else_changed(
            evacuated, d.read(), f"AWS ended its autoshift: azevac still holds {az}, unchanged"
        )
    )
    pages = [p for p in d.lab.notifications() if "AZ held" in p["subject"]]
    d.check(
        Check(
            "On-call is paged that the AZ is held, and how to recover it",
            len(pages) == 1 and f"azevac recover --az {az}" in pages[0]["message"],
            pages[0]["subject"] if pages else "no page about the held AZ",
        )
    )
    d.recover(before)


def _evacuation_order(d: Drill, invocation: str) -> Check:
    """Data plane, then dependencies, then capacity (kinds.base.Tier), as the records say."""
    spans: dict[str, list[tuple[datetime, datetime]]] = {"data": [], "deps": [], "capacity": []}
    for event in d.lab.steps.events:
        record = event.record
        if event.invocation != invocation or not record.outcome.is_final:
            continue
        if record.started_at is None or record.finished_at is None:
            continue  # unchanged: no call, nothing to order
        tier = spec_of(record.key.kind).tier(record.key.resource)
        group = (
            "data"
            if record.phase is Phase.DATA_PLANE
            else "deps"
            if tier is Tier.DEPENDENCIES
            else "capacity"
        )
        spans[group].append((record.started_at, record.finished_at))
    ok = all(spans.values()) and (
        max(end for _, end in spans["data"]) <= min(start for start, _ in spans["deps"])
        and max(end for _, end in spans["deps"]) <= min(start for start, _ in spans["capacity"])
    )
    return Check(
        "Evacuation order: data plane (routing control, shifts, weights), then dependencies "
        "(writer, primary), then capacity",
        ok,
        f"{len(spans['data'])} data-plane, {len(spans['deps'])} dependency, "
        f"{len(spans['capacity'])} capacity steps",
    )


def _recovery_order(d: Drill) -> Check:
    """Capacity back before traffic, then the prescale (REC-1), as the recovery's records say."""
    events = [
        e for e in d.lab.steps.events if e.invocation == "recover" and e.record.outcome.is_final
    ]
    finished = {
        str(e.record.key): e.record.finished_at for e in events if e.record.finished_at is not None
    }
    capacity = [t for k, t in finished.items() if k.startswith(("asg_subnets", "asg_processes"))]
    traffic = [
        t
        for k, t in finished.items()
        if k.startswith(("zonal_shift", "route53_weight", "routing_control"))
    ]
    ok = bool(capacity) and bool(traffic) and max(capacity) <= min(traffic)
    return Check(
        "Recovery restored capacity (subnets, processes) before traffic (shifts, weights, "
        "routing controls)",
        ok,
        f"{len(capacity)} capacity steps, then {len(traffic)} traffic steps",
    )


def _spread(by_group: dict[str, dict[str, int]]) -> str:
    return "; ".join(
        f"{group} " + "/".join(f"{az} {n}" for az, n in sorted(counts.items()))
        for group, counts in by_group.items()
    )


def _evacuation_facts(d: Drill, answer: dict[str, Any]) -> None:
    d.result.facts.update(
        evacuation_id=answer.get("evacuation_id"),
        retries=answer.get("retries"),
        data_plane_seconds=answer.get("data_plane_seconds"),
        total_seconds=answer.get("total_seconds"),
    )


def _calls(calls: list[tuple[str, str]]) -> str:
    return ", ".join(f"{service}.{operation}" for service, operation in calls) or "nothing"


def _counts(counter: dict[str, int]) -> str:
    return ", ".join(f"{n} {code}" for code, n in sorted(counter.items())) or "none"


def _other_az(az_ids: tuple[str, ...], az_id: str) -> str:
    if az_id not in az_ids:
        raise ValueError(f"{az_id} is not an AZ of the drill's workload: {', '.join(az_ids)}")
    return next(az for az in az_ids if az != az_id)


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    hypothesis: str
    """Formatted with {az} and {other}."""
    play: Callable[[Drill], None]
    with_dependencies: bool = False
    """The workload also has an Aurora cluster, an ElastiCache group and routing controls."""


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "basic",
            "Gray failure in one AZ",
            "After evacuating {az}, no traffic weight and no new capacity remain in {az}, and "
            "nothing else changed; recovery restores exactly the state before the drill.",
            basic,
        ),
        Scenario(
            "throttling",
            "Gray failure while AWS throttles",
            "With a share of the calls throttled or failing, the controller retries and reaches "
            "the same end state: nothing left in {az}, nothing else changed, exact recovery.",
            throttling,
        ),
        Scenario(
            "crash",
            "The controller dies mid-evacuation",
            "If the controller dies right after its first data-plane change, the next invocation "
            "resumes the same evacuation and converges, with no change made twice.",
            crash,
        ),
        Scenario(
            "regional",
            "Two AZs alarm at once",
            "When {az} and {other} alarm together the impact is regional: the controller refuses "
            "to evacuate either AZ, says why, and changes nothing.",
            regional,
        ),
        Scenario(
            "capacity",
            "Capacity where Auto Scaling puts it",
            "While {az} is out, new capacity lands only in the other AZs; recovery brings the "
            "AZ's capacity back before its traffic, and every instance count per AZ ends as it "
            "began.",
            capacity,
        ),
        Scenario(
            "gray-failure",
            "From customer impact: the detection kit's alarms decide",
            "With 5 % of requests failing in {az} only, the detection kit's isolated-impact "
            "alarm for {az} fires within 3 minutes and no other; azevac evacuates {az}, its "
            "alarm returns to OK, and recovery restores exactly the state before the drill.",
            gray_failure,
        ),
        Scenario(
            "blackhole",
            "The AZ goes dark: its instances publish nothing, the load balancer answers 5xx",
            "With {az}'s instances silent (no metrics, no logs) while the load balancer answers "
            "their requests with 502 and 504, the detection kit's isolated-impact alarm for {az} "
            "fires within 3 minutes from the signals that need nothing from the AZ's hosts, and "
            "no other; azevac evacuates {az}, its alarm returns to OK, and recovery restores "
            "exactly the state before the drill.",
            blackhole,
        ),
        Scenario(
            "dependencies",
            "What the front door leaves behind: writer, primary, routing control",
            "With the Aurora writer and the ElastiCache primary in {az}, evacuating {az} turns its "
            "ARC routing control Off, then moves the writer and the primary to healthy AZs, then "
            "closes the AZ's capacity, in that order; recovery brings capacity back before "
            "traffic and turns the control On, leaving the writer and primary where they are.",
            dependencies,
            with_dependencies=True,
        ),
        Scenario(
            "duplicate",
            "The same alarm event, three times",
            "EventBridge delivers at least once: the same event three times makes one "
            "evacuation, one record, and each change once.",
            duplicate,
        ),
        Scenario(
            "aws-autoshift",
            "AWS's own AZ signal: an autoshift",
            "When AWS autoshifts away from {az}, azevac (triggers.aws_autoshift: evacuate) "
            "evacuates what ARC does not move: no traffic weight and no new capacity remain in "
            "{az}, nothing else changed; when AWS ends the autoshift, {az} stays out and on-call "
            "is paged; the operator's recovery restores exactly the state before the drill.",
            aws_autoshift,
        ),
    )
}


def run_scenario(scenario: Scenario, az_id: str, narrator: Narrator) -> ScenarioResult:
    """Run one scenario in a fresh embedded AWS. An unexpected error fails it, with the trace."""
    started = time.monotonic()
    result = ScenarioResult(scenario.name, scenario.title, "", az_id)
    try:
        deps_in = az_id if scenario.with_dependencies else None
        with embedded_aws(on_event=narrator.step, dependencies_in=deps_in) as lab:
            other = _other_az(lab.world.az_ids, az_id)
            result.hypothesis = scenario.hypothesis.format(az=az_id, other=other)
            narrator.begin(result)
            drill = Drill(lab, result, narrator)
            try:
                scenario.play(drill)
            finally:
                drill.timing()
                result.notifications = lab.notifications()
                result.logs = lab.logs
    except Exception as exc:  # noqa: BLE001 - a drill that breaks is a failed drill, with the why
        result.error = f"{type(exc).__name__}: {exc}"
        result.logs.append(traceback.format_exc())
    result.seconds = time.monotonic() - started
    narrator.end(result)
    return result
