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
plane, with DescribeAutoScalingGroups at 100 names a page and two mutations per group.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from benchmarks.fleets import FleetSpec, pages
from evacuation.config import RateLimit

DATA_PLANE_ROUNDS = 3
CONTROL_PLANE_ROUNDS = 2


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
    calls = {
        "arc-zonal-shift": pages(spec.shift_resources, 100) + spec.shift_resources,
        "route53": 2 * spec.hosted_zones,
        "autoscaling": pages(spec.groups, 100) + 2 * spec.groups,
    }
    data_wait = max(
        _bucket_wait(calls["arc-zonal-shift"], limits.get("arc-zonal-shift")),
        _bucket_wait(calls["route53"], limits.get("route53")),
    )
    mitigate = DATA_PLANE_ROUNDS * latency + data_wait
    control_wait = _bucket_wait(calls["autoscaling"], limits.get("autoscaling"), mitigate)
    total = mitigate + CONTROL_PLANE_ROUNDS * latency + control_wait
    return LowerBound(mitigate, total, calls)
