"""The CLI's phrases for what each kind of step changes (pure: JSON answers in, text out)."""

from __future__ import annotations

from evacuation.terminal.render import View, change, short_resource, shorten_arns

VIEW = View(subnet_azs={"subnet-0a": "use1-az1", "subnet-0b": "use1-az2"})
AZ = "use1-az1"


def step(kind: str, before: object, after: object, outcome: str = "applied") -> dict[str, object]:
    return {"kind": kind, "before": before, "after": after, "outcome": outcome}


def test_short_names_for_every_resource_kind() -> None:
    alb = "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/web/0123"
    nlb = "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/net/edge/0123"
    asg = "arn:aws:autoscaling:us-east-1:1:autoScalingGroup:uuid:autoScalingGroupName/web"
    eks = "arn:aws:eks:us-east-1:1:cluster/main"
    assert short_resource("zonal_shift", alb) == "alb web"
    assert short_resource("zonal_shift", nlb) == "nlb edge"
    assert short_resource("zonal_shift", asg) == "asg web"
    assert short_resource("zonal_shift", eks) == "eks main"
    assert short_resource("route53_weight", "Z1/api.example.com./A") == "api.example.com. A"
    assert short_resource("asg_subnets", "web") == "asg web"
    assert shorten_arns(f"{alb} has a shift", VIEW) == "alb web has a shift"
    assert shorten_arns(f"{alb} has a shift", View(wide=True)) == f"{alb} has a shift"


def test_subnets_with_their_az_and_capacity_as_desired() -> None:
    placement = {"placement": ["subnet-0a", "subnet-0b"], "serving_in_az": 1.0}
    assert change(step("asg_subnets", placement, ["subnet-0b"]), AZ, VIEW) == (
        "- subnet-0a (use1-az1)"
    )
    undo = change(step("asg_subnets", placement, ["subnet-0b"]), AZ, VIEW, undo=True)
    assert undo == "+ subnet-0a (use1-az1)"
    back = change(step("asg_subnets", placement, ["subnet-0a", "subnet-0b"], "reverted"), AZ, VIEW)
    assert back == "+ subnet-0a (use1-az1) back"
    assert change(step("asg_capacity", 4, 6), AZ, VIEW) == "desired 4 → 6"
    assert change(step("asg_capacity", 4, 6), AZ, VIEW, undo=True) == "desired 6 → 4"


def test_weights_shifts_and_processes_in_words() -> None:
    before = {"weights": {"a1": 100, "a2": 150}, "set_identifier": "a1"}
    assert change(step("route53_weight", before, {"weight": 0}), AZ, VIEW) == "a1: 100 → 0"
    shift = step("zonal_shift", {"weight": 1.0, "shifts": []}, {"shift_id": "1234abcd-x"})
    assert change(shift, AZ, VIEW) == "away from use1-az1 (shift 1234abcd)"
    assert change(shift, AZ, VIEW, undo=True) == "cancel shift 1234abcd"
    suspended = {"suspended": ["AZRebalance"], "reasons": {}}
    assert change(step("asg_processes", [], suspended), AZ, VIEW) == "suspend AZRebalance"
    assert change(step("asg_processes", [], {"resumed": ["AZRebalance"]}), AZ, VIEW) == (
        "resume AZRebalance"
    )
