"""The verify registry, the context a check reads, and the row it returns."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from hainfra.aws import Ctx
from hainfra.config import StackConfig

COLUMNS = ["check", "resource", "status", "expected", "found", "fix", "mandatory"]


@dataclass
class Row:
    resource: str
    status: str  # pass | fail | skip
    expected: str
    found: str
    fix: str = ""
    mandatory: bool = True

    def as_dict(self, check: str) -> dict[str, Any]:
        return {"check": check, "resource": self.resource, "status": self.status, "expected": self.expected,
                "found": self.found, "fix": self.fix if self.status == "fail" else "", "mandatory": self.mandatory}


def check_row(resource: str, ok: bool, expected: str, found: str, fix: str) -> Row:
    return Row(resource, "pass" if ok else "fail", expected, found, fix)


def skip(resource: str, expected: str, why: str) -> Row:
    return Row(resource, "skip", expected, why, mandatory=False)


class VerifyContext:
    """Stack outputs plus boto3 clients for wherever the stack lives."""

    def __init__(self, config: StackConfig, outputs: dict[str, Any], client_kwargs: dict[str, Any],
                 emulated: bool, wait_seconds: float) -> None:
        self.config = config
        self.outputs = outputs
        self.emulated = emulated
        self.wait_seconds = wait_seconds
        self.aws = Ctx.from_kwargs(client_kwargs)

    def client(self, service: str) -> Any:
        return self.aws.client(service)

    @cached_property
    def subnets(self) -> dict[str, dict[str, Any]]:
        ids = self.outputs["public_subnet_ids"] + self.outputs["private_subnet_ids"]
        return {s["SubnetId"]: s for s in self.client("ec2").describe_subnets(SubnetIds=ids)["Subnets"]}

    @cached_property
    def nats(self) -> list[dict[str, Any]]:
        """The stack's NAT gateways as they are now (read once per verify run)."""
        return self.client("ec2").describe_nat_gateways(NatGatewayIds=self.outputs["nat_gateway_ids"])["NatGateways"]

    def tier(self, subnet_id: str) -> str:
        return "public" if subnet_id in self.outputs["public_subnet_ids"] else "private"

    @cached_property
    def key_id(self) -> str:
        return self.outputs["kms_key_arn"].split("/")[-1]

    def is_stack_key(self, value: str | None) -> bool:
        """True when ``value`` (id, ARN or alias ARN) names the stack's KMS key."""
        if not value:
            return False
        if value.split("/")[-1] == self.key_id or value == self.outputs["kms_key_arn"]:
            return True
        try:
            return self.client("kms").describe_key(KeyId=value)["KeyMetadata"]["KeyId"] == self.key_id
        except Exception:  # noqa: BLE001 - an unknown key is simply not ours
            return False


Check = Callable[[VerifyContext], Iterable[Row]]
CHECKS: dict[str, Check] = {}


def check(name: str) -> Callable[[Check], Check]:
    def register(fn: Check) -> Check:
        CHECKS[name] = fn
        return fn

    return register

