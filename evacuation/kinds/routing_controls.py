"""ARC routing controls (`routing_controls`): one On/Off control per AZ, behind the Route 53 health
checks of that AZ's records; evacuating turns the AZ's control Off.

This is the statically stable DNS lever (aws-semantics R53-4, RC-1): the state lives in the ARC
cluster's data plane, five Regional endpoints of which "at least three out of the five" are
always accessible, and needs no call to the Route 53 control plane in us-east-1, which a weight
edit does (https://docs.aws.amazon.com/r53recovery/latest/dg/routing-control.update.api.html).
It runs first in the data plane (`Tier.ROUTING_CONTROLS`), in its own lane.

- `UpdateRoutingControlState` to `Off`, through each Regional endpoint in turn until one
  answers (`aws/routing_control.py`); verified with `GetRoutingControlState`.
- ARC's safety rules guard every change (an assertion rule such as "at least 2 of 3 On"):
  a refusal (ValidationException or ConflictException) fails the step with ARC's words, naming
  the rule. azevac never passes `SafetyRulesToOverride`.
- A control already Off is unchanged, and recover leaves it Off (it was not azevac's change).
- Recover (traffic stage, after capacity is back) turns it back On.
- Other AZs whose control is Off count as out of service for the evacuation guards.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, field_validator

from evacuation.aws.errors import AwsApiError
from evacuation.aws.routing_control import Endpoint, RoutingControlGateway
from evacuation.config import AzId, NonEmptyStr, Strict
from evacuation.errors import EvacuationError
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
from evacuation.reads import guarded
from evacuation.steps.base import Failed, Reverted, RunContext, Verdict, Verified

if TYPE_CHECKING:
    from evacuation.config import Config
    from evacuation.observe import Gateways, Observation

ON, OFF = "On", "Off"
REFUSALS = frozenset({"ValidationException", "ConflictException"})
"""What ARC answers when a safety rule (or a concurrent change) refuses an update."""

# -- config ---------------------------------------------------------------------------------------


class ClusterEndpointConfig(Strict):
    endpoint: NonEmptyStr
    """A Regional endpoint URL from DescribeCluster's ClusterEndpoints."""
    region: NonEmptyStr

    @field_validator("endpoint")
    @classmethod
    def _https(cls, url: str) -> str:
        if not url.startswith("https://"):
            raise ValueError("a cluster endpoint is an https:// URL (DescribeCluster)")
        return url


class RoutingControlsConfig(Strict):
    controls: dict[AzId, NonEmptyStr] = Field(min_length=2)
    """AZ ID -> routing control ARN."""
    cluster_endpoints: list[ClusterEndpointConfig] = Field(min_length=1)
    """The cluster's Regional endpoints (all five: they are tried in turn)."""

    @field_validator("controls")
    @classmethod
    def _arns(cls, controls: dict[str, str]) -> dict[str, str]:
        for az, arn in controls.items():
            if not arn.startswith("arn:") or "/routingcontrol/" not in arn:
                raise ValueError(f"{az}: {arn!r} is not a routing control ARN")
        if len(set(controls.values())) != len(controls):
            raise ValueError("two AZs share one routing control")
        return controls

    def endpoints(self) -> list[Endpoint]:
        return [Endpoint(e.endpoint, e.region) for e in self.cluster_endpoints]


# -- reads ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RoutingControlsObservation:
    states: Mapping[str, str | EvacuationError] = field(default_factory=dict)
    """AZ ID -> its control's state."""


def _gateway(config: Config, gateways: Gateways) -> RoutingControlGateway:
    section = config.routing_controls
    endpoints = section.endpoints() if section is not None else []
    return gateways.of(RoutingControlGateway).use(endpoints)


# -- plan -----------------------------------------------------------------------------------------


def _step(
    az_id: str, arn: str, state: str | EvacuationError, recorded: StepRecord | None
) -> PlannedStep:
    key = StepKey(StepKind.ROUTING_CONTROL, arn)
    if isinstance(state, EvacuationError):
        return failed_step(key, EvacuationError(f"routing control {arn}: {state}"), str(key))
    current = {"az": az_id, "state": state}
    intended = {"az": az_id, "state": OFF}
    after = recorded.after if recorded is not None else None
    if isinstance(after, dict) and after.get("state") == OFF:
        return PlannedStep(key, current, intended, state != OFF)
    if state == OFF:
        note = f"routing control for {az_id} is Off already (not by this evacuation)"
        return PlannedStep(key, current, current, False, note=note)
    note = f"UpdateRoutingControlState {az_id} Off (ARC cluster data plane, no Route 53 API call)"
    return PlannedStep(key, current, intended, True, note=note)


# -- apply, verify, revert ------------------------------------------------------------------------


def _refusal(arn: str, state: str, exc: EvacuationError) -> EvacuationError:
    if isinstance(exc, AwsApiError) and exc.code in REFUSALS:
        return EvacuationError(
            f"ARC refused turning {arn} {state} ({exc}); a safety rule or another change "
            "stands in the way: azevac never overrides safety rules"
        )
    return exc


