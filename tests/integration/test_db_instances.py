"""RDS Multi-AZ DB instances (issue 15 §2): a primary in the impaired AZ is failed over to its
standby with RebootDBInstance ForceFailover, read back from RDS (moto with the Multi-AZ model,
evacuation/emulator/rds_instances.py); never a second forced failover after a lost answer."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from evacuation.emulator.rds_instances import RdsInstanceFailover
from evacuation.emulator.world import World
from evacuation.model import Outcome, Status, StepKind
from tests.conftest import ControllerFactory
from tests.support.faults import Fault, FaultInjector

# moto: us-east-1a = use1-az6, 1b = use1-az1, 1c = use1-az2
DB = "checkout-ledger"


@pytest.fixture
def rds_model(session: boto3.Session) -> RdsInstanceFailover:
    model = RdsInstanceFailover()
    model.install(session)
    return model


def _create(session: boto3.Session, name: str, **extra: Any) -> str:
    session.client("rds").create_db_instance(
        DBInstanceIdentifier=name, Engine="postgres", DBInstanceClass="db.m6g.large",
        MasterUsername="azevac", MasterUserPassword="not-a-secret-1", AllocatedStorage=20,
        **extra,
    )  # fmt: skip
    return name


@pytest.fixture
def instance(session: boto3.Session, rds_model: RdsInstanceFailover) -> str:
    # Given a Multi-AZ instance whose primary RDS put in use1-az1, its standby in use1-az2
    _create(session, DB, MultiAZ=True)
    rds_model.place(DB, "us-east-1b", "us-east-1c")
    return DB


def _config(world: World, **databases: Any) -> dict[str, Any]:
    return world.config(databases={"instances": [DB], **databases})


def _step(result: Any) -> Any:
    return next(s for s in result.steps if s.key.kind is StepKind.DB_INSTANCE_FAILOVER)


def _reboots(calls: list[str]) -> int:
    return calls.count("RebootDBInstance")


@pytest.fixture
def calls(session: boto3.Session) -> list[str]:
    seen: list[str] = []
    # provide-client-params: before any fault injector answers, so every attempt counts
    session.events.register(
        "provide-client-params.rds.*", lambda model, **_: seen.append(model.name)
    )
    return seen


def test_primary_in_the_impaired_az_fails_over_to_its_standby(
    world: World, instance: str, rds_model: RdsInstanceFailover, calls: list[str],
    make_controller: ControllerFactory,
) -> None:  # fmt: skip
    result = make_controller(_config(world)).evacuate("use1-az1", reason="gray failure")

    # Then RDS shows the primary in use1-az2 (where the standby was), and the step says so
    assert rds_model.zones_of(instance) == ("us-east-1c", "us-east-1b")
    step = _step(result)
    assert step.outcome is Outcome.APPLIED and step.after["primary_az"] == "use1-az2"
    assert "no target choice" in (step.reason or "")
    assert result.status is Status.EVACUATED and _reboots(calls) == 1
    # And a second run sends no second reboot (one would move the primary back)
    again = make_controller(_config(world)).evacuate("use1-az1", reason="again")
    assert again.status is Status.EVACUATED and _reboots(calls) == 1
    assert rds_model.zones_of(instance)[0] == "us-east-1c"


def test_primary_elsewhere_is_unchanged(
    world: World, instance: str, calls: list[str], make_controller: ControllerFactory
) -> None:
    result = make_controller(_config(world)).evacuate("use1-az2", reason="gray failure")
    assert _step(result).outcome is Outcome.UNCHANGED and _reboots(calls) == 0


def test_a_single_az_instance_is_skipped_and_readiness_says_so(
    world: World, session: boto3.Session, rds_model: RdsInstanceFailover, calls: list[str],
    make_controller: ControllerFactory,
) -> None:  # fmt: skip
    _create(session, DB, AvailabilityZone="us-east-1b")
    controller = make_controller(_config(world))

    assert any("not a Multi-AZ deployment" in p for p in controller.reconcile().readiness_problems)
    result = controller.evacuate("use1-az1", reason="gray failure")
    step = _step(result)
    assert step.outcome is Outcome.SKIPPED and "no standby" in (step.reason or "")
    assert result.status is Status.PARTIAL and _reboots(calls) == 0


@pytest.mark.parametrize("fault", [Fault.LOST_RESPONSE, Fault.SERVER_ERROR, Fault.TIMEOUT])
def test_an_error_on_the_reboot_is_read_back_before_any_second_one(
    world: World, instance: str, rds_model: RdsInstanceFailover, calls: list[str],
    faults: FaultInjector, make_controller: ControllerFactory, fault: Fault,
) -> None:  # fmt: skip
    # Given RDS took the reboot and its answer was lost, or a 5xx / timeout answered instead
    # (injected before RDS acted)
    faults.add("rds", "RebootDBInstance", fault)

    result = make_controller(_config(world)).evacuate("use1-az1", reason="gray failure")

    # Then the primary moved exactly once: a lost answer is read back as ours (one reboot); a
    # refusal is read back as nothing done, and only then sent again (two)
    assert _step(result).outcome is Outcome.APPLIED
    assert rds_model.zones_of(instance) == ("us-east-1c", "us-east-1b")
    assert _reboots(calls) == (1 if fault is Fault.LOST_RESPONSE else 2)


def test_a_reboot_that_keeps_failing_fails_the_step_after_reading_back_each_time(
    world: World, instance: str, rds_model: RdsInstanceFailover, calls: list[str],
    faults: FaultInjector, make_controller: ControllerFactory,
) -> None:  # fmt: skip
    faults.add("rds", "RebootDBInstance", Fault.SERVER_ERROR, *range(1, 30))

    result = make_controller(_config(world)).evacuate("use1-az1", reason="gray failure")

    step = _step(result)
    assert step.outcome is Outcome.FAILED and "not retried blindly" in (step.error or "")
    assert rds_model.zones_of(instance)[0] == "us-east-1b"
    reads = calls.count("DescribeDBInstances")
    assert _reboots(calls) == 6 and reads >= 3 * 6  # max_attempts, each read back 3 times


def test_a_throttled_reboot_is_retried(
    world: World, instance: str, rds_model: RdsInstanceFailover, calls: list[str],
    faults: FaultInjector, make_controller: ControllerFactory,
) -> None:  # fmt: skip
    faults.add("rds", "RebootDBInstance", Fault.THROTTLE, 1, 2)
    result = make_controller(_config(world)).evacuate("use1-az1", reason="gray failure")
    assert _step(result).outcome is Outcome.APPLIED
    assert _reboots(calls) == 3 and rds_model.zones_of(instance)[0] == "us-east-1c"


def test_recover_leaves_the_primary_unless_fail_back_then_fails_back_last(
    world: World, instance: str, rds_model: RdsInstanceFailover, calls: list[str],
    make_controller: ControllerFactory,
) -> None:  # fmt: skip
    controller = make_controller(_config(world))
    controller.evacuate("use1-az1", reason="gray failure")
    assert controller.recover("use1-az1", reason="healthy").status is Status.RECOVERED
    assert rds_model.zones_of(instance)[0] == "us-east-1c" and _reboots(calls) == 1

    # With fail_back, the next evacuation's recover puts the primary back in use1-az1
    rds_model.place(instance, "us-east-1b", "us-east-1c")
    controller = make_controller(_config(world, fail_back=True))
    controller.evacuate("use1-az1", reason="again", force=True)
    result = controller.recover("use1-az1", reason="healthy")
    assert result.status is Status.RECOVERED and _step(result).outcome is Outcome.REVERTED
    assert rds_model.zones_of(instance) == ("us-east-1b", "us-east-1c")
