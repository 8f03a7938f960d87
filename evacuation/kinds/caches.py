"""ElastiCache (Valkey / Redis OSS) replication groups, cluster mode disabled (`caches`): a primary
in the impaired AZ is moved to a replica in a healthy AZ, so that the healthy AZs stop writing
to a node in the impaired one.

AWS: `ModifyReplicationGroup` with `PrimaryClusterId` and `ApplyImmediately` promotes the named
replica, asynchronously (https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_ModifyReplicationGroup.html).
Never `TestFailover`: "not designed to be an operational tool", 15 shards per 24 h, and AWS may
block it during large events (aws-semantics DB-2). The primary is read from
`DescribeReplicationGroups` (`NodeGroupMembers[].CurrentRole`, `PreferredAvailabilityZone`, a
zone *name*: mapped to its ID).

- Act only when the primary is in the impaired AZ; a primary elsewhere is unchanged.
- The target: a replica in a healthy AZ (by cache cluster id, for a stable choice).
- Multi-AZ or automatic failover enabled: AWS does not let a replica be promoted then ("You
  can't promote a read replica to primary while Multi-AZ with Automatic Failover is enabled"),
  and gives the procedure: disable Multi-AZ, promote the replica, re-enable Multi-AZ
  (https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/Replication.PromoteReplica.html).
  azevac follows it only with `suspend_multi_az: true`: it changes a setting of the group that
  is not a traffic lever, so an operator opts in. It re-enables what was there before any
  failure is reported: a promotion that fails after Multi-AZ was switched off switches it back
  on first, and recover re-enables it if a run stopped in between.
- Skipped, with the reason (the evacuation is PARTIAL), and reported by readiness beforehand:
  no replica in another AZ; Multi-AZ on without `suspend_multi_az`; cluster mode enabled (one
  primary per shard, with no operational API to place them: not supported).
- Recover leaves the primary where it is, unless `fail_back: true`: then, last of all, it
  promotes the original primary again, only while the primary is still the one azevac chose.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from pydantic import Field

from evacuation.aws.elasticache import (
    CacheMember,
    ElastiCacheGateway,
    GroupBusyError,
    ReplicationGroup,
)
from evacuation.config import NonEmptyStr, Strict, listed_once
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
    readable,
    zone_ids,
)
from evacuation.kinds.leaders import Leader, verify_leader_moves
from evacuation.model import JsonValue, Outcome, Phase, PlannedStep, StepKey, StepKind, StepRecord
from evacuation.reads import by_key
from evacuation.steps.base import Failed, Reverted, RunContext, Verdict, Verified

if TYPE_CHECKING:
    from evacuation.config import Config
    from evacuation.observe import Gateways, Observation

PROMOTE_DOC = (
    "https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/Replication.PromoteReplica.html"
)

# -- config ---------------------------------------------------------------------------------------


class CachesConfig(Strict):
    replication_groups: Annotated[list[NonEmptyStr], listed_once("replication group")] = Field(
        min_length=1
    )
    """Replication group ids (Valkey / Redis OSS, cluster mode disabled)."""
    fail_back: bool = False
    """On recover, promote the original primary again (default: leave it where the evacuation
    put it: a promotion is a short write outage)."""
    suspend_multi_az: bool = False
    """For a group with Multi-AZ / automatic failover on: switch it off, promote, switch it back
    on, as AWS documents (else such a group is skipped, with the reason)."""


# -- reads ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CachesObservation:
    groups: Mapping[str, ReplicationGroup | EvacuationError] = field(default_factory=dict)
    zone_ids: Mapping[str, str] | EvacuationError = field(default_factory=dict)
    """AZ name -> ID: ElastiCache reports names."""


# -- plan -----------------------------------------------------------------------------------------


def _az_id(member: CacheMember | None, zone_ids: Mapping[str, str]) -> str | None:
    return zone_ids.get(member.zone) if member is not None else None


def _image(group: ReplicationGroup, zone_ids: Mapping[str, str]) -> dict[str, Any]:
    primary = group.primary
    return {
        "primary": primary.cluster_id if primary else None,
        "primary_az": _az_id(primary, zone_ids),
        "members": {
            m.cluster_id: {"az": _az_id(m, zone_ids), "role": m.role} for m in group.members
        },
        "multi_az": group.multi_az,
        "automatic_failover": group.automatic_failover,
    }


def choose_target(
    group: ReplicationGroup, zone_ids: Mapping[str, str], az_id: str
) -> CacheMember | None:
    """The replica to promote: in a healthy AZ (a known one), the first by cache cluster id."""
    replicas = [
        m for m in group.members if m.role == "replica" and _az_id(m, zone_ids) not in (None, az_id)
    ]
    return min(replicas, key=lambda m: m.cluster_id) if replicas else None


def unsupported(group: ReplicationGroup) -> str | None:
    """Why azevac cannot move this group's primary at all, or None."""
    if group.cluster_mode:
        return (
            "cluster mode enabled: each shard has its own primary and ElastiCache offers no "
            "operational call to place them (TestFailover is not one); not supported"
        )
    return None


