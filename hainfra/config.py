"""StackConfig: the one frozen, validated description of a stack.

Built from (lowest to highest precedence) defaults, a YAML file, ``HAINFRA_*``
environment variables and a parameter dict (papermill parameters, ``-p KEY VALUE``).
Every problem is reported at once as a :class:`~hainfra.errors.ConfigError` naming
the field, the bad value and the fix — before any resource is created.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from hainfra import redact, regions
from hainfra.cidr import MAX_AZS, SUBNET_PREFIX_STEP
from hainfra.data import check_data, load_yaml
from hainfra.errors import ConfigError
from hainfra.naming import NAME_TAG, REQUIRED_TAGS

_T = TypeVar("_T")

log = logging.getLogger(__name__)
ENVIRONMENTS = ("dev", "staging", "prod")
NAT_STRATEGIES = ("per_az", "single")
ENGINES = ("sandbox", "pulumi")
# CloudWatch Logs accepts only these retention values (PutRetentionPolicy).
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
    2557, 2922, 3288, 3653,
)
ALLOW_REPLACE = ("backup_bucket", "kms_key", "secret")  # hainfra.engines.changes.PROTECTED's keys
# Set on every taggable resource by the stack program (the resource's kind, e.g. ec2.Vpc).
RESOURCE_TYPE_TAG = "ResourceType"
# Minimum retention Security Hub CloudWatch.16 accepts; prod's default.
PROD_LOG_RETENTION_DAYS = 365
# Prod's default Object Lock retention of backup versions (GOVERNANCE): a month to notice a bad delete.
PROD_BACKUP_LOCK_DAYS = 30
MAX_ROTATION_DAYS = 365  # Prowler secretsmanager_secret_rotated_periodically asks for at most 90 by default
ENV_PREFIX = "HAINFRA_"
# Upper bounds where AWS has none that would stop a typo before it costs money: an Auto Scaling group
# of more than 1000 instances exceeds every default EC2 quota; S3 lifecycle days are bounded at 100 years.
MAX_ASG_SIZE = 1000
MAX_LIFECYCLE_DAYS = 36500
# A secret parameter given as this placeholder is read from the environment variable HAINFRA_<NAME>:
# the runner hands secrets to the kernel that way, so the parameters cell only ever shows the placeholder.
SECRET_FROM_ENV = "[secret: from the kernel environment]"


def _param(default: Any, doc: str, **meta: Any) -> Any:
    """A dataclass field carrying its one-line description (shown in the README and notebooks)."""
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: type(default)(default), metadata={"doc": doc, **meta})
    return field(default=default, metadata={"doc": doc, **meta})


@dataclass(frozen=True)
class StackConfig:
    """Everything that defines one stack. Build it with :meth:`load`, never by hand."""

    stack: str = _param("dev", "Stack name: state, locks, the Stack tag and the archive folder.")
    project: str = _param("hainfra", "Project name, first part of every resource name (a-z, 0-9, -).")
    environment: str = _param("dev", "One of dev, staging, prod; prod turns on the strict HA rules.")
    environment_suffix: str = _param("", "Optional suffix for parallel copies of an environment (e.g. pr-42).")
    region: str = _param("us-east-1", "AWS region; validated against the SDK's region list and its AZs.")
    az_count: int = _param(3, "Availability zones to span, 2-6.")
    vpc_cidr: str = _param("10.0.0.0/16", "VPC CIDR, /16 to /24; subnets are carved from it by fixed slots.")
    avoid_cidrs: list = _param([], "CIDRs the VPC must not overlap (peered VPCs, on-premises ranges).")
    nat_strategy: str = _param("per_az", "per_az: one NAT gateway per AZ (HA); single: one NAT (not in prod).")
    instance_type: str = _param("t3.micro", "EC2 instance type of the application tier.")
    asg_min: int = _param(3, "Auto Scaling group minimum size.")
    asg_desired: int = _param(3, "Auto Scaling group desired capacity.")
    asg_max: int = _param(6, "Auto Scaling group maximum size (at most 1000).")
    log_retention_days: int | None = _param(None, "Retention of every log group (a CloudWatch-allowed value); "
                                                  "default 365 in prod (CloudWatch.16), 30 elsewhere.")
    backup_ia_days: int = _param(30, "Days before noncurrent backup versions move to STANDARD_IA (>= 30).")
    backup_glacier_days: int = _param(90, "Days before noncurrent backup versions move to GLACIER.")
    backup_expire_days: int = _param(365, "Days before noncurrent backup versions expire (at most 36500).")
    abort_upload_days: int = _param(7, "Days before incomplete multipart uploads are aborted.")
    extra_tags: dict = _param({}, "Extra tags on every taggable resource (cannot override required tags; "
                                  "no secret-looking keys).")
    allow_replace: list = _param([], "Data-holding resources a change may replace, losing their data: any of "
                                     "backup_bucket, kms_key, secret (default: none; such a change is refused).")
    interface_endpoints: bool | None = _param(None, "Interface VPC endpoints for SSM, SSM Messages, EC2 Messages, EC2 "
                                                    "and Logs (instances keep SSM and logs without a NAT); default on "
                                                    "in prod, off elsewhere (each costs per AZ-hour).")
    # --- data protection (issue 19: the secret's policy and rotation, locked backups) ----------------
    secret_rotation_days: int = _param(30, "Days between rotations of the application secret by hainfra's rotation "
                                           "function (Lambda), 1-365.")
    secret_admin_arns: list = _param([], "IAM role/user ARNs besides the deploying identity that may manage the "
                                         "secret (its resource policy denies everyone else but the instance role "
                                         "and the rotation function).")
    backup_lock_days: int | None = _param(None, "Object Lock (GOVERNANCE) retention of backup object versions, "
                                                "1-36500 days; default 30 in prod, off (0) elsewhere. Enabled on a "
                                                "live bucket in place; once on, it cannot be switched off.")
    dr_region: str = _param("", "Optional second region: the backup bucket is replicated (SSE-KMS with a key there, "
                                "versioned, locked like the source, delete markers too) to a bucket in it. Empty: off.")
    alarm_email: str = _param("", "Optional e-mail subscribed to the alarm topic.")
    certificate_arn: str = _param("", "ACM certificate ARN: HTTPS listener, HTTP redirects to it. Required in prod "
                                      "on AWS (prod serves HTTPS only); in the sandbox prod imports a self-signed one.")
    # --- edge and instances (issue 19) ---------------------------------------------------------------
    waf: bool | None = _param(None, "WAFv2 web ACL on the ALB with AWS managed rule groups (common rule set, known bad "
                                    "inputs, IP reputation), logging to CloudWatch; default on in prod, off elsewhere "
                                    "(AWS bills each web ACL and rule monthly).")
    instance_types: list = _param([], "Instance types of the application tier in order of preference; two or more give "
                                      "the Auto Scaling group a mixed-instances policy (all on-demand). Empty: "
                                      "[instance_type]. When set it wins over instance_type.")
    engine: str = _param("sandbox", "sandbox (local AWS emulator, the default) or pulumi (real AWS).")
    aws_endpoint_url: str = _param("", "AWS endpoint of an emulator (sandbox: a running `hainfra sandbox serve`).")
    pulumi_backend_url: str = _param("", "pulumi engine state backend (file://, s3://, https://api.pulumi.com); "
                                         "default: file:// under .hainfra.")
    pulumi_secrets_provider: str = _param("passphrase", "pulumi engine secrets provider: passphrase, or awskms://..., "
                                                        "hashivault://..., azurekeyvault://..., gcpkms://...")
    audit_signer: str = _param("local", "Signs archive entries: local (an Ed25519 key in the user's config folder) "
                                        "or kms:<key id or alias> (an AWS KMS asymmetric key).")
    archive_s3_uri: str = _param("", "Optional S3 mirror of the archive, s3://BUCKET/PREFIX (a bucket with Object Lock).")
    archive_lock_mode: str = _param("GOVERNANCE", "Object Lock mode of mirrored records: GOVERNANCE or COMPLIANCE "
                                                  "(nobody, not even root, can delete before expiry).")
    archive_lock_days: int = _param(365, "Days each mirrored record is locked against deletion, 1-36500.")
    pulumi_config_passphrase: str = field(
        default="", repr=False, metadata={"doc": "Secret (8+ characters). Passphrase of the pulumi engine's secrets "
                                                 "provider; give it as $HAINFRA_PULUMI_CONFIG_PASSPHRASE or --secret-file "
                                                 "(default: $PULUMI_CONFIG_PASSPHRASE); never in a notebook.",
                                          "secret": True})

    # --- derived values, computed once -------------------------------------------------
    @property
    def env_id(self) -> str:
        """Environment plus suffix: the `{env}` part of every name."""
        return f"{self.environment}-{self.environment_suffix}" if self.environment_suffix else self.environment

    @property
    def nat_count(self) -> int:
        """How many NAT gateways the stack has: the one HA switch feeding the network."""
        return self.az_count if self.nat_strategy == "per_az" else 1

    @property
    def is_prod(self) -> bool:
        return self.environment == "prod"

    def _by_environment(self, explicit: _T | None, prod: _T, elsewhere: _T) -> _T:
        """An explicit setting wins; else the environment's default (prod is the hardened one)."""
        if explicit is not None:
            return explicit
        return prod if self.is_prod else elsewhere

    @property
    def retention_days(self) -> int:
        """Log retention in days: the explicit value, else 365 in prod (CloudWatch.16) and 30 elsewhere."""
        return self._by_environment(self.log_retention_days, PROD_LOG_RETENTION_DAYS, 30)

    @property
    def waf_enabled(self) -> bool:
        """Whether the ALB gets a WAFv2 web ACL: the explicit switch, else on in prod only."""
        return self._by_environment(self.waf, True, False)

    @property
    def app_instance_types(self) -> tuple[str, ...]:
        """The application tier's instance types, preferred first: ``instance_types``, else ``instance_type``."""
        return tuple(self.instance_types) or (self.instance_type,)

    @property
    def emulated_target(self) -> bool:
        """Whether the stack lands in an AWS emulator (the sandbox, or any engine given ``aws_endpoint_url``)."""
        return self.engine == "sandbox" or bool(self.aws_endpoint_url)

    @property
    def self_signed_certificate(self) -> bool:
        """Prod on an emulator without ``certificate_arn``: the stack imports its own self-signed certificate."""
        return self.is_prod and not self.certificate_arn and self.emulated_target

    @property
    def https(self) -> bool:
        """Whether the ALB serves HTTPS (and port 80 only redirects to it)."""
        return bool(self.certificate_arn) or self.self_signed_certificate

    @property
    def endpoints_enabled(self) -> bool:
        """Whether the interface VPC endpoints exist: the explicit switch, else on in prod only."""
        return self._by_environment(self.interface_endpoints, True, False)

    @property
    def lock_days(self) -> int:
        """Object Lock days of the backup bucket (0: no lock): the explicit value, else 30 in prod, 0 elsewhere."""
        return self._by_environment(self.backup_lock_days, PROD_BACKUP_LOCK_DAYS, 0)

    @property
    def dr_enabled(self) -> bool:
        """Whether the backups are replicated to ``dr_region`` (one switch for the program, verify and the gate)."""
        return bool(self.dr_region)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    # --- construction ---------------------------------------------------------------------
    @classmethod
    def load(
        cls,
        params: Mapping[str, Any] | None = None,
        file: str | Path | None = None,
        env: Mapping[str, str] | None = None,
        remembered: Mapping[str, Any] | None = None,
        remembered_from: str = "",
    ) -> StackConfig:
        """Merge defaults < remembered < YAML file < HAINFRA_* environment < params, then validate.

        Args:
            params: Parameter dict (papermill parameters or CLI ``-p``). Strings are
                coerced for non-string fields (they come from a command line).
            file: Optional YAML file with a mapping of field names.
            env: Environment (defaults to ``os.environ``); ``HAINFRA_AZ_COUNT=4`` sets az_count.
            remembered: The stack's recorded configuration (see :mod:`hainfra.remembered`).
            remembered_from: Where it was recorded (named in error messages).
        """
        raw: dict[str, tuple[Any, str]] = {
            key: (value, f"remembered configuration {remembered_from}") for key, value in (remembered or {}).items()}
        if file is not None:
            for key, value in read_yaml(Path(file)).items():
                raw[key] = (value, f"file {file}")
        env = os.environ if env is None else env
        for key, value in env.items():
            if key.startswith(ENV_PREFIX) and key[len(ENV_PREFIX):].lower() in FIELDS:
                raw[key[len(ENV_PREFIX):].lower()] = (value, f"environment {key}")
        for key, value in (params or {}).items():
            raw[key] = (value, "parameter")
        return cls.from_raw(_secrets_from_env(raw, env))

    @classmethod
    def from_raw(cls, raw: Mapping[str, tuple[Any, str]]) -> StackConfig:
        problems: list[tuple[str, object, str]] = []
        values: dict[str, Any] = {}
        for key, (value, source) in raw.items():
            bad_data = check_data(str(key), value)
            if bad_data:  # before anything else looks at it: a value that is not plain data is never used
                problems += [(f, MASK if key in SECRET_FIELDS else v, f"{fix} (from {source})") for f, v, fix in bad_data]
            elif key not in FIELDS:
                problems.append((key, value, f"unknown parameter (from {source}); {_suggest(key)}"))
                continue
            try:
                values[key] = _coerce(key, value)
            except ValueError as exc:
                problems.append((key, MASK if key in SECRET_FIELDS else value, f"{exc} (from {source})"))
        if problems:
            raise ConfigError(problems)
        config = cls(**values)
        problems = validate(config)
        if problems:
            raise ConfigError(problems)
        redact.remember(*(getattr(config, name) for name in SECRET_FIELDS))  # hidden from every log line
        return config

    def replace(self, **changes: Any) -> StackConfig:
        """A validated copy with some fields changed."""
        merged = {k: (v, "default") for k, v in self.as_dict().items()}
        merged.update({k: (v, "parameter") for k, v in changes.items()})
        return StackConfig.from_raw(merged)


