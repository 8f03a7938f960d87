"""Auto Scaling placement as AWS documents it, layered on moto's autoscaling backend.

moto 5.2 puts every instance of a group in its first subnet, never rebalances, ignores suspended
processes and drops ``AvailabilityZoneIds`` and ``AvailabilityZoneImpairmentPolicy`` (aws-facts
§3.2). Tests that assert where capacity is need the real placement, so this layer patches moto's
backend and keeps the group's extra state on moto's own objects: the engine still talks to it
through boto3, botocore still validates every request, and DescribeAutoScalingGroups reads the
result back. Rules, each with its page ("inferred" marks a choice the docs do not state; "fake
choice" one they leave open):

1. Placement. "Amazon EC2 Auto Scaling attempts to distribute instances evenly between the
   Availability Zones that are enabled for your Auto Scaling group ... by attempting to launch
   new instances in the Availability Zone with the fewest instances"
   (https://docs.aws.amazon.com/autoscaling/ec2/userguide/auto-scaling-benefits.html, Instance
   distribution; and "Auto Scaling maintains an equal number of instances across enabled
   Availability Zones",
   https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-availability-zone-balanced.html).
   The enabled AZs are the subnets' AZs of ``VPCZoneIdentifier`` (in the string's order, the
   first subnet of an AZ is used), else ``AvailabilityZones`` / ``AvailabilityZoneIds``. A launch
   goes to the enabled AZ with the fewest instances (Pending or InService), ties by that order
   (fake choice). ``AvailabilityZoneIds`` is stored and returned; sending it together with
   ``AvailabilityZones`` is a ValidationError ("You cannot specify both AvailabilityZones and
   AvailabilityZoneIds in the same request", model doc of Create/UpdateAutoScalingGroup).
   Scale-in follows the default termination policy's first rule, the AZ with the most
   instances (https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-termination-policies.html),
   ties to the last AZ in order, the newest instance of it, never one protected from scale-in
   (fake choices for what the policy leaves to billing hours and chance).
2. Describe. Instances carry ``AvailabilityZoneId``, ``LifecycleState``, ``HealthStatus`` and
   ``WeightedCapacity`` (the first override's, when the MixedInstancesPolicy sets one); the group
   carries ``AvailabilityZoneIds`` and ``AvailabilityZoneImpairmentPolicy`` when set, and
   ``SuspendedProcesses`` (model shapes Instance and AutoScalingGroup), each with a
   ``SuspensionReason`` that says who suspended it and when ("User suspended at <UTC time>";
   https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_SuspendedProcess.html, wording
   inferred), so a later suspension reads differently from an earlier one.
3. Rebalancing. An AZ change, or any imbalance, makes the group rebalance: "launches new
   instances before terminating the earlier ones, so that rebalancing does not compromise the
   performance or availability of your application", and it "can temporarily exceed the
   specified maximum capacity of a group by a 10 percent margin (or by a margin of one instance,
   whichever is greater)" (auto-scaling-benefits.html, Rebalancing activities). The model
   launches in the enabled AZs first, up to ``MaxSize + max(1, MaxSize // 10)`` (fake choice:
   10 % rounded down), and terminates an earlier instance only while the group keeps at least
   its desired count InService. Balanced means no instance outside the enabled AZs and at most
   one instance of difference between them.
   - AZRebalance suspended: "if a scale-out or scale in event occurs, the scaling process still
     tries to balance the Availability Zones. For example, during scale out, it launches the
     instance in the Availability Zone with the fewest instances"
     (https://docs.aws.amazon.com/autoscaling/ec2/userguide/understand-how-suspending-processes-affects-other-processes.html).
     After an AZ change the group "can become unbalanced ... after you resume the suspended
     processes, Amazon EC2 Auto Scaling gradually redistributes instances"
     (https://docs.aws.amazon.com/autoscaling/ec2/userguide/suspend-resume-considerations.html):
     the removed AZ's instances stay InService and count toward the desired capacity, scale-out
     launches only in the enabled AZs, and scale-in terminates in an AZ that is no longer
     enabled first (inferred, aws-semantics §3.2). ResumeProcesses(AZRebalance) rebalances.
   - Launch suspended: no launch at all ("AZRebalance stops rebalancing the group",
     "ReplaceUnhealthy continues to terminate unhealthy instances, but does not launch
     replacements"). Terminate suspended: no termination; "AZRebalance ... can launch new
     instances without terminating the old ones", up to the margin above MaxSize, and
     "ReplaceUnhealthy is inactive" (both on the processes page). Not modelled: Terminate's
     suspension "applies only to instances that are currently in the InService state".
4. Processes. SuspendProcesses / ResumeProcesses accept only the process names of the model doc
   (Launch, Terminate, AddToLoadBalancer, AlarmNotification, AZRebalance, HealthCheck,
   InstanceRefresh, ReplaceUnhealthy, ScheduledActions; moto accepts any name), and a missing
   group is a ValidationError (moto raises a KeyError). The messages are the model's guess at
   AWS's wording (inferred).
5. Zonal shift (https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-zonal-shift.html).
   ``AvailabilityZoneImpairmentPolicy`` is stored on Create/Update (the whole structure is
   replaced when sent) and returned. A group with ``ZonalShiftEnabled`` is registered with the
   :class:`ZonalShiftFake` in its enabled AZ IDs ("When you enable zonal shift for an Auto
   Scaling group, the group is registered with the ARC zonal shift service"). While the fake has
   an APPLIED shift of any type on the group's ARN, the group "treats the Availability Zone with
   an active zonal shift as impaired":
   - "Auto Scaling will launch all new capacity requests in the healthy Availability Zones."
   - "Auto Scaling will block scaling policies from decreasing desired capacity. Auto Scaling
     will not block scaling policies from increasing desired capacity." Read exactly: a scaling
     policy (ExecutePolicy) that would lower the desired capacity leaves it unchanged. A direct
     SetDesiredCapacity or UpdateAutoScalingGroup with a lower value (a person, not a policy) is
     accepted and stored, but no instance is terminated while the shift is applied; the group
     scales in to it once the shift ends (inferred: scale-in is blocked, the API is not).
   - No AZ rebalancing while the shift is applied: nothing is terminated to even out the AZs
     (inferred from "nothing is terminated", aws-semantics §3.7).
   - Health: with ``ReplaceUnhealthy`` "instances that appear unhealthy will be replaced in all
     Availability Zones" (the replacement launches in a healthy AZ while the shift is active);
     with ``IgnoreUnhealthy`` "instances will not be replaced in the Availability Zone with the
     active zonal shift". A policy without ImpairedZoneHealthCheckBehavior replaces (inferred).
   When the shift ends (cancelled, expired) the group rebalances back, unless AZRebalance is
   suspended. The fake keeps the AZs it registered; an AZ change does not re-register.
6. Test controls: :meth:`AutoScalingModel.mark_unhealthy` (HealthStatus Unhealthy, replaced per
   the rules above: "Amazon EC2 Auto Scaling can detect when an instance is unhealthy, terminate
   it, and launch an instance to replace it", auto-scaling-benefits.html; suspended HealthCheck
   or ReplaceUnhealthy keeps it), ``launch_delay`` (launched instances are Pending until that
   much of the clock has passed, then InService; 0 by default) and
   :meth:`AutoScalingModel.instances_by_az`.
7. Deterministic: the model acts inside the API call that triggers it, and on every
   Describe (or helper call) for what time or the fake changed; no thread.

Wiring, as :mod:`route53_strict`: :meth:`AutoScalingModel.install` registers botocore hooks for
``autoscaling`` on a Session that mark the calling thread with the model and the call's
validated parameters (moto answers in-process, on the caller's thread), and patches moto once per
process. A group created or first read through a marked call keeps a reference to its model and
is modelled from then on, whoever calls; groups of sessions without the model stay plain moto.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from evacuation.emulator.zonal_shift import Clock, ZonalShiftFake

PROCESSES = (
    "Launch",
    "Terminate",
    "AddToLoadBalancer",
    "AlarmNotification",
    "AZRebalance",
    "HealthCheck",
    "InstanceRefresh",
    "ReplaceUnhealthy",
    "ScheduledActions",
)
HEALTH_BEHAVIORS = ("ReplaceUnhealthy", "IgnoreUnhealthy")
COUNTED = ("Pending", "InService")
"""Lifecycle states that count toward the desired capacity (Standby and Terminating do not)."""

_CONTEXT_KEY = "azevac_autoscaling_model"
_PARAMS_KEY = "azevac_autoscaling_params"
_STATE_ATTR = "_azevac_state"
_LAUNCHED_ATTR = "_azevac_launched_at"
_PATCHED_ATTR = "_azevac_autoscaling"

_local = threading.local()
_patch_lock = threading.Lock()


@dataclass(frozen=True)
class _Az:
    name: str
    id: str
    subnet_id: str | None


@dataclass
class _Call:
    model: AutoScalingModel
    operation: str
    params: dict[str, Any]


@dataclass
class _GroupState:
    model: AutoScalingModel
    az_ids: list[str] | None = None
    policy: dict[str, Any] | None = None
    deleting: bool = False
    converging: bool = False
    suspension_reasons: dict[str, str] = field(default_factory=dict)
    """process -> SuspensionReason: AWS says who suspended a process and when ("User suspended
    at 2026-01-01T12:00:00Z"; model shape SuspendedProcess,
    https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_SuspendedProcess.html); moto
    leaves it empty. The exact wording is inferred; azevac compares reasons, never parses them."""


@dataclass(frozen=True)
class CapacityEvent:
    """One launch or termination the model made."""

    action: str
    """``launch`` or ``terminate``."""
    group: str
    instance_id: str
    az_id: str
    reason: str
    time: datetime


def _current() -> _Call | None:
    call: _Call | None = getattr(_local, "call", None)
    return call


def _operation(name: str) -> _Call | None:
    call = _current()
    return call if call is not None and call.operation == name else None


def _validation_error(message: str) -> Exception:
    from moto.autoscaling.exceptions import ValidationError  # noqa: PLC0415 - moto when emulating

    error: Exception = ValidationError(message)
    return error


def _state(group: Any) -> _GroupState | None:
    """The group's model state; a group first seen by a marked call is adopted by its model."""
    state: _GroupState | None = getattr(group, _STATE_ATTR, None)
    if state is None and (call := _current()) is not None:
        state = call.model._adopt(group, call)
    return state


