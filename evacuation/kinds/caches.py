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
- Skipped, with the reason (the evacuation is PARTIAL), and reported by readiness beforehand:
  no replica in another AZ; Multi-AZ or automatic failover enabled, since AWS does not let a
  replica be promoted then ("You can't promote a read replica to primary while Multi-AZ with
  Automatic Failover is enabled", https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/Replication.PromoteReplica.html:
  azevac does not switch Multi-AZ off by itself); cluster mode enabled (one primary per shard,
  with no operational API to place them: not supported).
- Recover leaves the primary where it is, unless `fail_back: true`: then, last of all, it
  promotes the original primary again, only while the primary is still the one azevac chose.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, field_validator

from evacuation.aws.elasticache import CacheMember, ElastiCacheGateway, ReplicationGroup
from evacuation.config import NonEmptyStr, Strict
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

PROMOTE_DOC = (
    "https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/Replication.PromoteReplica.html"
)

# -- config ---------------------------------------------------------------------------------------


class CachesConfig(Strict):
    replication_groups: list[NonEmptyStr] = Field(min_length=1)
    """Replication group ids (Valkey / Redis OSS, cluster mode disabled)."""
    fail_back: bool = False
    """On recover, promote the original primary again (default: leave it where the evacuation
    put it: a promotion is a short write outage)."""

    @field_validator("replication_groups")
    @classmethod
    def _unique(cls, groups: list[str]) -> list[str]:
        if len(set(groups)) != len(groups):
            raise ValueError("lists the same replication group twice")
        return groups


# -- reads ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CachesObservation:
    groups: Mapping[str, ReplicationGroup | EvacuationError] = field(default_factory=dict)
    zone_ids: Mapping[str, str] | EvacuationError = field(default_factory=dict)
    """AZ name -> ID: ElastiCache reports names."""


def _zone_map(gateways: Gateways) -> Mapping[str, str] | EvacuationError:
    zones = guarded(gateways.ec2.availability_zones)
    if isinstance(zones, EvacuationError):
        return zones
    return {z.name: z.zone_id for z in zones}


def _read_groups(
    gateways: Gateways, ids: list[str]
) -> dict[str, ReplicationGroup | EvacuationError]:
    described = guarded(lambda: gateways.of(ElastiCacheGateway).describe_groups(ids))
    if isinstance(described, EvacuationError):
        return dict.fromkeys(ids, described)
    missing = EvacuationError("replication group not found")
    return {group_id: described.get(group_id, missing) for group_id in ids}


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
    if group.multi_az == "enabled" or group.automatic_failover in ("enabled", "enabling"):
        return (
            f"Multi-AZ / automatic failover is {group.multi_az}/{group.automatic_failover}: AWS "
            f"does not let a replica be promoted then ({PROMOTE_DOC}); azevac does not switch it "
            "off by itself"
        )
    return None


def _group_step(
    group_id: str,
    observed: ReplicationGroup | EvacuationError,
    zone_ids: Mapping[str, str] | EvacuationError,
    az_id: str,
    recorded: StepRecord | None,
) -> PlannedStep:
    key = StepKey(StepKind.CACHE_PRIMARY, group_id)
    if isinstance(observed, EvacuationError):
        return failed_step(
            key, EvacuationError(f"replication group {group_id}: {observed}"), str(key)
        )
    if isinstance(zone_ids, EvacuationError):
        error = EvacuationError(
            f"replication group {group_id}: cannot map AZ names to IDs: {zone_ids}"
        )
        return failed_step(key, error, str(key))
    current = _image(observed, zone_ids)
    after = recorded.after if recorded is not None else None
    if isinstance(after, dict) and after.get("primary"):
        # Resumed: converge to the target recorded before the first run acted.
        primary = observed.primary
        intended = {**after}
        if primary is not None and primary.cluster_id == after["primary"]:
            return PlannedStep(key, current, intended, False)
        if observed.pending_primary == after["primary"]:
            # Accepted before, still under way: verified, not asked again.
            return PlannedStep(key, current, intended, False, settled=False)
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
    if (why := unsupported(observed)) is not None:
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
    intended = {"primary": target.cluster_id, "primary_az": target_az, "from": primary.cluster_id}
    note = (
        f"primary {primary.cluster_id} is in {az_id}: ModifyReplicationGroup PrimaryClusterId="
        f"{target.cluster_id} ({target_az}), ApplyImmediately"
    )
    return PlannedStep(key, current, intended, True, note=note)


