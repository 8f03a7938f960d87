"""ECS service deployments on moto, as the ECS documentation describes them.

moto 5.2.5 stores UpdateService's `networkConfiguration` and `availabilityZoneRebalancing`, but
creates no deployment for the change and never finishes any: its one deployment stays
`rolloutState` IN_PROGRESS with `runningCount` 0 (aws-facts.md, ECS row). The ECS kind verifies
exactly that progress, so this fake keeps the deployments itself, on botocore's hooks (the
requests are still validated and serialized by botocore and answered by moto):

1. **A network change starts a deployment.** UpdateService with a `networkConfiguration` whose
   subnets differ "triggers a new service deployment"
   (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_UpdateService.html): a new
   PRIMARY deployment, `rolloutState` IN_PROGRESS; the previous one becomes ACTIVE (its tasks
   are being replaced) (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Deployment.html).
2. **Rebalancing alone starts none.** `availabilityZoneRebalancing` "doesn't trigger a new
   service deployment" (same page); moto keeps the value, and an update without it keeps it.
3. **Steady state.** A deployment's rollout becomes COMPLETED "when the service reaches steady
   state" (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-rollout-state.html);
   the ACTIVE deployment is then gone and runningCount is desiredCount. Here that happens on
   the `reads_to_steady`-th DescribeServices that shows the service (real ECS: minutes);
   `hold()` keeps rollouts IN_PROGRESS, `fail_next()` makes the next one FAILED (the
   deployment circuit breaker,
   https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-circuit-breaker.html).
4. **AZ rebalancing.** moto 5.2.5 ignores CreateService's `availabilityZoneRebalancing` (it
   stores the value only on UpdateService); the fake keeps it: "For create service requests,
   when no value is specified ... Amazon ECS defaults the value to ENABLED", and an update
   without it keeps the existing value (API_UpdateService, API_CreateService).
5. A service the fake has not seen deploy is taken as steady (moto's creation deployment never
   completes; a real service has been running for a while).
"""

from __future__ import annotations

import copy
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3

_PARAMS_KEY = "azevac_ecs_params"
_ids = itertools.count(1)


@dataclass
class _Deployment:
    deployment_id: str
    status: str
    rollout: str
    subnets: tuple[str, ...]
    reads: int = 0

    def shape(self, desired: int, raw: dict[str, Any]) -> dict[str, Any]:
        running = desired if self.rollout == "COMPLETED" or self.status == "ACTIVE" else 0
        return {
            **raw,
            "id": self.deployment_id,
            "status": self.status,
            "rolloutState": self.rollout,
            "desiredCount": desired if self.status == "PRIMARY" else 0,
            "runningCount": running,
            "pendingCount": 0 if self.rollout == "COMPLETED" else desired,
        }


