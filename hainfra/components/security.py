"""Security: the stack's KMS key and the application instances' IAM identity."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from hainfra import documents, naming
from hainfra.components import document
from hainfra.config import StackConfig


@dataclass(kw_only=True)
class KeysArgs:
    config: StackConfig
    account_id: str
    partition: str


class Keys(pulumi.ComponentResource):
    """One customer-managed KMS key (rotation on) for logs, bucket, secrets and alarms."""

    def __init__(self, name: str, args: KeysArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("hainfra:security:Keys", name, None, opts)
        c = args.config
        child = pulumi.ResourceOptions(parent=self)
        key_name = naming.name(c, "key")
        log_groups = [naming.log_group_name(c, kind) for kind in naming.log_group_kinds(c)]
        alarms = [naming.name(c, kind) for kind in naming.ALARM_KINDS]
        self.key = aws.kms.Key(
            key_name,
            description=f"{c.project} {c.env_id}: logs, backups, secrets, alarms",
            enable_key_rotation=True,
            deletion_window_in_days=30 if c.is_prod else 7,
            policy=document(documents.key_policy, account_id=args.account_id, region=c.region,
                            partition=args.partition, log_group_names=log_groups, alarm_names=alarms),
            tags=naming.tags(c, key_name),
            opts=child,
        )
        self.alias = aws.kms.Alias(key_name, name=f"alias/{key_name}", target_key_id=self.key.key_id, opts=child)
        self.register_outputs({"key_arn": self.key.arn})


@dataclass(kw_only=True)
class IdentityArgs:
    config: StackConfig
    ssm_path_arn: pulumi.Input[str]
    secret_arn: pulumi.Input[str]
    key_arn: pulumi.Input[str]
    bucket_arn: pulumi.Input[str]
    log_group_arn: pulumi.Input[str]


class InstanceIdentity(pulumi.ComponentResource):
    """Instance role + profile whose inline policy names the stack's exact ARNs."""

    def __init__(self, name: str, args: IdentityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("hainfra:security:InstanceIdentity", name, None, opts)
        c = args.config
        child = pulumi.ResourceOptions(parent=self)
        role_name = naming.name(c, "app-role")
        self.role = aws.iam.Role(
            role_name,
            name=role_name,
            assume_role_policy=document(documents.assume_role, service="ec2.amazonaws.com"),
            tags=naming.tags(c, role_name),
            opts=child,
        )
        self.policy = aws.iam.RolePolicy(
            role_name,
            name=naming.name(c, "app-policy"),
            role=self.role.name,
            policy=document(documents.instance_policy, ssm_path_arn=args.ssm_path_arn, secret_arn=args.secret_arn,
                            key_arn=args.key_arn, bucket_arn=args.bucket_arn, log_group_arn=args.log_group_arn),
            opts=child,
        )
        profile_name = naming.name(c, "app-profile")
        self.profile = aws.iam.InstanceProfile(
            profile_name, name=profile_name, role=self.role.name, tags=naming.tags(c, profile_name), opts=child
        )
        self.register_outputs({"role_arn": self.role.arn, "profile_arn": self.profile.arn})
