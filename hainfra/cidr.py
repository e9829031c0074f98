"""Subnet planning (pure).

The VPC is cut into ``2**SUBNET_PREFIX_STEP`` equal slots. Public subnet of AZ *i*
takes slot *i*, private subnet of AZ *i* takes slot ``PRIVATE_SLOT_OFFSET + i``.
Slots depend only on the AZ's index, never on ``az_count``, so adding an AZ never
renumbers an existing subnet (the pain behind awsx #520 and terraform-aws-vpc #1018).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

MAX_AZS = 6
SUBNET_PREFIX_STEP = 4  # 16 slots: public 0-5, private 8-13, 6-7 and 14-15 spare
PRIVATE_SLOT_OFFSET = 8
TIERS = ("public", "private")

# Addresses and ports the components, the gate and verify all name: spelled once, here.
ANYWHERE = "0.0.0.0/0"
WORLD = (ANYWHERE, "::/0")  # "open to the internet" in either address family
ADMIN_PORTS = (22, 3389)  # SSH and RDP: never reachable from the internet (instances are reached by SSM)
HTTP, HTTPS = 80, 443


@dataclass(frozen=True)
class SubnetPlan:
    tier: str
    az_index: int
    cidr: str


def plan_subnets(vpc_cidr: str, az_count: int) -> list[SubnetPlan]:
    """Public and private subnet CIDRs for ``az_count`` AZs, public first.

    Raises:
        ValueError: if az_count is outside 1..MAX_AZS or the VPC is too small.
    """
    if not 1 <= az_count <= MAX_AZS:
        raise ValueError(f"az_count must be 1..{MAX_AZS}, got {az_count}")
    vpc = ipaddress.ip_network(vpc_cidr, strict=True)
    new_prefix = vpc.prefixlen + SUBNET_PREFIX_STEP
    if new_prefix > 28:
        raise ValueError(f"{vpc_cidr} is too small: subnets would be /{new_prefix}, AWS allows /28 at most")
    slots = list(vpc.subnets(new_prefix=new_prefix))
    offsets = {"public": 0, "private": PRIVATE_SLOT_OFFSET}
    return [
        SubnetPlan(tier, i, str(slots[offsets[tier] + i]))
        for tier in TIERS
        for i in range(az_count)
    ]
