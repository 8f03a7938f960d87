"""Load and validate the azevac config. A broken config fails here, before anything changes,
with one message that names each bad key and what is wrong with it."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from evacuation.detection.config import DetectionConfig, with_detection_alarms
from evacuation.errors import ConfigurationError
from evacuation.model import AZ_ID_PATTERN, AZ_NAME_PATTERN

if TYPE_CHECKING:
    from evacuation.kinds.autoscaling import AutoScalingConfig
    from evacuation.kinds.caches import CachesConfig
    from evacuation.kinds.databases import DatabasesConfig
    from evacuation.kinds.ecs import EcsConfig
    from evacuation.kinds.route53 import Route53Config
    from evacuation.kinds.routing_controls import RoutingControlsConfig
    from evacuation.kinds.zonal_shift import ZonalShiftConfig

S3_PREFIX = "s3://"
SSM_PREFIX = "ssm:"
EXPIRES_IN_PATTERN = re.compile(r"^([1-9][0-9]*)(m|h)$")
MAX_SHIFT_MINUTES = 72 * 60


def check_az_id(value: str) -> str:
    """An AZ ID (use1-az1). A zone name is refused: names map to different zones per account."""
    if AZ_NAME_PATTERN.match(value):
        raise ValueError(
            f"{value!r} is an AZ name; use the AZ ID (e.g. use1-az1): names map to different "
            "zones in each account"
        )
    if not AZ_ID_PATTERN.match(value):
        raise ValueError(f"{value!r} is not an AZ ID like use1-az1")
    return value


def expires_in_minutes(value: str) -> int:
    """Minutes in an ARC expiresIn ("90m", "6h"); ValueError for what ARC would reject."""
    match = EXPIRES_IN_PATTERN.match(value)
    if match is None:
        raise ValueError(f"{value!r} is not a duration ARC accepts: a whole number then m or h")
    minutes = int(match.group(1)) * (60 if match.group(2) == "h" else 1)
    if minutes > MAX_SHIFT_MINUTES:
        raise ValueError(f"{value!r} is longer than the 72h ARC allows for a zonal shift")
    return minutes


def _check_expires_in(value: str) -> str:
    expires_in_minutes(value)
    return value


AzId = Annotated[str, AfterValidator(check_az_id)]
NonEmptyStr = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]
ExpiresIn = Annotated[str, AfterValidator(_check_expires_in)]


def listed_once(what: str) -> AfterValidator:
    """A list field's validator: each item once (a repeat is a copy-paste slip, and a step per
    resource would be planned twice)."""

    def check(items: list[Any]) -> list[Any]:
        repeated = sorted(str(item) for item, n in Counter(items).items() if n > 1)
        if repeated:
            raise ValueError(f"lists the same {what} twice: {', '.join(repeated)}")
        return items

    return AfterValidator(check)


class Strict(BaseModel):
    """The base of every config model, the kinds' sections too: unknown keys and loose types are
    errors."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


_Strict = Strict


class SafetyConfig(Strict):
    """Guards (README "Safety" lists each one, its default and why it exists)."""

    max_evacuated_azs: int = Field(default=1, ge=1)
    mode: Literal["active", "dry-run"] = "active"
    """dry-run: alarm-triggered runs plan and notify, and change nothing (shadow mode)."""
    kill_switch_parameter: NonEmptyStr | None = None
    """SSM parameter; value "disabled" stops alarm-triggered evacuations."""
    regional_alarm: NonEmptyStr | None = None
    """An alarm that says the impact is regional: no evacuation while it is in ALARM."""
    min_healthy_azs: int | None = Field(default=None, ge=1)
    """AZs that must stay in service; default 2 when the workload has 3 or more AZs, else 1."""
    prescale: bool = False
    """Raise each group's desired capacity so the remaining AZs hold what all AZs held."""
    cooldown_minutes: int = Field(default=30, ge=0)
    max_evacuations_per_day: int = Field(default=3, ge=1)


