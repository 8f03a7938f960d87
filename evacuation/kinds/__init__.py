"""The resource kinds azevac evacuates, registered in one list.

Adding a kind: write `evacuation/kinds/<kind>.py` (see `base.Kind`), its gateway in
`evacuation/aws/`, add its step names to `model.StepKind` (the state's schema) and its config
section to `config.Config`, then list it here. README "Adding a resource kind" says more.
"""

from __future__ import annotations

from collections.abc import Mapping

from evacuation.kinds import (
    autoscaling,
    caches,
    databases,
    ecs,
    route53,
    routing_controls,
    zonal_shift,
)
from evacuation.kinds.base import Kind, Permission, Stage, StepSpec, Tier
from evacuation.model import StepKind

KINDS: tuple[Kind, ...] = (
    routing_controls.KIND,
    zonal_shift.KIND,
    route53.KIND,
    autoscaling.KIND,
    databases.KIND,
    caches.KIND,
    ecs.KIND,
)
"""In this order the plan lists their steps, readiness their problems."""

ENGINE_PERMISSIONS: tuple[Permission, ...] = (
    Permission("ReadOnlyNoResourceLevel", ("cloudwatch:DescribeAlarms",)),
    # readiness: the EMF dimension sets the detection kit's alarms read (controller reconcile)
    Permission("ReadOnlyNoResourceLevel", ("cloudwatch:ListMetrics",)),
    # an AZ name given by an operator is resolved to its ID
    Permission("ReadOnlyNoResourceLevel", ("ec2:DescribeAvailabilityZones",)),
    # azevac verify: no instance launched into the AZ since the evacuation began
    Permission("ReadOnlyNoResourceLevel", ("ec2:DescribeInstances",)),
    Permission(
        "StateTable",
        (
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:Query",
        ),
    ),
    Permission("StateTableTransactions", ("dynamodb:TransactWriteItems",)),
    Permission("ConfigAndKillSwitch", ("ssm:GetParameter",)),
    # a config at ConfigLocation (each behind its template condition): evacuation/aws/s3.py
    Permission("ConfigParameterOfYourOwn", ("ssm:GetParameter",)),
    Permission("ConfigObject", ("s3:GetObject",)),
    Permission("NotifyHumans", ("sns:Publish",)),
    Permission("NotifyHumansEncrypted", ("kms:Decrypt", "kms:GenerateDataKey*")),
)
"""What the engine needs whatever the kinds: state, config, alarms, notifications. With every
kind's `permissions`, exactly what the stack's policy grants (tests/template checks it)."""


def permissions() -> tuple[Permission, ...]:
    return (*ENGINE_PERMISSIONS, *(p for kind in KINDS for p in kind.permissions))


SPECS: Mapping[StepKind, StepSpec] = {spec.kind: spec for kind in KINDS for spec in kind.steps}
OWNERS: Mapping[StepKind, Kind] = {spec.kind: kind for kind in KINDS for spec in kind.steps}
"""The kind each step belongs to."""


def spec_of(kind: StepKind) -> StepSpec:
    return SPECS[kind]


def _mount_sections() -> None:
    """Config names each kind's section by its model, defined in the kind's module."""
    from evacuation.config import Config  # noqa: PLC0415 - Config's sections are the kinds'

    Config.model_rebuild(
        _types_namespace={name: t for kind in KINDS for name, t in kind.config_types.items()}
    )


_mount_sections()

__all__ = [
    "ENGINE_PERMISSIONS",
    "KINDS",
    "OWNERS",
    "SPECS",
    "Kind",
    "Permission",
    "Stage",
    "StepSpec",
    "Tier",
    "permissions",
    "spec_of",
]
