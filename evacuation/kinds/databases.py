"""Aurora and RDS Multi-AZ DB clusters (`databases`): a writer in the impaired AZ is failed over
to a reader in a healthy AZ, so that the healthy AZs stop depending on the impaired one.

AWS: `FailoverDBCluster` with `TargetDBInstanceIdentifier` promotes "an Aurora Replica or a
Multi-AZ readable standby" (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_FailoverDBCluster.html);
it is an RDS control-plane call, and a failover typically takes under 35 s. The writer is read
from `DescribeDBClusters` (`DBClusterMembers[].IsClusterWriter`) and its AZ from
`DescribeDBInstances` (`AvailabilityZone`, a zone *name*: mapped to its ID) (aws-semantics DB-1).

- Act only when the writer is in the impaired AZ; a writer elsewhere is unchanged.
- The target: an available reader in a healthy AZ, the highest promotion tier first (tier 0 is
  the highest), then the AZ with the most of the cluster's available instances, then the id.
- No such reader: the step is skipped with that reason (the evacuation is PARTIAL), and the
  reconciler's readiness says so beforehand.
- Recover leaves the writer where it is, unless `fail_back: true`: then, last of all, it fails
  back to the original writer once that instance is available again (until then the evacuation
  stays RECOVERING and the reconciler carries on), and only while the writer is still the one
  azevac chose (someone who moved it since is left alone).
- RDS Multi-AZ DB *instances* (`instances`: one primary, one standby) whose primary is in the
  impaired AZ fail over with `RebootDBInstance(ForceFailover=true)`
  (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_RebootDBInstance.html). Its
  limits: it takes no target (the new primary is wherever RDS placed the standby,
  `SecondaryAvailabilityZone`, which azevac reads and reports beforehand); it is a reboot (a
  write outage typically of one to two minutes, "Failover times are typically 60-120 seconds",
  https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Concepts.MultiAZSingleStandby.html);
  and it is not idempotent (a second one moves the primary back), so after an error or a lost
  answer it is read back, and sent again only if the reads show it did not happen. An
  instance that is not Multi-AZ has no standby: skipped, with the reason, and readiness says
  so beforehand.
"""

from __future__ import annotations

import contextvars
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from pydantic import Field, model_validator

from evacuation.aws.rds import Cluster, Instance, Member, RdsGateway
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
from evacuation.kinds.db_instances import InstanceFailoverRunner, instance_step
from evacuation.kinds.db_instances import readiness as instance_readiness
from evacuation.kinds.leaders import Leader, verify_leader_moves
from evacuation.model import JsonValue, Outcome, Phase, PlannedStep, StepKey, StepKind, StepRecord
from evacuation.reads import by_key
from evacuation.steps.base import Failed, Reverted, RunContext, Verdict, Verified

if TYPE_CHECKING:
    from evacuation.config import Config
    from evacuation.observe import Gateways, Observation

# -- config ---------------------------------------------------------------------------------------


class DatabasesConfig(Strict):
    clusters: Annotated[list[NonEmptyStr], listed_once("cluster")] = Field(default_factory=list)
    """DB cluster identifiers (Aurora, or RDS Multi-AZ DB clusters)."""
    instances: Annotated[list[NonEmptyStr], listed_once("DB instance")] = Field(
        default_factory=list
    )
    """RDS Multi-AZ DB instance identifiers (one standby; not members of a cluster)."""
    fail_back: bool = False
    """On recover, fail back to the original writer once it is available (default: leave the
    writer where the evacuation put it: a failover is a short write outage)."""

    @model_validator(mode="after")
    def _names_something(self) -> DatabasesConfig:
        if not self.clusters and not self.instances:
            raise ValueError("names no clusters and no instances")
        return self


# -- reads ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DatabasesObservation:
    clusters: Mapping[str, Cluster | EvacuationError] = field(default_factory=dict)
    zone_ids: Mapping[str, str] | EvacuationError = field(default_factory=dict)
    """AZ name -> ID: DescribeDBInstances reports names."""
    instances: Mapping[str, Instance | EvacuationError] = field(default_factory=dict)


