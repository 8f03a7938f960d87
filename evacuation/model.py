"""Value types shared by the plan, the executor and the state store. Frozen; Enums, not strings."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

AZ_ID_PATTERN = re.compile(r"^[a-z]{2,5}[0-9]-az[0-9]{1,2}$")
AZ_NAME_PATTERN = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9][a-z]$")

JsonValue = Any
"""A value that round-trips through JSON: what before- and after-images hold."""


class Phase(StrEnum):
    DATA_PLANE = "data_plane"
    CONTROL_PLANE = "control_plane"


class StepKind(StrEnum):
    """The kinds of step, by the name the state store keeps: a resource kind
    (`evacuation/kinds/`) declares its steps' phase, tier, lane and runner."""

    ZONAL_SHIFT = "zonal_shift"
    ROUTE53_WEIGHT = "route53_weight"
    ASG_CAPACITY = "asg_capacity"
    ASG_PROCESSES = "asg_processes"
    ASG_SUBNETS = "asg_subnets"
    ASG_ZONES = "asg_zones"
    """A group defined by AvailabilityZones / AvailabilityZoneIds instead of subnets."""
    DB_FAILOVER = "db_failover"
    """A DB cluster's writer moved out of the AZ (evacuation/kinds/databases.py)."""
    DB_INSTANCE_FAILOVER = "db_instance_failover"
    """A Multi-AZ DB instance's primary moved to its standby (evacuation/kinds/databases.py)."""
    CACHE_PRIMARY = "cache_primary"
    """An ElastiCache replication group's primary moved out of the AZ (kinds/caches.py)."""
    ROUTING_CONTROL = "routing_control"
    """An AZ's ARC routing control turned Off (evacuation/kinds/routing_controls.py)."""
    ECS_SUBNETS = "ecs_subnets"
    """An ECS service's awsvpc subnets in the AZ removed (evacuation/kinds/ecs.py)."""


class Outcome(StrEnum):
    """What a step did. PLANNED and IN_PROGRESS are not final; the rest are."""

    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    APPLIED = "applied"
    UNCHANGED = "unchanged"
    PENDING = "pending"
    FAILED = "failed"
    SKIPPED = "skipped"
    REVERTED = "reverted"

    @property
    def is_final(self) -> bool:
        return self not in (Outcome.PLANNED, Outcome.IN_PROGRESS)


class Status(StrEnum):
    """An evacuation's status."""

    PLANNED = "PLANNED"
    IN_PROGRESS = "IN_PROGRESS"
    EVACUATED = "EVACUATED"
    PARTIAL = "PARTIAL"
    """Nothing failed, but not every lever is in effect yet: a shift ARC does not show applied,
    a Route 53 change not INSYNC, or a step a guard skipped. Holds the AZ; reconciled."""
    DEGRADED = "DEGRADED"
    REFUSED = "REFUSED"
    RECOVERING = "RECOVERING"
    RECOVERED = "RECOVERED"
    ABANDONED = "ABANDONED"
    """Released by an operator without a full recovery; the changes that remain are listed."""

    @property
    def is_active(self) -> bool:
        """Active evacuations hold the AZ: they count against max_evacuated_azs."""
        return self in (
            Status.IN_PROGRESS,
            Status.EVACUATED,
            Status.PARTIAL,
            Status.DEGRADED,
            Status.RECOVERING,
        )


class Trigger(StrEnum):
    ALARM = "alarm"
    MANUAL = "manual"
    PRACTICE = "practice"
    RECONCILE = "reconcile"
    AUTOSHIFT = "autoshift"
    """AWS started a zonal autoshift away from the AZ (ARC autoshift observer notification,
    confirmed with ListAutoshifts) and `triggers.aws_autoshift` is `evacuate`."""


@dataclass(frozen=True)
class StepKey:
    """Identifies one step of an evacuation: kind plus resource is unique within a plan."""

    kind: StepKind
    resource: str

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.resource}"

    @classmethod
    def parse(cls, text: str) -> StepKey:
        kind, _, resource = text.partition(":")
        return cls(StepKind(kind), resource)


def phase_of(kind: StepKind) -> Phase:
    """The phase a kind of step runs in, as its resource kind declares it."""
    from evacuation.kinds import spec_of  # noqa: PLC0415 - the kinds import this module

    return spec_of(kind).phase


