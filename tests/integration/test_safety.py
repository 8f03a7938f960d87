"""Every guard refuses with a reason a human can act on, and nothing changes when it does."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import boto3
import pytest

from evacuation.emulator.world import CallRecorder, World, snapshot
from evacuation.emulator.zonal_shift import ManualClock
from evacuation.model import Outcome, Status, StepKind, Trigger
from tests.conftest import ControllerFactory

AZ = "use1-az1"


def _alarm(session: boto3.Session, name: str, state: str = "ALARM") -> None:
    session.client("cloudwatch").set_alarm_state(
        AlarmName=name, StateValue=state, StateReason="drill"
    )


def _with_safety(world: World, **safety: Any) -> dict[str, Any]:
    config = world.config()
    config["safety"] = safety
    return config


def _baseline(world: World, recorder: CallRecorder) -> dict:
    """The state to compare against; the test's own setup calls are not the controller's."""
    recorder.reset()
    return snapshot(world)


def _refused_and_untouched(
    result: Any, world: World, original: dict, recorder: CallRecorder, words: str
) -> None:
    assert result.status is Status.REFUSED, result.to_dict()
    assert words in (result.reason or ""), result.reason
    assert recorder.mutations == []
    assert snapshot(world) == original


def test_kill_switch_stops_alarm_evacuations_but_not_manual_ones(
    world: World, make_controller: ControllerFactory, session: boto3.Session, recorder: CallRecorder
) -> None:
    session.client("ssm").put_parameter(Name="/azevac/kill", Value="disabled", Type="String")
    config = _with_safety(world, kill_switch_parameter="/azevac/kill")
    original = _baseline(world, recorder)

    by_alarm = make_controller(config).evacuate(AZ, reason="alarm", trigger=Trigger.ALARM)
    _refused_and_untouched(by_alarm, world, original, recorder, "kill switch /azevac/kill")

    by_hand = make_controller(config).evacuate(AZ, reason="operator", trigger=Trigger.MANUAL)
    assert by_hand.status is Status.EVACUATED
    assert "kill switch is off" in (by_hand.reason or "")


def test_kill_switch_read_on_every_invocation(
    world: World, make_controller: ControllerFactory, session: boto3.Session, clock: ManualClock
) -> None:
    ssm = session.client("ssm")
    ssm.put_parameter(Name="/azevac/kill", Value="disabled", Type="String")
    controller = make_controller(_with_safety(world, kill_switch_parameter="/azevac/kill"))
    assert controller.evacuate(AZ, reason="a", trigger=Trigger.ALARM).status is Status.REFUSED
    ssm.put_parameter(Name="/azevac/kill", Value="enabled", Type="String", Overwrite=True)
    time.sleep(5.1)  # the cache lives at most 5 seconds
    assert controller.evacuate(AZ, reason="b", trigger=Trigger.ALARM).status is Status.EVACUATED


def test_shadow_mode_plans_and_changes_nothing(
    world: World, make_controller: ControllerFactory, recorder: CallRecorder
) -> None:
    original = _baseline(world, recorder)
    result = make_controller(_with_safety(world, mode="dry-run")).evacuate(
        AZ, reason="alarm", trigger=Trigger.ALARM
    )
    assert result.status is Status.PLANNED
    assert "shadow mode" in (result.reason or "")
    assert any(s.key.kind is StepKind.ZONAL_SHIFT for s in result.steps)
    assert recorder.mutations == []
    assert snapshot(world) == original


def test_regional_impact_refuses_when_another_az_alarms(
    world: World, make_controller: ControllerFactory, session: boto3.Session, recorder: CallRecorder
) -> None:
    _alarm(session, "checkout-use1-az1-isolated-impact")
    _alarm(session, "checkout-use1-az2-isolated-impact")
    original = _baseline(world, recorder)
    result = make_controller().evacuate(AZ, reason="alarm", trigger=Trigger.ALARM)
    _refused_and_untouched(result, world, original, recorder, "regional impact")
    assert "checkout-use1-az2-isolated-impact (use1-az2)" in (result.reason or "")


def test_regional_alarm_refuses(
    world: World, make_controller: ControllerFactory, session: boto3.Session, recorder: CallRecorder
) -> None:
    session.client("cloudwatch").put_metric_alarm(
        AlarmName="checkout-regional", Namespace="x", MetricName="y", Statistic="Sum",
        Period=60, EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold",
    )  # fmt: skip
    _alarm(session, "checkout-regional")
    original = _baseline(world, recorder)
    config = _with_safety(world, regional_alarm="checkout-regional")
    result = make_controller(config).evacuate(AZ, reason="alarm", trigger=Trigger.ALARM)
    _refused_and_untouched(result, world, original, recorder, "checkout-regional is in ALARM")


def test_min_healthy_azs(
    world: World, make_controller: ControllerFactory, recorder: CallRecorder
) -> None:
    original = _baseline(world, recorder)
    config = _with_safety(world, min_healthy_azs=3)
    result = make_controller(config).evacuate(AZ, reason="manual")
    _refused_and_untouched(result, world, original, recorder, "safety.min_healthy_azs is 3")


def test_max_size_matters_only_when_prescaling(
    world: World, make_controller: ControllerFactory, session: boto3.Session
) -> None:
    # Given a group at MaxSize (desired 3, max 3)
    session.client("autoscaling").update_auto_scaling_group(
        AutoScalingGroupName="checkout-web", MaxSize=3
    )
    # Without prescale nothing is raised, so MaxSize cannot refuse (ASG-5): evacuated
    assert make_controller().evacuate(AZ, reason="manual").status is Status.EVACUATED
    make_controller().recover(AZ, reason="back")
    # With prescale desired stays at MaxSize and the step says the shortfall: PARTIAL
    result = make_controller(_with_safety(world, prescale=True, cooldown_minutes=0)).evacuate(
        AZ, reason="manual"
    )
    assert result.status is Status.PARTIAL, result.to_dict()
    capacity = next(
        s
        for s in result.steps
        if s.key.kind is StepKind.ASG_CAPACITY and s.key.resource == "checkout-web"
    )
    assert capacity.outcome is Outcome.UNCHANGED and "above MaxSize 3" in (capacity.reason or "")
    assert snapshot(world)["weights"]["checkout-use1-az1"] == 0


def test_prescale_raises_desired_and_recover_puts_it_back(
    world: World, make_controller: ControllerFactory
) -> None:
    original = snapshot(world)
    config = _with_safety(world, prescale=True)

    result = make_controller(config).evacuate(AZ, reason="manual")

    assert result.status is Status.EVACUATED, result.to_dict()
    # desired 3 over 3 AZs: 1 stays counted in the impaired AZ, 3 must run elsewhere
    assert snapshot(world)["asgs"]["checkout-web"]["desired"] == 4
    make_controller(config).recover(AZ)
    assert snapshot(world) == original


def test_flap_damping_refuses_a_quick_re_evacuation_unless_forced(
    world: World, make_controller: ControllerFactory, clock: ManualClock, recorder: CallRecorder
) -> None:
    make_controller().evacuate(AZ, reason="first")
    make_controller().recover(AZ)
    original = _baseline(world, recorder)
    clock.advance(timedelta(minutes=10))

    again = make_controller().evacuate(AZ, reason="flap", trigger=Trigger.ALARM)
    _refused_and_untouched(again, world, original, recorder, "cooldown_minutes=30")

    forced = make_controller().evacuate(AZ, reason="human says so", force=True)
    assert forced.status is Status.EVACUATED


def test_rate_of_change_pages_a_human_after_the_daily_limit(
    world: World, make_controller: ControllerFactory, clock: ManualClock, recorder: CallRecorder
) -> None:
    config = _with_safety(world, max_evacuations_per_day=2, cooldown_minutes=0)
    for _ in range(2):
        make_controller(config).evacuate(AZ, reason="alarm", trigger=Trigger.ALARM)
        make_controller(config).recover(AZ)
        clock.advance(timedelta(minutes=1))
    original = _baseline(world, recorder)

    third = make_controller(config).evacuate(AZ, reason="alarm", trigger=Trigger.ALARM)

    _refused_and_untouched(third, world, original, recorder, "paging a human")


def test_practice_run_stopped_by_its_stop_alarm_recovers_exactly(
    world: World, make_controller: ControllerFactory, session: boto3.Session, clock: ManualClock
) -> None:
    # Given a practice run on a healthy AZ with a stop alarm
    original = snapshot(world)
    stop = "checkout-use1-az2-isolated-impact"
    started = make_controller().practice(AZ, minutes=30, stop_alarms=(stop,))
    assert started.status is Status.EVACUATED
    assert snapshot(world)["weights"]["checkout-use1-az1"] == 0

    # When the stop alarm fires and the reconciler runs (the invoking process is gone)
    _alarm(session, stop)
    report = make_controller().reconcile()

    # Then the AZ is recovered to exactly the original state
    assert [r.status for r in report.results] == [Status.RECOVERED]
    assert snapshot(world) == original


def test_practice_run_ends_when_its_time_is_up(
    world: World, make_controller: ControllerFactory, clock: ManualClock
) -> None:
    original = snapshot(world)
    make_controller().practice(AZ, minutes=20)
    clock.advance(timedelta(minutes=10))
    assert make_controller().reconcile().results[0].status is Status.EVACUATED
    clock.advance(timedelta(minutes=11))
    assert make_controller().reconcile().results[0].status is Status.RECOVERED
    assert snapshot(world) == original


def test_practice_refused_on_an_az_whose_own_alarm_fires(
    world: World, make_controller: ControllerFactory, session: boto3.Session, recorder: CallRecorder
) -> None:
    _alarm(session, "checkout-use1-az1-isolated-impact")
    original = _baseline(world, recorder)
    result = make_controller().practice(AZ, minutes=10)
    _refused_and_untouched(result, world, original, recorder, "practice run needs a healthy AZ")


@pytest.mark.parametrize("trigger", [Trigger.MANUAL, Trigger.ALARM])
def test_resuming_an_evacuation_is_not_blocked_by_start_guards(
    world: World, make_controller: ControllerFactory, session: boto3.Session, trigger: Trigger
) -> None:
    # Given an evacuation already holds the AZ, and then the other AZ alarms too
    first = make_controller().evacuate(AZ, reason="first", trigger=Trigger.ALARM)
    _alarm(session, "checkout-use1-az2-isolated-impact")
    # When the same AZ is evacuated again (re-delivery, reconciler), it continues, not refused
    again = make_controller().evacuate(AZ, reason="again", trigger=trigger)
    assert again.evacuation_id == first.evacuation_id
    assert again.status is Status.EVACUATED


def test_the_stacks_kill_switch_is_the_default_when_the_config_names_none(
    world: World, session: boto3.Session, recorder: CallRecorder
) -> None:
    # Given the template's switch (AZEVAC_KILL_SWITCH_PARAMETER) is off and the config names none
    from evacuation.settings import Settings, build_controller  # noqa: PLC0415

    session.client("ssm").put_parameter(Name="/azevac/stack-kill", Value="off", Type="String")
    settings = Settings(
        config_reference=json.dumps(world.config()),
        table=None,
        kill_switch_parameter="/azevac/stack-kill",
    )
    controller = build_controller(settings, session)
    original = _baseline(world, recorder)

    # When an alarm fires, automation is off ("off" is not "enabled": the switch fails closed)
    result = controller.evacuate(AZ, reason="alarm", trigger=Trigger.ALARM)
    _refused_and_untouched(result, world, original, recorder, "/azevac/stack-kill is 'off'")
    # and read from the environment as a deployed function sees it
    env = {"AZEVAC_CONFIG": "{}", "AZEVAC_KILL_SWITCH_PARAMETER": "/azevac/stack-kill"}
    assert Settings.from_env(env).kill_switch_parameter == "/azevac/stack-kill"