# --------------------------------------------------------------------------- moto patches


def _wrap(cls: Any, name: str, impl: Callable[..., Any]) -> None:
    original = getattr(cls, name)

    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        return impl(original, self, *args, **kwargs)

    setattr(method, _PATCHED_ATTR, True)
    method.__name__ = name
    setattr(cls, name, method)


def _arg(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, name: str) -> Any:
    return args[index] if len(args) > index else kwargs.get(name)


def _create_group(original: Callable[..., Any], backend: Any, *args: Any, **kwargs: Any) -> Any:
    call = _operation("CreateAutoScalingGroup")
    if call is None:
        return original(backend, *args, **kwargs)
    model = call.model
    with model._lock:
        model._check_request(backend, call.params, kwargs)
        group = original(backend, *args, **kwargs)  # adopted in its constructor (set_desired)
        state = _state(group)
        if state is not None:
            model._apply_request(group, state, call.params)
        return group


def _update_group(original: Callable[..., Any], backend: Any, *args: Any, **kwargs: Any) -> Any:
    call = _operation("UpdateAutoScalingGroup")
    if call is None:
        group = original(backend, *args, **kwargs)
        state: _GroupState | None = getattr(group, _STATE_ATTR, None)
        if state is not None:
            with state.model._lock:
                state.model._converge(group, state)
        return group
    model = call.model
    with model._lock:
        model._check_request(backend, call.params, kwargs)
        group = original(backend, *args, **kwargs)
        state = _state(group)
        if state is not None:
            model._apply_request(group, state, call.params)
        return group


