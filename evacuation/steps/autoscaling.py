"""Auto Scaling: suspend the configured processes, remove the AZ's subnets; revert exactly."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from evacuation.aws.autoscaling import Group
from evacuation.errors import StepFailedError
from evacuation.model import AZ_ID_PATTERN, JsonValue, Outcome, PlannedStep, StepKey, StepRecord
from evacuation.steps.base import Reverted, RunContext, Verdict, Verified


def _read(ctx: RunContext, name: str) -> Group | None:
    """The group as it is now; None when it no longer exists (recover skips it, and says so)."""
    return ctx.gateways.autoscaling.describe_groups([name]).get(name)


GONE = Reverted(Outcome.SKIPPED, "the group no longer exists: nothing to restore")


def placement_of(before: Any) -> list[str]:
    """The subnets or AZs a group had, from a before-image ({"placement": [...]}, or the plain
    list older records hold)."""
    if isinstance(before, dict):
        return list(before.get("placement") or [])
    return list(before or [])


def _read_back(
    ctx: RunContext,
    steps: Sequence[PlannedStep],
    afters: Mapping[StepKey, Any],
    problem: Callable[[Group, Any], str | None],
) -> Mapping[StepKey, Verified]:
    """Verify each step against its group as read back, in one DescribeAutoScalingGroups for
    the batch; `problem` says what is wrong, or None when the step holds."""

    def judge(group: Group, step: PlannedStep, after: Any) -> Verified:
        wrong = problem(group, after)
        return Verified(Verdict.DIVERGED, wrong) if wrong else Verified(Verdict.CONVERGED)

    return _judge_read_back(ctx, steps, afters, judge)


def _judge_read_back(
    ctx: RunContext,
    steps: Sequence[PlannedStep],
    afters: Mapping[StepKey, Any],
    judge: Callable[[Group, PlannedStep, Any], Verified],
) -> Mapping[StepKey, Verified]:
    groups = ctx.gateways.autoscaling.describe_groups(step.resource for step in steps)
    results: dict[StepKey, Verified] = {}
    for step in steps:
        group = groups.get(step.resource)
        if group is None:
            raise StepFailedError(f"Auto Scaling group {step.resource} not found")
        results[step.key] = judge(group, step, afters[step.key])
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
            group = _read(ctx, record.key.resource)
            if group is None:
                results[record.key] = GONE
                continue
            current = group.desired
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
        """Read back; the after-image keeps each suspension's SuspensionReason (it says who
        suspended and when), so recover can tell ours from a later one by someone else."""

        def judge(group: Group, step: PlannedStep, after: Any) -> Verified:
            wanted = list(after)
            missing = set(wanted) - group.suspended
            if missing:
                return Verified(Verdict.DIVERGED, f"still not suspended: {sorted(missing)}")
            ours = set(wanted) - set(step.current or ())
            reasons = {p: group.suspension_reasons.get(p, "") for p in sorted(ours)}
            return Verified(Verdict.CONVERGED, after={"suspended": wanted, "reasons": reasons})

        return _judge_read_back(ctx, steps, afters, judge)

    def revert(self, ctx: RunContext, records: Sequence[StepRecord]) -> Mapping[StepKey, Reverted]:
        """Resume only what this evacuation suspended and what is still suspended by that same
        suspension: someone who suspended it again since keeps it suspended (ASG-4)."""
        results: dict[StepKey, Reverted] = {}
        for record in records:
            after = record.after
            wanted = after.get("suspended", []) if isinstance(after, dict) else list(after or ())
            reasons = after.get("reasons", {}) if isinstance(after, dict) else {}
            ours = set(wanted) - set(record.before or ())
            group = _read(ctx, record.key.resource)
            if group is None:
                results[record.key] = GONE
                continue
            still = ours & group.suspended
            theirs = {
                p for p in still if p in reasons and group.suspension_reasons.get(p) != reasons[p]
            }
            resume = still - theirs
            left = (
                f"; {sorted(theirs)} suspended again by someone else since: left" if theirs else ""
            )
            if not resume:
                reason = "nothing of ours is suspended" + left
                results[record.key] = Reverted(Outcome.UNCHANGED, reason)
                continue
            ctx.gateways.autoscaling.resume_processes(record.key.resource, resume)
            results[record.key] = Reverted(
                Outcome.REVERTED, left[2:] or None, after={"resumed": sorted(resume)}
            )
        return results


class SubnetsRunner:
    """Remove the AZ's subnets from VPCZoneIdentifier: no new capacity lands in the AZ."""

    def apply(self, ctx: RunContext, steps: Sequence[PlannedStep]) -> Mapping[StepKey, JsonValue]:
        for step in steps:
            self._set(ctx, step.resource, step.intended)
        return {step.key: list(step.intended) for step in steps}

    @staticmethod
    def _set(ctx: RunContext, name: str, placement: Sequence[str]) -> None:
        ctx.gateways.autoscaling.set_subnets(name, placement)

    @staticmethod
    def _placement(group: Group) -> list[str]:
        return list(group.subnets)

    def verify(
        self, ctx: RunContext, steps: Sequence[PlannedStep], afters: Mapping[StepKey, Any]
    ) -> Mapping[StepKey, Verified]:
        def problem(group: Group, after: Any) -> str | None:
            ok = set(self._placement(group)) == set(after)
            return None if ok else f"group reads back {self._placement(group)}"

        return _read_back(ctx, steps, afters, problem)

    def revert(self, ctx: RunContext, records: Sequence[StepRecord]) -> Mapping[StepKey, Reverted]:
        results: dict[StepKey, Reverted] = {}
        for record in records:
            before = placement_of(record.before)
            ours_after = set(record.after or before)
            group = _read(ctx, record.key.resource)
            if group is None:
                results[record.key] = GONE
                continue
            current = self._placement(group)
            if set(current) == set(before):
                results[record.key] = Reverted(Outcome.UNCHANGED, "already as before")
                continue
            if set(current) == ours_after:
                restored, reason = before, None
            else:
                # Someone changed them since: add back only what we removed.
                removed = [s for s in before if s not in ours_after]
                restored = current + [s for s in removed if s not in current]
                reason = "changed since the evacuation; added back only ours"
            self._set(ctx, record.key.resource, restored)
            results[record.key] = Reverted(Outcome.REVERTED, reason, after=restored)
        return results


class ZonesRunner(SubnetsRunner):
    """A group defined by AZs instead of subnets (ASG-8): the same, on AvailabilityZoneIds where
    the group reports them, else on AvailabilityZones (names). Never reported as skipped: such a
    group keeps launching into the AZ until its list changes."""

    @staticmethod
    def _set(ctx: RunContext, name: str, placement: Sequence[str]) -> None:
        by_id = all(AZ_ID_PATTERN.match(z) for z in placement)
        if by_id:
            ctx.gateways.autoscaling.set_zones(name, zone_ids=placement)
        else:
            ctx.gateways.autoscaling.set_zones(name, names=placement)

    @staticmethod
    def _placement(group: Group) -> list[str]:
        return list(group.zone_ids or group.zones)
