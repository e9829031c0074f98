"""Pure planning: subnet CIDRs, names and tags."""

from __future__ import annotations

import ipaddress
import itertools
import re

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


ACCOUNT = "123456789012"


def test_names_and_tags_follow_convention() -> None:
    config = StackConfig.load({"project": "shop", "environment": "staging", "environment_suffix": "pr-7",
                               "stack": "shop-pr7", "extra_tags": {"Team": "ops"}})
    assert naming.name(config, "nat", "eu-west-1a") == "shop-nat-staging-pr-7-shop-pr7-eu-west-1a"
    assert naming.bucket_name(config, ACCOUNT) == f"shop-backup-staging-pr-7-shop-pr7-{ACCOUNT}-us-east-1"
    assert naming.ssm_path(config) == "/shop/staging-pr-7/shop-pr7"
    assert naming.log_group_name(config, "app") == "/shop/staging-pr-7/shop-pr7/app"
    tags = naming.tags(config, "shop-vpc-staging-pr-7")
    assert tags == {"Name": "shop-vpc-staging-pr-7", "Project": "shop", "Environment": "staging",
                    "ManagedBy": "hainfra", "Stack": "shop-pr7", "Team": "ops"}


def test_names_differ_per_stack_even_when_the_stack_needs_rewriting() -> None:
    names = {naming.name(StackConfig.load({"stack": s}), "alb") for s in ("alpha", "Alpha", "al_pha", "al.pha", "al-pha")}
    assert len(names) == 5


# AWS rules per type (length, characters): the names must satisfy them at the longest inputs.
RULES = {
    "alb": re.compile(r"^(?!internal-)[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,30}[a-zA-Z0-9])?$"),
    "tg": re.compile(r"^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,30}[a-zA-Z0-9])?$"),
    "app-role": re.compile(r"^[\w+=,.@-]{1,64}$"),
    "s3-created": re.compile(r"^[\w.-]{1,64}$"),  # EventBridge rule
}
S3 = re.compile(r"^(?!xn--)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def longest(stack: str) -> StackConfig:
    return StackConfig.load({"project": "p" * 20, "environment": "staging", "environment_suffix": "pr-12345678",
                             "stack": stack})


def test_names_at_the_length_limits_are_valid_and_unique() -> None:
    # 40-character stacks that differ only in their last character: cut names would collide without the hash.
    configs = [longest("s" * 39 + c) for c in "abcdefgh"] + [longest("S" * 39 + "a")]
    for kind, rule in RULES.items():
        names = [naming.name(c, kind) for c in configs]
        assert all(rule.match(n) for n in names), (kind, names)
        assert len(set(names)) == len(names), kind
        assert naming.name(configs[0], kind) == naming.name(longest("s" * 39 + "a"), kind), "deterministic"
    buckets = [naming.bucket_name(c, ACCOUNT) for c in configs]
    assert all(S3.match(b) and ACCOUNT in b and b.endswith("-us-east-1") for b in buckets), buckets
    assert len(set(buckets)) == len(buckets)
    for c in configs:
        assert len(naming.log_group_name(c, "s3-events")) <= 512 and len(naming.ssm_path(c)) <= 512


def test_short_names_are_not_hashed() -> None:
    config = StackConfig.load({"stack": "dev"})
    assert naming.name(config, "alb") == "hainfra-alb-dev-dev"
    assert naming.fit("x" * 40, 32) != naming.fit("x" * 41, 32) and len(naming.fit("x" * 40, 32)) == 32