class RoutingControlRunner:
    def apply(
        self, ctx: RunContext, steps: Sequence[PlannedStep]
    ) -> Mapping[StepKey, JsonValue | Failed]:
        gateway = _gateway(ctx.config, ctx.gateways)
        afters: dict[StepKey, JsonValue | Failed] = {}
        for step in steps:
            try:
                gateway.set_state(step.resource, OFF)
                afters[step.key] = dict(step.intended)
            except EvacuationError as exc:
                afters[step.key] = Failed(_refusal(step.resource, OFF, exc))
        return afters

    def verify(
        self, ctx: RunContext, steps: Sequence[PlannedStep], afters: Mapping[StepKey, Any]
    ) -> Mapping[StepKey, Verified]:
        """Converged when GetRoutingControlState reads Off (the cluster answers its consensus
        view)."""
        gateway = _gateway(ctx.config, ctx.gateways)
        verdicts: dict[StepKey, Verified] = {}
        for step in steps:

            def check(step: PlannedStep = step) -> Verified:
                if gateway.get_state(step.resource) == OFF:
                    return Verified(Verdict.CONVERGED)
                return Verified(Verdict.PENDING, "UpdateRoutingControlState accepted; reads On")

            verdicts[step.key] = ctx.poll(check)
        return verdicts

    def revert(self, ctx: RunContext, records: Sequence[StepRecord]) -> Mapping[StepKey, Reverted]:
        gateway = _gateway(ctx.config, ctx.gateways)
        done: dict[StepKey, Reverted] = {}
        for record in records:
            before: Any = record.before
            if not isinstance(before, dict) or before.get("state") != ON:
                done[record.key] = Reverted(Outcome.UNCHANGED, "it was Off before: left Off")
                continue
            try:
                if gateway.get_state(record.key.resource) == ON:
                    done[record.key] = Reverted(Outcome.UNCHANGED, "On already")
                    continue
                gateway.set_state(record.key.resource, ON)
                done[record.key] = Reverted(Outcome.REVERTED, after={**before})
            except EvacuationError as exc:
                done[record.key] = Reverted(
                    Outcome.FAILED, str(_refusal(record.key.resource, ON, exc))
                )
        return done


# -- the kind -------------------------------------------------------------------------------------


class RoutingControlsKind(Kind):
    name = "routing_controls"
    section = "routing_controls"
    config_types: ClassVar[Mapping[str, Any]] = {"RoutingControlsConfig": RoutingControlsConfig}
    steps = (
        StepSpec(
            StepKind.ROUTING_CONTROL,
            Phase.DATA_PLANE,
            RoutingControlRunner(),
            lane="route53-recovery-cluster",
            tier=fixed(Tier.ROUTING_CONTROLS),
            stage=fixed(Stage.TRAFFIC),
        ),
    )
    permissions = (
        Permission(
            "OurRoutingControls",
            (
                "route53-recovery-cluster:GetRoutingControlState",
                "route53-recovery-cluster:UpdateRoutingControlState",
            ),
        ),
    )

    def part(self, observation: Observation) -> RoutingControlsObservation:
        found = observation.parts.get(self.name)
        return (
            found if isinstance(found, RoutingControlsObservation) else RoutingControlsObservation()
        )

    def read(self, config: Config, gateways: Gateways) -> RoutingControlsObservation:
        section = config.routing_controls
        if section is None:
            return RoutingControlsObservation()
        gateway = _gateway(config, gateways)
        states: dict[str, str | EvacuationError] = {}
        for az, arn in section.controls.items():
            states[az] = guarded(partial(gateway.get_state, arn))
        return RoutingControlsObservation(states)

    def plan(self, given: PlanInput) -> KindPlan:
        section = given.config.routing_controls
        if section is None:
            return KindPlan()
        states = self.part(given.observation).states
        out = {
            az: f"its ARC routing control {section.controls[az]} is Off"
            for az, state in states.items()
            if az != given.az_id and state == OFF
        }
        arn = section.controls.get(given.az_id)
        if arn is None:
            return KindPlan(out_of_service=out)
        state = states.get(given.az_id, EvacuationError("not read"))
        recorded = given.touched.get(StepKey(StepKind.ROUTING_CONTROL, arn))
        return KindPlan([_step(given.az_id, arn, state, recorded)], out_of_service=out)

    def readiness(self, config: Config, observation: Observation) -> list[str]:
        section = config.routing_controls
        if section is None:
            return []
        problems = []
        if len(section.cluster_endpoints) < 3:
            problems.append(
                f"routing_controls: {len(section.cluster_endpoints)} cluster endpoint(s) "
                "configured; ARC keeps three of its five available at any time: list all five"
            )
        for az, state in self.part(observation).states.items():
            if isinstance(state, EvacuationError):
                problems.append(f"routing control for {az}: cannot read it ({state})")
            elif state == OFF:
                problems.append(f"routing control for {az} is Off: that AZ gets no DNS traffic")
        return problems

    def configured_az_ids(self, config: Config) -> set[str]:
        section = config.routing_controls
        return set(section.controls) if section is not None else set()


KIND = RoutingControlsKind()
