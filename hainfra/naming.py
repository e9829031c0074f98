"""Names and tags (pure): the one place each is decided.

Convention: ``{project}-{kind}-{env}-{stack}`` plus an AZ or region qualifier where the
name must be unique. The stack is part of every physical name because a stack owns what
it creates: two stacks of one environment in one account never share a name. S3 bucket
names also carry the account id (their namespace is global across all accounts).

AWS limits names per type; the tightest are load balancers and target groups (32), S3
buckets (63, lowercase), IAM roles and EventBridge rules (64, the default here). A name
that would be too long is shortened deterministically — cut, then ``-`` and 8 hex digits
of the sha256 of the full name — so two long names never collide by truncation.

Every taggable resource gets :func:`tags`; the tag keys are the constants below.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hainfra.config import StackConfig

MANAGED_BY = "hainfra"
# The stack's log groups and alarms by kind: the key policy grants exactly these (no wildcard).
LOG_GROUP_KINDS = ("flow-logs", "app", "s3-events", "rotation")
WAF_LOG_KIND, WAF_LOG_PREFIX = "waf", "aws-waf-logs-"  # only with the web ACL (config.waf_enabled)
ROTATION_FUNCTION_KIND = "rotate-secret"  # the secret's rotation function (Lambda)
ALARM_KINDS = ("alarm-unhealthy-hosts", "alarm-alb-5xx", "alarm-asg-capacity")

# Tag keys, spelled once (config validation, the sweep, verify and the ownership checks use these).
NAME_TAG, PROJECT_TAG, ENVIRONMENT_TAG, MANAGED_BY_TAG, STACK_TAG = "Name", "Project", "Environment", "ManagedBy", "Stack"
REQUIRED_TAGS = (PROJECT_TAG, ENVIRONMENT_TAG, MANAGED_BY_TAG, STACK_TAG)

DEFAULT_LIMIT = 64  # IAM role and EventBridge rule names: the tightest limit of the types without their own
KIND_LIMITS = {"alb": 32, "tg": 32}  # ELBv2 load balancer and target group names
S3_LIMIT = 63
LOG_GROUP_LIMIT = 512
SECRET_LIMIT = 512
SSM_PATH_LIMIT = 512  # leaves room for the parameter names under it (1011 in all)
HASH_LEN = 8
_SLUG_BAD = re.compile(r"[^a-z0-9]+")


def short_hash(text: str, length: int = HASH_LEN) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def fit(name_: str, limit: int, keep: str = "") -> str:
    """``name_ + keep`` if it fits in ``limit``; else ``name_`` cut, a hash of the whole, then ``keep``.

    ``keep`` (e.g. ``-{account}-{region}`` of a bucket) is never cut.
    """
    full = name_ + keep
    if len(full) <= limit:
        return full
    room = limit - len(keep) - HASH_LEN - 1
    if room < 1:
        raise ValueError(f"no room for a name in {limit} characters after {keep!r}")
    return f"{name_[:room].rstrip('-./')}-{short_hash(full)}{keep}"


def stack_slug(stack: str) -> str:
    """The stack as it appears in names: lowercase letters, digits and '-'.

    A stack name that needs changing (``Alpha``, ``a_b``) gets a short hash of the original,
    so ``Alpha`` and ``alpha`` stay distinct.
    """
    slug = _SLUG_BAD.sub("-", stack.lower()).strip("-") or "s"
    return slug if slug == stack else f"{slug}-{short_hash(stack, 6)}"


def name(config: StackConfig, kind: str, qualifier: str | None = None) -> str:
    """``{project}-{kind}-{env}-{stack}[-{qualifier}]``, e.g. ``hainfra-nat-dev-alpha-us-east-1a``."""
    parts = [config.project, kind, config.env_id, stack_slug(config.stack)] + ([qualifier] if qualifier else [])
    return fit("-".join(parts), KIND_LIMITS.get(kind, DEFAULT_LIMIT))


def _global_bucket(config: StackConfig, kind: str, account_id: str, region: str | None = None) -> str:
    """``{project}-{kind}-{env}-{stack}-{account}-{region}``: S3 names are global across all accounts."""
    head = f"{config.project}-{kind}-{config.env_id}-{stack_slug(config.stack)}"
    return fit(head, S3_LIMIT, keep=f"-{account_id}-{region or config.region}")


def bucket_name(config: StackConfig, account_id: str) -> str:
    """The backup bucket."""
    return _global_bucket(config, "backup", account_id)


def dr_bucket_name(config: StackConfig, account_id: str) -> str:
    """The backup bucket's replica in ``dr_region`` (the region in the name: one replica per stack and region)."""
    return _global_bucket(config, "backup", account_id, config.dr_region)


