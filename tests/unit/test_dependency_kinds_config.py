"""The caches and routing_controls sections refuse at load what they cannot act on."""

from __future__ import annotations

from typing import Any

import pytest

from evacuation.config import parse_config
from evacuation.errors import ConfigurationError
from tests.unit.test_config import good

RC = "arn:aws:route53-recovery-control::123456789012:controlpanel/p/routingcontrol/"
ENDPOINT = {
    "endpoint": "https://abc.route53-recovery-cluster.us-west-2.amazonaws.com/v1",
    "region": "us-west-2",
}


def _with(**sections: Any) -> dict[str, Any]:
    return {**good(), **sections}


def test_both_sections_load_and_name_their_azs() -> None:
    config = parse_config(
        _with(
            caches={"replication_groups": ["sessions"], "fail_back": True},
            routing_controls={
                "controls": {"use1-az1": RC + "a", "use1-az2": RC + "b"},
                "cluster_endpoints": [ENDPOINT],
            },
        )
    )
    assert config.caches is not None and config.caches.fail_back
    assert config.routing_controls is not None
    assert {"use1-az1", "use1-az2"} <= config.configured_az_ids


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"caches": {"replication_groups": []}}, "caches.replication_groups"),
        ({"caches": {"replication_groups": ["a", "b", "a"]}}, "same replication group twice: a"),
        ({"databases": {"clusters": ["db-1", "db-1"]}}, "same cluster twice: db-1"),
        ({"ecs": {"services": ["c/s", "c/s"]}}, "same service twice: c/s"),
        ({"caches": {"replication_groups": ["a"], "suspend_multi_az": "yes"}}, "bool"),
        ({"caches": {"replication_groups": ["a"], "test_failover": True}}, "unknown key"),
        (
            {
                "routing_controls": {
                    "controls": {"use1-az1": RC + "a"},
                    "cluster_endpoints": [ENDPOINT],
                }
            },
            "routing_controls.controls",
        ),
        (
            {
                "routing_controls": {
                    "controls": {"use1-az1": "arn:aws:x", "use1-az2": RC + "b"},
                    "cluster_endpoints": [ENDPOINT],
                }
            },
            "not a routing control ARN",
        ),
        (
            {
                "routing_controls": {
                    "controls": {"us-east-1a": RC + "a", "use1-az2": RC + "b"},
                    "cluster_endpoints": [ENDPOINT],
                }
            },
            "routing_controls.controls",
        ),
        (
            {
                "routing_controls": {
                    "controls": {"use1-az1": RC + "a", "use1-az2": RC + "b"},
                    "cluster_endpoints": [{"endpoint": "http://x", "region": "us-west-2"}],
                }
            },
            "https://",
        ),
    ],
)
def test_a_bad_section_is_refused_naming_the_key(section: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message.replace(".", r"\.")):
        parse_config(_with(**section))