# -- plan -----------------------------------------------------------------------------------------


def _az_id(member: Member | None, zone_ids: Mapping[str, str]) -> str | None:
    return zone_ids.get(member.az) if member is not None else None


def _image(cluster: Cluster, zone_ids: Mapping[str, str]) -> dict[str, Any]:
    writer = cluster.writer
    return {
        "writer": writer.instance_id if writer else None,
        "writer_az": _az_id(writer, zone_ids),
        "members": {
            m.instance_id: {
                "az": _az_id(m, zone_ids),
                "tier": m.promotion_tier,
                "status": m.status,
                "writer": m.writer,
            }
            for m in cluster.members
        },
    }


def choose_target(cluster: Cluster, zone_ids: Mapping[str, str], az_id: str) -> Member | None:
    """The reader to promote: available, in a healthy AZ; highest promotion tier (lowest
    number) first, then the AZ holding most of the cluster's available instances, then the id."""
    readers = [
        m
        for m in cluster.members
        if not m.writer and m.available and _az_id(m, zone_ids) not in (None, az_id)
    ]
    in_az: dict[str | None, int] = {}
    for member in cluster.members:
        if member.available:
            key = _az_id(member, zone_ids)
            in_az[key] = in_az.get(key, 0) + 1
    ranked = sorted(
        readers,
        key=lambda m: (m.promotion_tier, -in_az.get(_az_id(m, zone_ids), 0), m.instance_id),
    )
    return ranked[0] if ranked else None


def _cluster_step(
    cluster_id: str,
    observed: Cluster | EvacuationError,
    zone_ids: Mapping[str, str] | EvacuationError,
    az_id: str,
    recorded: StepRecord | None,
) -> PlannedStep:
    key = StepKey(StepKind.DB_FAILOVER, cluster_id)
    read = readable(key, f"DB cluster {cluster_id}", observed, zone_ids)
    if isinstance(read, PlannedStep):
        return read
    observed, zone_ids = read
    current = _image(observed, zone_ids)
    writer = observed.writer
    if writer is None:
        error = EvacuationError(f"DB cluster {cluster_id}: no writer (status {observed.status})")
        return failed_step(key, error, str(key))
    after = recorded.after if recorded is not None else None
    if isinstance(after, dict) and after.get("writer"):
        # Resumed: converge to the target recorded before the first run acted.
        target_id = str(after["writer"])
        intended = {**after}
        return PlannedStep(key, current, intended, writer.instance_id != target_id)
    writer_az = current["writer_az"]
    if writer_az != az_id:
        note = f"writer {writer.instance_id} is in {writer_az}, not in {az_id}"
        return PlannedStep(key, current, current, False, note=note)
    target = choose_target(observed, zone_ids, az_id)
    if target is None:
        reason = (
            f"DB cluster {cluster_id}: its writer {writer.instance_id} is in {az_id} and no "
            f"available reader is in another AZ: nothing to fail over to"
        )
        return PlannedStep(key, current, None, False, skip_reason=reason, gap=True)
    target_az = _az_id(target, zone_ids)
    intended = {"writer": target.instance_id, "writer_az": target_az, "from": writer.instance_id}
    note = (
        f"writer {writer.instance_id} is in {az_id}: FailoverDBCluster to {target.instance_id} "
        f"({target_az}, promotion tier {target.promotion_tier})"
    )
    return PlannedStep(key, current, intended, True, note=note)


# -- apply, verify, revert ------------------------------------------------------------------------


def _leader(cluster: Cluster, _after: Mapping[str, Any], zones: Mapping[str, str]) -> Leader:
    writer = cluster.writer
    return Leader(writer.instance_id if writer else None, _az_id(writer, zones))


def _pending(after: Mapping[str, Any]) -> str:
    return f"FailoverDBCluster accepted; {after['writer']} is not the writer yet"


