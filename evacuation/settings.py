"""The process environment, parsed once into a typed object, and the controller built from it."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import boto3

from evacuation.aws.clients import AwsClients
from evacuation.aws.s3 import ObjectReader
from evacuation.aws.ssm import ParameterReader
from evacuation.config import Config, load_config
from evacuation.controller import Controller
from evacuation.errors import ConfigurationError
from evacuation.executor import StepListener
from evacuation.state import InMemoryStateStore, StateStore


@dataclass(frozen=True)
class Settings:
    config_reference: str
    """AZEVAC_CONFIG: a file path, inline JSON, ssm:<parameter name> or s3://bucket/key."""
    table: str | None
    """AZEVAC_TABLE: the DynamoDB state table; None keeps state in memory (dry runs, tests)."""
    topic_arn: str | None = None
    """AZEVAC_TOPIC_ARN: optional SNS topic for notifications to humans."""
    kill_switch_parameter: str | None = None
    """AZEVAC_KILL_SWITCH_PARAMETER: the SSM parameter the stack creates as the kill switch;
    used when the config names none, so a deployed azevac always has one."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        reference = env.get("AZEVAC_CONFIG", "").strip()
        if not reference:
            raise ConfigurationError(
                "AZEVAC_CONFIG is not set: give a file path, JSON, ssm:<name> or s3://bucket/key"
            )
        return cls(
            config_reference=reference,
            table=env.get("AZEVAC_TABLE", "").strip() or None,
            topic_arn=env.get("AZEVAC_TOPIC_ARN", "").strip() or None,
            kill_switch_parameter=env.get("AZEVAC_KILL_SWITCH_PARAMETER", "").strip() or None,
        )


def load(
    settings: Settings,
    clients: AwsClients,
    read_parameter: Callable[[str], str] | None = None,
    read_object: Callable[[str], str] | None = None,
) -> Config:
    """Load and validate the config the settings point at; the environment's kill switch is
    the default when the config names none. Pass long-lived readers to keep their caches."""
    config = load_config(
        settings.config_reference,
        read_parameter or ParameterReader(clients),
        read_object or ObjectReader(clients),
    )
    if config.safety.kill_switch_parameter or not settings.kill_switch_parameter:
        return config
    safety = config.safety.model_copy(
        update={"kill_switch_parameter": settings.kill_switch_parameter}
    )
    return config.model_copy(update={"safety": safety})


def state_store(settings: Settings, clients: AwsClients) -> StateStore:
    if settings.table is None:
        return InMemoryStateStore()
    from evacuation.state.dynamodb import DynamoDBStateStore  # noqa: PLC0415 - only when used

    return DynamoDBStateStore(settings.table, clients.dynamodb())


def build_controller(
    settings: Settings,
    session: boto3.Session | None = None,
    on_step: StepListener | None = None,
) -> Controller:
    """The controller for this environment: config loaded and checked, state store chosen."""
    probe = AwsClients(session)
    config = load(settings, probe)
    clients = AwsClients(session, region=config.region) if config.region else probe
    return Controller(config, clients, state_store(settings, clients), on_step=on_step)
