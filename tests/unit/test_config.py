"""A broken config fails at load with one message naming the key and what is wrong."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from evacuation.config import expires_in_minutes, load_config, parse_config
from evacuation.errors import ConfigurationError

ALB = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/0123456789abcdef"


def good() -> dict[str, Any]:
    return {
        "workload": "checkout",
        "zonal_shift": {"resources": [ALB], "expires_in": "6h"},
        "route53": [
            {
                "hosted_zone_id": "Z0123",
                "name": "api.example.com.",
                "type": "A",
                "set_identifiers": {"use1-az1": "api-az1", "use1-az2": "api-az2"},
            }
        ],
        "autoscaling": {"groups": ["web", "worker"], "suspend_processes": ["AZRebalance"]},
        "alarms": {"checkout-use1-az1-isolated-impact": "use1-az1"},
        "safety": {"max_evacuated_azs": 1},
    }


def test_documented_example_loads() -> None:
    config = parse_config(good())
    assert config.workload == "checkout"
    assert config.route53[0].set_identifiers["use1-az1"] == "api-az1"
    assert config.configured_az_ids == {"use1-az1", "use1-az2"}


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda c: c.update(colour="blue"), "colour: unknown key"),
        (lambda c: c["safety"].update(max_evacuated_azs="1"), "safety.max_evacuated_azs"),
        (lambda c: c["zonal_shift"].update(expires_in="73h"), "longer than the 72h"),
        (lambda c: c["zonal_shift"].update(expires_in="3d"), "zonal_shift.expires_in"),
        (lambda c: c["zonal_shift"].update(resources=[]), "zonal_shift.resources"),
        (lambda c: c["zonal_shift"].update(resources=["web-alb"]), "is not an ALB, NLB"),
        (lambda c: c["autoscaling"].update(groups=[]), "autoscaling.groups"),
        (lambda c: c["autoscaling"].update(suspend_processes=["Nap"]), "unknown process"),
        # ASG-6: suspending these destroys or freezes capacity
        (
            lambda c: c["autoscaling"].update(suspend_processes=["Launch"]),
            "autoscaling.suspend_processes: ",
        ),
        (
            lambda c: c["autoscaling"].update(suspend_processes=["AZRebalance", "Terminate"]),
            "Terminate'] must not be suspended during an evacuation",
        ),
        (lambda c: c["autoscaling"].update(method="drain"), "autoscaling.method"),
        (lambda c: c["alarms"].update(x="us-east-1b"), "alarms.x: 'us-east-1b' is an AZ name"),
        (
            lambda c: c["route53"][0]["set_identifiers"].update({"us-east-1a": "x"}),
            "is an AZ name",
        ),
        (lambda c: c["route53"][0].update(set_identifiers={"use1-az1": "a"}), "at least 2"),
        (lambda c: c["route53"].append(dict(c["route53"][0])), "lists api.example.com. A twice"),
        (lambda c: c.update(workload=""), "workload"),
        (
            lambda c: [c.pop(k) for k in ("zonal_shift", "route53", "autoscaling")],
            "names nothing to evacuate",
        ),
    ],
)
def test_broken_config_names_the_key_and_the_problem(mutate: Any, expected: str) -> None:
    config = good()
    mutate(config)
    with pytest.raises(ConfigurationError, match=re.escape(expected)):
        parse_config(config)


def test_all_problems_are_reported_in_one_message() -> None:
    config = good()
    config["zonal_shift"]["expires_in"] = "100h"
    config["autoscaling"]["groups"] = []
    with pytest.raises(ConfigurationError) as error:
        parse_config(config)
    assert "zonal_shift.expires_in" in str(error.value)
    assert "autoscaling.groups" in str(error.value)


def test_loads_from_a_file_from_inline_json_and_from_ssm(tmp_path: Path) -> None:
    path = tmp_path / "azevac.json"
    path.write_text(json.dumps(good()))
    assert load_config(str(path)).workload == "checkout"
    assert load_config(json.dumps(good())).workload == "checkout"
    asked = []

    def reader(name: str) -> str:
        asked.append(name)
        return json.dumps(good())

    assert load_config("ssm:/azevac/checkout", reader).workload == "checkout"
    assert asked == ["/azevac/checkout"]


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("", "AZEVAC_CONFIG is not set"),
        ("/nonexistent/azevac.json", "No such file"),
        ("{not json", "not valid JSON"),
        ("ssm:/x", "no SSM reader"),
    ],
)
def test_unloadable_config_says_why(reference: str, expected: str) -> None:
    with pytest.raises(ConfigurationError, match=expected):
        load_config(reference)


@pytest.mark.parametrize(
    ("value", "minutes"), [("1m", 1), ("90m", 90), ("6h", 360), ("72h", 4320), ("4320m", 4320)]
)
def test_expiry_in_minutes(value: str, minutes: int) -> None:
    assert expires_in_minutes(value) == minutes


@pytest.mark.parametrize("value", ["0h", "73h", "4321m", "3d", "6", "h", "-1h", "06h"])
def test_expiry_that_arc_rejects(value: str) -> None:
    with pytest.raises(ValueError):
        expires_in_minutes(value)