def log_bucket_name(config: StackConfig, account_id: str, region: str | None = None) -> str:
    """The log bucket (ALB access logs, S3 server access logs); with ``region``, the DR region's (its replica's
    server access logs: S3 delivers them within a region)."""
    return _global_bucket(config, "logs", account_id, region)


def alb_log_prefix(config: StackConfig) -> str:
    """Key prefix of this stack's ALB access logs in the log bucket (scopes the ELB delivery grant)."""
    return f"alb/{name(config, 'alb')}"


def resource_type(token: str) -> str:
    """The ``ResourceType`` tag value of a Pulumi type token: ``aws:ec2/vpc:Vpc`` → ``ec2.Vpc``."""
    parts = token.split(":")
    return f"{parts[1].split('/')[0]}.{parts[2]}" if len(parts) == 3 else token


def ssm_path(config: StackConfig) -> str:
    """Root of the stack's SSM parameters: ``/{project}/{env}/{stack}``."""
    return fit(f"/{config.project}/{config.env_id}/{stack_slug(config.stack)}", SSM_PATH_LIMIT)


def secret_name(config: StackConfig) -> str:
    """The application secret: ``{project}/{env}/{stack}/app``."""
    return fit(f"{config.project}/{config.env_id}/{stack_slug(config.stack)}/app", SECRET_LIMIT)


def log_group_kinds(config: StackConfig) -> tuple[str, ...]:
    """The kinds of log group this stack has: the fixed ones, plus ``waf`` when the web ACL is on."""
    return LOG_GROUP_KINDS + ((WAF_LOG_KIND,) if config.waf_enabled else ())


def log_group_name(config: StackConfig, kind: str) -> str:
    """Log group names; EventBridge targets conventionally live under /aws/events/.

    WAF delivers only to groups whose name starts with ``aws-waf-logs-`` (AWS WAF Developer Guide).
    """
    if kind == "s3-events":
        return f"/aws/events/{name(config, 's3-events')}"
    if kind == WAF_LOG_KIND:
        return fit(f"{WAF_LOG_PREFIX}{config.project}-{config.env_id}-{stack_slug(config.stack)}", LOG_GROUP_LIMIT)
    if kind == "rotation":  # Lambda writes a function's logs to this group and no other
        return f"/aws/lambda/{name(config, ROTATION_FUNCTION_KIND)}"
    return fit(f"/{config.project}/{config.env_id}/{stack_slug(config.stack)}/{kind}", LOG_GROUP_LIMIT)


def tags(config: StackConfig, resource_name: str, **extra: str) -> dict[str, str]:
    """``merge({Name}, required tags, user tags, per-resource tags)``."""
    return {
        NAME_TAG: resource_name,
        PROJECT_TAG: config.project,
        ENVIRONMENT_TAG: config.environment,
        MANAGED_BY_TAG: MANAGED_BY,
        STACK_TAG: config.stack,
        **config.extra_tags,
        **extra,
    }


def owner(resource_tags: dict[str, str] | None) -> str:
    """The stack a resource belongs to, from its tags ("unknown" when untagged)."""
    return (resource_tags or {}).get(STACK_TAG) or "unknown"
