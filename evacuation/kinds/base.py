"""What a resource kind declares, once, and what the engine asks of it.

A kind (`evacuation/kinds/<kind>.py`) is one module: its config section, the steps it plans
with their phase, tier and AWS lane, how it reads AWS (batched, through its gateway in
`evacuation/aws/`), how it plans (pure), its runners (apply / verify / revert), the readiness
problems it can find and the IAM actions it needs. `evacuation.kinds.KINDS` lists them; the
controller, executor, planner, readiness, drill checks and reliability campaigns iterate over
that list and name no kind (issue 15 §1; Cloud Custodian's `resources.register` in STYLE.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum, StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from evacuation.errors import EvacuationError
from evacuation.model import Evacuation, Phase, PlannedStep, StepKey, StepKind, StepRecord

if TYPE_CHECKING:
    from evacuation.config import Config
    from evacuation.observe import Gateways, Observation
    from evacuation.steps.base import RunContext, StepRunner

R = TypeVar("R")


class Tier(IntEnum):
    """The evacuation order within each phase, stated once (issue 15 §1).

    Data plane, in this order of tiers: ARC routing controls, zonal shifts of load balancers,
    zonal shifts of EKS clusters and Auto Scaling groups (aws-semantics EKS-1: the ingress load
    balancer first, then the cluster), Route 53 weights. Its lanes (one per AWS service) run side
    by side and never wait on each other: a zonal shift never waits on Route 53 (R53-4). Within a
    lane, a lower tier is started before a higher one.

    Control plane, tier after tier: dependencies first (database and cache failovers: healthy
    AZs stop depending on the impaired one), then capacity (Auto Scaling, ECS). The control
    plane starts only once every data-plane step is final.
    """

    ROUTING_CONTROLS = 10
    LOAD_BALANCER_SHIFTS = 20
    CLUSTER_AND_GROUP_SHIFTS = 21
    WEIGHTS = 30
    DEPENDENCIES = 110
    CAPACITY = 120


SEQUENTIAL_TIERS: Mapping[Phase, bool] = {Phase.DATA_PLANE: False, Phase.CONTROL_PLANE: True}
"""Whether a phase runs its tiers one after the other (else its lanes run side by side)."""


class Stage(StrEnum):
    """The recovery order (aws-semantics REC-1), stage after stage."""

    CAPACITY = "capacity"
    """Capacity levers back (groups' and EKS clusters' own zonal shifts cancelled; subnets or AZs
    restored, then processes resumed; ECS subnets restored); then recover waits for the AZ's
    capacity (aws-semantics REC-1 steps 1-3, EKS-1: the cluster before its load balancer)."""
    TRAFFIC = "traffic"
    """Load balancer shifts cancelled, Route 53 weights restored, routing controls On."""
    PRESCALE = "prescale"
    """Prescaled desired capacity put back, once traffic is back in the AZ."""
    DEPENDENCIES = "dependencies"
    """Database writers and cache primaries failed back, only where the config says so
    (`fail_back`), once everything else is back."""


@dataclass(frozen=True)
class StepSpec:
    """One kind of step: where it runs and how it is undone."""

    kind: StepKind
    phase: Phase
    runner: StepRunner
    lane: str
    """The AWS service (boto3 name) whose bounded pool and token bucket the step uses."""
    tier: Callable[[str], Tier]
    """The step's tier, from its resource (a zonal shift's depends on what it shifts)."""
    stage: Callable[[StepKey], Stage]
    """The recovery stage that reverts it."""
    group: Callable[[StepKey], str] = str
    """Records that share a group are reverted by one worker, in reverse order of application."""
    independent: bool = False
    """Each step of a batch stands alone (no call applies two): a large batch is recorded and
    applied chunk by chunk (executor.WRITE_AHEAD_CHUNK)."""


def fixed(value: Any) -> Callable[[Any], Any]:
    return lambda _: value


@dataclass(frozen=True)
class Permission:
    """IAM actions a kind's calls need, as one statement of the stack's policy (by Sid)."""

    sid: str
    actions: tuple[str, ...]


@dataclass(frozen=True)
class PlanInput:
    """What a kind plans from: pure data, no I/O."""

    config: Config
    observation: Observation
    az_id: str
    evacuation_id: str | None
    touched: Mapping[StepKey, StepRecord]
    """Records of steps an earlier run of this evacuation may have changed: they converge to the
    intent recorded before that run acted, never skipped."""


@dataclass(frozen=True)
class KindPlan:
    steps: Sequence[PlannedStep] = ()
    refusals: Sequence[str] = ()
    warnings: Sequence[str] = ()
    out_of_service: Mapping[str, str] = field(default_factory=dict)
    """Other AZs this kind sees out of service by a lever not pulled by this plan."""


@dataclass
class Upkeep:
    """What the reconciler did to keep one evacuation's levers in force (ARC-8)."""

    extended: list[str] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)
    lost: dict[StepKey, str] = field(default_factory=dict)
    """Steps whose lever is no longer in force (expired, cancelled by someone): re-applied."""


