"""Auto Scaling: suspend the configured processes, remove the AZ's subnets; revert exactly."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from evacuation.aws.autoscaling import Group
from evacuation.errors import StepFailedError
from evacuation.model import JsonValue, Outcome, PlannedStep, StepKey, StepRecord
from evacuation.steps.base import Reverted, RunContext, Verdict, Verified


def _read(ctx: RunContext, name: str) -> Group:
    group = ctx.gateways.autoscaling.describe_groups([name]).get(name)
    if group is None:
        raise StepFailedError(f"Auto Scaling group {name} not found")
    return group


def _read_back(
    ctx: RunContext,
    steps: Sequence[PlannedStep],
    afters: Mapping[StepKey, Any],
    problem: Callable[[Group, Any], str | None],
) -> Mapping[StepKey, Verified]:
    """Verify each step against its group as read back, in one DescribeAutoScalingGroups for
    the batch; `problem` says what is wrong, or None when the step holds."""
    groups = ctx.gateways.autoscaling.describe_groups(step.resource for step in steps)
    results: dict[StepKey, Verified] = {}
    for step in steps:
        group = groups.get(step.resource)
        if group is None:
            raise StepFailedError(f"Auto Scaling group {step.resource} not found")
        wrong = problem(group, afters[step.key])
        results[step.key] = (
            Verified(Verdict.DIVERGED, wrong) if wrong else Verified(Verdict.CONVERGED)
        )
    return results


class CapacityRunner:
    """Prescale: raise desired capacity so the remaining AZs hold what all AZs held."""

    def apply(self, ctx: RunContext, steps: Sequence[PlannedStep]) -> Mapping[StepKey, JsonValue]:
        for step in steps:
            ctx.gateways.autoscaling.set_desired_capacity(step.resource, step.intended)
        return {step.key: step.intended for step in steps}

    def verify(
        self, ctx: RunContext, steps: Sequence[PlannedStep], afters: Mapping[StepKey, Any]
    ) -> Mapping[StepKey, Verified]:
        def problem(group: Group, after: Any) -> str | None:
            ok = group.desired >= after
            return None if ok else f"desired capacity reads back {group.desired}"

        return _read_back(ctx, steps, afters, problem)

    def revert(self, ctx: RunContext, records: Sequence[StepRecord]) -> Mapping[StepKey, Reverted]:
        results: dict[StepKey, Reverted] = {}
        for record in records:
            current = _read(ctx, record.key.resource).desired
            if current == record.before:
                results[record.key] = Reverted(Outcome.UNCHANGED, "desired is already as before")
            elif current != record.after:
                reason = f"desired is {current}, changed since (scaling policy?); left as it is"
                results[record.key] = Reverted(Outcome.SKIPPED, reason)
            else:
                ctx.gateways.autoscaling.set_desired_capacity(record.key.resource, record.before)
                results[record.key] = Reverted(Outcome.REVERTED, after=record.before)
        return results


class ProcessesRunner:
    """Suspend processes (AZRebalance by default) so the group does not move capacity around."""

    def apply(self, ctx: RunContext, steps: Sequence[PlannedStep]) -> Mapping[StepKey, JsonValue]:
        afters: dict[StepKey, JsonValue] = {}
        for step in steps:
            to_suspend = sorted(set(step.intended) - set(step.current))
            ctx.gateways.autoscaling.suspend_processes(step.resource, to_suspend)
            afters[step.key] = list(step.intended)
        return afters

    def verify(
        self, ctx: RunContext, steps: Sequence[PlannedStep], afters: Mapping[StepKey, Any]
    ) -> Mapping[StepKey, Verified]:
        def problem(group: Group, after: Any) -> str | None:
            missing = set(after) - group.suspended
            return f"still not suspended: {sorted(missing)}" if missing else None

        return _read_back(ctx, steps, afters, problem)

    def revert(self, ctx: RunContext, records: Sequence[StepRecord]) -> Mapping[StepKey, Reverted]:
        results: dict[StepKey, Reverted] = {}
        for record in records:
            # Ours: what we set minus what was already suspended before we came.
            ours = set(record.after or ()) - set(record.before or ())
            still = ours & _read(ctx, record.key.resource).suspended
            if not still:
                results[record.key] = Reverted(Outcome.UNCHANGED, "nothing of ours is suspended")
                continue
            ctx.gateways.autoscaling.resume_processes(record.key.resource, still)
            results[record.key] = Reverted(Outcome.REVERTED, after={"resumed": sorted(still)})
        return results


class SubnetsRunner:
    """Remove the AZ's subnets from VPCZoneIdentifier: no new capacity lands in the AZ."""

    def apply(self, ctx: RunContext, steps: Sequence[PlannedStep]) -> Mapping[StepKey, JsonValue]:
        for step in steps:
            ctx.gateways.autoscaling.set_subnets(step.resource, step.intended)
        return {step.key: list(step.intended) for step in steps}

    def verify(
        self, ctx: RunContext, steps: Sequence[PlannedStep], afters: Mapping[StepKey, Any]
    ) -> Mapping[StepKey, Verified]:
        def problem(group: Group, after: Any) -> str | None:
            ok = set(group.subnets) == set(after)
            return None if ok else f"group reads back subnets {list(group.subnets)}"

        return _read_back(ctx, steps, afters, problem)

    def revert(self, ctx: RunContext, records: Sequence[StepRecord]) -> Mapping[StepKey, Reverted]:
        results: dict[StepKey, Reverted] = {}
        for record in records:
            before = list(record.before)
            ours_after = set(record.after or before)
            current = list(_read(ctx, record.key.resource).subnets)
            if set(current) == set(before):
                results[record.key] = Reverted(Outcome.UNCHANGED, "subnets are already as before")
                continue
            if set(current) == ours_after:
                restored, reason = before, None
            else:
                # Someone changed the subnets since: add back only what we removed.
                removed = [s for s in before if s not in ours_after]
                restored = current + [s for s in removed if s not in current]
                reason = "subnets changed since the evacuation; added back only ours"
            ctx.gateways.autoscaling.set_subnets(record.key.resource, restored)
            results[record.key] = Reverted(Outcome.REVERTED, reason, after=restored)
        return results
