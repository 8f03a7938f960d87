"""ECS services on awsvpc (`ecs`): the impaired AZ's subnets are removed from each service's
`networkConfiguration.awsvpcConfiguration.subnets`, so ECS replaces the AZ's tasks with tasks in
the other AZs; put back on recover.

AWS (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_UpdateService.html): a change
of the service's network configuration "triggers a new service deployment" that replaces every
task; the deployment's progress is `deployments[]` in DescribeServices, whose PRIMARY deployment
has `rolloutState` IN_PROGRESS, then COMPLETED once it reached steady state, or FAILED
(https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-rollout-state.html).
`availabilityZoneRebalancing` "doesn't trigger a new service deployment"; an update without it
keeps the service's value (aws-semantics §5.3).

- **Control plane, capacity tier** (aws-semantics ECS-1): a task-replacing step after the
  data plane (the ALB's zonal shift moves the traffic), never instead of it. It needs the ECS
  control plane and capacity in the other AZs to start the replacement tasks.
- **Verify** reads the service back: its subnets as intended, and the PRIMARY deployment
  COMPLETED with runningCount at desiredCount (one deployment left). Until then, within the
  verify timeout and the deadline, the step is PENDING (the evacuation PARTIAL; the reconciler
  reads it back again). A FAILED rollout (the circuit breaker) diverges.
- **AZ rebalancing** (`disable_rebalancing`, default true): recorded, turned DISABLED in the
  same UpdateService, restored on recover. *Inferred*: the rebalancing page
  (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-rebalancing.html) says
  ECS stops and starts tasks to even them out over the service's AZs; no AWS sentence says
  whether it keeps out of an AZ whose subnets were removed while its tasks drain, nor whether it
  starts tasks in an AZ it judges healthy again during a gray failure. Safer choice, as with
  Auto Scaling's AZRebalance (ASG-1, ASG-4): no rebalancing while the AZ is out; on recover the
  subnets come back first (in the same call) and rebalancing, if it was on, evens the tasks out
  again.
- **Last subnet**: a service whose subnets are all in the AZ is skipped with the reason (the
  evacuation PARTIAL), like an Auto Scaling group's.
- **Recover** (capacity stage): the recorded subnets restored (only ours, when someone changed
  them since), the recorded rebalancing restored if it is still ours; then recover waits for the
  restored services' deployments to reach steady state before traffic comes back (REC-1).
- Not here: services not on awsvpc (bridge/host networking on EC2) place tasks on their
  container instances, whose capacity is their Auto Scaling group's (the autoscaling kind).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import structlog
from pydantic import Field, StringConstraints

from evacuation.aws.ecs import EcsGateway, Service
from evacuation.config import Strict, listed_once
from evacuation.errors import EvacuationError
from evacuation.kinds.base import (
    CapacityCheck,
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
from evacuation.model import (
    Evacuation,
    JsonValue,
    Outcome,
    Phase,
    PlannedStep,
    StepKey,
    StepKind,
    StepRecord,
)
from evacuation.reads import by_key, guarded
from evacuation.steps.base import Failed, Reverted, RunContext, Verdict, Verified

if TYPE_CHECKING:
    from evacuation.config import Config
    from evacuation.observe import Gateways, Observation

log = structlog.get_logger(__name__)

ServiceRef = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,255}/[A-Za-z0-9_-]{1,255}$")
]
DISABLED = "DISABLED"

# -- config ---------------------------------------------------------------------------------------


class EcsConfig(Strict):
    services: Annotated[list[ServiceRef], listed_once("service")] = Field(min_length=1)
    """`<cluster name>/<service name>` of services on awsvpc networking."""
    disable_rebalancing: bool = True
    """Turn availabilityZoneRebalancing DISABLED while the AZ is out (restored on recover)."""


# -- reads ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EcsObservation:
    services: Mapping[str, Service | EvacuationError] = field(default_factory=dict)
    subnet_az: Mapping[str, str] | EvacuationError = field(default_factory=dict)


def _read(gateways: Gateways, refs: list[str]) -> EcsObservation:
    services = by_key(
        refs, gateways.of(EcsGateway).describe_services, "ECS service not found (or INACTIVE)"
    )
    subnets = {s for svc in services.values() if isinstance(svc, Service) for s in svc.subnets}
    subnet_az = guarded(lambda: gateways.ec2.subnet_zone_ids(subnets)) if subnets else {}
    return EcsObservation(services, subnet_az)


# -- plan -----------------------------------------------------------------------------------------


def _image(service: Service) -> dict[str, Any]:
    return {
        "subnets": list(service.subnets),
        "network": dict(service.network),
        "rebalancing": service.rebalancing,
        "desired": service.desired,
        "running": service.running,
    }


def no_subnet_left(ref: str, az_id: str) -> str:
    return (
        f"ECS service {ref} has subnets only in {az_id}; removing them would leave it nowhere "
        "to run tasks. Add subnets in other AZs first"
    )


def _service_step(
    ref: str,
    observed: Service | EvacuationError,
    subnet_az: Mapping[str, str] | EvacuationError,
    az_id: str,
    *,
    section: EcsConfig,
    recorded: StepRecord | None,
) -> PlannedStep:
    key = StepKey(StepKind.ECS_SUBNETS, ref)
    group = f"ecs:{ref}"
    if isinstance(observed, EvacuationError):
        return failed_step(key, EvacuationError(f"ECS service {ref}: {observed}"), group)
    current = _image(observed)
    after = recorded.after if recorded is not None else None
    if isinstance(after, dict) and "subnets" in after:
        # Resumed: converge to the intent recorded before the first run acted.
        intended = {k: after[k] for k in ("subnets", "rebalancing") if k in after}
        differs = set(observed.subnets) != set(intended["subnets"]) or (
            observed.rebalancing != intended.get("rebalancing", observed.rebalancing)
        )
        return PlannedStep(key, current, intended, differs, settled=observed.steady, group=group)
    if not observed.subnets:
        note = f"ECS service {ref} is not on awsvpc networking: its capacity is its hosts'"
        return PlannedStep(key, current, current, False, skip_reason=note, group=group)
    if isinstance(subnet_az, EvacuationError):
        error = EvacuationError(f"ECS service {ref}: subnets: {subnet_az}")
        return failed_step(key, error, group)
    unknown = [s for s in observed.subnets if s not in subnet_az]
    if unknown:
        return failed_step(
            key, EvacuationError(f"ECS service {ref}: subnets not found: {unknown}"), group
        )
    in_az = [s for s in observed.subnets if subnet_az[s] == az_id]
    if not in_az:
        reason = f"the service has no subnet in {az_id}"
        return PlannedStep(key, current, current, False, skip_reason=reason, group=group)
    remaining = [s for s in observed.subnets if s not in in_az]
    if not remaining:
        return PlannedStep(
            key, current, None, False, skip_reason=no_subnet_left(ref, az_id), gap=True, group=group
        )
    rebalancing = DISABLED if section.disable_rebalancing else observed.rebalancing
    intended = {"subnets": remaining, "rebalancing": rebalancing}
    note = (
        f"remove {in_az} ({az_id}) from the service's subnets: a deployment replaces its tasks"
        + (
            f"; AZ rebalancing {observed.rebalancing} -> {DISABLED}"
            if rebalancing != observed.rebalancing
            else ""
        )
    )
    return PlannedStep(key, current, intended, True, note=note, group=group)


# -- apply, verify, revert ------------------------------------------------------------------------


def _judge(service: Service | None, after: Mapping[str, Any]) -> Verified:
    if service is None:
        return Verified(Verdict.DIVERGED, "service not found")
    if set(service.subnets) != set(after["subnets"]):
        return Verified(Verdict.DIVERGED, f"service reads back subnets {list(service.subnets)}")
    if "rebalancing" in after and service.rebalancing != after["rebalancing"]:
        return Verified(Verdict.DIVERGED, f"AZ rebalancing reads back {service.rebalancing}")
    if service.failed:
        primary = service.primary
        deployment = primary.deployment_id if primary else "?"
        return Verified(Verdict.DIVERGED, f"deployment {deployment} FAILED its rollout")
    if service.steady:
        return Verified(Verdict.CONVERGED, after={**after, "running": service.running})
    return Verified(Verdict.PENDING, _progress(service))


def _progress(service: Service) -> str:
    primary = service.primary
    if primary is None:
        return "UpdateService accepted; no PRIMARY deployment yet"
    return (
        f"deployment {primary.deployment_id} {primary.rollout_state}: {service.running} of "
        f"{service.desired} tasks running, {len(service.deployments)} deployment(s)"
    )


class SubnetsRunner:
    """One UpdateService per service (subnets and AZ rebalancing together), read back in one
    DescribeServices per cluster and 10 services."""

    def apply(
        self, ctx: RunContext, steps: Sequence[PlannedStep]
    ) -> Mapping[StepKey, JsonValue | Failed]:
        gateway = ctx.gateways.of(EcsGateway)
        afters: dict[StepKey, JsonValue | Failed] = {}
        for step in steps:
            current: Any = step.current
            intended: Any = step.intended
            try:
                gateway.update_network(
                    step.resource,
                    current.get("network", {}),
                    intended["subnets"],
                    intended.get("rebalancing")
                    if intended.get("rebalancing") != current.get("rebalancing")
                    else None,
                )
                afters[step.key] = dict(intended)
            except EvacuationError as exc:
                afters[step.key] = Failed(exc)
        return afters

    def verify(
        self, ctx: RunContext, steps: Sequence[PlannedStep], afters: Mapping[StepKey, Any]
    ) -> Mapping[StepKey, Verified]:
        gateway = ctx.gateways.of(EcsGateway)
        waiting = {step.resource: step.key for step in steps}
        verdicts: dict[StepKey, Verified] = {}
        last: dict[StepKey, Verified] = {}

        def check() -> Verified:
            services = gateway.describe_services(list(waiting))
            for ref in list(waiting):
                verdict = _judge(services.get(ref), afters[waiting[ref]])
                if verdict.verdict is Verdict.PENDING:
                    last[waiting[ref]] = verdict
                else:
                    verdicts[waiting.pop(ref)] = verdict
            return Verified(Verdict.PENDING if waiting else Verdict.CONVERGED)

        ctx.poll(check)
        return {
            step.key: verdicts.get(step.key)
            or last.get(step.key)
            or Verified(Verdict.PENDING, "deployment not at steady state yet")
            for step in steps
        }

    def revert(self, ctx: RunContext, records: Sequence[StepRecord]) -> Mapping[StepKey, Reverted]:
        gateway = ctx.gateways.of(EcsGateway)
        services = gateway.describe_services(r.key.resource for r in records)
        return {r.key: _restore(gateway, r, services.get(r.key.resource)) for r in records}


def _restore(gateway: EcsGateway, record: StepRecord, service: Service | None) -> Reverted:
    before: Any = record.before if isinstance(record.before, dict) else {}
    ours: Any = record.after if isinstance(record.after, dict) else {}
    if service is None:
        return Reverted(Outcome.SKIPPED, "the service no longer exists: nothing to put back")
    original = list(before.get("subnets", []))
    ours_subnets = set(ours.get("subnets", original))
    current = list(service.subnets)
    reasons = []
    subnets: list[str] | None = None
    if set(current) != set(original):
        if set(current) == ours_subnets:
            subnets = original
        else:
            # Someone changed them since: add back only what we removed.
            removed = [s for s in original if s not in ours_subnets]
            subnets = current + [s for s in removed if s not in current]
            reasons.append("subnets changed since the evacuation; added back only ours")
    rebalancing = None
    was, set_to = before.get("rebalancing"), ours.get("rebalancing")
    if was and set_to and was != set_to:
        if service.rebalancing == set_to:
            rebalancing = str(was)
        elif service.rebalancing != was:
            reasons.append(f"AZ rebalancing is {service.rebalancing}, set since; left as it is")
    if subnets is None and rebalancing is None:
        return Reverted(Outcome.UNCHANGED, "; ".join(reasons) or "already as before")
    gateway.update_network(record.key.resource, service.network, subnets, rebalancing)
    after = {
        "subnets": subnets if subnets is not None else current,
        "rebalancing": rebalancing or service.rebalancing,
    }
    return Reverted(Outcome.REVERTED, "; ".join(reasons) or None, after=after)


class _ServicesBack(CapacityCheck):
    """Recover waits until each restored service's deployment reached steady state (its tasks
    are running again over all its subnets, the AZ's too) before traffic comes back."""

    def __init__(self, refs: Sequence[str]) -> None:
        self._refs = list(refs)

    def missing(self, gateways: Gateways, az_id: str) -> list[str]:
        services = gateways.of(EcsGateway).describe_services(self._refs)
        lines = []
        for ref in self._refs:
            service = services.get(ref)
            if service is not None and not service.steady:
                lines.append(f"ECS service {ref}: {_progress(service)}")
        return lines