class CapacityCheck:
    """What recover waits for before traffic comes back: the AZ's capacity of one kind."""

    def missing(self, gateways: Gateways, az_id: str) -> list[str]:
        """One line per resource whose capacity is not back yet; empty when all is back."""
        raise NotImplementedError


class Kind:
    """A resource kind. Subclasses set the class attributes and override what they use."""

    name: ClassVar[str]
    section: ClassVar[str]
    """Its key in the config (one of Config's fields)."""
    config_types: ClassVar[Mapping[str, Any]]
    """The names Config's annotation of the section uses -> the types (in this module)."""
    steps: ClassVar[tuple[StepSpec, ...]]
    permissions: ClassVar[tuple[Permission, ...]] = ()

    def configured(self, config: Config) -> bool:
        return bool(getattr(config, self.section, None))

    def read(self, config: Config, gateways: Gateways) -> Any:
        """Its part of the observation: every read it needs, batched; a failed read holds the
        error (only that resource's steps fail)."""
        raise NotImplementedError

    def plan(self, given: PlanInput) -> KindPlan:
        raise NotImplementedError

    def readiness(self, config: Config, observation: Observation) -> list[str]:
        return []

    def configured_az_ids(self, config: Config) -> set[str]:
        """AZ IDs its config section names."""
        return set()

    def az_ids(self, config: Config, observation: Observation) -> set[str]:
        """AZ IDs the workload's resources of this kind are in, as read."""
        return set()

    def start_checks(
        self, config: Config, observation: Observation, az_id: str, automatic: bool
    ) -> tuple[list[str], list[str]]:
        """(refusals, notes) for starting a new evacuation of `az_id`."""
        return [], []

    def holding_alerts(self, observation: Observation, az_id: str) -> list[str]:
        """For a human, while azevac holds `az_id`."""
        return []

    def real_signal(self, observation: Observation) -> str | None:
        """A real event AWS shows (a practice run yields to it), or None."""
        return None

    def plan_note(self, steps: Sequence[PlannedStep]) -> str | None:
        """Said with a dry-run plan that has steps of this kind."""
        return None

    def upkeep(self, ctx: RunContext, evacuation: Evacuation, now: datetime) -> Upkeep:
        """Keep this evacuation's levers of this kind in force (reconciler, first thing)."""
        return Upkeep()

    def capacity_check(self, evacuation: Evacuation) -> CapacityCheck | None:
        """What recover must wait for before traffic comes back, or None."""
        return None

    def restored_part(self, image: Any) -> Any:
        """The part of a step's before-image that recover puts back (`azevac verify --recovered`
        compares it): everything, unless the image also holds what was observed alongside (a
        count of serving instances, ARC's applied weight), which AWS moves on its own."""
        return image

    def instances(self, observation: Observation) -> list[tuple[str, str | None, str]]:
        """This kind's EC2 capacity, as read: (instance id, AZ ID or None, AZ name). `azevac
        verify` checks none was launched into the evacuated AZ since the evacuation began."""
        return []


def zone_ids(gateways: Gateways) -> Mapping[str, str] | EvacuationError:
    """AZ name -> AZ ID (RDS and ElastiCache report names), or the error of the read."""
    try:
        return gateways.ec2.zone_ids_by_name()
    except EvacuationError as exc:
        return exc


def readable(
    key: StepKey,
    what: str,
    observed: R | EvacuationError,
    zones: Mapping[str, str] | EvacuationError,
) -> tuple[R, Mapping[str, str]] | PlannedStep:
    """The resource and the zone map as read, or the failed step of a resource (`what`, as a
    human names it) whose read or the zone map's failed."""
    if isinstance(observed, EvacuationError):
        return failed_step(key, EvacuationError(f"{what}: {observed}"), str(key))
    if isinstance(zones, EvacuationError):
        error = EvacuationError(f"{what}: cannot map AZ names to IDs: {zones}")
        return failed_step(key, error, str(key))
    return observed, zones


def failed_step(key: StepKey, error: EvacuationError, group: str) -> PlannedStep:
    """A step whose resource could not be observed: it fails with the error, others go on."""
    return PlannedStep(key, None, None, needs_change=False, error=str(error), group=group)
