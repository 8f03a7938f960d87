"""EC2 Auto Scaling: read groups in batches; set subnets; suspend and resume processes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from evacuation.aws.clients import AwsClients, Caller
from evacuation.aws.coalesce import Coalescer

DESCRIBE_BATCH = 50


@dataclass(frozen=True)
class Instance:
    instance_id: str
    az_id: str | None
    """AvailabilityZoneId; None where the API leaves it out (then `az` names the zone)."""
    az: str
    lifecycle: str
    health: str
    weight: float

    @property
    def serving(self) -> bool:
        """InService and Healthy: capacity that carries load (aws-semantics ASG-5)."""
        return self.lifecycle == "InService" and self.health == "Healthy"


@dataclass(frozen=True)
class Group:
    name: str
    subnets: tuple[str, ...]
    """VPCZoneIdentifier split, in its stored order."""
    suspended: frozenset[str]
    desired: int
    min_size: int
    max_size: int
    arn: str = ""
    zone_ids: tuple[str, ...] = ()
    """AvailabilityZoneIds, for a group defined by AZ IDs instead of subnets."""
    zones: tuple[str, ...] = ()
    """AvailabilityZones (names), as the API reports them (for every group)."""
    zonal_shift_enabled: bool = False
    """AvailabilityZoneImpairmentPolicy.ZonalShiftEnabled: the group takes ARC zonal shifts."""
    impaired_health: str | None = None
    """ImpairedZoneHealthCheckBehavior: IgnoreUnhealthy or ReplaceUnhealthy."""
    suspension_reasons: Mapping[str, str] = field(default_factory=dict)
    """process -> SuspensionReason (says who suspended it, and when)."""
    instances: tuple[Instance, ...] = ()

    def serving_in(self, az_id: str, zone_name: str | None = None) -> float:
        """Summed weighted capacity of the InService, Healthy instances in the AZ."""
        return sum(
            i.weight
            for i in self.instances
            if i.serving and (i.az_id == az_id or (i.az_id is None and i.az == zone_name))
        )


def _group(raw: Mapping[str, Any]) -> Group:
    subnets = tuple(s.strip() for s in raw.get("VPCZoneIdentifier", "").split(",") if s.strip())
    policy = raw.get("AvailabilityZoneImpairmentPolicy") or {}
    instances = tuple(
        Instance(
            instance_id=i["InstanceId"],
            az_id=i.get("AvailabilityZoneId"),
            az=i.get("AvailabilityZone", ""),
            lifecycle=i.get("LifecycleState", ""),
            health=i.get("HealthStatus", ""),
            weight=float(i.get("WeightedCapacity") or 1),
        )
        for i in raw.get("Instances", [])
    )
    return Group(
        name=raw["AutoScalingGroupName"],
        subnets=subnets,
        suspended=frozenset(p["ProcessName"] for p in raw.get("SuspendedProcesses", [])),
        desired=raw["DesiredCapacity"],
        min_size=raw["MinSize"],
        max_size=raw["MaxSize"],
        arn=raw.get("AutoScalingGroupARN", ""),
        zone_ids=tuple(raw.get("AvailabilityZoneIds", [])),
        zones=tuple(raw.get("AvailabilityZones", [])),
        zonal_shift_enabled=bool(policy.get("ZonalShiftEnabled")),
        impaired_health=policy.get("ImpairedZoneHealthCheckBehavior"),
        suspension_reasons={
            p["ProcessName"]: p.get("SuspensionReason", "")
            for p in raw.get("SuspendedProcesses", [])
        },
        instances=instances,
    )


class AutoScalingGateway:
    """autoscaling calls, each translated and retried through `call`."""

    def __init__(self, clients: AwsClients, call: Caller) -> None:
        self._clients = clients
        self._call = call
        self._reads = Coalescer(self._describe, DESCRIBE_BATCH)

    def describe_groups(self, names: Iterable[str]) -> Mapping[str, Group]:
        """The named groups that exist, by name; batched (50 names a call), and the lanes'
        concurrent reads of a few groups each share calls (`coalesce.Coalescer`)."""
        return self._reads.read(names)

    def _describe(self, wanted: list[str]) -> Mapping[str, Group]:
        asg = self._clients.autoscaling()
        groups: dict[str, Group] = {}
        for start in range(0, len(wanted), DESCRIBE_BATCH):
            batch = wanted[start : start + DESCRIBE_BATCH]
            token: str | None = None
            while True:
                kwargs: dict[str, Any] = {"AutoScalingGroupNames": batch, "MaxRecords": 100}
                if token:
                    kwargs["NextToken"] = token
                response = self._call(
                    "autoscaling.DescribeAutoScalingGroups",
                    partial(asg.describe_auto_scaling_groups, **kwargs),
                )
                for raw in response["AutoScalingGroups"]:
                    groups[raw["AutoScalingGroupName"]] = _group(raw)
                token = response.get("NextToken")
                if not token:
                    break
        return groups

    def set_subnets(self, name: str, subnets: Iterable[str]) -> None:
        asg = self._clients.autoscaling()
        identifier = ",".join(subnets)
        self._call(
            "autoscaling.UpdateAutoScalingGroup",
            lambda: asg.update_auto_scaling_group(
                AutoScalingGroupName=name, VPCZoneIdentifier=identifier
            ),
        )

    def set_zones(self, name: str, zone_ids: Iterable[str] = (), names: Iterable[str] = ()) -> None:
        """Set a group's AZs by ID (AvailabilityZoneIds) or, for a group defined by names, by
        name (AvailabilityZones); the API accepts one or the other, never both."""
        asg = self._clients.autoscaling()
        ids, zone_names = list(zone_ids), list(names)
        if bool(ids) == bool(zone_names):
            raise ValueError("give AZ IDs or AZ names, exactly one of the two")
        update = (
            partial(
                asg.update_auto_scaling_group, AutoScalingGroupName=name, AvailabilityZoneIds=ids
            )
            if ids
            else partial(
                asg.update_auto_scaling_group,
                AutoScalingGroupName=name,
                AvailabilityZones=zone_names,
            )
        )
        self._call("autoscaling.UpdateAutoScalingGroup", update)

    def set_desired_capacity(self, name: str, desired: int) -> None:
        asg = self._clients.autoscaling()
        update = partial(
            asg.set_desired_capacity, AutoScalingGroupName=name, DesiredCapacity=desired
        )
        self._call("autoscaling.SetDesiredCapacity", update)

    def suspend_processes(self, name: str, processes: Iterable[str]) -> None:
        """Suspend exactly these processes. An empty list would suspend all of them: refused."""
        names = sorted(processes)
        if not names:
            raise ValueError("refusing SuspendProcesses with no process: it would suspend all")
        asg = self._clients.autoscaling()
        self._call(
            "autoscaling.SuspendProcesses",
            lambda: asg.suspend_processes(AutoScalingGroupName=name, ScalingProcesses=names),
        )

    def resume_processes(self, name: str, processes: Iterable[str]) -> None:
        """Resume exactly these processes. An empty list would resume all of them: refused."""
        names = sorted(processes)
        if not names:
            raise ValueError("refusing ResumeProcesses with no process: it would resume all")
        asg = self._clients.autoscaling()
        self._call(
            "autoscaling.ResumeProcesses",
            lambda: asg.resume_processes(AutoScalingGroupName=name, ScalingProcesses=names),
        )
