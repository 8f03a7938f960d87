"""RDS Multi-AZ DB instances, part of the databases kind (`databases.instances`): a primary in
the impaired AZ is failed over to its standby with `RebootDBInstance(ForceFailover=true)`.

Its limits, which a DB cluster's failover does not have (kinds/databases.py says why both):
no target (the new primary is the standby, in `SecondaryAvailabilityZone`, wherever RDS put it);
a reboot (60-120 s of write outage); not idempotent (a second forced failover moves the
primary back), so after an error or a lost answer it is read back, and sent again only when
the reads show it did not happen (`aws.errors.once_unless_throttled`, `_reboot`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from evacuation.aws.errors import OutcomeUnknownError
from evacuation.aws.rds import Instance, RdsGateway
from evacuation.errors import EvacuationError
from evacuation.kinds.base import readable, zone_ids
from evacuation.model import JsonValue, Outcome, PlannedStep, StepKey, StepKind, StepRecord
from evacuation.steps.base import Failed, Reverted, RunContext, Verdict, Verified

if TYPE_CHECKING:
    from evacuation.config import Config

MULTI_AZ_DOC = (
    "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Concepts.MultiAZSingleStandby.html"
)


def image(instance: Instance, zones: Mapping[str, str]) -> dict[str, Any]:
    return {
        "primary_az": zones.get(instance.az),
        "standby_az": zones.get(instance.secondary_az or ""),
        "multi_az": instance.multi_az,
        "status": instance.status,
    }


def no_standby(instance: Instance) -> str | None:
    """Why this instance cannot be failed over at all, or None."""
    if not instance.multi_az or not instance.secondary_az:
        return f"not a Multi-AZ deployment: no standby to fail over to ({MULTI_AZ_DOC})"
    return None


def instance_step(
    instance_id: str,
    observed: Instance | EvacuationError,
    zones: Mapping[str, str] | EvacuationError,
    az_id: str,
    recorded: StepRecord | None,
) -> PlannedStep:
    key = StepKey(StepKind.DB_INSTANCE_FAILOVER, instance_id)
    read = readable(key, f"DB instance {instance_id}", observed, zones)
    if isinstance(read, PlannedStep):
        return read
    observed, zones = read
    current = image(observed, zones)
    after = recorded.after if recorded is not None else None
    if isinstance(after, dict) and after.get("from_az"):
        # Resumed: did the earlier run's reboot take effect? Never a second one while it may.
        intended = {**after}
        if current["primary_az"] != after["from_az"]:
            return PlannedStep(key, current, intended, False, settled=observed.available)
        if not observed.available:  # rebooting: perhaps ours, read back
            return PlannedStep(key, current, intended, False, settled=False)
        return PlannedStep(key, current, intended, True)
    if current["primary_az"] != az_id:
        note = f"primary is in {current['primary_az']}, not in {az_id}"
        return PlannedStep(key, current, current, False, note=note)
    if (why := no_standby(observed)) is not None:
        reason = f"DB instance {instance_id}: its primary is in {az_id}; {why}"
        return PlannedStep(key, current, None, False, skip_reason=reason, gap=True)
    if current["standby_az"] in (None, az_id):
        reason = (
            f"DB instance {instance_id}: its primary is in {az_id} and its standby in "
            f"{current['standby_az']}: a failover would not leave {az_id}"
        )
        return PlannedStep(key, current, None, False, skip_reason=reason, gap=True)
    intended = {"primary_az": current["standby_az"], "from_az": az_id}
    note = (
        f"primary is in {az_id}: RebootDBInstance ForceFailover to its standby in "
        f"{current['standby_az']} (no target choice; a reboot: 60-120 s of write outage)"
    )
    return PlannedStep(key, current, intended, True, note=note)


def readiness(instance_id: str, instance: Instance | EvacuationError) -> list[str]:
    if isinstance(instance, EvacuationError):
        return [f"DB instance {instance_id}: cannot read it ({instance})"]
    if (why := no_standby(instance)) is not None:
        return [f"DB instance {instance_id}: evacuating its AZ cannot move its primary: {why}"]
    return []


class InstanceFailoverRunner:
    """One forced-failover reboot per instance (each its own batch: its own worker)."""

    def apply(
        self, ctx: RunContext, steps: Sequence[PlannedStep]
    ) -> Mapping[StepKey, JsonValue | Failed]:
        afters: dict[StepKey, JsonValue | Failed] = {}
        for step in steps:
            try:
                self._reboot(ctx, step)
                afters[step.key] = dict(step.intended)
            except EvacuationError as exc:
                afters[step.key] = Failed(exc)
        return afters

    def _reboot(self, ctx: RunContext, step: PlannedStep) -> None:
        """The forced failover, sent again only once reads show the last one did not happen: an
        error that may hide it (5xx, timeout, lost answer) is read back a few times first (a
        reboot under way, or a primary moved, is ours); never a second one on top of the first,
        which would move the primary back."""
        attempts = ctx.config.execution.max_attempts
        for attempt in range(1, attempts + 1):
            try:
                ctx.gateways.of(RdsGateway).reboot_with_failover(step.resource)
                return
            except OutcomeUnknownError:
                if self._took_effect(ctx, step):
                    return
                if attempt == attempts:
                    raise
                ctx.sleep(ctx.config.execution.backoff_initial_seconds * 2**attempt)

    @staticmethod
    def _took_effect(ctx: RunContext, step: PlannedStep, reads: int = 3) -> bool:
        zones = zone_ids(ctx.gateways)
        if isinstance(zones, EvacuationError):
            raise zones
        for read in range(reads):
            if read:
                ctx.sleep(ctx.config.execution.verify_interval_seconds)
            found = ctx.gateways.of(RdsGateway).describe_instances([step.resource])
            instance = found.get(step.resource)
            if instance is None:
                raise EvacuationError(f"DB instance {step.resource} not found")
            if not instance.available or zones.get(instance.az) != step.intended["from_az"]:
                return True
        return False

    def verify(
        self, ctx: RunContext, steps: Sequence[PlannedStep], afters: Mapping[StepKey, Any]
    ) -> Mapping[StepKey, Verified]:
        """Converged when the instance is available with its primary out of the impaired AZ (its
        AZ read back, name mapped to ID); a reboot with failover takes minutes: else pending."""
        zones = zone_ids(ctx.gateways)
        if isinstance(zones, EvacuationError):
            raise zones
        waiting = {step.resource: step.key for step in steps}
        verdicts: dict[StepKey, Verified] = {}

        def check() -> Verified:
            found = ctx.gateways.of(RdsGateway).describe_instances(list(waiting))
            for instance_id in list(waiting):
                instance = found.get(instance_id)
                if instance is None:
                    verdicts[waiting.pop(instance_id)] = Verified(Verdict.DIVERGED, "not found")
                    continue
                where = zones.get(instance.az)
                if instance.available and where != ctx.az_id:
                    after = {**afters[waiting[instance_id]], "primary_az": where}
                    verdicts[waiting.pop(instance_id)] = Verified(Verdict.CONVERGED, after=after)
            return Verified(Verdict.PENDING if waiting else Verdict.CONVERGED)

        ctx.poll(check)
        pending = Verified(Verdict.PENDING, "RebootDBInstance accepted; the failover is under way")
        return {step.key: verdicts.get(step.key, pending) for step in steps}

    def revert(self, ctx: RunContext, records: Sequence[StepRecord]) -> Mapping[StepKey, Reverted]:
        config: Config = ctx.config
        if config.databases is None or not config.databases.fail_back:
            reason = "primary left where the evacuation put it (databases.fail_back is false)"
            return {r.key: Reverted(Outcome.UNCHANGED, reason) for r in records}
        zones = zone_ids(ctx.gateways)
        if isinstance(zones, EvacuationError):
            raise zones
        found = ctx.gateways.of(RdsGateway).describe_instances(r.key.resource for r in records)
        return {r.key: self._fail_back(ctx, r, found.get(r.key.resource), zones) for r in records}

    @staticmethod
    def _fail_back(
        ctx: RunContext, record: StepRecord, instance: Instance | None, zones: Mapping[str, str]
    ) -> Reverted:
        before: Any = record.before
        after: Any = record.after
        original = before.get("primary_az") if isinstance(before, dict) else None
        ours = after.get("primary_az") if isinstance(after, dict) else None
        if instance is None:
            return Reverted(
                Outcome.SKIPPED, "the DB instance no longer exists: nothing to fail back"
            )
        primary, standby = zones.get(instance.az), zones.get(instance.secondary_az or "")
        if primary == original:
            if not instance.available:  # a fail back under way: recovered once it serves
                return Reverted(
                    Outcome.FAILED, f"fail back waits: the instance is {instance.status}"
                )
            return Reverted(Outcome.UNCHANGED, f"its primary is in {original} already")
        if primary != ours or standby != original:
            return Reverted(
                Outcome.SKIPPED,
                f"primary in {primary}, standby in {standby}: moved since (not by azevac); left",
            )
        if not instance.available:
            # Failed, so the evacuation stays RECOVERING and the reconciler tries again.
            return Reverted(Outcome.FAILED, f"fail back waits: the instance is {instance.status}")
        rds = ctx.gateways.of(RdsGateway)
        rds.reboot_with_failover(record.key.resource)

        def back() -> Verified:  # recovered means the primary is back and serving, not "asked"
            now = rds.describe_instances([record.key.resource]).get(record.key.resource)
            done = now is not None and now.available and zones.get(now.az) == original
            return Verified(Verdict.CONVERGED if done else Verdict.PENDING)

        if ctx.poll(back).verdict is not Verdict.CONVERGED:
            # Failed, so the evacuation stays RECOVERING and the reconciler looks again (a
            # rebooting instance is never rebooted twice: it waits, above).
            return Reverted(
                Outcome.FAILED, f"fail back under way: the primary is not in {original} yet"
            )
        return Reverted(Outcome.REVERTED, after={"primary_az": original, "from_az": primary})
