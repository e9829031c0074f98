"""Names and tags (pure): the one place each is decided.

Convention: ``{project}-{kind}-{env}`` plus an AZ or region qualifier where the
name must be unique. Every taggable resource gets :func:`tags`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hainfra.config import StackConfig

MANAGED_BY = "hainfra"
# The stack's log groups and alarms by kind: the key policy grants exactly these (no wildcard).
LOG_GROUP_KINDS = ("flow-logs", "app", "s3-events")
ALARM_KINDS = ("alarm-unhealthy-hosts", "alarm-alb-5xx", "alarm-asg-capacity")


def name(config: StackConfig, kind: str, qualifier: str | None = None) -> str:
    """``{project}-{kind}-{env}[-{qualifier}]``, e.g. ``hainfra-nat-dev-us-east-1a``."""
    base = f"{config.project}-{kind}-{config.env_id}"
    return f"{base}-{qualifier}" if qualifier else base


def bucket_name(config: StackConfig) -> str:
    """The backup bucket: region-qualified because S3 names are global."""
    return name(config, "backup", config.region)


def log_bucket_name(config: StackConfig) -> str:
    """The log bucket (ALB access logs, S3 server access logs): region-qualified like the backup bucket."""
    return name(config, "logs", config.region)


def alb_log_prefix(config: StackConfig) -> str:
    """Key prefix of this stack's ALB access logs in the log bucket (scopes the ELB delivery grant)."""
    return f"alb/{name(config, 'alb')}"


def resource_type(token: str) -> str:
    """The ``ResourceType`` tag value of a Pulumi type token: ``aws:ec2/vpc:Vpc`` → ``ec2.Vpc``."""
    parts = token.split(":")
    return f"{parts[1].split('/')[0]}.{parts[2]}" if len(parts) == 3 else token


def ssm_path(config: StackConfig) -> str:
    """Root of the stack's SSM parameters: ``/{project}/{env}``."""
    return f"/{config.project}/{config.env_id}"


def log_group_name(config: StackConfig, kind: str) -> str:
    """Log group names; EventBridge targets conventionally live under /aws/events/."""
    if kind == "s3-events":
        return f"/aws/events/{name(config, 's3-events')}"
    return f"/{config.project}/{config.env_id}/{kind}"


def tags(config: StackConfig, resource_name: str, **extra: str) -> dict[str, str]:
    """``merge({Name}, required tags, user tags, per-resource tags)``."""
    return {
        "Name": resource_name,
        "Project": config.project,
        "Environment": config.environment,
        "ManagedBy": MANAGED_BY,
        "Stack": config.stack,
        **config.extra_tags,
        **extra,
    }