# -- apply, verify, revert ------------------------------------------------------------------------


class PromoteRunner:
    """One ModifyReplicationGroup per group (each group is its own batch: its own worker)."""

    def apply(
        self, ctx: RunContext, steps: Sequence[PlannedStep]
    ) -> Mapping[StepKey, JsonValue | Failed]:
        gateway = ctx.gateways.of(ElastiCacheGateway)
        afters: dict[StepKey, JsonValue | Failed] = {}
        for step in steps:
            try:
                gateway.promote(step.resource, str(step.intended["primary"]))
                afters[step.key] = dict(step.intended)
            except EvacuationError as exc:
                afters[step.key] = Failed(exc)
        return afters

    def verify(
        self, ctx: RunContext, steps: Sequence[PlannedStep], afters: Mapping[StepKey, Any]
    ) -> Mapping[StepKey, Verified]:
        """Converged when the target reads back as the primary, in an AZ other than the impaired
        one; ElastiCache promotes asynchronously (status modifying): until then, pending."""
        zone_ids = _zone_map(ctx.gateways)
        if isinstance(zone_ids, EvacuationError):
            raise zone_ids
        waiting = {step.resource: step.key for step in steps}
        verdicts: dict[StepKey, Verified] = {}

        def check() -> Verified:
            groups = ctx.gateways.of(ElastiCacheGateway).describe_groups(list(waiting))
            for group_id in list(waiting):
                key = waiting[group_id]
                group = groups.get(group_id)
                if group is None:
                    verdicts[waiting.pop(group_id)] = Verified(Verdict.DIVERGED, "not found")
                    continue
                primary = group.primary
                target = str(afters[key]["primary"])
                if primary is not None and primary.cluster_id == target:
                    where = _az_id(primary, zone_ids)
                    if where == ctx.az_id:
                        detail = f"{target} is the primary but reads back in {where}"
                        verdicts[waiting.pop(group_id)] = Verified(Verdict.DIVERGED, detail)
                    else:
                        after = {**afters[key], "primary_az": where}
                        verdicts[waiting.pop(group_id)] = Verified(Verdict.CONVERGED, after=after)
            return Verified(Verdict.PENDING if waiting else Verdict.CONVERGED)

        ctx.poll(check)
        return {
            step.key: verdicts.get(
                step.key,
                Verified(
                    Verdict.PENDING,
                    f"ModifyReplicationGroup accepted; {afters[step.key]['primary']} is not the "
                    "primary yet",
                ),
            )
            for step in steps
        }

    def revert(self, ctx: RunContext, records: Sequence[StepRecord]) -> Mapping[StepKey, Reverted]:
        section = ctx.config.caches
        if section is None or not section.fail_back:
            return {
                r.key: Reverted(
                    Outcome.UNCHANGED,
                    "primary left where the evacuation put it (caches.fail_back is false)",
                )
                for r in records
            }
        groups = ctx.gateways.of(ElastiCacheGateway).describe_groups(
            r.key.resource for r in records
        )
        return {r.key: self._fail_back(ctx, r, groups.get(r.key.resource)) for r in records}

    @staticmethod
    def _fail_back(ctx: RunContext, record: StepRecord, group: ReplicationGroup | None) -> Reverted:
        before: Any = record.before
        after: Any = record.after
        original = before.get("primary") if isinstance(before, dict) else None
        ours = after.get("primary") if isinstance(after, dict) else None
        if group is None:
            return Reverted(Outcome.SKIPPED, "the replication group no longer exists")
        primary = group.primary
        current = primary.cluster_id if primary else None
        if current == original:
            return Reverted(Outcome.UNCHANGED, f"{original} is the primary already")
        if current != ours:
            return Reverted(
                Outcome.SKIPPED, f"the primary is {current}, moved since (not by azevac); left"
            )
        if original not in {m.cluster_id for m in group.members}:
            return Reverted(Outcome.SKIPPED, f"{original} is no longer a member; primary left")
        if group.status != "available":
            # Failed, so the evacuation stays RECOVERING and the reconciler tries again.
            return Reverted(Outcome.FAILED, f"fail back waits: the group is {group.status}")
        ctx.gateways.of(ElastiCacheGateway).promote(record.key.resource, str(original))
        return Reverted(Outcome.REVERTED, after={"primary": original, "from": current})


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
            _read_groups(gateways, list(config.caches.replication_groups)), _zone_map(gateways)
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
            if (why := unsupported(group)) is not None:
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
