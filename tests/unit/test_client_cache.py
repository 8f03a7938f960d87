"""The emulator's client cache: one client per arguments, and none that misses a later hook."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.awsrequest import AWSResponse
from botocore.config import Config

from evacuation.emulator.client_cache import cache_clients


def _session() -> boto3.Session:
    return cache_clients(
        boto3.Session(
            region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
        )
    )


def test_the_same_arguments_give_the_same_client_and_others_their_own() -> None:
    session = _session()
    config = Config(retries={"max_attempts": 1})

    ec2 = session.client("ec2", region_name="us-east-1")

    assert session.client("ec2", region_name="us-east-1") is ec2
    assert session.client("ec2", region_name="us-west-2") is not ec2
    assert session.client("ec2", region_name="us-east-1", config=config) is not ec2
    assert session.client("ec2", region_name="us-east-1", endpoint_url="http://x") is not ec2
    assert session.client("ec2", aws_access_key_id="other", aws_secret_access_key="x") is not ec2


def test_a_hook_registered_later_reaches_the_next_client() -> None:
    # botocore copies the session's handlers into a client when it makes it: a cached client
    # would never see a hook registered after it, so registering forgets the cache
    session = _session()
    seen: list[str] = []
    before = session.client("sts", region_name="us-east-1")

    def answer(model: Any, **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        seen.append(model.name)  # and answers instead of AWS
        return AWSResponse("https://sts.example", 200, {}, None), {"Account": "123456789012"}

    session.events.register("before-call.sts.GetCallerIdentity", answer)
    after = session.client("sts", region_name="us-east-1")
    after.get_caller_identity()

    assert after is not before
    assert seen == ["GetCallerIdentity"]
    session.events.unregister("before-call.sts.GetCallerIdentity", answer)
    assert session.client("sts", region_name="us-east-1") is not after