@dataclass
class EcsDeployments:
    reads_to_steady: int = 2
    """A new deployment reads back COMPLETED on this DescribeServices (1: the first read)."""
    _services: dict[str, list[_Deployment]] = field(default_factory=dict)
    _rebalancing: dict[str, str] = field(default_factory=dict)
    _held: bool = False
    _fail_next: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def install(self, session: boto3.Session) -> None:
        """For clients made after this call."""
        events = session.events
        uid = f"azevac-ecs-{id(self)}"
        events.register("before-parameter-build.ecs", self._remember, unique_id=f"{uid}-p")
        events.register_first("after-call.ecs.CreateService", self._created, unique_id=f"{uid}-c")
        events.register_first("after-call.ecs.UpdateService", self._updated, unique_id=f"{uid}-u")
        events.register_first(
            "after-call.ecs.DescribeServices", self._described, unique_id=f"{uid}-d"
        )

    # ----------------------------------------------------------- test helpers

    def hold(self, held: bool = True) -> None:
        """Keep every rollout IN_PROGRESS (a deployment that does not reach steady state)."""
        with self._lock:
            self._held = held

    def fail_next(self) -> None:
        with self._lock:
            self._fail_next = True

    def deployments(self, service_arn: str) -> list[tuple[str, str]]:
        """(status, rolloutState) of the service's deployments, newest first."""
        with self._lock:
            return [(d.status, d.rollout) for d in self._services.get(service_arn, [])]

    def apply(self, operation: str, params: dict[str, Any], parsed: dict[str, Any]) -> None:
        """The same model for a response that did not go through botocore's hooks (the embedded
        server answers the Lambda artifact, which has no emulator): `parsed` is changed in place."""
        handlers: dict[str, Callable[..., None]] = {
            "CreateService": self._created,
            "UpdateService": self._updated,
            "DescribeServices": self._described,
        }
        handler = handlers.get(operation)
        if handler is not None:
            handler(parsed=parsed, context={_PARAMS_KEY: params})

    # ----------------------------------------------------------------- hooks

    @staticmethod
    def _remember(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context[_PARAMS_KEY] = copy.deepcopy(params)

    def _known(self, raw: dict[str, Any]) -> list[_Deployment]:
        arn = raw["serviceArn"]
        if arn not in self._services:
            subnets = _subnets(raw)
            first = (raw.get("deployments") or [{}])[0]
            self._services[arn] = [
                _Deployment(
                    str(first.get("id", f"ecs-svc/{next(_ids)}")), "PRIMARY", "COMPLETED", subnets
                )
            ]
        return self._services[arn]

    def _created(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        params = context.get(_PARAMS_KEY, {})
        raw = parsed.get("service")
        if raw:
            with self._lock:
                value = params.get("availabilityZoneRebalancing", "ENABLED")
                self._rebalancing[raw["serviceArn"]] = value
                raw["availabilityZoneRebalancing"] = value

    def _updated(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        params = context.get(_PARAMS_KEY, {})
        raw = parsed.get("service")
        if not raw:
            return
        with self._lock:
            if "availabilityZoneRebalancing" in params:
                self._rebalancing[raw["serviceArn"]] = params["availabilityZoneRebalancing"]
            if raw["serviceArn"] in self._rebalancing:
                raw["availabilityZoneRebalancing"] = self._rebalancing[raw["serviceArn"]]
        if "networkConfiguration" not in params:
            return
        with self._lock:
            deployments = self._known(raw)
            subnets = _subnets(raw)
            if subnets == deployments[0].subnets:
                return
            for old in deployments:
                old.status = "ACTIVE"
            rollout = "FAILED" if self._fail_next else "IN_PROGRESS"
            self._fail_next = False
            new = _Deployment(f"ecs-svc/{next(_ids):019d}", "PRIMARY", rollout, subnets)
            # An ACTIVE deployment stays while the new one replaces its tasks; older ones are
            # already stopped.
            self._services[raw["serviceArn"]] = [new, deployments[0]]
            self._shape(raw)

    def _described(self, parsed: dict[str, Any], **_: Any) -> None:
        with self._lock:
            for raw in parsed.get("services", []):
                deployments = self._known(raw)
                primary = deployments[0]
                if primary.rollout == "IN_PROGRESS" and not self._held:
                    primary.reads += 1
                    if primary.reads >= self.reads_to_steady:
                        primary.rollout = "COMPLETED"
                        del deployments[1:]
                self._shape(raw)

    def _shape(self, raw: dict[str, Any]) -> None:
        deployments = self._services[raw["serviceArn"]]
        desired = int(raw.get("desiredCount", 0))
        template = dict((raw.get("deployments") or [{}])[0])
        raw["deployments"] = [d.shape(desired, template) for d in deployments]
        for shaped, deployment in zip(raw["deployments"], deployments, strict=True):
            shaped["networkConfiguration"] = {
                "awsvpcConfiguration": {
                    **raw.get("networkConfiguration", {}).get("awsvpcConfiguration", {}),
                    "subnets": list(deployment.subnets),
                }
            }
        raw["runningCount"] = desired
        raw["pendingCount"] = 0
        if raw["serviceArn"] in self._rebalancing:
            raw["availabilityZoneRebalancing"] = self._rebalancing[raw["serviceArn"]]


def _subnets(raw: dict[str, Any]) -> tuple[str, ...]:
    return tuple(
        raw.get("networkConfiguration", {}).get("awsvpcConfiguration", {}).get("subnets", [])
    )
