"""Offline plan: evaluate the program with no cloud and no CLI, list what it declares."""

from __future__ import annotations

import functools
import hashlib
import json
import time
from typing import Any

import pandas as pd

from hainfra import regions
from hainfra.config import StackConfig
from hainfra.engines import functions
from hainfra.engines.functions import OFFLINE_ACCOUNT, partition
from hainfra.engines.runtime import Evaluation, Registration, evaluate

UNVERIFIED = "unverified"


def short_type(token: str) -> str:
    """``aws:ec2/natGateway:NatGateway`` → ``ec2.NatGateway``."""
    pkg, module, kind = (token.split(":") + ["", ""])[:3]
    return f"{module.split('/')[0]}.{kind}" if pkg == "aws" else token


def offline_zones(region: str) -> tuple[str, ...]:
    """AZ names for the offline plan: the shipped table's, else visibly unverified placeholders."""
    from hainfra.cidr import MAX_AZS

    return regions.zones(region) or tuple(f"{region}-az{i}-{UNVERIFIED}" for i in range(1, MAX_AZS + 1))


def az_note(config: StackConfig) -> str:
    """Where the plan's AZ names come from, so nobody mistakes them for a live answer."""
    if regions.zones(config.region) is None:
        return (f"AZs {UNVERIFIED}: region {config.region} is not in hainfra's AZ table; "
                "the configure stage checks them against the engine")
    return (f"AZs from hainfra's table ({regions.source()}); the configure stage checks them against the engine "
            "when one is reachable")


class OfflineRealiser:
    """Answers with deterministic placeholder ids and ARNs: nothing is created anywhere."""

    def __init__(self, region: str) -> None:
        self.region = region
        self.subnet_azs: dict[str, str] = {}

    def register(self, reg: Registration) -> tuple[str, dict[str, Any]]:
        digest = hashlib.sha256(reg.urn.encode()).hexdigest()[:12]
        rid = f"{short_type(reg.type).split('.')[-1].lower()}-{digest}"
        service = reg.type.split(":")[1].split("/")[0]
        outputs = {"arn": f"arn:{partition(self.region)['partition']}:{service}:{self.region}:{OFFLINE_ACCOUNT}:{reg.name}",
                   "arnSuffix": f"app/{reg.name}/{digest}", "keyId": rid, "allocationId": rid,
                   "dnsName": f"{reg.name}.{self.region}.elb.amazonaws.com"}
        for key in ("name", "bucket"):
            outputs[key] = reg.inputs.get(key, reg.name)
        if reg.type == "aws:ec2/vpc:Vpc":  # what AWS makes with every VPC (adopted by Default* resources)
            outputs.update(defaultNetworkAclId=f"acl-{digest}", defaultSecurityGroupId=f"sg-{digest}",
                           mainRouteTableId=f"rtb-{digest}")
        if "availabilityZone" in reg.inputs:
            self.subnet_azs[rid] = reg.inputs["availabilityZone"]
        return rid, outputs

    def call(self, token: str, args: dict[str, Any]) -> dict[str, Any]:
        return functions.offline_answer(token, args, self.region, offline_zones(self.region))


def evaluate_offline(config: StackConfig) -> tuple[Evaluation, OfflineRealiser]:
    """Evaluate hainfra's own program offline (memoised: the gate, the type check and plan share it)."""
    return _evaluate_offline(json.dumps(config.as_dict(), sort_keys=True))


@functools.lru_cache(maxsize=8)
def _evaluate_offline(config_json: str) -> tuple[Evaluation, OfflineRealiser]:
    from hainfra.stack import program  # function-local: start-up time (pulumi_aws loads on first evaluation)

    config = StackConfig(**json.loads(config_json))
    realiser = OfflineRealiser(config.region)
    return evaluate(lambda: program(config), realiser, project=config.project, stack=config.stack), realiser


def inventory(evaluation: Evaluation, subnet_azs: dict[str, str]) -> pd.DataFrame:
    """One row per resource: type, name, parent component, AZ (where it has one)."""
    names = {r.urn: r.name for r in evaluation.registrations}
    rows = []
    for r in evaluation.custom:
        az = r.inputs.get("availabilityZone") or subnet_azs.get(r.inputs.get("subnetId", ""), "")
        rows.append({"type": short_type(r.type), "name": r.name, "parent": names.get(r.parent, ""), "az": az,
                     "token": r.type})
    return pd.DataFrame(rows, columns=["type", "name", "parent", "az", "token"])


def plan(config: StackConfig) -> pd.DataFrame:
    """The resource inventory of ``config``'s stack as a DataFrame (no cloud, no CLI).

    ``df.attrs`` carries ``seconds`` (evaluation time) and ``outputs``.
    """
    started = time.perf_counter()
    evaluation, realiser = evaluate_offline(config)
    df = inventory(evaluation, realiser.subnet_azs)
    df.attrs["seconds"] = time.perf_counter() - started
    df.attrs["outputs"] = evaluation.outputs
    return df