class FailoverRunner:
    """One FailoverDBCluster per cluster (each cluster is its own batch: its own worker)."""

    def apply(
        self, ctx: RunContext, steps: Sequence[PlannedStep]
    ) -> Mapping[StepKey, JsonValue | Failed]:
        gateway = ctx.gateways.of(RdsGateway)
        afters: dict[StepKey, JsonValue | Failed] = {}
        for step in steps:
            try:
                gateway.failover(step.resource, str(step.intended["writer"]))
                afters[step.key] = dict(step.intended)
            except EvacuationError as exc:
                afters[step.key] = Failed(exc)
        return afters

    def verify(
        self, ctx: RunContext, steps: Sequence[PlannedStep], afters: Mapping[StepKey, Any]
    ) -> Mapping[StepKey, Verified]:
        """Converged when the target is the cluster's writer and its AZ (read back, name mapped
        to ID) is not the impaired one; a failover takes tens of seconds: else pending."""
        return verify_leader_moves(
            ctx, steps, afters, role="writer",
            read=ctx.gateways.of(RdsGateway).describe_clusters,
            leader=_leader, pending=_pending,
        )  # fmt: skip

    def revert(self, ctx: RunContext, records: Sequence[StepRecord]) -> Mapping[StepKey, Reverted]:
        section = ctx.config.databases
        if section is None or not section.fail_back:
            return {
                r.key: Reverted(
                    Outcome.UNCHANGED,
                    "writer left where the evacuation put it (databases.fail_back is false)",
                )
                for r in records
            }
        clusters = ctx.gateways.of(RdsGateway).describe_clusters(r.key.resource for r in records)
        return {r.key: self._fail_back(ctx, r, clusters.get(r.key.resource)) for r in records}

    @staticmethod
    def _fail_back(ctx: RunContext, record: StepRecord, cluster: Cluster | None) -> Reverted:
        before: Any = record.before
        after: Any = record.after
        original = before.get("writer") if isinstance(before, dict) else None
        ours = after.get("writer") if isinstance(after, dict) else None
        if cluster is None:
            return Reverted(Outcome.SKIPPED, "the cluster no longer exists: nothing to fail back")
        writer = cluster.writer
        current = writer.instance_id if writer else None
        if cluster.status == "failing-over":
            # A failover under way (ours, if the evacuation's outlasted verify): the writer may
            # still read as the original. Failed, so the reconciler fails back once it settles.
            return Reverted(Outcome.FAILED, "fail back waits: the cluster is failing-over")
        if current == original:
            return Reverted(Outcome.UNCHANGED, f"{original} is the writer already")
        if current != ours:
            reason = f"the writer is {current}, moved since (not by azevac); left as it is"
            return Reverted(Outcome.SKIPPED, reason)
        instance = next((m for m in cluster.members if m.instance_id == original), None)
        if instance is None:
            return Reverted(Outcome.SKIPPED, f"{original} is no longer a member; writer left")
        if not instance.available:
            # Failed, so the evacuation stays RECOVERING and the reconciler tries again.
            return Reverted(
                Outcome.FAILED, f"fail back waits: {original} is {instance.status}, not available"
            )
        rds = ctx.gateways.of(RdsGateway)
        rds.failover(record.key.resource, str(original))

        def back() -> Verified:  # recovered means the original writes again, not "asked"
            found = rds.describe_clusters([record.key.resource]).get(record.key.resource)
            writer = found.writer if found is not None else None
            done = found is not None and found.status == "available"
            done = done and writer is not None and writer.instance_id == original
            return Verified(Verdict.CONVERGED if done else Verdict.PENDING)

        if ctx.poll(back).verdict is not Verdict.CONVERGED:
            # Failed, so the evacuation stays RECOVERING and the reconciler looks again.
            return Reverted(
                Outcome.FAILED, f"fail back under way: {original} is not the writer yet"
            )
        return Reverted(Outcome.REVERTED, after={"writer": original, "from": current})