FIELDS: dict[str, dataclasses.Field] = {f.name: f for f in dataclasses.fields(StackConfig)}


SECRET_FIELDS = frozenset(f.name for f in dataclasses.fields(StackConfig) if f.metadata.get("secret"))
MASK = "********"


def describe() -> list[dict[str, str]]:
    """One row per parameter: name, type, default, description (README and notebooks)."""
    rows = []
    for f in dataclasses.fields(StackConfig):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        rows.append({"parameter": f.name, "type": _type_name(f).replace(" | None", " or None"), "default": repr(default), "description": f.metadata["doc"]})
    return rows


def _type_name(f: dataclasses.Field) -> str:
    return f.type if isinstance(f.type, str) else f.type.__name__


def _suggest(key: str) -> str:
    close = difflib.get_close_matches(key, FIELDS, n=1)
    return f"did you mean {close[0]!r}?" if close else f"known parameters: {', '.join(FIELDS)}"


def read_yaml(path: Path) -> dict[str, Any]:
    """A parameter file (``--config``, ``-f``, ``config_file``): a mapping of plain data; ConfigError naming it."""
    if not path.is_file():
        raise ConfigError.one("config file", str(path), "no such file; pass an existing YAML file")
    data = load_yaml(path.read_text(), f"file {path}") or {}
    if not isinstance(data, dict):
        raise ConfigError.one("config file", str(path), "must hold a mapping of parameter names to values")
    return data