def failover_blocks(group: ReplicationGroup, suspend: bool) -> str | None:
    """Why Multi-AZ stops azevac promoting a replica of this group, or None."""
    if not group.failover_on or suspend:
        return None
    return (
        f"Multi-AZ / automatic failover is {group.multi_az}/{group.automatic_failover}: AWS "
        f"does not let a replica be promoted then ({PROMOTE_DOC}); set caches.suspend_multi_az "
        "to let azevac switch it off, promote and switch it back on, as that page describes"
    )


def _failover_settings(group: ReplicationGroup) -> dict[str, bool]:
    """The group's failover settings, to put back once a replica is promoted."""
    return {"automatic_failover": group.failover_on, "multi_az": group.multi_az == "enabled"}


def _settings_back(group: ReplicationGroup, restore: Mapping[str, Any]) -> bool:
    return (group.automatic_failover == "enabled") == bool(restore["automatic_failover"]) and (
        group.multi_az == "enabled"
    ) == bool(restore["multi_az"])


def _group_step(
    group_id: str,
    observed: ReplicationGroup | EvacuationError,
    zone_ids: Mapping[str, str] | EvacuationError,
    az_id: str,
    recorded: StepRecord | None,
    *,
    suspend: bool,
) -> PlannedStep:
    key = StepKey(StepKind.CACHE_PRIMARY, group_id)
    read = readable(key, f"replication group {group_id}", observed, zone_ids)
    if isinstance(read, PlannedStep):
        return read
    observed, zone_ids = read
    current = _image(observed, zone_ids)
    after = recorded.after if recorded is not None else None
    if isinstance(after, dict) and after.get("primary"):
        # Resumed: converge to the target recorded before the first run acted.
        primary = observed.primary
        intended: dict[str, Any] = {**after}
        restore = after.get("restore_failover")
        back = not isinstance(restore, dict) or _settings_back(observed, restore)
        if primary is not None and primary.cluster_id == after["primary"] and back:
            return PlannedStep(key, current, intended, False)
        if restore is None and observed.pending_primary == after["primary"]:
            # Accepted before, still under way: verified, not asked again.
            return PlannedStep(key, current, intended, False, settled=False)
        # Else the procedure carries on from where it is (it waits for what is under way).
        return PlannedStep(key, current, intended, True)
    if observed.cluster_mode:
        # No CurrentRole to read: azevac cannot tell whether a shard's primary is in the AZ.
        reason = f"replication group {group_id}: {unsupported(observed)}"
        return PlannedStep(key, current, None, False, skip_reason=reason, gap=True)
    primary = observed.primary
    if primary is None:
        error = EvacuationError(
            f"replication group {group_id}: no primary (status {observed.status})"
        )
        return failed_step(key, error, str(key))
    primary_az = current["primary_az"]
    if primary_az != az_id:
        note = f"primary {primary.cluster_id} is in {primary_az}, not in {az_id}"
        return PlannedStep(key, current, current, False, note=note)
    if (why := failover_blocks(observed, suspend)) is not None:
        reason = (
            f"replication group {group_id}: its primary {primary.cluster_id} is in {az_id}; {why}"
        )
        return PlannedStep(key, current, None, False, skip_reason=reason, gap=True)
    target = choose_target(observed, zone_ids, az_id)
    if target is None:
        reason = (
            f"replication group {group_id}: its primary {primary.cluster_id} is in {az_id} and no "
            "replica is in another AZ: nothing to promote"
        )
        return PlannedStep(key, current, None, False, skip_reason=reason, gap=True)
    target_az = _az_id(target, zone_ids)
    intended = {
        "primary": target.cluster_id,
        "primary_az": target_az,
        "from": primary.cluster_id,
    }
    note = (
        f"primary {primary.cluster_id} is in {az_id}: ModifyReplicationGroup PrimaryClusterId="
        f"{target.cluster_id} ({target_az}), ApplyImmediately"
    )
    if observed.failover_on:
        intended["restore_failover"] = _failover_settings(observed)
        note = f"{note}, between Multi-AZ off and back on ({PROMOTE_DOC})"
    return PlannedStep(key, current, intended, True, note=note)


