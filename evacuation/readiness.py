"""Is the config still true of AWS? Found by the 5-minute reconciler, not on the day it's needed.
Pure: an observation in, a list of problems out."""

from __future__ import annotations

from evacuation.aws.autoscaling import Group
from evacuation.aws.zonal_shift import ManagedResource
from evacuation.config import Config
from evacuation.errors import EvacuationError
from evacuation.observe import Observation, record_set_key


def readiness_problems(config: Config, observation: Observation) -> list[str]:
    """Every way the workload could not be evacuated as configured, one sentence each."""
    problems: list[str] = []
    workload_azs = observation.workload_az_ids(config)
    for arn, resource in observation.resources.items():
        if isinstance(resource, EvacuationError):
            problems.append(
                f"zonal shift resource {arn}: cannot read it ({resource}); is it registered "
                "for zonal shift (zonal_shift.config.enabled / ZonalShiftEnabled)?"
            )
        elif isinstance(resource, ManagedResource) and len(resource.az_ids) < 2:
            problems.append(f"zonal shift resource {arn}: serves only {sorted(resource.az_ids)}")
    for record_set in config.route53:
        key = record_set_key(record_set)
        records = observation.record_sets[key]
        if isinstance(records, EvacuationError):
            problems.append(f"record set {key}: cannot read it ({records})")
            continue
        present = {r.get("SetIdentifier") for r in records if "Weight" in r}
        for az_id, set_identifier in sorted(record_set.set_identifiers.items()):
            if set_identifier not in present:
                problems.append(f"record set {key}: no weighted record {set_identifier} ({az_id})")
        for az_id in sorted(workload_azs - set(record_set.set_identifiers)):
            problems.append(f"record set {key}: no record configured for {az_id}")
    for name, group in observation.groups.items():
        if not isinstance(group, Group):
            problems.append(f"Auto Scaling group {name}: {group}")
            continue
        zones = {observation.subnet_az.get(s) for s in group.subnets}
        if None in zones:
            problems.append(f"Auto Scaling group {name}: a subnet cannot be resolved to an AZ")
        if len(zones - {None}) < 2:
            problems.append(f"Auto Scaling group {name}: in one AZ only; evacuation would empty it")
    return problems