def read_secret_file(name: str, path: str | Path) -> str:
    """A secret parameter's value from a file (``--secret-file NAME PATH``): never on a command line.

    The file holds the value alone; one trailing newline (``echo … > file``) is dropped.
    """
    if name not in SECRET_FIELDS:
        raise ConfigError.one("--secret-file", name, f"not a secret parameter; use one of {', '.join(sorted(SECRET_FIELDS))}")
    file = Path(path)
    if not file.is_file():
        raise ConfigError.one(name, str(path), "no such secret file; pass an existing file holding the value")
    if file.stat().st_mode & 0o077:
        log.warning("secret file %s is readable by other users; chmod 600 it", path)
    return file.read_text().removesuffix("\n").removesuffix("\r")


def _secrets_from_env(raw: dict[str, tuple[Any, str]], env: Mapping[str, str]) -> dict[str, tuple[Any, str]]:
    """Resolve :data:`SECRET_FROM_ENV` placeholders of secret fields from ``HAINFRA_<NAME>``."""
    resolved = dict(raw)
    for key in SECRET_FIELDS & set(raw):
        if raw[key][0] == SECRET_FROM_ENV:
            var = f"{ENV_PREFIX}{key.upper()}"
            if not env.get(var):
                raise ConfigError.one(key, SECRET_FROM_ENV, f"the secret was to come from ${var}, which is not set")
            resolved[key] = (env[var], f"environment {var}")
    return resolved


