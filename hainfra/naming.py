"""Names and tags (pure): the one place each is decided.

Convention: ``{project}-{kind}-{env}`` plus an AZ or region qualifier where the
name must be unique. Every taggable resource gets :func:`tags`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hainfra.config import StackConfig

MANAGED_BY = "hainfra"


def name(config: StackConfig, kind: str, qualifier: str | None = None) -> str:
    """``{project}-{kind}-{env}[-{qualifier}]``, e.g. ``hainfra-nat-dev-us-east-1a``."""
    base = f"{config.project}-{kind}-{config.env_id}"
    return f"{base}-{qualifier}" if qualifier else base


def bucket_name(config: StackConfig) -> str:
    """The backup bucket: region-qualified because S3 names are global."""
    return name(config, "backup", config.region)


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
