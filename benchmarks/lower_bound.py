"""The critical-path lower bound: the least time any correct controller needs for the same plan,
under the same latency and rate-limit model.

A correct controller needs at least three sequential rounds before the last data-plane change is
acknowledged: read what is there, record the before-state, apply. Within a round calls can all
run at once, but a service's calls cannot beat its token bucket: N calls against a bucket of B
tokens refilled at r per second cannot all be sent before (N - B) / r seconds. The data plane's
services (ARC, Route 53) have separate buckets and run side by side, so the bound is the slower
of the two. Call counts are the fewest that can do the job: one page of ListManagedResources per
100 resources, one ListResourceRecordSets and one ChangeResourceRecordSets per hosted zone, one
StartZonalShift per resource. The control plane adds two rounds (record, apply) after the data
plane, tier after tier (kinds.base.Tier): dependencies (one FailoverDBCluster per DB cluster,
read with DescribeDBClusters + DescribeDBInstances per 100 clusters), then capacity: Auto
Scaling (DescribeAutoScalingGroups at 100 names a page, two mutations per group) and ECS (one
DescribeServices per 10 services of a cluster, one UpdateService per service, read back once
more at steady state) side by side, each against its own bucket.

The dependencies tier moves cache primaries beside the DB writers (their own lane and bucket):
one DescribeReplicationGroups per 100 groups and one promotion per group; a Multi-AZ group
(every other one in the fleets) adds AWS's two failover-setting changes around its promotion,
each read back before the next, so the tier takes four more rounds when the fleet has one.

Rates modelled (evacuation.config.DEFAULT_RATE_LIMITS): RDS 300 burst, 12 per second ("By
default, you can make up to 300 requests in a burst and a sustained 12 requests per second",
https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-api-throttling.html); ECS 50 burst
(the cluster-read bucket of the example in
https://docs.aws.amazon.com/AmazonECS/latest/APIReference/request-throttling.html), 5 per second
(assumed). ElastiCache: 50 burst, 5 per second (assumed: AWS publishes no figures).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from benchmarks.fleets import ECS_SERVICES_PER_CLUSTER, FleetSpec, pages
from evacuation.config import RateLimit

DATA_PLANE_ROUNDS = 3
CONTROL_PLANE_ROUNDS = 2
MULTI_AZ_ROUNDS = 4
"""Multi-AZ off, read it back, (promote,) read the primary back, Multi-AZ on."""


@dataclass(frozen=True)
class LowerBound:
    mitigate_seconds: float
    total_seconds: float
    calls: Mapping[str, int]


def _bucket_wait(calls: int, limit: RateLimit | None, refilled_for: float = 0.0) -> float:
    if limit is None:
        return 0.0
    tokens = limit.burst + limit.per_second * refilled_for
    return max(0.0, (calls - tokens) / limit.per_second)


def lower_bound(spec: FleetSpec, latency: float, limits: Mapping[str, RateLimit]) -> LowerBound:
    ecs_reads = 2 * sum(
        pages(min(ECS_SERVICES_PER_CLUSTER, spec.ecs_services - c * ECS_SERVICES_PER_CLUSTER), 10)
        for c in range(spec.ecs_clusters)
    )
    calls = {
        "arc-zonal-shift": pages(spec.shift_resources, 100) + spec.shift_resources,
        "route53": 2 * spec.hosted_zones,
        "autoscaling": pages(spec.groups, 100) + 2 * spec.groups,
        "rds": (2 * pages(spec.db_clusters, 100) + spec.db_clusters) if spec.db_clusters else 0,
        "ecs": ecs_reads + spec.ecs_services,
        "elasticache": (
            pages(spec.cache_groups, 100)
            + spec.cache_groups
            + 2 * spec.multi_az_cache_groups
            + 2 * spec.multi_az_cache_groups  # each setting change read back before the next
        )
        if spec.cache_groups
        else 0,
    }
    data_wait = max(
        _bucket_wait(calls["arc-zonal-shift"], limits.get("arc-zonal-shift")),
        _bucket_wait(calls["route53"], limits.get("route53")),
    )
    mitigate = DATA_PLANE_ROUNDS * latency + data_wait
    elapsed = mitigate
    if spec.db_clusters or spec.cache_groups:  # the dependencies tier, before any capacity
        rounds = CONTROL_PLANE_ROUNDS + (MULTI_AZ_ROUNDS if spec.multi_az_cache_groups else 0)
        elapsed += rounds * latency + max(
            _bucket_wait(calls["rds"], limits.get("rds"), elapsed),
            _bucket_wait(calls["elasticache"], limits.get("elasticache"), elapsed),
        )
    capacity_wait = max(
        _bucket_wait(calls["autoscaling"], limits.get("autoscaling"), elapsed),
        _bucket_wait(calls["ecs"], limits.get("ecs"), elapsed),
    )
    total = elapsed + CONTROL_PLANE_ROUNDS * latency + capacity_wait
    return LowerBound(mitigate, total, {k: v for k, v in calls.items() if v})