def _coerce(name: str, value: Any) -> Any:
    """Check a value's type; strings from a command line or environment are parsed as plain-data YAML."""
    kind = _type_name(FIELDS[name])
    if kind.endswith(" | None"):  # optional: None (or an empty/"auto" string) means "the derived default"
        if value is None or (isinstance(value, str) and value.strip().lower() in ("", "auto", "none", "null")):
            return None
        kind = kind.removesuffix(" | None")
    if kind == "str":
        if not isinstance(value, str):
            raise ValueError(f"must be a string, got {type(value).__name__}")
        return value
    if isinstance(value, str):
        try:
            value = load_yaml(value, f"parameter {name}", name) if value.strip() else ({} if kind == "dict" else [])
        except ConfigError as exc:
            raise ValueError("; ".join(f"{p}: {fix}" for p, _, fix in exc.problems)) from None
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"must be true or false, got {value!r}")
        return value
    expected = {"int": int, "dict": dict, "list": list}[kind]
    if isinstance(value, bool) or not isinstance(value, expected):
        raise ValueError(f"must be {kind}, got {type(value).__name__}")
    return value


# --- validation rules: each returns (field, value, fix) problems ------------------------
_NAME = re.compile(r"^[a-z][a-z0-9-]*[a-z0-9]$")
_SUFFIX = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")  # one character (e.g. "z") is a valid suffix
_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CERT_ARN = re.compile(r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36}$")
_STACK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")


