"""EC2 reads: the region's AZ name <-> ID map and which AZ each subnet is in."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from threading import Lock

from evacuation.aws.clients import AwsClients, Caller


@dataclass(frozen=True)
class Zone:
    name: str
    zone_id: str
    state: str


class Ec2Gateway:
    """ec2 calls, each translated and retried through `call`."""

    def __init__(self, clients: AwsClients, call: Caller) -> None:
        self._clients = clients
        self._call = call
        self._zones: list[Zone] | None = None
        self._zones_lock = Lock()

    def availability_zones(self) -> list[Zone]:
        """The region's Availability Zones (not Local or Wavelength zones), one call per gateway
        (a gateway serves one run: the region's AZ name-to-ID map does not change within it, and
        each kind's verify would otherwise read it again); a failed read is not kept."""
        with self._zones_lock:
            if self._zones is None:
                ec2 = self._clients.ec2()
                response = self._call(
                    "ec2.DescribeAvailabilityZones",
                    lambda: ec2.describe_availability_zones(
                        Filters=[{"Name": "zone-type", "Values": ["availability-zone"]}]
                    ),
                )
                self._zones = [
                    Zone(z["ZoneName"], z["ZoneId"], z.get("State", "available"))
                    for z in response["AvailabilityZones"]
                    if z.get("ZoneType", "availability-zone") == "availability-zone"
                ]
            return list(self._zones)

    def zone_ids_by_name(self) -> Mapping[str, str]:
        """AZ name -> AZ ID: RDS, ElastiCache and Auto Scaling report names."""
        return {z.name: z.zone_id for z in self.availability_zones()}

    def subnet_zone_ids(self, subnet_ids: Iterable[str]) -> Mapping[str, str]:
        """subnet id -> AZ ID, in batches of 200 ids per call."""
        ec2 = self._clients.ec2()
        wanted = sorted(set(subnet_ids))
        found: dict[str, str] = {}
        for start in range(0, len(wanted), 200):
            batch = wanted[start : start + 200]
            response = self._call(
                "ec2.DescribeSubnets", partial(ec2.describe_subnets, SubnetIds=batch)
            )
            for subnet in response["Subnets"]:
                found[subnet["SubnetId"]] = subnet["AvailabilityZoneId"]
        return found

    def launched_after(self, instance_ids: Iterable[str], since: datetime) -> list[str]:
        """Of `instance_ids`, those EC2 says were launched after `since` (200 ids per call)."""
        ec2 = self._clients.ec2()
        wanted = sorted(set(instance_ids))
        found: list[str] = []
        for start in range(0, len(wanted), 200):
            batch = wanted[start : start + 200]
            response = self._call(
                "ec2.DescribeInstances", partial(ec2.describe_instances, InstanceIds=batch)
            )
            for reservation in response["Reservations"]:
                for instance in reservation["Instances"]:
                    if instance["LaunchTime"] > since:
                        found.append(instance["InstanceId"])
        return sorted(found)
