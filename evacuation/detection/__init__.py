"""The detection kit: per-AZ isolated-impact alarms azevac ships, deploys and proves.

- `config`: the `detection` section of the azevac config and the alarm names it implies (needed
  at runtime: the config derives `alarms` and `safety.regional_alarm` from it).
- `generate`: the CloudFormation stack (`azevac alarms --config ...`).
- `evaluate`: CloudWatch's alarm evaluation, for the subset the kit uses (no AWS needed).
- `scenarios`, `bench`: the seeded scenario library and `make detect`.

Only `config` is part of the Lambda artifact (the Makefile removes the rest).
"""
