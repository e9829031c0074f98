"""The provider functions the stack calls, answered offline (plan, policy) or by the emulator (sandbox).

One table, one row per function token: what the offline plan answers (deterministic placeholders, no
cloud) beside how the sandbox looks it up. A new ``aws.get_*`` call in the stack is one new row here,
so the offline plan and the sandbox can never disagree about which functions exist.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hainfra import redact
from hainfra.aws import Ctx
from hainfra.errors import EngineError, UnsupportedResourceError

OFFLINE_ACCOUNT = "123456789012"
OFFLINE_AMI = "ami-00000000000000000"
OFFLINE_PASSWORD = "<generated-at-deploy>"  # a visible placeholder: the plan never sees a real secret

AZS = "aws:index/getAvailabilityZones:getAvailabilityZones"
CALLER = "aws:index/getCallerIdentity:getCallerIdentity"
PARTITION = "aws:index/getPartition:getPartition"
PARAMETER = "aws:ssm/getParameter:getParameter"
PASSWORD = "aws:secretsmanager/getRandomPassword:getRandomPassword"

Args = dict[str, Any]
Answer = dict[str, Any]


def partition(region: str) -> Answer:
    """The AWS partition of ``region``: pure, so offline and emulated answers are the same."""
    name = "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"
    return {"partition": name, "dnsSuffix": "amazonaws.com.cn" if name == "aws-cn" else "amazonaws.com"}


def _live_azs(ctx: Ctx, args: Args) -> Answer:
    zones = ctx.client("ec2").describe_availability_zones(
        Filters=[{"Name": "state", "Values": [args.get("state", "available")]}])["AvailabilityZones"]
    return {"names": sorted(z["ZoneName"] for z in zones), "zoneIds": [z["ZoneId"] for z in zones]}


def _live_caller(ctx: Ctx, args: Args) -> Answer:
    ident = ctx.client("sts").get_caller_identity()
    return {"accountId": ident["Account"], "arn": ident["Arn"], "userId": ident["UserId"]}


def _live_parameter(ctx: Ctx, args: Args) -> Answer:
    param = ctx.client("ssm").get_parameter(Name=args["name"], WithDecryption=bool(args.get("withDecryption")))
    return {"name": args["name"], "value": param["Parameter"]["Value"], "type": param["Parameter"]["Type"]}


def _live_password(ctx: Ctx, args: Args) -> Answer:
    keys = {"passwordLength": "PasswordLength", "excludePunctuation": "ExcludePunctuation"}
    kwargs = {api: (int(args[k]) if k == "passwordLength" else args[k]) for k, api in keys.items() if k in args}
    password = ctx.client("secretsmanager").get_random_password(**kwargs)["RandomPassword"]
    redact.remember(password)  # a generated secret: hidden from every log line from now on
    return {"randomPassword": password}


@dataclass(frozen=True, kw_only=True)
class Function:
    """One provider function: its offline answer (region, args, zones) and its emulator lookup."""

    offline: Callable[[str, Args, tuple[str, ...]], Answer]
    live: Callable[[Ctx, Args], Answer]


FUNCTIONS: dict[str, Function] = {
    AZS: Function(offline=lambda region, args, zones: {"names": list(zones)}, live=_live_azs),
    CALLER: Function(
        offline=lambda region, args, zones: {"accountId": OFFLINE_ACCOUNT, "userId": "offline",
                                             "arn": f"arn:{partition(region)['partition']}:iam::{OFFLINE_ACCOUNT}:root"},
        live=_live_caller),
    PARTITION: Function(offline=lambda region, args, zones: partition(region),
                        live=lambda ctx, args: partition(ctx.region)),
    PARAMETER: Function(offline=lambda region, args, zones: {"value": OFFLINE_AMI, "name": args.get("name")},
                        live=_live_parameter),
    PASSWORD: Function(offline=lambda region, args, zones: {"randomPassword": OFFLINE_PASSWORD}, live=_live_password),
}


def _function(token: str, where: str, error: type[Exception]) -> Function:
    found = FUNCTIONS.get(token)
    if found is None:
        raise error(f"{where} cannot answer provider function {token}; add a row to FUNCTIONS in "
                    "hainfra/engines/functions.py")
    return found


def offline_answer(token: str, args: Args, region: str, zones: tuple[str, ...]) -> Answer:
    """What the offline plan answers: placeholders, nothing looked up anywhere.

    Raises:
        EngineError: a function the table does not know (the plan cannot guess its shape).
    """
    return _function(token, "the offline plan", EngineError).offline(region, args, zones)


def live_answer(ctx: Ctx, token: str, args: Args) -> Answer:
    """What the emulator answers (through ``ctx``'s boto3 clients).

    Raises:
        UnsupportedResourceError: a function the table does not know.
    """
    return _function(token, "the sandbox", UnsupportedResourceError).live(ctx, args)
