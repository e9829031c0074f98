"""Teardown of protected resources: what `destroy` lifts first, inside the same (audited) run.

A prod ALB is deletion-protected (Security Hub ELB.6) so that nothing but an explicit teardown
deletes it. Both engines call :func:`lift_deletion_protection` before deleting anything; the
lifted protection shows as an ``unprotect`` row in the destroy table and a warning in the log.
"""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import ClientError

from hainfra.aws import Ctx
from hainfra.engines.base import change_row

log = logging.getLogger(__name__)
LB_TYPE = "aws:lb/loadBalancer:LoadBalancer"
PROTECTION = "deletion_protection.enabled"


def lift_deletion_protection(outputs: dict[str, Any], client_kwargs: dict[str, Any]) -> list[dict[str, Any]]:
    """Turn off the stack ALB's deletion protection if it is on; returns the change rows (none or one)."""
    arn = outputs.get("alb_arn")
    if not arn:
        return []
    elb = Ctx(client_kwargs.get("endpoint_url"), client_kwargs["region_name"]).client("elbv2")
    try:
        attributes = elb.describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]
    except ClientError as exc:
        if "NotFound" in exc.response.get("Error", {}).get("Code", ""):
            return []  # already gone: nothing to lift
        raise
    if not any(a["Key"] == PROTECTION and a["Value"] == "true" for a in attributes):
        return []
    name = arn.split("/")[-2] if arn.count("/") >= 2 else arn
    log.warning("teardown: lifting deletion protection of load balancer %s before deleting it", name)
    elb.modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=[{"Key": PROTECTION, "Value": "false"}])
    return [change_row("unprotect", LB_TYPE, name, arn, [PROTECTION])]
