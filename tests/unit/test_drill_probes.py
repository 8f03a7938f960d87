"""The drill's and the reliability campaigns' read-back iterate over the kinds' registry
(issue 15 §1): every registered kind has a probe, and the modules that run them name no kind."""

from __future__ import annotations

import inspect

import botocore.session

from evacuation.drill import checks, probes
from evacuation.kinds import KINDS
from tests.reliability import campaigns


def test_every_registered_kind_has_a_probe() -> None:
    assert sorted(k.name for k in KINDS) == sorted(probes.PROBES)
    assert [p.kind for p in probes.probes()] == [k.name for k in KINDS]


def test_each_probe_names_real_mutations() -> None:
    session = botocore.session.get_session()
    for service, operation in probes.mutations():
        assert operation in session.get_service_model(service).operation_names


def test_checks_and_campaigns_name_no_kind() -> None:
    for module in (checks, campaigns):
        source = inspect.getsource(module)
        for kind in KINDS:
            for step in kind.steps:
                assert f"StepKind.{step.kind.name}" not in source, (module.__name__, step.kind)
        for name in (
            '"autoscaling"',
            '"route53"',
            '"rds"',
            '"ecs"',
            '"asgs"',
            '"groups"',
            '"records"',
        ):
            assert name not in source, (module.__name__, name)