# -- apply, verify, revert ------------------------------------------------------------------------


def _one(ctx: RunContext, group_id: str) -> ReplicationGroup:
    group = ctx.gateways.of(ElastiCacheGateway).describe_groups([group_id]).get(group_id)
    if group is None:
        raise EvacuationError(f"replication group {group_id} not found")
    return group


def _wait(
    ctx: RunContext, group_id: str, done: Callable[[ReplicationGroup], bool], what: str
) -> ReplicationGroup:
    """Poll the group until `done`, within the verify timeout; else an error naming `what`."""
    seen: list[ReplicationGroup] = []

    def check() -> Verified:
        seen[:] = [_one(ctx, group_id)]
        return Verified(Verdict.CONVERGED if done(seen[0]) else Verdict.PENDING)

    if ctx.poll(check).verdict is not Verdict.CONVERGED:
        raise EvacuationError(
            f"replication group {group_id}: timed out waiting for {what} (status {seen[0].status})"
        )
    return seen[0]


def move_primary(
    ctx: RunContext, group_id: str, target: str, restore: Mapping[str, Any] | None
) -> None:
    """Make `target` the group's primary. With `restore` (the failover settings the group had),
    AWS's procedure for a Multi-AZ group: Multi-AZ and automatic failover off, promote, then the
    settings back. Idempotent: it carries on from wherever an earlier run stopped. A promotion
    that fails after the settings were switched off switches them back on before it raises."""
    if restore is None:
        _promote(ctx, group_id, target)  # accepted: verify reads it back
        return
    group = _one(ctx, group_id)
    if group.status == "modifying":  # an earlier run's change, still under way
        group = _wait(ctx, group_id, lambda g: g.status == "available", "it to be available")
    if not _is_primary(group, target):
        if group.failover_on:
            _set_failover(ctx, group_id, {"automatic_failover": False, "multi_az": False})
            _wait(
                ctx, group_id, lambda g: not g.failover_on and g.status == "available",
                "Multi-AZ and automatic failover to be disabled",
            )  # fmt: skip
        try:
            _promote(ctx, group_id, target)
        except EvacuationError as exc:
            _put_back(ctx, group_id, restore, cause=exc)
            raise
        # A timeout here leaves the promotion under way: the next run waits for it, then puts
        # the settings back (the group refuses any change while it is modifying).
        group = _wait(
            ctx, group_id, lambda g: _is_primary(g, target) and g.status == "available",
            f"{target} to be the primary",
        )  # fmt: skip
    if not _settings_back(group, restore):
        _put_back(ctx, group_id, restore)


def _promote(ctx: RunContext, group_id: str, target: str) -> None:
    """Ask ElastiCache to promote `target`. A busy group is read back: our own promotion under
    way (its first answer was lost, the retry refused) counts as sent; anything else is waited
    for, and the promotion asked once more if it is still needed."""
    gateway = ctx.gateways.of(ElastiCacheGateway)
    try:
        gateway.promote(group_id, target)
        return
    except GroupBusyError:
        group = _one(ctx, group_id)
    if group.pending_primary == target:
        return
    group = _wait(ctx, group_id, lambda g: g.status == "available", "it to be available")
    if not _is_primary(group, target):
        gateway.promote(group_id, target)


def _set_failover(ctx: RunContext, group_id: str, settings: Mapping[str, Any]) -> None:
    """Ask for these failover settings, reading a busy group back as `_promote` does."""
    failover, multi_az = bool(settings["automatic_failover"]), bool(settings["multi_az"])
    gateway = ctx.gateways.of(ElastiCacheGateway)
    try:
        gateway.set_failover(group_id, automatic_failover=failover, multi_az=multi_az)
        return
    except GroupBusyError:
        group = _one(ctx, group_id)
    if group.pending_failover == ("enabled" if failover else "disabled"):
        return
    group = _wait(ctx, group_id, lambda g: g.status == "available", "it to be available")
    if not _settings_back(group, settings):
        gateway.set_failover(group_id, automatic_failover=failover, multi_az=multi_az)


