"""EC2 Auto Scaling: read groups in batches; set subnets; suspend and resume processes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from evacuation.aws.clients import AwsClients, Caller

DESCRIBE_BATCH = 50


@dataclass(frozen=True)
class Group:
    name: str
    subnets: tuple[str, ...]
    """VPCZoneIdentifier split, in its stored order."""
    suspended: frozenset[str]
    desired: int
    min_size: int
    max_size: int


class AutoScalingGateway:
    """autoscaling calls, each translated and retried through `call`."""

    def __init__(self, clients: AwsClients, call: Caller) -> None:
        self._clients = clients
        self._call = call

    def describe_groups(self, names: Iterable[str]) -> Mapping[str, Group]:
        """The named groups that exist, by name; batched (50 names a call)."""
        asg = self._clients.autoscaling()
        wanted = list(dict.fromkeys(names))
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
                    subnets = tuple(
                        s.strip() for s in raw.get("VPCZoneIdentifier", "").split(",") if s.strip()
                    )
                    groups[raw["AutoScalingGroupName"]] = Group(
                        name=raw["AutoScalingGroupName"],
                        subnets=subnets,
                        suspended=frozenset(
                            p["ProcessName"] for p in raw.get("SuspendedProcesses", [])
                        ),
                        desired=raw["DesiredCapacity"],
                        min_size=raw["MinSize"],
                        max_size=raw["MaxSize"],
                    )
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
