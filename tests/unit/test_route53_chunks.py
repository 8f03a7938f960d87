"""Chunking a zone's compare-and-swap writes within Route 53's per-request limits
(https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/DNSLimitations.html)."""

from __future__ import annotations

from typing import Any

from evacuation.aws.route53 import chunks, record_cost, swaps_cost


def _record(values: list[str]) -> Any:
    return {"Name": "a.example.com.", "Type": "A", "SetIdentifier": "x", "Weight": 1, "TTL": 60,
            "ResourceRecords": [{"Value": v} for v in values]}  # fmt: skip


def test_a_swap_counts_its_records_twice_like_an_upsert() -> None:
    record = _record(["10.0.0.1", "10.0.0.22"])
    assert record_cost(record) == (2, 17)
    assert swaps_cost([(record, record)]) == (4, 34)


def test_an_alias_counts_as_one_element_and_its_dns_name() -> None:
    alias = {"Name": "a.example.com.", "Type": "A", "SetIdentifier": "x", "Weight": 1,
             "AliasTarget": {"HostedZoneId": "Z1", "DNSName": "lb.elb.amazonaws.com.",
                             "EvaluateTargetHealth": False}}  # fmt: skip
    assert record_cost(alias) == (1, len("lb.elb.amazonaws.com."))


def test_chunks_stay_within_both_limits_and_never_split_a_unit() -> None:
    units = [(4, 10)] * 700
    out = chunks(units, lambda unit: unit)
    assert [len(c) for c in out] == [250, 250, 200]
    by_chars = chunks([(1, 20_000), (1, 20_000), (1, 1)], lambda unit: unit)
    assert [len(c) for c in by_chars] == [1, 2]
    assert chunks([], lambda unit: unit) == []
