"""Does every resource the stack's outputs name still exist? One row per resource, run first.

When resources are gone (deleted outside hainfra, or the emulator that held them was replaced)
this check names each one, so the checks after it that cannot read them are explained.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from botocore.exceptions import ClientError

from hainfra.verify.base import Row, VerifyContext, check, check_row

CHECK = "stack.resources-exist"
# Error codes that mean "no such resource" (anything else is a real failure to read it).
NOT_FOUND = ("NotFound", "NoSuch", "NonExistent", "DoesNotExist", "ResourceNotFound", "404")

Probe = Callable[[VerifyContext, str], bool]


def _logs(v: VerifyContext, name: str) -> bool:
    groups = v.client("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    return any(g["logGroupName"] == name for g in groups)


def _kms(v: VerifyContext, arn: str) -> bool:
    return v.client("kms").describe_key(KeyId=arn)["KeyMetadata"]["KeyState"] != "PendingDeletion"


def _nat(v: VerifyContext, nat_id: str) -> bool:
    nats = v.client("ec2").describe_nat_gateways(NatGatewayIds=[nat_id])["NatGateways"]
    return any(n["State"] not in ("deleting", "deleted") for n in nats)


# output key -> how to tell that the resource it names exists (called with one id at a time)
PROBES: dict[str, Probe] = {
    "vpc_id": lambda v, i: bool(v.client("ec2").describe_vpcs(VpcIds=[i])["Vpcs"]),
    "public_subnet_ids": lambda v, i: bool(v.client("ec2").describe_subnets(SubnetIds=[i])["Subnets"]),
    "private_subnet_ids": lambda v, i: bool(v.client("ec2").describe_subnets(SubnetIds=[i])["Subnets"]),
    "nat_gateway_ids": _nat,
    "flow_log_id": lambda v, i: bool(v.client("ec2").describe_flow_logs(FlowLogIds=[i])["FlowLogs"]),
    "flow_log_group": _logs,
    "kms_key_arn": _kms,
    "bucket_name": lambda v, i: bool(v.client("s3").head_bucket(Bucket=i)),
    "secret_arn": lambda v, i: bool(v.client("secretsmanager").describe_secret(SecretId=i)),
    "app_log_group": _logs,
    "s3_events_log_group": _logs,
    "event_rule_name": lambda v, i: bool(v.client("events").describe_rule(Name=i)),
    "alarm_topic_arn": lambda v, i: bool(v.client("sns").get_topic_attributes(TopicArn=i)),
    "instance_role_arn": lambda v, i: bool(v.client("iam").get_role(RoleName=i.split("/")[-1])),
    "alb_arn": lambda v, i: bool(v.client("elbv2").describe_load_balancers(LoadBalancerArns=[i])["LoadBalancers"]),
    "target_group_arn": lambda v, i: bool(v.client("elbv2").describe_target_groups(TargetGroupArns=[i])["TargetGroups"]),
    "asg_name": lambda v, i: bool(v.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[i])["AutoScalingGroups"]),
    "launch_template_id": lambda v, i: bool(v.client("ec2").describe_launch_templates(
        LaunchTemplateIds=[i])["LaunchTemplates"]),
}


def is_not_found(exc: Exception) -> bool:
    if not isinstance(exc, ClientError):
        return False
    code = str(exc.response.get("Error", {}).get("Code", ""))
    return any(marker in code for marker in NOT_FOUND)


def exists(v: VerifyContext, probe: Probe, resource_id: str) -> tuple[bool, str]:
    """(exists, what was found); "not found" errors mean missing, other errors are reported as such."""
    try:
        return (True, "exists") if probe(v, resource_id) else (False, "missing")
    except ClientError as exc:
        error = exc.response.get("Error", {})
        return False, "missing" if is_not_found(exc) else f"unreadable: {error.get('Code')}: {error.get('Message')}"


def _ids(value: Any) -> list[str]:
    return [str(i) for i in (value if isinstance(value, list) else [value]) if i]


@check(CHECK)
def resources_exist(v: VerifyContext) -> Iterator[Row]:
    fix = (f"the resource is gone: `hainfra up --stack {v.config.stack}` recreates it, or `hainfra destroy "
           f"--stack {v.config.stack}` removes the rest")
    for key, probe in PROBES.items():
        for resource_id in _ids(v.outputs.get(key)):
            ok, found = exists(v, probe, resource_id)
            yield check_row(f"{key}: {resource_id}", ok, "exists", found, fix)