@cache
def known_regions() -> frozenset[str]:
    """Regions botocore knows for EC2 (offline data shipped with the SDK).

    Read with botocore's loader and endpoint resolver, as ``boto3.Session().get_available_regions`` does,
    without creating a session (~0.15 s of start-up time for every command; bench/plan.py).
    """
    from botocore.loaders import create_loader  # function-local: start-up time (config loads without botocore)
    from botocore.regions import EndpointResolver

    resolver = EndpointResolver(create_loader().load_data("endpoints"))
    return frozenset(r for partition in ("aws", "aws-us-gov", "aws-cn")
                     for r in resolver.get_available_endpoints("ec2", partition))


def validate(c: StackConfig) -> list[tuple[str, object, str]]:
    """Every rule the configuration must satisfy, section by section; an empty list means valid."""
    p = _validate_names(c) + _validate_cidr(c) + _validate_capacity(c) + _validate_retention(c)
    p += _validate_tags(c.extra_tags)
    for item in c.allow_replace:
        if item not in ALLOW_REPLACE:
            p.append(("allow_replace", item, f"use a list of {', '.join(ALLOW_REPLACE)}"))
    p += _validate_secrets(c)
    if c.alarm_email and not _EMAIL.match(c.alarm_email):
        p.append(("alarm_email", c.alarm_email, "use an e-mail address such as ops@example.com, or leave empty"))
    if c.certificate_arn and not _CERT_ARN.match(c.certificate_arn):
        p.append(("certificate_arn", c.certificate_arn,
                  "use an ACM certificate ARN (arn:aws:acm:REGION:ACCOUNT:certificate/UUID), or leave empty"))
    p += _validate_engine(c) + _validate_audit(c) + _validate_edge(c) + _validate_data_protection(c)
    return p


def _validate_names(c: StackConfig) -> list[tuple[str, object, str]]:
    """Names, environment and placement: what every resource name and the AZ plan derive from."""
    p: list[tuple[str, object, str]] = []
    if not _STACK.match(c.stack):
        p.append(("stack", c.stack, "use 1-40 letters, digits, '-', '_' or '.', starting with a letter or digit"))
    if not _NAME.match(c.project) or len(c.project) > 20:
        p.append(("project", c.project, "use 2-20 lowercase letters, digits and '-', starting with a letter"))
    if c.environment not in ENVIRONMENTS:
        p.append(("environment", c.environment, f"use one of {', '.join(ENVIRONMENTS)}"))
    if c.environment_suffix and (not _SUFFIX.match(c.environment_suffix) or "--" in c.environment_suffix):
        p.append(("environment_suffix", c.environment_suffix,
                  "use lowercase letters, digits and single '-', starting and ending with a letter or digit "
                  "(it becomes part of S3 bucket names)"))
    if c.region not in known_regions():
        p.append(("region", c.region, "use an AWS region code such as us-east-1 or eu-west-1"))
    if not 2 <= c.az_count <= MAX_AZS:
        p.append(("az_count", c.az_count, f"use 2 to {MAX_AZS} availability zones (HA needs at least 2)"))
    elif (zones := regions.zones(c.region)) is not None and c.az_count > len(zones):
        p.append(("az_count", c.az_count, f"region {c.region} has {len(zones)} AZs ({', '.join(zones)}); "
                                          f"lower az_count or choose another region"))
    return p


