"""RDS Multi-AZ DB instances' failover on moto.

moto 5 answers `RebootDBInstance` without failing anything over and reports no
`SecondaryAvailabilityZone` (aws-facts.md, RDS row). This model keeps a Multi-AZ instance's
primary and standby zones, on botocore's hooks (requests still validated by botocore and
answered by moto; the model rewrites what moto's answers say about the zones):

1. A `CreateDBInstance` with `MultiAZ` true and no `DBClusterIdentifier` has a standby in
   another AZ of the region: "Amazon RDS automatically provisions and maintains a synchronous
   standby replica in a different Availability Zone"
   (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Concepts.MultiAZSingleStandby.html).
   RDS chooses both zones: "The AvailabilityZone parameter can't be specified if the DB
   instance is a Multi-AZ deployment" (API_CreateDBInstance.html; refused here with
   `InvalidParameterCombination`, the code inferred). The model takes the first two of `zones`;
   `place` seeds another placement (as RDS might have chosen it).
2. `DescribeDBInstances` reports the primary's zone as `AvailabilityZone` and the standby's as
   `SecondaryAvailabilityZone` ("the name of the secondary Availability Zone for a DB instance
   with multi-AZ support", API_DBInstance.html).
3. `RebootDBInstance` with `ForceFailover` true: "the reboot is conducted through a Multi-AZ
   failover": the standby becomes the primary and the old primary the standby (the user guide
   page above: "the standby is promoted"). On an instance that is not Multi-AZ: refused, "You
   can't enable force failover if the instance isn't configured for Multi-AZ"
   (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_RebootDBInstance.html; the
   error code, `InvalidParameterCombination`, is inferred). The instance reads `rebooting` for
   `failover_reads` describes, then `available` in its new zone ("the DB instance status is set
   to rebooting", same page). While it is rebooting, another reboot is refused with
   `InvalidDBInstanceState` (the fault the page lists).
4. `complete_reboots()` is time passing (minutes): every reboot under way is done.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import boto3

from evacuation.emulator.faults import error_response

_PARAMS_KEY = "azevac_rds_instance_params"


@dataclass
class _Standby:
    primary: str
    secondary: str
    rebooting_reads: int = 0


@dataclass
class RdsInstanceFailover:
    zones: Sequence[str] = ("us-east-1a", "us-east-1b", "us-east-1c")
    failover_reads: int = 1
    _instances: dict[str, _Standby] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def install(self, session: boto3.Session) -> None:
        events = session.events
        uid = f"azevac-rds-instances-{id(self)}"
        events.register("before-parameter-build.rds", self._remember, unique_id=f"{uid}-p")
        events.register_first(
            "after-call.rds.CreateDBInstance", self._created, unique_id=f"{uid}-c"
        )
        events.register_first(
            "before-call.rds.CreateDBInstance", self._create, unique_id=f"{uid}-b"
        )
        events.register_first(
            "before-call.rds.RebootDBInstance", self._reboot, unique_id=f"{uid}-r"
        )
        for operation in ("DescribeDBInstances", "RebootDBInstance"):
            events.register_first(
                f"after-call.rds.{operation}", self._described, unique_id=f"{uid}-{operation}"
            )

    # -- reading back and acting as RDS ------------------------------------------------------------

    def zones_of(self, instance_id: str) -> tuple[str, str]:
        """(primary zone name, standby zone name), as the model holds them."""
        with self._lock:
            standby = self._instances[instance_id]
            return standby.primary, standby.secondary

    def place(self, instance_id: str, primary: str, secondary: str) -> None:
        """Seed where RDS put a Multi-AZ instance's primary and standby (zone names)."""
        if primary == secondary:
            raise ValueError("a Multi-AZ standby is in a different AZ from its primary")
        with self._lock:
            self._instances[instance_id] = _Standby(primary, secondary)

    def complete_reboots(self) -> None:
        """Every reboot under way finishes (the next describe shows the instance available)."""
        with self._lock:
            for standby in self._instances.values():
                standby.rebooting_reads = 0

    # -- hooks -------------------------------------------------------------------------------------

    @staticmethod
    def _remember(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context[_PARAMS_KEY] = copy.deepcopy(params)

    @staticmethod
    def _create(context: dict[str, Any], **_: Any) -> Any:
        params = context.get(_PARAMS_KEY, {})
        if params.get("MultiAZ") and params.get("AvailabilityZone"):
            return error_response(
                "InvalidParameterCombination", 400,
                "Requesting a specific availability zone is not valid for Multi-AZ instances.",
            )  # fmt: skip
        return None

    def _created(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        params = context.get(_PARAMS_KEY, {})
        instance = parsed.get("DBInstance")
        if not instance or not params.get("MultiAZ") or params.get("DBClusterIdentifier"):
            return
        with self._lock:
            self._instances[instance["DBInstanceIdentifier"]] = _Standby(
                self.zones[0], self.zones[1]
            )
        self._overlay(instance)

    def _reboot(self, context: dict[str, Any], **_: Any) -> Any:
        params = context.get(_PARAMS_KEY, {})
        instance_id = params.get("DBInstanceIdentifier", "")
        with self._lock:
            standby = self._instances.get(instance_id)
            if not params.get("ForceFailover"):
                return None
            if standby is None:
                return error_response(
                    "InvalidParameterCombination", 400,
                    f"{instance_id} is not configured for Multi-AZ: no force failover",
                )  # fmt: skip
            if standby.rebooting_reads > 0:
                return error_response("InvalidDBInstanceState", 400, f"{instance_id} is rebooting")
            standby.primary, standby.secondary = standby.secondary, standby.primary
            standby.rebooting_reads = self.failover_reads + 1  # the reboot's own answer, then reads
        return None

    def _described(self, parsed: dict[str, Any], **_: Any) -> None:
        for instance in parsed.get("DBInstances", []) or [parsed.get("DBInstance") or {}]:
            self._overlay(instance)

    def _overlay(self, instance: dict[str, Any]) -> None:
        with self._lock:
            standby = self._instances.get(instance.get("DBInstanceIdentifier", ""))
            if standby is None:
                return
            instance["MultiAZ"] = True
            instance["AvailabilityZone"] = standby.primary
            instance["SecondaryAvailabilityZone"] = standby.secondary
            if standby.rebooting_reads > 0:
                standby.rebooting_reads -= 1
                instance["DBInstanceStatus"] = "rebooting"
            else:
                instance["DBInstanceStatus"] = "available"