def _set_desired_capacity(original: Callable[..., Any], group: Any, new_capacity: Any) -> None:
    state = _state(group)
    if state is None:
        original(group, new_capacity)
        return
    model = state.model
    with model._lock:
        desired = group.min_size if new_capacity is None else new_capacity
        current = getattr(group, "desired_capacity", None)
        if (
            getattr(_local, "policy", False)
            and current is not None
            and desired is not None
            and desired < current
            and model._shift_away(group, state) is not None
        ):
            desired = current  # ec2-auto-scaling-zonal-shift.html: policies cannot decrease it
        group.desired_capacity = desired
        model._converge(group, state)
        backend = group.autoscaling_backend
        if group.name in backend.autoscaling_groups:
            backend.update_attached_elbs(group.name)
            backend.update_attached_target_groups(group.name)


def _replace_instances(
    original: Callable[..., Any], group: Any, count_needed: int, propagated_tags: Any
) -> None:
    state = _state(group)
    if state is None:
        original(group, count_needed, propagated_tags)
        return
    with state.model._lock:
        state.model._converge(group, state)


def _processes(
    operation: str,
) -> Callable[..., None]:
    def impl(
        original: Callable[..., Any],
        backend: Any,
        group_name: str,
        scaling_processes: list[str] | None,
    ) -> None:
        call = _operation(operation)
        if call is not None:
            unknown = sorted(set(scaling_processes or []) - set(PROCESSES))
            if unknown:
                raise _validation_error(
                    f"Invalid processes: {', '.join(unknown)}. "
                    f"Valid processes are: {', '.join(PROCESSES)}"
                )
            if group_name not in backend.autoscaling_groups:
                raise _validation_error(
                    f"AutoScalingGroup name not found - AutoScalingGroup '{group_name}' not found"
                )
        group = backend.autoscaling_groups.get(group_name)
        before = {p["ProcessName"] for p in group.suspended_processes} if group else set()
        original(backend, group_name, scaling_processes)
        state = _state(group) if group is not None else None
        if state is not None and group is not None:
            now = {p["ProcessName"] for p in group.suspended_processes}
            stamp = f"User suspended at {state.model._clock():%Y-%m-%dT%H:%M:%SZ}"
            for process in now - before:
                state.suspension_reasons[process] = stamp
            for process in before - now:
                state.suspension_reasons.pop(process, None)
        if state is not None:
            with state.model._lock:
                state.model._converge(group, state)

    return impl