def _validate_capacity(c: StackConfig) -> list[tuple[str, object, str]]:
    """NAT strategy, instance type and group size: the HA switches."""
    p: list[tuple[str, object, str]] = []
    if c.nat_strategy not in NAT_STRATEGIES:
        p.append(("nat_strategy", c.nat_strategy, f"use one of {', '.join(NAT_STRATEGIES)}"))
    elif c.nat_strategy == "single" and c.is_prod:
        p.append(("nat_strategy", c.nat_strategy, "prod needs per_az: a single NAT gateway is a single point of failure"))
    if not _INSTANCE_TYPE.match(c.instance_type):
        p.append(("instance_type", c.instance_type, "use an EC2 instance type such as t3.micro"))
    if c.asg_min < 0 or not c.asg_min <= c.asg_desired <= c.asg_max:
        p.append(("asg_desired", (c.asg_min, c.asg_desired, c.asg_max),
                  "need 0 <= asg_min <= asg_desired <= asg_max"))
    elif c.asg_max > MAX_ASG_SIZE:
        p.append(("asg_max", c.asg_max, f"use at most {MAX_ASG_SIZE} instances (beyond every default EC2 quota)"))
    elif c.asg_max < 1:
        p.append(("asg_max", c.asg_max, "need at least 1 instance"))
    if c.is_prod and c.asg_min < c.az_count:
        p.append(("asg_min", c.asg_min, f"prod needs at least one instance per AZ: set asg_min >= az_count ({c.az_count})"))
    return p


def _validate_retention(c: StackConfig) -> list[tuple[str, object, str]]:
    """Log retention and the backup lifecycle, in the order S3 enforces."""
    p: list[tuple[str, object, str]] = []
    if c.log_retention_days is not None and c.log_retention_days not in LOG_RETENTION_DAYS:
        p.append(("log_retention_days", c.log_retention_days,
                  f"use a CloudWatch retention value: {', '.join(map(str, LOG_RETENTION_DAYS))}"))
    if c.backup_ia_days < 30:
        p.append(("backup_ia_days", c.backup_ia_days, "S3 requires at least 30 days before STANDARD_IA"))
    if not c.backup_ia_days < c.backup_glacier_days < c.backup_expire_days:
        p.append(("backup_glacier_days", (c.backup_ia_days, c.backup_glacier_days, c.backup_expire_days),
                  "need backup_ia_days < backup_glacier_days < backup_expire_days"))
    elif c.backup_expire_days > MAX_LIFECYCLE_DAYS:
        p.append(("backup_expire_days", c.backup_expire_days, f"use at most {MAX_LIFECYCLE_DAYS} days (100 years)"))
    if not 1 <= c.abort_upload_days <= 365:
        p.append(("abort_upload_days", c.abort_upload_days, "use 1 to 365 days"))
    return p


def _validate_engine(c: StackConfig) -> list[tuple[str, object, str]]:
    """The engine and where it keeps state and secrets."""
    p: list[tuple[str, object, str]] = []
    if c.engine not in ENGINES:
        p.append(("engine", c.engine, f"use one of {', '.join(ENGINES)}"))
    if c.pulumi_backend_url and not re.match(r"^(file|s3|gs|azblob|https?)://", c.pulumi_backend_url):
        p.append(("pulumi_backend_url", c.pulumi_backend_url,
                  "use file://PATH, s3://BUCKET/PREFIX, gs://, azblob:// or https://api.pulumi.com"))
    if c.pulumi_secrets_provider != "passphrase" and not re.match(
            r"^(awskms|azurekeyvault|gcpkms|hashivault)://", c.pulumi_secrets_provider):
        p.append(("pulumi_secrets_provider", c.pulumi_secrets_provider,
                  "use passphrase or a provider URL such as awskms://alias/pulumi?region=us-east-1"))
    if c.aws_endpoint_url and not re.match(r"^https?://[^\s/]+(:\d+)?/?$", c.aws_endpoint_url):
        p.append(("aws_endpoint_url", c.aws_endpoint_url, "use a URL such as http://127.0.0.1:5000"))
    return p