@dataclass(frozen=True)
class PlannedStep:
    """One intended change, decided from an observation: what is there, and what we want."""

    key: StepKey
    current: JsonValue
    intended: JsonValue
    needs_change: bool
    skip_reason: str | None = None
    gap: bool = False
    """A skip that leaves part of the AZ's traffic or capacity in place (a guard decided it): the
    evacuation is PARTIAL, not EVACUATED. A resource not in the AZ at all is no gap."""
    note: str | None = None
    """What a human should know about this step that is not an error (kept as its reason)."""
    settled: bool = True
    """False when the resource is as intended in configuration but AWS does not show the effect
    yet (a shift that ARC does not report applied): the step is verified, not assumed done."""
    error: str | None = None
    """The resource could not be observed: the step fails with this error, others go on."""
    ours: bool = False
    """AWS itself shows this evacuation made the change (a shift whose comment carries our id)."""
    group: str = ""
    """Steps that share a group run in one worker in plan order, and each kind's steps reach
    its runner as one batch (an ASG's steps; a hosted zone's records; all zonal shifts)."""

    @property
    def phase(self) -> Phase:
        return phase_of(self.key.kind)

    @property
    def kind(self) -> StepKind:
        return self.key.kind

    @property
    def resource(self) -> str:
        return self.key.resource


@dataclass(frozen=True)
class Plan:
    """The ordered steps of one evacuation, data plane first. Built without changing anything."""

    workload: str
    az_id: str
    steps: tuple[PlannedStep, ...]
    refusals: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    """For a human at once, without refusing (an AWS autoshift away from another AZ on a resource
    azevac already holds: ARC-3 says page, never cancel automatically)."""
    out_of_service: Mapping[str, str] = field(default_factory=dict)
    """Other AZs already out of service by a lever azevac did not pull in this plan (another
    party's shift, a weight already 0): AZ ID -> what shows it. They count against
    max_evacuated_azs and min_healthy_azs like azevac's own evacuations."""

    @property
    def partial(self) -> bool:
        """Some step was skipped by a guard: the AZ cannot be fully evacuated this time."""
        return any(step.gap for step in self.steps)

    def in_phase(self, phase: Phase) -> tuple[PlannedStep, ...]:
        return tuple(s for s in self.steps if s.phase is phase)


@dataclass(frozen=True)
class StepRecord:
    """What the state store keeps per step. `before` is written once, before the first mutation."""

    key: StepKey
    outcome: Outcome = Outcome.PLANNED
    before: JsonValue = None
    after: JsonValue = None
    error: str | None = None
    reason: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    attempts: int = 0
    applied_at: datetime | None = None
    """Set by a revert: when the apply finished (`finished_at` is then the revert's end)."""
    revert_started_at: datetime | None = None

    @property
    def phase(self) -> Phase:
        return phase_of(self.key.kind)

    @property
    def changed_something(self) -> bool:
        """True when this evacuation may have mutated the resource (so recover must look at it)."""
        return self.before is not None and self.outcome in (
            Outcome.IN_PROGRESS,
            Outcome.APPLIED,
            Outcome.PENDING,
            Outcome.FAILED,
        )

    def evolve(self, **changes: Any) -> StepRecord:
        return replace(self, **changes)


@dataclass(frozen=True)
class Notice:
    """A notification about an evacuation, as sent (or not) to the humans' topic."""

    at: datetime
    subject: str
    delivered: bool
    error: str | None = None


@dataclass(frozen=True)
class Evacuation:
    """The evacuation record: one per (workload, AZ) while active."""

    evacuation_id: str
    workload: str
    az_id: str
    status: Status
    trigger: Trigger
    reason: str
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None
    recovered_at: datetime | None = None
    data_plane_seconds: float | None = None
    practice_until: datetime | None = None
    """A practice run: recover automatically at this time (the reconciler enforces it)."""
    stop_alarms: tuple[str, ...] = ()
    """A practice run: recover at once if any of these alarms goes to ALARM."""
    guards: tuple[str, ...] = ()
    """The guards weighed before it started (none for a resume)."""
    steps: tuple[StepRecord, ...] = field(default=())
    notices: tuple[Notice, ...] = field(default=())
    """The notifications sent about it, in order."""

    def evolve(self, **changes: Any) -> Evacuation:
        return replace(self, **changes)

    def step(self, key: StepKey) -> StepRecord | None:
        return next((s for s in self.steps if s.key == key), None)