def _set_instance_health(
    original: Callable[..., Any], backend: Any, instance_id: str, health_status: str
) -> None:
    original(backend, instance_id, health_status)
    for group in list(backend.autoscaling_groups.values()):
        if any(s.instance.id == instance_id for s in group.instance_states):
            state = _state(group)
            if state is not None:
                with state.model._lock:
                    state.model._converge(group, state)


def _describe_groups(original: Callable[..., Any], backend: Any, *args: Any, **kwargs: Any) -> Any:
    groups = original(backend, *args, **kwargs)
    for group in groups:
        state = _state(group)
        if state is not None:
            with state.model._lock:
                state.model._converge(group, state)
    return groups


def _describe_instances(
    original: Callable[..., Any], backend: Any, *args: Any, **kwargs: Any
) -> Any:
    for group in list(backend.autoscaling_groups.values()):
        state = _state(group)
        if state is not None:
            with state.model._lock:
                state.model._converge(group, state)
    return original(backend, *args, **kwargs)


def _delete_group(original: Callable[..., Any], backend: Any, group_name: str) -> None:
    group = backend.autoscaling_groups.get(group_name)
    state: _GroupState | None = getattr(group, _STATE_ATTR, None) if group is not None else None
    if state is None:
        original(backend, group_name)
        return
    with state.model._lock:
        state.deleting = True  # a deletion terminates everything, suspended or not
        try:
            original(backend, group_name)
        except BaseException:
            state.deleting = False
            raise


def _execute_policy(original: Callable[..., Any], policy: Any) -> None:
    _local.policy = True
    try:
        original(policy)
    finally:
        _local.policy = False


def patch_moto() -> None:
    """Route moto's autoscaling through the model for modelled groups. Idempotent."""
    from moto.autoscaling import models  # noqa: PLC0415 - moto only when emulating

    with _patch_lock:
        backend, group, policy = (
            models.AutoScalingBackend,
            models.FakeAutoScalingGroup,
            models.FakeScalingPolicy,
        )
        if getattr(backend.create_auto_scaling_group, _PATCHED_ATTR, False):
            return
        _wrap(backend, "create_auto_scaling_group", _create_group)
        _wrap(backend, "update_auto_scaling_group", _update_group)
        _wrap(backend, "suspend_processes", _processes("SuspendProcesses"))
        _wrap(backend, "resume_processes", _processes("ResumeProcesses"))
        _wrap(backend, "set_instance_health", _set_instance_health)
        _wrap(backend, "describe_auto_scaling_groups", _describe_groups)
        _wrap(backend, "describe_auto_scaling_instances", _describe_instances)
        _wrap(backend, "delete_auto_scaling_group", _delete_group)
        _wrap(group, "set_desired_capacity", _set_desired_capacity)
        _wrap(group, "replace_autoscaling_group_instances", _replace_instances)
        _wrap(policy, "execute", _execute_policy)
        plain: Any = models.FakeAutoScalingGroup.__dict__["suspended_processes"]

        def suspended_processes(self: Any) -> list[dict[str, str]]:
            listed: list[dict[str, str]] = plain.fget(self)
            state: _GroupState | None = getattr(self, _STATE_ATTR, None)
            if state is not None:
                for item in listed:
                    reason = state.suspension_reasons.get(item["ProcessName"])
                    item["SuspensionReason"] = reason or item.get("SuspensionReason", "")
            return listed

        setattr(group, "suspended_processes", property(suspended_processes, plain.fset))  # noqa: B010 - moto's property, typed as a method


# --------------------------------------------------------------------------- the model


