"""The stack program: wires the components and returns the documented outputs.

``program(config)`` is shared by both engines; nothing happens at import time.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from hainfra import documents, naming
from hainfra.components import load_services
from hainfra.components.compute import Compute, ComputeArgs
from hainfra.components.edge import Firewall, FirewallArgs
from hainfra.components.monitoring import Alarms, AlarmsArgs, Observability, ObservabilityArgs
from hainfra.components.network import Network, NetworkArgs
from hainfra.components.secrets import Secrets, SecretsArgs
from hainfra.components.security import IdentityArgs, InstanceIdentity, Keys, KeysArgs
from hainfra.components.storage import Storage, StorageArgs
from hainfra.config import RESOURCE_TYPE_TAG, StackConfig
from hainfra.errors import ConfigError, EngineError

# name -> description; the README's output table is generated from this dict.
OUTPUTS: dict[str, str] = {
    "stack": "Stack name.",
    "region": "AWS region the stack lives in.",
    "availability_zones": "AZs the stack spans, in subnet order.",
    "vpc_id": "VPC id.",
    "public_subnet_ids": "Public subnet ids, one per AZ.",
    "private_subnet_ids": "Private subnet ids, one per AZ.",
    "nat_gateway_ids": "NAT gateway ids (one per AZ with nat_strategy=per_az).",
    "flow_log_id": "VPC flow log id.",
    "flow_log_group": "Log group receiving the VPC flow logs.",
    "kms_key_arn": "ARN of the stack's customer-managed KMS key.",
    "bucket_name": "Backup bucket name.",
    "bucket_arn": "Backup bucket ARN.",
    "log_bucket_name": "Log bucket: ALB access logs and the backup bucket's server access logs.",
    "vpc_endpoint_ids": "VPC endpoint ids (S3 gateway; SSM, SSM Messages, EC2 Messages, EC2, Logs interfaces).",
    "secret_arn": "ARN of the application secret (the value is never an output).",
    "ssm_path": "Root path of the stack's SSM parameters.",
    "app_log_group": "Application log group.",
    "s3_events_log_group": "Log group fed by the bucket's Object Created events.",
    "event_rule_name": "EventBridge rule forwarding Object Created events.",
    "alarm_topic_arn": "SNS topic every alarm notifies.",
    "instance_role_arn": "IAM role of the application instances.",
    "alb_arn": "Application load balancer ARN.",
    "alb_dns_name": "DNS name of the load balancer.",
    "target_group_arn": "Target group ARN.",
    "asg_name": "Auto Scaling group name.",
    "launch_template_id": "Launch template id.",
}


def availability_zones(config: StackConfig) -> list[str]:
    """The first ``az_count`` available AZs of the region; refuses a region with too few."""
    names = sorted(aws.get_availability_zones(state="available").names)
    if len(names) < config.az_count:
        raise ConfigError.one("az_count", config.az_count,
                              f"region {config.region} has only {len(names)} available AZs ({', '.join(names)}); "
                              f"lower az_count or choose another region")
    return names[: config.az_count]


def tag_resource_type(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
    """Stack transformation: every resource declared with tags also gets ``ResourceType`` (its kind).

    One place instead of a keyword at every ``naming.tags`` call; ASG tags are not propagated to
    instances (the instances are another kind).
    """
    tags = args.props.get("tags")
    if not tags:
        return None
    kind = naming.resource_type(args.type_)
    if isinstance(tags, dict):
        props = {**args.props, "tags": {**tags, RESOURCE_TYPE_TAG: kind}}
    elif isinstance(tags, list) and args.type_ == "aws:autoscaling/group:Group":
        props = {**args.props, "tags": [*tags, aws.autoscaling.GroupTagArgs(
            key=RESOURCE_TYPE_TAG, value=kind, propagate_at_launch=False)]}
    else:
        return None
    return pulumi.ResourceTransformationResult(props, args.opts)


def program(config: StackConfig) -> dict[str, Any]:
    """Declare the whole stack; returns its outputs (also exported for the Pulumi engine)."""
    load_services()
    pulumi.runtime.register_stack_transformation(tag_resource_type)
    azs = availability_zones(config)
    identity = aws.get_caller_identity()
    partition_info = aws.get_partition()
    partition = partition_info.partition
    c = config

    keys = Keys("keys", KeysArgs(config=c, account_id=identity.account_id, partition=partition))
    network = Network("network", NetworkArgs(config=c, azs=azs, key_arn=keys.key.arn, account_id=identity.account_id,
                                             partition=partition))
    storage = Storage("storage", StorageArgs(config=c, key_arn=keys.key.arn, account_id=identity.account_id,
                                             partition=partition))
    secrets = Secrets("secrets", SecretsArgs(config=c, key_arn=keys.key.arn, bucket_name=storage.bucket.bucket,
                                             account_id=identity.account_id, partition=partition,
                                             dns_suffix=partition_info.dns_suffix))
    observability = Observability("observability", ObservabilityArgs(
        config=c, key_arn=keys.key.arn, bucket_name=storage.bucket.bucket, account_id=identity.account_id))
    ssm_path = naming.ssm_path(c)
    ssm_path_arn = f"arn:{partition}:ssm:{c.region}:{identity.account_id}:parameter{ssm_path}"
    instance = InstanceIdentity("identity", IdentityArgs(
        config=c, ssm_path_arn=ssm_path_arn, secret_arn=secrets.secret.arn, key_arn=keys.key.arn,
        bucket_arn=storage.bucket.arn, log_group_arn=observability.app_log_group.arn))
    secrets.restrict(instance.role.arn, documents.principal_arn(identity.arn, partition))
    compute = Compute("compute", ComputeArgs(
        config=c, vpc_id=network.vpc.id, public_subnet_ids=[s.id for s in network.subnets["public"]],
        private_subnet_ids=[s.id for s in network.subnets["private"]], instance_profile_arn=instance.profile.arn,
        key_arn=keys.key.arn, log_bucket=storage.log_bucket.bucket, log_bucket_policy=storage.log_policy))
    if c.waf_enabled:
        Firewall("firewall", FirewallArgs(config=c, alb_arn=compute.alb.arn, key_arn=keys.key.arn,
                                          account_id=identity.account_id, partition=partition))
    Alarms("alarms", AlarmsArgs(config=c, topic_arn=observability.topic.arn, alb_suffix=compute.alb.arn_suffix,
                                target_group_suffix=compute.target_group.arn_suffix, asg_name=compute.asg.name))

    outputs: dict[str, Any] = {
        "stack": c.stack,
        "region": c.region,
        "availability_zones": azs,
        "vpc_id": network.vpc.id,
        "public_subnet_ids": [s.id for s in network.subnets["public"]],
        "private_subnet_ids": [s.id for s in network.subnets["private"]],
        "nat_gateway_ids": [nat.id for nat in network.nats],
        "flow_log_id": network.flow_log.id,
        "flow_log_group": network.flow_log_group.name,
        "kms_key_arn": keys.key.arn,
        "bucket_name": storage.bucket.bucket,
        "bucket_arn": storage.bucket.arn,
        "log_bucket_name": storage.log_bucket.bucket,
        "vpc_endpoint_ids": [e.id for e in network.endpoints],
        "secret_arn": secrets.secret.arn,
        "ssm_path": ssm_path,
        "app_log_group": observability.app_log_group.name,
        "s3_events_log_group": observability.events_log_group.name,
        "event_rule_name": observability.rule.name,
        "alarm_topic_arn": observability.topic.arn,
        "instance_role_arn": instance.role.arn,
        "alb_arn": compute.alb.arn,
        "alb_dns_name": compute.alb.dns_name,
        "target_group_arn": compute.target_group.arn,
        "asg_name": compute.asg.name,
        "launch_template_id": compute.launch_template.id,
    }
    return export(outputs)


def export(outputs: dict[str, Any]) -> dict[str, Any]:
    """Export the documented outputs (for the Pulumi engine), refusing any the README's table lacks."""
    if set(outputs) != set(OUTPUTS):  # OUTPUTS is the README's and the notebooks' table of outputs
        raise EngineError(f"hainfra.stack.OUTPUTS does not match the program's outputs: undocumented "
                          f"{sorted(set(outputs) - set(OUTPUTS))}, never exported {sorted(set(OUTPUTS) - set(outputs))}")
    for key, value in outputs.items():
        pulumi.export(key, value)
    return outputs
