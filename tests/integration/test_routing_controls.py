"""ARC routing controls (issue 15 §2, aws-semantics RC-1): the AZ's control turned Off through the
cluster's data plane, trying each Regional endpoint in turn; ARC's safety rules respected and a
refusal said plainly; recover turns it back On. State read back from the routing-control fake."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest

from evacuation.emulator.routing_control import RoutingControlFake
from evacuation.emulator.world import World
from evacuation.model import Outcome, Status, StepKind
from tests.conftest import ControllerFactory


@pytest.fixture
def arc(session: boto3.Session) -> RoutingControlFake:
    fake = RoutingControlFake()
    fake.install(session)
    return fake


@pytest.fixture
def controls(arc: RoutingControlFake, world: World) -> dict[str, str]:
    # Given one routing control per AZ, all On, and the rule "at least 2 of 3 On"
    made = {az: arc.create_routing_control(f"checkout-{az}") for az in world.az_ids}
    arc.add_assertion_rule("checkout-two-of-three", list(made.values()), 2)
    return made


def _config(world: World, arc: RoutingControlFake, controls: dict[str, str]) -> dict[str, Any]:
    return world.config(
        routing_controls={"controls": controls, "cluster_endpoints": arc.endpoint_configs()}
    )


def _step(result: Any, kind: StepKind = StepKind.ROUTING_CONTROL) -> Any:
    return next(s for s in result.steps if s.key.kind is kind)


def test_evacuate_turns_the_azs_control_off_and_recover_turns_it_on(
    world: World, arc: RoutingControlFake, controls: dict[str, str],
    make_controller: ControllerFactory,
) -> None:  # fmt: skip
    controller = make_controller(_config(world, arc, controls))

    result = controller.evacuate("use1-az1", reason="gray failure")

    assert arc.state(controls["use1-az1"]) == "Off"
    assert {az: arc.state(arn) for az, arn in controls.items() if az != "use1-az1"} == {
        az: "On" for az in controls if az != "use1-az1"
    }
    assert _step(result).outcome is Outcome.APPLIED
    assert result.status is Status.EVACUATED
    # never by overriding a safety rule
    assert all("SafetyRulesToOverride" not in params for _, _, params in arc.calls)

    recovered = controller.recover("use1-az1", reason="healthy")
    assert arc.state(controls["use1-az1"]) == "On"
    assert _step(recovered).outcome is Outcome.REVERTED
    assert recovered.status is Status.RECOVERED


def test_the_control_goes_off_in_the_data_plane_before_any_control_plane_change(
    world: World, arc: RoutingControlFake, controls: dict[str, str], session: boto3.Session,
    make_controller: ControllerFactory,
) -> None:  # fmt: skip
    calls: list[str] = []
    session.events.register("before-call.*.*", lambda model, **_: calls.append(model.name))

    make_controller(_config(world, arc, controls)).evacuate("use1-az1", reason="gray failure")

    assert calls.index("UpdateRoutingControlState") < calls.index("SuspendProcesses")


def test_unavailable_endpoints_are_skipped_for_the_next(
    world: World, arc: RoutingControlFake, controls: dict[str, str],
    make_controller: ControllerFactory,
) -> None:  # fmt: skip
    # Given two of the five endpoints in maintenance
    down = [url for url, _ in arc.endpoints[:2]]
    arc.make_unavailable(*down)

    result = make_controller(_config(world, arc, controls)).evacuate("use1-az1", reason="gray")

    # Then the third endpoint set the state
    assert arc.state(controls["use1-az1"]) == "Off"
    assert _step(result).outcome is Outcome.APPLIED
    updates = [host for op, host, _ in arc.calls if op == "UpdateRoutingControlState"]
    assert updates == [urlsplit(arc.endpoints[2][0]).netloc]


def test_a_safety_rule_refusal_fails_the_step_naming_the_rule_and_the_rest_goes_on(
    world: World, arc: RoutingControlFake, make_controller: ControllerFactory
) -> None:
    # Given a stricter rule: all three On
    made = {az: arc.create_routing_control(f"strict-{az}") for az in world.az_ids}
    arc.add_assertion_rule("checkout-all-on", list(made.values()), 3)

    result = make_controller(_config(world, arc, made)).evacuate("use1-az1", reason="gray")

    step = _step(result)
    assert step.outcome is Outcome.FAILED
    assert "ARC refused" in (step.error or "") and "checkout-all-on" in (step.error or "")
    assert arc.state(made["use1-az1"]) == "On"
    assert _step(result, StepKind.ZONAL_SHIFT).outcome is Outcome.APPLIED
    assert result.status is Status.DEGRADED


def test_another_az_off_counts_as_out_of_service(
    world: World, arc: RoutingControlFake, controls: dict[str, str],
    make_controller: ControllerFactory,
) -> None:  # fmt: skip
    # Given someone turned use1-az2's control Off
    arc.seed_state(controls["use1-az2"], "Off")

    result = make_controller(_config(world, arc, controls)).evacuate("use1-az1", reason="gray")

    # Then evacuating use1-az1 too would leave one AZ: refused, nothing changed
    assert result.status is Status.REFUSED
    assert "use1-az2" in (result.reason or "")
    assert arc.state(controls["use1-az1"]) == "On"


def test_a_conflict_is_a_clear_failure(
    world: World, arc: RoutingControlFake, controls: dict[str, str],
    make_controller: ControllerFactory,
) -> None:  # fmt: skip
    arc.inject_conflict(times=100)

    result = make_controller(_config(world, arc, controls)).evacuate("use1-az1", reason="gray")

    step = _step(result)
    assert step.outcome is Outcome.FAILED and "ARC refused" in (step.error or "")
    assert result.status is Status.DEGRADED


def test_every_endpoint_down_fails_the_step_after_retries_and_the_shift_still_applies(
    world: World, arc: RoutingControlFake, controls: dict[str, str],
    make_controller: ControllerFactory,
) -> None:  # fmt: skip
    arc.make_unavailable(*(url for url, _ in arc.endpoints))
    config = _config(world, arc, controls)
    config["execution"] = {**config["execution"], "max_attempts": 2}

    result = make_controller(config).evacuate("use1-az1", reason="gray")

    # The read fails, so the step fails alone: every endpoint was tried, twice
    assert _step(result).outcome is Outcome.FAILED
    hosts = {host for op, host, _ in arc.calls}
    assert len(hosts) == len(arc.endpoints)
    assert _step(result, StepKind.ZONAL_SHIFT).outcome is Outcome.APPLIED
    assert result.status is Status.DEGRADED