class AutoScalingModel:
    """Auto Scaling's documented placement for the groups of a boto3 Session (module doc).

    ``fake`` is the ARC fake whose shifts impair AZs of zonal-shift-enabled groups; ``clock``
    drives ``launch_delay`` (use the fake's ManualClock). ``account_id``/``region`` name the moto
    backend the test helpers read.
    """

    def __init__(
        self,
        fake: ZonalShiftFake | None = None,
        clock: Clock | None = None,
        *,
        launch_delay: timedelta = timedelta(0),
        region: str = "us-east-1",
        account_id: str = "123456789012",
    ) -> None:
        self.fake = fake
        self.launch_delay = launch_delay
        self.region = region
        self.account_id = account_id
        self.events: list[CapacityEvent] = []
        self._clock: Clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.RLock()
        self._unique_id = f"azevac-autoscaling-model-{id(self)}"

    # ----------------------------------------------------------------- wiring

    def install(self, session: boto3.Session) -> None:
        """For clients made after this call (botocore copies a session's handlers into them)."""
        patch_moto()
        events = session.events
        uid = self._unique_id
        events.register(
            "before-parameter-build.autoscaling", self._remember_params, unique_id=f"{uid}-p"
        )
        events.register("before-call.autoscaling", self._before, unique_id=f"{uid}-b")
        # First, so a later handler that raises (a fault "after the mutation") cannot skip it.
        events.register_first("after-call.autoscaling", self._after, unique_id=f"{uid}-a")
        events.register_first("after-call-error.autoscaling", self._after, unique_id=f"{uid}-e")

    @staticmethod
    def _remember_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context[_PARAMS_KEY] = copy.deepcopy(params)

    def _before(self, model: Any, context: dict[str, Any], **_: Any) -> None:
        context[_CONTEXT_KEY] = True
        _local.call = _Call(self, model.name, context.get(_PARAMS_KEY, {}))

    @staticmethod
    def _after(context: dict[str, Any], **_: Any) -> None:
        if context.pop(_CONTEXT_KEY, False):
            _local.call = None

    # ----------------------------------------------------------- test helpers

    def set_launch_delay(self, seconds: float) -> None:
        """Instances launched from now on stay Pending for ``seconds`` of the clock."""
        if seconds < 0:
            raise ValueError(f"launch delay must be >= 0, got {seconds}")
        self.launch_delay = timedelta(seconds=seconds)

    def mark_unhealthy(self, instance_id: str) -> None:
        """Set an instance's HealthStatus to Unhealthy (as a failed health check would) and let
        the group replace it or not, per the rules."""
        with self._lock:
            for group, state in self._groups():
                for instance in group.instance_states:
                    if instance.instance.id == instance_id:
                        instance.health_status = "Unhealthy"
                        self._converge(group, state)
                        return
        raise KeyError(f"no instance {instance_id} in a modelled Auto Scaling group")

    def instances_by_az(self, group_name: str) -> dict[str, int]:
        """InService instances per AZ ID: every enabled AZ (0 when empty) and any AZ that still
        holds instances."""
        with self._lock:
            group, state = self._group(group_name)
            self._converge(group, state)
            counts = {az.id: 0 for az in self._enabled(group)}
            for instance in group.instance_states:
                if instance.lifecycle_state == "InService":
                    az_id = self._instance_az_id(group, instance)
                    counts[az_id] = counts.get(az_id, 0) + 1
            return counts

    def settle(self) -> None:
        """Apply what time and the fake changed to every modelled group (Describe does too)."""
        with self._lock:
            for group, state in self._groups():
                self._converge(group, state)

    def register_with_fake(self, group_name: str) -> str:
        """Register a zonal-shift-enabled group's ARN with the fake in its enabled AZ IDs, as
        Auto Scaling does on enabling; idempotent. Returns the ARN."""
        with self._lock:
            group, state = self._group(group_name)
            if not (state.policy or {}).get("ZonalShiftEnabled"):
                raise ValueError(f"{group_name} does not have ZonalShiftEnabled")
            self._register(group)
            arn: str = group.arn
            return arn

    # ------------------------------------------------------------ bookkeeping

    def _backend(self) -> Any:
        from moto.autoscaling.models import autoscaling_backends  # noqa: PLC0415

        return autoscaling_backends[self.account_id][self.region]

    def _groups(self) -> Iterator[tuple[Any, _GroupState]]:
        for group in list(self._backend().autoscaling_groups.values()):
            state: _GroupState | None = getattr(group, _STATE_ATTR, None)
            if state is not None and state.model is self:
                yield group, state

    def _group(self, name: str) -> tuple[Any, _GroupState]:
        group = self._backend().autoscaling_groups.get(name)
        state: _GroupState | None = getattr(group, _STATE_ATTR, None)
        if group is None or state is None or state.model is not self:
            raise KeyError(f"no Auto Scaling group {name} modelled by this model")
        return group, state

    def _adopt(self, group: Any, call: _Call) -> _GroupState:
        state = _GroupState(self)
        params = call.params
        if (
            call.operation == "CreateAutoScalingGroup"
            and params.get("AutoScalingGroupName") == group.name
        ):
            state.az_ids = (
                list(params["AvailabilityZoneIds"]) if params.get("AvailabilityZoneIds") else None
            )
            if "AvailabilityZoneImpairmentPolicy" in params:
                state.policy = dict(params["AvailabilityZoneImpairmentPolicy"])
        setattr(group, _STATE_ATTR, state)
        self._publish(group, state)
        return state

    def _check_request(self, backend: Any, params: dict[str, Any], kwargs: dict[str, Any]) -> None:
        """Create/Update checks moto lacks, before anything changes; AZ IDs become names for
        moto (which then checks them against the subnets, as it does names)."""
        if "AvailabilityZones" in params and "AvailabilityZoneIds" in params:
            # Model doc: "You cannot specify both AvailabilityZones and AvailabilityZoneIds in
            # the same request."
            raise _validation_error(
                "You cannot specify both AvailabilityZones and AvailabilityZoneIds in the same "
                "request."
            )
        if ids := params.get("AvailabilityZoneIds"):
            names = {zone.zone_id: zone.name for zone in self._zones(backend)}
            unknown = [az_id for az_id in ids if az_id not in names]
            if unknown:
                raise _validation_error(f"Invalid Availability Zone IDs: {', '.join(unknown)}")
            kwargs["availability_zones"] = [names[az_id] for az_id in ids]
        policy = params.get("AvailabilityZoneImpairmentPolicy")
        behavior = (policy or {}).get("ImpairedZoneHealthCheckBehavior")
        if behavior is not None and behavior not in HEALTH_BEHAVIORS:
            raise _validation_error(
                f"Invalid ImpairedZoneHealthCheckBehavior {behavior!r}: valid values are "
                f"{', '.join(HEALTH_BEHAVIORS)}"
            )

    def _apply_request(self, group: Any, state: _GroupState, params: dict[str, Any]) -> None:
        """Store what moto drops ("Any properties that you don't specify are not changed",
        UpdateAutoScalingGroup model doc), register an enabled group, then act."""
        if params.get("AvailabilityZoneIds"):
            state.az_ids = list(params["AvailabilityZoneIds"])
        elif "AvailabilityZones" in params or "VPCZoneIdentifier" in params:
            state.az_ids = None
        if "AvailabilityZoneImpairmentPolicy" in params:
            state.policy = dict(params["AvailabilityZoneImpairmentPolicy"])
        if (state.policy or {}).get("ZonalShiftEnabled"):
            self._register(group)
        self._publish(group, state)
        self._converge(group, state)

    def _register(self, group: Any) -> None:
        if self.fake is not None and not self.fake.is_registered(group.arn):
            az_ids = [az.id for az in self._enabled(group)]
            self.fake.register_resource(group.arn, az_ids, name=group.name)

    @staticmethod
    def _publish(group: Any, state: _GroupState) -> None:
        """The attributes moto's serializer turns into the group's AvailabilityZoneIds and
        AvailabilityZoneImpairmentPolicy (absent when unset)."""
        for attr, value in (
            ("availability_zone_ids", state.az_ids),
            ("availability_zone_impairment_policy", state.policy),
        ):
            if value is None:
                if attr in vars(group):
                    delattr(group, attr)
            else:
                setattr(group, attr, copy.deepcopy(value))

    @staticmethod
    def _zones(backend: Any) -> list[Any]:
        zones: list[Any] = backend.ec2_backend.describe_availability_zones()
        return zones

    def _zone_ids(self, group: Any) -> dict[str, str]:
        return {zone.name: zone.zone_id for zone in self._zones(group.autoscaling_backend)}

    def _enabled(self, group: Any) -> list[_Az]:
        """The group's enabled AZs, in the order of its subnets (or AZ list)."""
        from moto.ec2.exceptions import InvalidSubnetIdError  # noqa: PLC0415

        zone_ids = self._zone_ids(group)
        found: dict[str, _Az] = {}
        if group.vpc_zone_identifier:
            ec2 = group.autoscaling_backend.ec2_backend
            for subnet_id in str(group.vpc_zone_identifier).split(","):
                try:
                    subnet = ec2.get_subnet(subnet_id)
                except InvalidSubnetIdError:  # a deleted subnet launches nothing
                    continue
                name = subnet.availability_zone
                az_id = zone_ids.get(name, name)
                found.setdefault(az_id, _Az(name, az_id, subnet_id))
        else:
            for name in group.availability_zones or []:
                az_id = zone_ids.get(name, name)
                found.setdefault(az_id, _Az(name, az_id, None))
        return list(found.values())

    def _instance_az_id(self, group: Any, instance: Any) -> str:
        az_id: str | None = getattr(instance, "availability_zone_id", None)
        if az_id is None:
            name = instance.availability_zone
            az_id = self._zone_ids(group).get(name, name)
            instance.availability_zone_id = az_id
        return az_id

    def _shift_away(self, group: Any, state: _GroupState) -> str | None:
        """The AZ ID an APPLIED zonal shift on an enabled group moves away from, or None."""
        if self.fake is None or not (state.policy or {}).get("ZonalShiftEnabled"):
            return None
        return self.fake.applied_away_from(group.arn)

    # -------------------------------------------------------------- converge

    def _converge(self, group: Any, state: _GroupState) -> None:
        """Bring the group to what Auto Scaling would have done by now (rules 1, 3, 5, 6)."""
        if state.converging:
            return
        state.converging = True
        try:
            self._converge_once(group, state)
        finally:
            state.converging = False

    def _converge_once(self, group: Any, state: _GroupState) -> None:
        now = self._clock()
        for instance in group.instance_states:
            self._instance_az_id(group, instance)
            launched = getattr(instance, _LAUNCHED_ATTR, None)
            if (
                instance.lifecycle_state == "Pending"
                and launched is not None
                and now >= launched + self.launch_delay
            ):
                instance.lifecycle_state = "InService"
        if state.deleting:
            self._terminate(group, list(group.instance_states), "group deleted", now)
            return
        suspended = {p["ProcessName"] for p in group.suspended_processes}
        can_launch = "Launch" not in suspended
        can_terminate = "Terminate" not in suspended
        enabled = self._enabled(group)
        away = self._shift_away(group, state)
        healthy = [az for az in enabled if az.id != away]
        rebalancing = "AZRebalance" not in suspended and away is None
        target = self._target_instances(group)
        max_size = group.max_size if group.max_size is not None else target
        cap = max(target, max_size + max(1, max_size // 10))
        replaces = (state.policy or {}).get("ImpairedZoneHealthCheckBehavior") != "IgnoreUnhealthy"

        # ReplaceUnhealthy: terminate, then (below) launch a replacement in a healthy AZ.
        if can_terminate and not {"HealthCheck", "ReplaceUnhealthy"} & suspended:
            unhealthy = [
                i
                for i in self._counted(group)
                if i.health_status == "Unhealthy"
                and (replaces or away is None or self._instance_az_id(group, i) != away)
            ]
            self._terminate(group, unhealthy, "unhealthy", now)

        for _ in range(10 * cap + 10):  # each pass launches or terminates one instance
            counted = self._counted(group)
            per_az = self._per_az(group, counted, healthy)
            outside = [i for i in counted if self._instance_az_id(group, i) not in per_az]
            in_healthy = len(counted) - len(outside)
            if can_launch and healthy and len(counted) < target:
                self._launch(group, self._fewest(healthy, per_az), "scale out", now)
                continue
            spread = max(per_az.values(), default=0) - min(per_az.values(), default=0)
            if (
                rebalancing
                and can_launch
                and healthy
                and len(counted) < cap
                and ((outside and in_healthy < target) or (not outside and spread > 1))
            ):
                self._launch(group, self._fewest(healthy, per_az), "rebalance", now)
                continue
            surplus = len(counted) - target
            if surplus > 0 and can_terminate and away is None:
                victim = self._victim(group, counted, per_az, enabled)
                in_service = sum(1 for i in counted if i.lifecycle_state == "InService")
                if victim is not None and (
                    victim.lifecycle_state != "InService" or in_service - 1 >= target
                ):
                    self._terminate(group, [victim], "scale in", now)
                    continue
            if (
                rebalancing
                and can_terminate
                and surplus <= 0
                and not outside
                and spread > 1
                and len(counted) >= cap
            ):
                # At the margin and still unbalanced: the next launch needs room first.
                victim = self._victim(group, counted, per_az, enabled)
                if victim is not None and victim.lifecycle_state == "InService":
                    self._terminate(group, [victim], "rebalance", now)
                    continue
            break

    def _counted(self, group: Any) -> list[Any]:
        return [i for i in group.instance_states if i.lifecycle_state in COUNTED]

    def _per_az(self, group: Any, counted: Iterable[Any], azs: list[_Az]) -> dict[str, int]:
        per_az = {az.id: 0 for az in azs}
        for instance in counted:
            az_id = self._instance_az_id(group, instance)
            if az_id in per_az:
                per_az[az_id] += 1
        return per_az

    @staticmethod
    def _fewest(azs: list[_Az], per_az: dict[str, int]) -> _Az:
        return min(azs, key=lambda az: per_az[az.id])  # min keeps the first of equals

    def _victim(
        self, group: Any, counted: list[Any], per_az: dict[str, int], enabled: list[_Az]
    ) -> Any | None:
        """Scale-in's pick: an AZ no longer enabled first, else the AZ with the most instances
        (ties: the last in order); in it the newest unprotected instance."""
        order = {az.id: index for index, az in enumerate(enabled)}
        candidates = [i for i in counted if not i.protected_from_scale_in]
        if not candidates:
            return None

        def rank(item: tuple[int, Any]) -> tuple[int, int, int, int]:
            position, instance = item
            az_id = self._instance_az_id(group, instance)
            outside = az_id not in order
            return (
                1 if outside else 0,
                per_az.get(az_id, 0),
                order.get(az_id, -1),
                position,
            )

        return max(enumerate(candidates), key=rank)[1]

    @staticmethod
    def _target_instances(group: Any) -> int:
        """Instances needed for the desired capacity: moto's own count, weights included."""
        target = int(group.desired_capacity or 0)
        policy = group.mixed_instances_policy or {}
        overrides = policy.get("LaunchTemplate", {}).get("Overrides", []) if policy else []
        if not overrides:
            return target
        weight = _primary_weight(group) or 1
        distribution = policy.get("InstancesDistribution", {})
        base = int(distribution.get("OnDemandBaseCapacity", 0))
        percent = int(distribution.get("OnDemandPercentageAboveBaseCapacity", 100))
        if base >= target:
            on_demand, spot = target, 0
        else:
            above = target - base
            on_demand_above = int(above * percent) / 100.0
            on_demand, spot = int(base + on_demand_above), int(above - on_demand_above)
        return -(-on_demand // weight) + -(-spot // weight)

    # ---------------------------------------------------------------- actions

    def _launch(self, group: Any, az: _Az, reason: str, now: datetime) -> None:
        """One instance in ``az``, built the way moto's replace_autoscaling_group_instances
        builds it (tags, launch template or configuration), but placed."""
        from moto.autoscaling.models import ASG_NAME_TAG, InstanceState  # noqa: PLC0415

        tags = group.get_propagated_tags()
        tags[ASG_NAME_TAG] = group.name
        tags.update(group.instance_tags)
        launch_template = None
        if group.ec2_launch_template:
            if group.ec2_launch_template.id:
                launch_template = {"LaunchTemplateId": group.ec2_launch_template.id}
            elif group.ec2_launch_template.name:
                launch_template = {"LaunchTemplateName": group.ec2_launch_template.name}
        reservation = group.autoscaling_backend.ec2_backend.run_instances(
            group.image_id,
            1,
            group.user_data,
            group.security_groups,
            instance_type=group.instance_type,
            tags={"instance": tags},
            placement=az.name,
            launch_config=group.launch_config,
            launch_template=launch_template,
            is_instance_type_default=False,
            associate_public_ip=(
                group.launch_config.associate_public_ip_address if group.launch_config else None
            ),
            subnet_id=az.subnet_id,
        )
        for instance in reservation.instances:
            instance.autoscaling_group = group
            pending = self.launch_delay > timedelta(0)
            state = InstanceState(
                instance,
                lifecycle_state="Pending" if pending else "InService",
                protected_from_scale_in=group.new_instances_protected_from_scale_in,
            )
            state.availability_zone_id = az.id  # type: ignore[attr-defined]
            weight = _primary_weight(group)
            if weight is not None:
                state.weighted_capacity = str(weight)  # type: ignore[attr-defined]
            setattr(state, _LAUNCHED_ATTR, now)
            group.instance_states.append(state)
            self.events.append(CapacityEvent("launch", group.name, instance.id, az.id, reason, now))

    def _terminate(self, group: Any, instances: list[Any], reason: str, now: datetime) -> None:
        if not instances:
            return
        ids = [i.instance.id for i in instances]
        group.autoscaling_backend.ec2_backend.terminate_instances(ids)
        gone = {id(i) for i in instances}
        group.instance_states = [i for i in group.instance_states if id(i) not in gone]
        for instance in instances:
            az_id = self._instance_az_id(group, instance)
            self.events.append(
                CapacityEvent("terminate", group.name, instance.instance.id, az_id, reason, now)
            )


def _primary_weight(group: Any) -> int | None:
    """The first override's WeightedCapacity (moto launches that type), if it sets one."""
    policy = group.mixed_instances_policy or {}
    overrides = policy.get("LaunchTemplate", {}).get("Overrides", []) if policy else []
    if not overrides or "WeightedCapacity" not in overrides[0]:
        return None
    text = str(overrides[0]["WeightedCapacity"])
    return int(text) if text.isdigit() and int(text) > 0 else 1