# -- the kind -------------------------------------------------------------------------------------


class EcsKind(Kind):
    name = "ecs"
    section = "ecs"
    config_types: ClassVar[Mapping[str, Any]] = {"EcsConfig": EcsConfig}
    steps = (
        StepSpec(
            StepKind.ECS_SUBNETS,
            Phase.CONTROL_PLANE,
            SubnetsRunner(),
            lane="ecs",
            tier=fixed(Tier.CAPACITY),
            stage=fixed(Stage.CAPACITY),
            group=lambda key: f"ecs:{key.resource}",
        ),
    )
    permissions = (
        Permission("ReadOnlyNoResourceLevel", ("ecs:DescribeServices", "ec2:DescribeSubnets")),
        Permission("OurEcsServices", ("ecs:UpdateService",)),
    )

    def part(self, observation: Observation) -> EcsObservation:
        found = observation.parts.get(self.name)
        return found if isinstance(found, EcsObservation) else EcsObservation()

    def read(self, config: Config, gateways: Gateways) -> EcsObservation:
        if config.ecs is None:
            return EcsObservation()
        return _read(gateways, list(config.ecs.services))

    def plan(self, given: PlanInput) -> KindPlan:
        section = given.config.ecs
        if section is None:
            return KindPlan()
        part = self.part(given.observation)
        steps = [
            _service_step(
                ref,
                part.services[ref],
                part.subnet_az,
                given.az_id,
                section=section,
                recorded=given.touched.get(StepKey(StepKind.ECS_SUBNETS, ref)),
            )
            for ref in section.services
        ]
        return KindPlan(steps)

    def readiness(self, config: Config, observation: Observation) -> list[str]:
        part = self.part(observation)
        subnet_az = part.subnet_az if not isinstance(part.subnet_az, EvacuationError) else {}
        problems = []
        for ref, service in part.services.items():
            if isinstance(service, EvacuationError):
                problems.append(f"ECS service {ref}: cannot read it ({service})")
                continue
            if not service.subnets:
                problems.append(
                    f"ECS service {ref}: not on awsvpc networking; azevac cannot move its tasks "
                    "(its hosts' Auto Scaling group can)"
                )
                continue
            zones = {subnet_az[s] for s in service.subnets if s in subnet_az}
            if len(zones) < 2:
                problems.append(
                    f"ECS service {ref}: subnets only in {sorted(zones)}; evacuating that AZ "
                    "cannot move its tasks"
                )
        return problems

    def az_ids(self, config: Config, observation: Observation) -> set[str]:
        part = self.part(observation)
        if isinstance(part.subnet_az, EvacuationError):
            return set()
        return {
            part.subnet_az[s]
            for service in part.services.values()
            if isinstance(service, Service)
            for s in service.subnets
            if s in part.subnet_az
        }

    def capacity_check(self, evacuation: Evacuation) -> CapacityCheck | None:
        refs = [
            s.key.resource
            for s in evacuation.steps
            if s.key.kind is StepKind.ECS_SUBNETS and s.changed_something
        ]
        return _ServicesBack(refs) if refs else None


KIND = EcsKind()
