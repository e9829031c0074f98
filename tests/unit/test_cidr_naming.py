"""Pure planning: subnet CIDRs, names and tags."""

from __future__ import annotations

import ipaddress
import itertools

import pytest

from hainfra import naming
from hainfra.cidr import plan_subnets
from hainfra.config import StackConfig


@pytest.mark.parametrize("vpc", ["10.0.0.0/16", "172.20.0.0/20", "192.168.4.0/24"])
def test_subnets_disjoint_and_inside_vpc(vpc: str) -> None:
    plan = plan_subnets(vpc, 6)
    nets = [ipaddress.ip_network(s.cidr) for s in plan]
    assert all(n.subnet_of(ipaddress.ip_network(vpc)) for n in nets)
    assert not any(a.overlaps(b) for a, b in itertools.combinations(nets, 2))
    assert {s.tier for s in plan} == {"public", "private"} and len(plan) == 12


def test_adding_an_az_never_renumbers_existing_subnets() -> None:
    for n in range(1, 6):
        before = {(s.tier, s.az_index): s.cidr for s in plan_subnets("10.0.0.0/16", n)}
        after = {(s.tier, s.az_index): s.cidr for s in plan_subnets("10.0.0.0/16", n + 1)}
        assert {k: after[k] for k in before} == before


def test_too_small_vpc_refused() -> None:
    with pytest.raises(ValueError, match="too small"):
        plan_subnets("10.0.0.0/25", 2)


def test_names_and_tags_follow_convention() -> None:
    config = StackConfig.load({"project": "shop", "environment": "staging", "environment_suffix": "pr-7",
                               "stack": "shop-pr7", "extra_tags": {"Team": "ops"}})
    assert naming.name(config, "nat", "eu-west-1a") == "shop-nat-staging-pr-7-eu-west-1a"
    assert naming.bucket_name(config) == "shop-backup-staging-pr-7-us-east-1"
    tags = naming.tags(config, "shop-vpc-staging-pr-7")
    assert tags == {"Name": "shop-vpc-staging-pr-7", "Project": "shop", "Environment": "staging",
                    "ManagedBy": "hainfra", "Stack": "shop-pr7", "Team": "ops"}