class TriggersConfig(Strict):
    """What azevac does with signals other than its own alarms (README "AWS autoshift as a
    trigger")."""

    aws_autoshift: Literal["evacuate", "notify", "off"] = "notify"
    """On an AWS zonal autoshift away from an AZ of the workload: `evacuate` runs azevac's plan
    for that AZ (ARC's precedence rules decide the ARC-managed resources), `notify` pages the
    operator with what AWS did not move and changes nothing, `off` ignores it."""
    aws_autoshift_recover: bool = False
    """When AWS ends the autoshift, recover an evacuation the autoshift started once every
    configured alarm of the AZ has been OK for `safety.cooldown_minutes`. Off: it stays held
    and the operator is paged."""


class RecoveryConfig(Strict):
    capacity_timeout_seconds: float = Field(default=600.0, ge=0)
    """How long recover waits for the AZ's capacity to come back before restoring traffic."""
    capacity_poll_seconds: float = Field(default=10.0, gt=0)


class RateLimit(Strict):
    """A token bucket: `burst` calls at once, refilled at `per_second`."""

    burst: int = Field(ge=1)
    per_second: float = Field(gt=0)


# Route 53: documented (aws-facts.md §0: 50-token bucket refilling at 10/s, per account).
# ARC zonal shift and EC2 Auto Scaling document token buckets but no figures; we assume
# Route 53's for ARC and EC2's non-mutating bucket (100, 20/s) for Auto Scaling. Override
# them in `execution.rate_limits` when AWS Support tells you your account's.
# RDS: "By default, you can make up to 300 requests in a burst and a sustained 12 requests per
# second" (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-api-throttling.html).
# ECS: token buckets per action group, per account and Region
# (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/request-throttling.html); its worked
# example gives cluster reads a 50-token bucket. We model one ECS bucket of 50 refilling at 5/s,
# an assumption below any read figure, since UpdateService (a service modification) is the call
# that matters; set your account's figures in `execution.rate_limits`.
# ElastiCache: no published figures (its API reference names a throttling fault,
# APICallRateForCustomerExceeded, for TestFailover only, which azevac never calls); we assume
# ECS's 50 refilling at 5/s.
DEFAULT_RATE_LIMITS: Mapping[str, RateLimit] = {
    "route53": RateLimit(burst=50, per_second=10),
    "arc-zonal-shift": RateLimit(burst=50, per_second=10),
    "autoscaling": RateLimit(burst=100, per_second=20),
    "rds": RateLimit(burst=300, per_second=12),
    "ecs": RateLimit(burst=50, per_second=5),
    "elasticache": RateLimit(burst=50, per_second=5),
}


class ExecutionConfig(Strict):
    """Tuning. Defaults suit Lambda; the benchmark and the drill override them."""

    max_workers_per_service: int = Field(default=16, ge=1, le=64)
    max_attempts: int = Field(default=6, ge=1, le=20)
    backoff_initial_seconds: float = Field(default=0.2, gt=0)
    backoff_max_seconds: float = Field(default=10.0, gt=0)
    verify_timeout_seconds: float = Field(default=60.0, ge=0)
    verify_interval_seconds: float = Field(default=2.0, gt=0)
    rate_limits: dict[NonEmptyStr, RateLimit] = Field(
        default_factory=lambda: dict(DEFAULT_RATE_LIMITS)
    )
    """Client-side pacing per service (boto3 service name); merged over the defaults."""

    @field_validator("rate_limits")
    @classmethod
    def _over_defaults(cls, limits: dict[str, RateLimit]) -> dict[str, RateLimit]:
        return {**DEFAULT_RATE_LIMITS, **limits}