def _is_primary(group: ReplicationGroup, cluster_id: str) -> bool:
    return group.primary is not None and group.primary.cluster_id == cluster_id


def _put_back(
    ctx: RunContext,
    group_id: str,
    restore: Mapping[str, Any],
    cause: EvacuationError | None = None,
) -> None:
    """Switch the failover settings back on as they were (accepted: verify waits for it)."""
    try:
        _set_failover(ctx, group_id, restore)
    except EvacuationError as exc:
        if cause is None:
            raise
        raise EvacuationError(
            f"{cause}; and Multi-AZ could not be switched back on ({exc}): re-enable it by hand"
        ) from exc


class PromoteRunner:
    """One promotion per group (each group is its own batch: its own worker)."""

    def apply(
        self, ctx: RunContext, steps: Sequence[PlannedStep]
    ) -> Mapping[StepKey, JsonValue | Failed]:
        afters: dict[StepKey, JsonValue | Failed] = {}
        for step in steps:
            intended = dict(step.intended)
            restore = intended.get("restore_failover")
            try:
                move_primary(
                    ctx,
                    step.resource,
                    str(intended["primary"]),
                    restore if isinstance(restore, dict) else None,
                )
                afters[step.key] = intended
            except EvacuationError as exc:
                afters[step.key] = Failed(exc)
        return afters

    def verify(
        self, ctx: RunContext, steps: Sequence[PlannedStep], afters: Mapping[StepKey, Any]
    ) -> Mapping[StepKey, Verified]:
        """Converged when the target reads back as the primary, in an AZ other than the impaired
        one, with the failover settings back where azevac switched them off; ElastiCache applies
        both asynchronously (status modifying): until then, pending."""
        return verify_leader_moves(
            ctx, steps, afters, role="primary",
            read=ctx.gateways.of(ElastiCacheGateway).describe_groups,
            leader=_leader, pending=_pending,
        )  # fmt: skip

    def revert(self, ctx: RunContext, records: Sequence[StepRecord]) -> Mapping[StepKey, Reverted]:
        section = ctx.config.caches
        fail_back = section is not None and section.fail_back
        groups = ctx.gateways.of(ElastiCacheGateway).describe_groups(
            r.key.resource for r in records
        )
        return {r.key: self._revert(ctx, r, groups.get(r.key.resource), fail_back) for r in records}

    @staticmethod
    def _revert(
        ctx: RunContext, record: StepRecord, group: ReplicationGroup | None, fail_back: bool
    ) -> Reverted:
        before: Any = record.before
        after: Any = record.after
        original = before.get("primary") if isinstance(before, dict) else None
        ours = after.get("primary") if isinstance(after, dict) else None
        restore = after.get("restore_failover") if isinstance(after, dict) else None
        restore = restore if isinstance(restore, dict) else None
        if group is None:
            return Reverted(Outcome.SKIPPED, "the replication group no longer exists")
        current = group.primary.cluster_id if group.primary else None
        settings_left_off = restore is not None and not group.failover_on
        if not fail_back:
            if settings_left_off and group.status == "available":
                # A run that stopped between Multi-AZ off and back on: put back what was there.
                _put_back(ctx, record.key.resource, restore or {})
                return Reverted(Outcome.REVERTED, after={"restore_failover": restore})
            if settings_left_off:
                return Reverted(
                    Outcome.FAILED, f"Multi-AZ back on waits: the group is {group.status}"
                )
            return Reverted(
                Outcome.UNCHANGED,
                "primary left where the evacuation put it (caches.fail_back is false)",
            )
        if group.status != "available" and group.pending_primary in (ours, None):
            # Our promotion (or its settings) still under way: the primary reads as the original
            # until ElastiCache finishes. Failed, so the evacuation stays RECOVERING and the
            # reconciler fails back once the group settles.
            return Reverted(Outcome.FAILED, f"fail back waits: the group is {group.status}")
        if current == original and not settings_left_off:
            return Reverted(Outcome.UNCHANGED, f"{original} is the primary already")
        if current not in (ours, original):
            return Reverted(
                Outcome.SKIPPED, f"the primary is {current}, moved since (not by azevac); left"
            )
        if original not in {m.cluster_id for m in group.members}:
            return Reverted(Outcome.SKIPPED, f"{original} is no longer a member; primary left")
        if group.status != "available":
            # Failed, so the evacuation stays RECOVERING and the reconciler tries again.
            return Reverted(Outcome.FAILED, f"fail back waits: the group is {group.status}")
        if group.failover_on and restore is None:
            return Reverted(
                Outcome.SKIPPED,
                f"Multi-AZ is on now (it was off when azevac moved the primary): {original} "
                "not promoted; primary left",
            )
        try:
            move_primary(ctx, record.key.resource, str(original), restore)
            # Recovered means the original is the primary again, not that ElastiCache was
            # asked: an evacuation of this AZ right after must see the primary where it is.
            _wait(
                ctx, record.key.resource,
                lambda g: _is_primary(g, str(original)) and g.status == "available",
                f"{original} to be the primary again",
            )  # fmt: skip
        except EvacuationError as exc:
            # Failed, so the evacuation stays RECOVERING and the reconciler looks again.
            return Reverted(Outcome.FAILED, str(exc))
        return Reverted(Outcome.REVERTED, after={"primary": original, "from": current})


