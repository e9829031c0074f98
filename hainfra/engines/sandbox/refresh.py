"""Sandbox refresh: which recorded resources are gone from the emulator, so ``up`` recreates them.

Like ``pulumi refresh`` for deleted resources, for the kinds listed in ``GONE_PROBES`` (the ones a drill or an
operator removes out of band); other kinds are not read, and ``refresh`` says which were checked.
Changed (not deleted) resources are verify's business, not refresh's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from hainfra.aws import Ctx

DEAD_STATES = ("deleting", "deleted", "failed")


def _nat_gone(ctx: Ctx, rid: str) -> bool:
    try:
        nats = ctx.client("ec2").describe_nat_gateways(NatGatewayIds=[rid])["NatGateways"]
    except ClientError:
        return True
    return not nats or nats[0]["State"] in DEAD_STATES


def _eip_gone(ctx: Ctx, rid: str) -> bool:
    try:
        return not ctx.client("ec2").describe_addresses(AllocationIds=[rid])["Addresses"]
    except ClientError:
        return True


GONE_PROBES: dict[str, Callable[[Ctx, str], bool]] = {
    "aws:ec2/natGateway:NatGateway": _nat_gone,
    "aws:ec2/eip:Eip": _eip_gone,
}


def gone(ctx: Ctx, entry: dict[str, Any]) -> bool:
    """True when a created resource of a checked kind no longer exists."""
    check = GONE_PROBES.get(entry["type"])
    return bool(check and entry.get("status") == "created" and check(ctx, entry["id"]))