# An Auto Scaling group's mixed-instances policy takes at most 40 instance types (EC2 Auto Scaling quota).
MAX_INSTANCE_TYPES = 40


def _validate_edge(c: StackConfig) -> list[tuple[str, object, str]]:
    """HTTPS in prod, and the application tier's instance types."""
    p: list[tuple[str, object, str]] = []
    if c.is_prod and not c.https:
        p.append(("certificate_arn", c.certificate_arn,
                  "prod serves HTTPS only: request a certificate in ACM (aws acm request-certificate --domain-name "
                  "app.example.com --validation-method DNS) or import yours, then set certificate_arn to its ARN "
                  "(the sandbox imports a self-signed one by itself)"))
    types = c.instance_types
    bad = [t for t in types if not isinstance(t, str) or not _INSTANCE_TYPE.match(t)]
    if bad:
        p.append(("instance_types", bad, "use a list of EC2 instance types such as [t3.micro, t3a.micro]"))
    elif len(set(types)) != len(types):
        p.append(("instance_types", types, "list each instance type once"))
    elif len(types) > MAX_INSTANCE_TYPES:
        p.append(("instance_types", len(types), f"use at most {MAX_INSTANCE_TYPES} instance types (the Auto Scaling "
                                                 "quota for a mixed-instances policy)"))
    elif types and c.instance_type != FIELDS["instance_type"].default and c.instance_type not in types:
        p.append(("instance_type", c.instance_type, f"is not among instance_types {types}: set only instance_types "
                                                    "(preferred type first), or add it there"))
    return p

LOCK_MODES = ("GOVERNANCE", "COMPLIANCE")


def _validate_audit(c: StackConfig) -> list[tuple[str, object, str]]:
    """The archive's signer and S3 mirror settings."""
    p: list[tuple[str, object, str]] = []
    if c.audit_signer != "local" and not re.match(r"^kms:[A-Za-z0-9:/_.-]+$", c.audit_signer):
        p.append(("audit_signer", c.audit_signer, "use local, or kms:<key id, key ARN or alias/NAME>"))
    if c.archive_s3_uri and not re.match(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^\s]*)?$", c.archive_s3_uri):
        p.append(("archive_s3_uri", c.archive_s3_uri, "use s3://BUCKET/PREFIX, or leave empty for no mirror"))
    if c.archive_lock_mode not in LOCK_MODES:
        p.append(("archive_lock_mode", c.archive_lock_mode, f"use one of {', '.join(LOCK_MODES)}"))
    if not 1 <= c.archive_lock_days <= 36500:
        p.append(("archive_lock_days", c.archive_lock_days, "use 1 to 36500 days"))
    return p


_IAM_PRINCIPAL_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:(role|user)/[\w+=,.@/-]{1,512}$")