def _leader(group: ReplicationGroup, after: Mapping[str, Any], zones: Mapping[str, str]) -> Leader:
    primary = group.primary
    restore = after.get("restore_failover")
    settled = not isinstance(restore, dict) or _settings_back(group, restore)
    return Leader(primary.cluster_id if primary else None, _az_id(primary, zones), settled)


def _pending(after: Mapping[str, Any]) -> str:
    if isinstance(after.get("restore_failover"), dict):
        return (
            f"{after['primary']} promoted; Multi-AZ / automatic failover not back on yet "
            "(ElastiCache is applying it)"
        )
    return f"ModifyReplicationGroup accepted; {after['primary']} is not the primary yet"


# -- the kind -------------------------------------------------------------------------------------


class CachesKind(Kind):
    name = "caches"
    section = "caches"
    config_types: ClassVar[Mapping[str, Any]] = {"CachesConfig": CachesConfig}
    steps = (
        StepSpec(
            StepKind.CACHE_PRIMARY,
            Phase.CONTROL_PLANE,
            PromoteRunner(),
            lane="elasticache",
            tier=fixed(Tier.DEPENDENCIES),
            stage=fixed(Stage.DEPENDENCIES),
        ),
    )
    permissions = (
        Permission(
            "ReadOnlyNoResourceLevel",
            ("elasticache:DescribeReplicationGroups", "ec2:DescribeAvailabilityZones"),
        ),
        Permission("PromoteOurCacheReplicas", ("elasticache:ModifyReplicationGroup",)),
    )

    def part(self, observation: Observation) -> CachesObservation:
        found = observation.parts.get(self.name)
        return found if isinstance(found, CachesObservation) else CachesObservation()

    def read(self, config: Config, gateways: Gateways) -> CachesObservation:
        if config.caches is None:
            return CachesObservation()
        return CachesObservation(
            by_key(
                list(config.caches.replication_groups),
                gateways.of(ElastiCacheGateway).describe_groups,
                "replication group not found",
            ),
            zone_ids(gateways),
        )

    def plan(self, given: PlanInput) -> KindPlan:
        section = given.config.caches
        if section is None:
            return KindPlan()
        part = self.part(given.observation)
        steps = [
            _group_step(
                group_id,
                part.groups[group_id],
                part.zone_ids,
                given.az_id,
                given.touched.get(StepKey(StepKind.CACHE_PRIMARY, group_id)),
                suspend=section.suspend_multi_az,
            )
            for group_id in section.replication_groups
        ]
        return KindPlan(steps)

    def readiness(self, config: Config, observation: Observation) -> list[str]:
        part = self.part(observation)
        problems = []
        zone_ids = part.zone_ids if not isinstance(part.zone_ids, EvacuationError) else {}
        for group_id, group in part.groups.items():
            if isinstance(group, EvacuationError):
                problems.append(f"replication group {group_id}: cannot read it ({group})")
                continue
            suspend = config.caches is not None and config.caches.suspend_multi_az
            if (why := unsupported(group) or failover_blocks(group, suspend)) is not None:
                problems.append(
                    f"replication group {group_id}: azevac cannot move its primary: {why}"
                )
                continue
            primary_az = _az_id(group.primary, zone_ids)
            if primary_az is not None and choose_target(group, zone_ids, primary_az) is None:
                problems.append(
                    f"replication group {group_id}: no replica outside {primary_az}, where its "
                    f"primary is: evacuating {primary_az} cannot move the primary (add a replica "
                    "in another AZ)"
                )
        return problems


KIND = CachesKind()