class Config(Strict):
    """The whole config. See the README section "Config" for every key."""

    workload: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,64}$")]
    region: Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-[a-z]+)+-[0-9]$")] | None = None
    # The resource kinds' sections: each model is its kind's (evacuation/kinds/<kind>.py).
    zonal_shift: ZonalShiftConfig | None = None
    route53: Route53Config = Field(default_factory=list)
    autoscaling: AutoScalingConfig | None = None
    databases: DatabasesConfig | None = None
    caches: CachesConfig | None = None
    routing_controls: RoutingControlsConfig | None = None
    ecs: EcsConfig | None = None
    alarms: dict[NonEmptyStr, AzId] = Field(default_factory=dict)
    alarms_by_name_pattern: bool = False
    """Also evacuate on an unmapped alarm whose name contains an AZ ID (checkout-use1-az1-...).
    Off by default: any alarm so named, a disk-space warning too, would evacuate."""
    max_event_age_seconds: int = Field(default=600, ge=1, le=86_400)
    """An alarm event older than this is ignored (async retries deliver up to an hour late)."""
    safety: SafetyConfig = SafetyConfig()
    execution: ExecutionConfig = ExecutionConfig()
    recovery: RecoveryConfig = RecoveryConfig()
    triggers: TriggersConfig = TriggersConfig()
    detection: DetectionConfig | None = None
    """The detection kit's alarms (README "Detection"); `alarms` and `safety.regional_alarm`
    are derived from it, so detection and action cannot drift."""

    @model_validator(mode="before")
    @classmethod
    def _detection_names(cls, data: Any) -> Any:
        return with_detection_alarms(data)

    @model_validator(mode="after")
    def _something_to_do(self) -> Config:
        from evacuation.kinds import KINDS  # noqa: PLC0415 - the kinds import this module

        if not any(kind.configured(self) for kind in KINDS):
            sections = ", ".join(kind.section for kind in KINDS)
            raise ValueError(f"names nothing to evacuate: give one of {sections}")
        return self

    @property
    def configured_az_ids(self) -> frozenset[str]:
        """AZ IDs the config itself names (record sets, alarms)."""
        from evacuation.kinds import KINDS  # noqa: PLC0415 - the kinds import this module

        ids = {az for kind in KINDS for az in kind.configured_az_ids(self)}
        ids.update(self.alarms.values())
        return frozenset(ids)


def parse_config(raw: Mapping[str, Any] | str, source: str = "config") -> Config:
    """Validate a config mapping or JSON text; ConfigurationError names every bad key."""
    import evacuation.kinds  # noqa: F401, PLC0415 - mounts the kinds' sections on Config

    try:
        data = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f"{source}: not valid JSON: {exc}") from exc
    if not isinstance(data, Mapping):
        raise ConfigurationError(f"{source}: must be a JSON object, got {type(data).__name__}")
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigurationError(f"{source}: {_describe(exc)}") from exc


def load_config(
    reference: str | None,
    read_ssm_parameter: Callable[[str], str] | None = None,
    read_s3_object: Callable[[str], str] | None = None,
) -> Config:
    """Load from the value of AZEVAC_CONFIG: a file path, inline JSON, `ssm:<parameter>` (a
    Standard parameter holds 4 KB, an Advanced one 8 KB) or `s3://bucket/key` (larger)."""
    if not reference or not reference.strip():
        raise ConfigurationError(
            "AZEVAC_CONFIG is not set: give a file path, JSON, ssm:<name> or s3://bucket/key"
        )
    reference = reference.strip()
    if reference.startswith(S3_PREFIX):
        if read_s3_object is None:
            raise ConfigurationError(f"AZEVAC_CONFIG names {reference} but no S3 reader was given")
        return parse_config(read_s3_object(reference), source=reference)
    if reference.startswith(SSM_PREFIX):
        name = reference.removeprefix(SSM_PREFIX)
        if read_ssm_parameter is None:
            raise ConfigurationError(f"AZEVAC_CONFIG names {reference} but no SSM reader was given")
        return parse_config(read_ssm_parameter(name), source=f"SSM parameter {name}")
    if reference.startswith("{"):
        return parse_config(reference, source="AZEVAC_CONFIG")
    path = Path(reference)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"AZEVAC_CONFIG file {path}: {exc.strerror}") from exc
    return parse_config(text, source=str(path))


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors(include_url=False):
        location = ".".join(str(part) for part in error["loc"]) or "(top level)"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        problems.append(f"{location}: {message}")
    return "; ".join(problems)


_MOVED = {
    "ZonalShiftConfig": "evacuation.kinds.zonal_shift",
    "ZONAL_SHIFT_ARN": "evacuation.kinds.zonal_shift",
    "RecordSetConfig": "evacuation.kinds.route53",
    "AutoScalingConfig": "evacuation.kinds.autoscaling",
    "ASG_PROCESSES": "evacuation.kinds.autoscaling",
    "SUSPENDABLE": "evacuation.kinds.autoscaling",
}
"""Section models that moved to their kind's module, still importable from here."""


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        import importlib  # noqa: PLC0415 - only for the names that moved

        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