def _validate_data_protection(c: StackConfig) -> list[tuple[str, object, str]]:
    """Secret rotation and administrators, Object Lock of the backups, their DR region."""
    p: list[tuple[str, object, str]] = []
    if not 1 <= c.secret_rotation_days <= MAX_ROTATION_DAYS:
        p.append(("secret_rotation_days", c.secret_rotation_days,
                  f"use 1 to {MAX_ROTATION_DAYS} days (Secrets Manager rotates at most daily; auditors expect "
                  "at least yearly, Prowler 90 days)"))
    for arn in c.secret_admin_arns:
        if not isinstance(arn, str) or not _IAM_PRINCIPAL_ARN.match(arn):
            p.append(("secret_admin_arns", arn, "use IAM role or user ARNs such as "
                                                "arn:aws:iam::123456789012:role/Admin (no wildcards)"))
    if c.backup_lock_days is not None and not 0 <= c.backup_lock_days <= MAX_LIFECYCLE_DAYS:
        p.append(("backup_lock_days", c.backup_lock_days, f"use 1 to {MAX_LIFECYCLE_DAYS} days, or 0 for no lock"))
    elif c.is_prod and c.backup_lock_days == 0:
        p.append(("backup_lock_days", 0, f"prod backups are locked against deletion: use 1 to {MAX_LIFECYCLE_DAYS} "
                                         f"days (default {PROD_BACKUP_LOCK_DAYS})"))
    elif c.lock_days > c.backup_expire_days:
        p.append(("backup_lock_days", c.lock_days, f"a lock longer than backup_expire_days ({c.backup_expire_days}) "
                                                   "keeps versions the lifecycle should expire; lower it"))
    if c.dr_region and c.dr_region not in known_regions():
        p.append(("dr_region", c.dr_region, "use an AWS region code such as us-west-2, or leave empty for no "
                                            "cross-region replica"))
    elif c.dr_region and c.dr_region == c.region:
        p.append(("dr_region", c.dr_region, f"a replica in the stack's own region ({c.region}) survives no regional "
                                            "outage: choose another region, or leave empty"))
    return p


def _validate_cidr(c: StackConfig) -> list[tuple[str, object, str]]:
    try:
        net = ipaddress.ip_network(c.vpc_cidr, strict=True)
    except ValueError as exc:
        return [("vpc_cidr", c.vpc_cidr, f"use an IPv4 network with host bits zero, e.g. 10.0.0.0/16 ({exc})")]
    if net.version != 4 or not 16 <= net.prefixlen <= 28 - SUBNET_PREFIX_STEP:
        return [("vpc_cidr", c.vpc_cidr,
                 f"use an IPv4 CIDR from /16 to /{28 - SUBNET_PREFIX_STEP}: the plan needs "
                 f"{2 ** SUBNET_PREFIX_STEP} subnets of at least /28")]
    if not net.is_private:
        return [("vpc_cidr", c.vpc_cidr, "use a private range (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)")]
    problems = []
    for other in c.avoid_cidrs:
        if not isinstance(other, str):  # ipaddress also takes packed bytes and integers
            problems.append(("avoid_cidrs", other, "use CIDR strings such as 172.16.0.0/12"))
            continue
        try:
            other_net = ipaddress.ip_network(other, strict=False)
        except (ValueError, TypeError):
            problems.append(("avoid_cidrs", other, "use CIDR strings such as 172.16.0.0/12"))
            continue
        if net.overlaps(other_net):
            problems.append(("vpc_cidr", c.vpc_cidr, f"overlaps {other} from avoid_cidrs; choose a disjoint range"))
    return problems


def _validate_tags(tags: dict) -> list[tuple[str, object, str]]:
    p = []
    for key, value in tags.items():
        if not isinstance(key, str) or not isinstance(value, str):
            p.append(("extra_tags", {key: value}, "tag keys and values must be strings"))
        elif key in REQUIRED_TAGS or key in (NAME_TAG, RESOURCE_TYPE_TAG):
            p.append(("extra_tags", key, f"{key} is set by hainfra; remove it from extra_tags"))
        elif redact.looks_secret(key):
            p.append(("extra_tags", key, "tags are readable by anyone who can list resources and are no place for a "
                                         "secret: store it in AWS Secrets Manager (the stack's secret_arn) and tag "
                                         "the name of the secret instead"))
        elif key.lower().startswith("aws:"):
            p.append(("extra_tags", key, "the aws: prefix is reserved by AWS; rename the tag"))
        elif not 1 <= len(key) <= 128 or len(value) > 256:
            p.append(("extra_tags", key, "keys need 1-128 characters, values at most 256"))
    return p


def _validate_secrets(c: StackConfig) -> list[tuple[str, object, str]]:
    """A secret too short to redact reliably is refused as weak rather than archived unredacted."""
    return [(name, MASK, f"shorter than {redact.MIN_SECRET_LENGTH} characters: too weak to protect, and too short "
                         "to be told apart from ordinary text when redacting; use a longer secret")
            for name in sorted(SECRET_FIELDS) if getattr(c, name) and redact.weak(getattr(c, name))]