# -- the kind -------------------------------------------------------------------------------------


class DatabasesKind(Kind):
    name = "databases"
    section = "databases"
    config_types: ClassVar[Mapping[str, Any]] = {"DatabasesConfig": DatabasesConfig}
    steps = (
        StepSpec(
            StepKind.DB_FAILOVER,
            Phase.CONTROL_PLANE,
            FailoverRunner(),
            lane="rds",
            tier=fixed(Tier.DEPENDENCIES),
            stage=fixed(Stage.DEPENDENCIES),
        ),
        StepSpec(
            StepKind.DB_INSTANCE_FAILOVER,
            Phase.CONTROL_PLANE,
            InstanceFailoverRunner(),
            lane="rds",
            tier=fixed(Tier.DEPENDENCIES),
            stage=fixed(Stage.DEPENDENCIES),
        ),
    )
    permissions = (
        Permission(
            "ReadOnlyNoResourceLevel",
            ("rds:DescribeDBClusters", "rds:DescribeDBInstances", "ec2:DescribeAvailabilityZones"),
        ),
        Permission("FailoverOurDatabaseClusters", ("rds:FailoverDBCluster",)),
        Permission("FailoverOurDatabaseInstances", ("rds:RebootDBInstance",)),
    )

    def part(self, observation: Observation) -> DatabasesObservation:
        found = observation.parts.get(self.name)
        return found if isinstance(found, DatabasesObservation) else DatabasesObservation()

    def read(self, config: Config, gateways: Gateways) -> DatabasesObservation:
        if config.databases is None:
            return DatabasesObservation()
        section = config.databases
        rds = gateways.of(RdsGateway)
        with ThreadPoolExecutor(2, thread_name_prefix="observe") as pool:
            zones = pool.submit(contextvars.copy_context().run, zone_ids, gateways)
            instances = pool.submit(
                contextvars.copy_context().run,
                by_key, list(section.instances), rds.describe_instances, "DB instance not found",
            )  # fmt: skip
            clusters = (
                by_key(list(section.clusters), rds.describe_clusters, "DB cluster not found")
                if section.clusters
                else {}
            )
            return DatabasesObservation(clusters, zones.result(), instances.result())

    def plan(self, given: PlanInput) -> KindPlan:
        section = given.config.databases
        if section is None:
            return KindPlan()
        part = self.part(given.observation)
        steps = [
            _cluster_step(
                cluster_id,
                part.clusters[cluster_id],
                part.zone_ids,
                given.az_id,
                given.touched.get(StepKey(StepKind.DB_FAILOVER, cluster_id)),
            )
            for cluster_id in section.clusters
        ]
        steps += [
            instance_step(
                instance_id,
                part.instances[instance_id],
                part.zone_ids,
                given.az_id,
                given.touched.get(StepKey(StepKind.DB_INSTANCE_FAILOVER, instance_id)),
            )
            for instance_id in section.instances
        ]
        return KindPlan(steps)

    def readiness(self, config: Config, observation: Observation) -> list[str]:
        part = self.part(observation)
        problems = []
        zone_ids = part.zone_ids if not isinstance(part.zone_ids, EvacuationError) else {}
        for cluster_id, cluster in part.clusters.items():
            if isinstance(cluster, EvacuationError):
                problems.append(f"DB cluster {cluster_id}: cannot read it ({cluster})")
                continue
            writer_az = _az_id(cluster.writer, zone_ids)
            if writer_az is not None and choose_target(cluster, zone_ids, writer_az) is None:
                problems.append(
                    f"DB cluster {cluster_id}: no available reader outside {writer_az}, where "
                    f"its writer is: evacuating {writer_az} cannot move the writer (add a "
                    "reader in another AZ)"
                )
        for instance_id, instance in part.instances.items():
            problems += instance_readiness(instance_id, instance)
        return problems

    # No az_ids: a database AZ serves no traffic of its own; the AZs the workload is in are
    # those of its load balancers, records and groups.


KIND = DatabasesKind()
