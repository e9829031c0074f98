"""A prod stack on the emulator: hardened as AWS needs it, and torn down through its deletion protection."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from botocore.exceptions import ClientError

from hainfra import naming, verify
from hainfra.aws import Ctx
from hainfra.config import StackConfig
from hainfra.engines import get_engine
from hainfra.engines.sandbox.handlers.storage import empty_bucket
from hainfra.engines.sandbox.sweep import sweep
from hainfra.errors import ResourceError
from hainfra.verify.base import CHECKS

pytestmark = pytest.mark.slow


def hardening_checks() -> list[str]:
    return [name for name in CHECKS if name.startswith("hardening.") or name == "tags.resource-type"]


def test_prod_stack_is_hardened_and_teardown_lifts_protection(make_config: Callable[..., StackConfig],
                                                              caplog: pytest.LogCaptureFixture) -> None:
    config = make_config(environment="prod", asg_min=3, asg_desired=3)
    engine = get_engine("sandbox", config)
    outputs = engine.up().outputs
    ctx = Ctx(config.aws_endpoint_url, config.region)

    results = verify.run(config, engine=engine, wait_seconds=2, checks=hardening_checks())
    assert results[results["status"] == "fail"].empty, results[results["status"] == "fail"].to_string()
    endpoints = results[(results["check"] == "hardening.vpc-endpoints") & (results["status"] == "pass")]
    assert len(endpoints) == 6, "S3 gateway + ssm, ssmmessages, ec2messages, logs, ec2 interfaces"
    assert set(results[results["check"] == "hardening.alb"]["status"]) == {"pass"}

    elb = ctx.client("elbv2")
    with pytest.raises(ClientError, match="OperationNotPermitted"):
        elb.delete_load_balancer(LoadBalancerArn=outputs["alb_arn"])

    # The switch: interface endpoints and their security group go, the gateway endpoint stays.
    off = get_engine("sandbox", config.replace(interface_endpoints=False)).up()
    deleted = off.changes[off.changes["action"] == "delete"]
    assert sorted(deleted["type"].str.split(":").str[-1]) == ["SecurityGroup"] + ["VpcEndpoint"] * 5
    assert len(off.outputs["vpc_endpoint_ids"]) == 1

    # Teardown lifts the protection inside destroy; the prod log bucket keeps its logs (like backups).
    caplog.set_level(logging.WARNING, logger="hainfra.engines.protection")
    with pytest.raises(ResourceError, match="BucketNotEmpty") as info:
        engine.destroy()
    assert f"aws:s3/bucket:Bucket::{naming.name(config, 'logs')}" in str(info.value)
    assert "lifting deletion protection" in caplog.text
    assert not [lb for lb in elb.describe_load_balancers()["LoadBalancers"]
                if lb["LoadBalancerArn"] == outputs["alb_arn"]], "the protected ALB was deleted by destroy"

    empty_bucket(ctx, outputs["log_bucket_name"])  # what an operator does after archiving the logs
    engine.destroy()
    assert int(sweep(ctx, config)["remaining"].sum()) == 0
