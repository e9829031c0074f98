"""The CrossGuard pack runs the same rules over CrossGuard's view of a stack."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hainfra.policy.crossguard import policies
from hainfra.policy.rules import RULES


@dataclass
class FakePolicyResource:
    """The fields of pulumi_policy.PolicyResource the pack reads."""

    resource_type: str
    name: str
    urn: str
    props: dict[str, Any]
    property_dependencies: dict[str, list[Any]] = field(default_factory=dict)


@dataclass
class Args:
    resources: list[FakePolicyResource]


def resource(kind: str, name: str, props: dict[str, Any], **deps: Any) -> FakePolicyResource:
    return FakePolicyResource(kind, name, f"urn:pulumi:s::p::{kind}::{name}", props,
                              {k: v if isinstance(v, list) else [v] for k, v in deps.items()})


def run(resources: list[FakePolicyResource]) -> dict[str, list[tuple[str, str | None]]]:
    reported: dict[str, list[tuple[str, str | None]]] = {}
    for policy in policies():
        policy.validate(Args(resources), lambda msg, urn, name=policy.name: reported.setdefault(name, []).append((msg, urn)))
    return reported


def test_one_policy_per_rule_with_enforcement() -> None:
    from hainfra.config import StackConfig

    assert {p.name for p in policies(StackConfig.load({}))} == {f"hainfra-{r}" for r in RULES}
    assert {p.name for p in policies()} == {f"hainfra-{r.id}" for r in RULES.values() if not r.needs_config}
    assert _levels()["hainfra-vpc-flow-logs"] == "mandatory" and _levels()["hainfra-world-ingress"] == "advisory"


def test_vpc_without_flow_log_reported_with_its_urn_and_fixed_twin_passes() -> None:
    vpc = resource("aws:ec2/vpc:Vpc", "vpc", {"cidrBlock": "10.0.0.0/16"})
    reported = run([vpc])
    assert reported["hainfra-vpc-flow-logs"] == [
        ("VPC has no flow log capturing ALL traffic. Fix: " + RULES["vpc-flow-logs"].fix, vpc.urn)]
    rejected = resource("aws:ec2/flowLog:FlowLog", "flow", {"vpcId": "vpc-123", "trafficType": "REJECT"}, vpcId=vpc)
    assert "hainfra-vpc-flow-logs" in run([vpc, rejected])  # a log of rejected traffic only is not enough
    flow = resource("aws:ec2/flowLog:FlowLog", "flow", {"vpcId": "vpc-123", "trafficType": "ALL"}, vpcId=vpc)
    assert "hainfra-vpc-flow-logs" not in run([vpc, flow])


def test_references_resolved_through_property_dependencies() -> None:
    subnets = [resource("aws:ec2/subnet:Subnet", f"sn{i}", {"availabilityZone": f"us-east-1{c}"})
               for i, c in enumerate("ab")]
    asg = resource("aws:autoscaling/group:Group", "asg", {"vpcZoneIdentifiers": ["subnet-1", "subnet-2"],
                                                          "healthCheckType": "ELB"}, vpcZoneIdentifiers=subnets)
    assert "hainfra-asg-multi-az" not in run([*subnets, asg])
    one = resource("aws:autoscaling/group:Group", "asg", {"vpcZoneIdentifiers": ["subnet-1"]},
                   vpcZoneIdentifiers=subnets[:1])
    assert "hainfra-asg-multi-az" in run([*subnets, one])


def _levels(config: object = None) -> dict[str, str]:
    return {p.name: p.enforcement_level.value for p in policies(config)}  # type: ignore[arg-type]


def test_nat_per_az_is_enforced_like_the_offline_gate_mandatory_only_in_prod() -> None:
    from hainfra.config import StackConfig

    assert _levels()["hainfra-nat-per-az"] == "advisory"
    assert _levels(StackConfig.load({"environment": "dev"}))["hainfra-nat-per-az"] == "advisory"
    prod = StackConfig.load({"environment": "prod", "asg_min": 3, "asg_desired": 3, "asg_max": 6})
    assert _levels(prod)["hainfra-nat-per-az"] == "mandatory"
    assert _levels(prod)["hainfra-vpc-flow-logs"] == "mandatory"  # an always-mandatory rule stays so
    for config in (None, prod):
        for rule in RULES.values():
            name = f"hainfra-{rule.id}"
            if name in _levels(config):
                assert (_levels(config)[name] == "mandatory") == rule.is_mandatory(config), name


def test_naming_convention_is_never_an_enforced_no_op() -> None:
    from hainfra.config import StackConfig

    assert "hainfra-naming-convention" not in _levels(), "without a config the rule checks nothing: leave it out"
    config = StackConfig.load({"stack": "s1"})
    pack = {p.name: p for p in policies(config)}
    bad = resource("aws:ec2/vpc:Vpc", "my-vpc", {"cidrBlock": "10.0.0.0/16"})
    reported: list[str] = []
    pack["hainfra-naming-convention"].validate(Args([bad]), lambda msg, urn: reported.append(msg))
    assert reported and "my-vpc" in reported[0] and "hainfra-<kind>-" in reported[0]
