"""Moved: the Route 53 weight runner is in `evacuation.kinds.route53` (one module per kind)."""

from evacuation.kinds.route53 import CONFLICT, ELB_ALIAS_TTL, WeightRunner, ttl_of

__all__ = ["CONFLICT", "ELB_ALIAS_TTL", "WeightRunner", "ttl_of"]
