"""The benchmark's simulated AWS: every call costs the latency, and an empty bucket throttles
with the error Route 53 sends, which azevac's error translation treats as retryable."""

from __future__ import annotations

import boto3
import pytest

from evacuation.aws.clients import AwsClients, Caller
from evacuation.aws.ec2 import Ec2Gateway
from evacuation.config import RateLimit
from evacuation.emulator.latency import SimulatedAws
from evacuation.errors import RetryableError
from evacuation.retry import Deadline, RetryPolicy


def test_latency_is_paid_per_call_and_an_empty_bucket_throttles(session: boto3.Session) -> None:
    slept: list[float] = []
    aws = SimulatedAws(0.05, {"ec2": RateLimit(burst=2, per_second=0.001)}, sleep=slept.append)
    aws.install(session)
    call = Caller(RetryPolicy(Deadline.within(5), max_attempts=1))

    def read_zones() -> None:  # a gateway per read: one keeps the zones it has read
        Ec2Gateway(AwsClients(session), call).availability_zones()

    read_zones()
    read_zones()
    with pytest.raises(RetryableError, match="Rate exceeded"):
        read_zones()

    assert slept == [0.05, 0.05, 0.05]
    assert aws.throttled["ec2"] == 1
    assert aws.reads_and_mutations() == (3, 0)
