"""Backup bucket checks."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from hainfra import naming
from hainfra.aws import Ctx
from hainfra.components.storage import BACKUP_LOCK_MODE, REPLICATION_RULE
from hainfra.verify.base import Row, VerifyContext, check, check_row, skip

# Key of the object the replication check writes on AWS (one key: each run adds a version the lifecycle expires).
REPLICATION_PROBE_KEY = "hainfra-verify/replication-probe"


def _get(v: VerifyContext, op: str, **kwargs: Any) -> dict[str, Any]:
    """A bucket read; a missing configuration is an empty answer, not an error."""
    try:
        return getattr(v.client("s3"), op)(Bucket=v.outputs["bucket_name"], **kwargs)
    except ClientError:
        return {}


@check("storage.versioning")
def versioning(v: VerifyContext) -> Iterator[Row]:
    status = _get(v, "get_bucket_versioning").get("Status", "never enabled")
    yield check_row(v.outputs["bucket_name"], status == "Enabled", "Enabled", status,
                    "s3api put-bucket-versioning --versioning-configuration Status=Enabled")


@check("storage.encryption")
def encryption(v: VerifyContext) -> Iterator[Row]:
    rules = _get(v, "get_bucket_encryption").get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
    default = rules[0].get("ApplyServerSideEncryptionByDefault", {}) if rules else {}
    ok = default.get("SSEAlgorithm") == "aws:kms" and v.is_stack_key(default.get("KMSMasterKeyID"))
    yield check_row(v.outputs["bucket_name"], ok, "SSE-KMS with the stack key",
                    f"{default.get('SSEAlgorithm', 'none')} {default.get('KMSMasterKeyID', '')}".strip(),
                    "s3api put-bucket-encryption with aws:kms and the stack key")


@check("storage.lifecycle")
def lifecycle(v: VerifyContext) -> Iterator[Row]:
    c = v.config
    rules = [r for r in _get(v, "get_bucket_lifecycle_configuration").get("Rules", []) if r.get("Status") == "Enabled"]
    found = {
        "transitions": sorted((t["NoncurrentDays"], t["StorageClass"]) for r in rules
                              for t in r.get("NoncurrentVersionTransitions", [])),
        "expire": [r["NoncurrentVersionExpiration"]["NoncurrentDays"] for r in rules
                   if r.get("NoncurrentVersionExpiration")],
        "abort": [r["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] for r in rules
                  if r.get("AbortIncompleteMultipartUpload")],
    }
    expected = {"transitions": [(c.backup_ia_days, "STANDARD_IA"), (c.backup_glacier_days, "GLACIER")],
                "expire": [c.backup_expire_days], "abort": [c.abort_upload_days]}
    yield check_row(v.outputs["bucket_name"], found == expected, json.dumps(expected), json.dumps(found),
                    "run `hainfra up` (lifecycle rules differ from the configuration)")


@check("storage.public-access-block")
def public_access_block(v: VerifyContext) -> Iterator[Row]:
    conf = _get(v, "get_public_access_block").get("PublicAccessBlockConfiguration", {})
    off = [k for k in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")
           if not conf.get(k)]
    yield check_row(v.outputs["bucket_name"], not off, "all four blocks on", f"off: {off}" if off else "all on",
                    "s3api put-public-access-block with all four true")


@check("storage.tls-only")
def tls_only(v: VerifyContext) -> Iterator[Row]:
    policy = json.loads(_get(v, "get_bucket_policy").get("Policy", "{}"))
    ok = any(st.get("Effect") == "Deny" and st.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
             for st in policy.get("Statement", []))
    yield check_row(v.outputs["bucket_name"], ok, "denies requests without TLS",
                    "present" if ok else "no aws:SecureTransport deny", "restore the bucket policy (`hainfra up`)")


@check("storage.ownership")
def ownership(v: VerifyContext) -> Iterator[Row]:
    rules = _get(v, "get_bucket_ownership_controls").get("OwnershipControls", {}).get("Rules", [])
    value = rules[0]["ObjectOwnership"] if rules else "not set (ACLs enabled)"
    yield check_row(v.outputs["bucket_name"], value == "BucketOwnerEnforced", "BucketOwnerEnforced", value,
                    "s3api put-bucket-ownership-controls ObjectOwnership=BucketOwnerEnforced")


@check("storage.object-lock")
def object_lock(v: VerifyContext) -> Iterator[Row]:
    """Backup versions cannot be deleted before ``lock_days`` (GOVERNANCE): in prod always, elsewhere when set."""
    bucket, days = v.outputs["bucket_name"], v.config.lock_days
    conf = _get(v, "get_object_lock_configuration").get("ObjectLockConfiguration", {})
    retention = conf.get("Rule", {}).get("DefaultRetention", {})
    found = f"{conf.get('ObjectLockEnabled', 'not enabled')} {retention.get('Mode', '')} " \
            f"{retention.get('Days', '')}".strip()
    if not days:
        yield skip(bucket, f"Object Lock {BACKUP_LOCK_MODE}",
                   f"not configured: backup_lock_days=0, the default outside prod (found: {found})")
        return
    ok = conf.get("ObjectLockEnabled") == "Enabled" and retention.get("Mode") == BACKUP_LOCK_MODE and \
        retention.get("Days") == days
    yield check_row(bucket, ok, f"Enabled {BACKUP_LOCK_MODE} {days}", found,
                    "run `hainfra up` (it restores the bucket's default retention)")


def _read(ctx: Ctx, op: str, bucket: str, *path: str) -> Any:
    """``op`` on ``bucket`` followed along ``path``; ``None`` when the bucket or the configuration is missing."""
    try:
        answer: Any = getattr(ctx.client("s3"), op)(Bucket=bucket)
    except ClientError:
        return None
    for key in path:
        answer = answer.get(key) if isinstance(answer, dict) else None
    return answer


def _replica_problems(v: VerifyContext, dr: Ctx, bucket: str, key_arn: str) -> list[str]:
    """What the DR bucket lacks of the source's protections (an empty list: all of them)."""
    c = v.config
    if _read(dr, "get_bucket_location", bucket) is None:
        return [f"no bucket {bucket}"]
    problems = []
    where = _read(dr, "get_bucket_location", bucket, "LocationConstraint") or "us-east-1"
    if where != c.dr_region:
        problems.append(f"in {where}, not {c.dr_region}")
    if _read(dr, "get_bucket_versioning", bucket, "Status") != "Enabled":
        problems.append("not versioned")
    rules = _read(dr, "get_bucket_encryption", bucket, "ServerSideEncryptionConfiguration", "Rules") or [{}]
    sse = rules[0].get("ApplyServerSideEncryptionByDefault", {})
    if sse.get("SSEAlgorithm") != "aws:kms" or sse.get("KMSMasterKeyID", "").split("/")[-1] != key_arn.split("/")[-1]:
        problems.append(f"not encrypted with the replica key ({sse.get('SSEAlgorithm', 'none')} "
                        f"{sse.get('KMSMasterKeyID', '')})".replace(" )", ")"))
    try:
        dr.client("kms").describe_key(KeyId=key_arn)
    except ClientError:
        problems.append(f"replica key {key_arn} is not in {c.dr_region}")
    lock = _read(dr, "get_object_lock_configuration", bucket, "ObjectLockConfiguration") or {}
    retention = lock.get("Rule", {}).get("DefaultRetention", {})
    if c.lock_days and (retention.get("Mode"), retention.get("Days")) != (BACKUP_LOCK_MODE, c.lock_days):
        problems.append(f"not locked {BACKUP_LOCK_MODE} {c.lock_days} days")
    return problems


@check("storage.replication")
def replication(v: VerifyContext) -> Iterator[Row]:
    """With ``dr_region``: the backups replicate to a bucket there as protected as the source; then the data flow."""
    c, source = v.config, v.outputs["bucket_name"]
    if not c.dr_enabled:
        yield skip(source, "replicated to dr_region", "not configured: dr_region is empty (replication is opt-in)")
        return
    dr = v.aws.at(c.dr_region)
    target = naming.dr_bucket_name(c, v.aws.account_id)
    rules = _read(v.aws, "get_bucket_replication", source, "ReplicationConfiguration", "Rules") or []
    rule = next((r for r in rules if r.get("ID") == REPLICATION_RULE and r.get("Status") == "Enabled"), {})
    destination = rule.get("Destination", {})
    key_arn = destination.get("EncryptionConfiguration", {}).get("ReplicaKmsKeyID", "")
    if not rule:
        problems = [f"no enabled replication rule {REPLICATION_RULE!r}"]
    else:
        problems = [] if destination.get("Bucket", "").endswith(f":::{target}") else \
            [f"replicates to {destination.get('Bucket')}"]
        if rule.get("DeleteMarkerReplication", {}).get("Status") != "Enabled":
            problems.append("delete markers not replicated")
        problems += _replica_problems(v, dr, target, key_arn) if key_arn else ["no replica KMS key"]
    yield check_row(f"{source} -> {target}", not problems,
                    f"enabled rule to {target} ({c.dr_region}): versioned, SSE-KMS with a {c.dr_region} key, locked",
                    "; ".join(problems) or "as expected", "run `hainfra up` (it restores the replica and the rule)")
    if not problems:
        yield _replicated_object(v, dr, source, target)


def _has_version(ctx: Ctx, bucket: str, version: str) -> bool:
    try:
        ctx.client("s3").head_object(Bucket=bucket, Key=REPLICATION_PROBE_KEY, VersionId=version)
    except ClientError:
        return False
    return True


def _replicated_object(v: VerifyContext, dr: Ctx, source: str, target: str) -> Row:
    """Put a probe object in the source and watch S3 report it replicated (AWS only: moto does not replicate)."""
    resource = f"{source}/{REPLICATION_PROBE_KEY}"
    if v.emulated:
        return skip(resource, "the object appears in the DR bucket",
                    "the emulator (moto) stores replication configurations but copies no object")
    s3 = v.client("s3")
    version = s3.put_object(Bucket=source, Key=REPLICATION_PROBE_KEY, Body=b"hainfra replication probe")["VersionId"]
    status, deadline = "PENDING", time.monotonic() + v.wait_seconds
    while status == "PENDING" and time.monotonic() < deadline:
        time.sleep(2)
        status = s3.head_object(Bucket=source, Key=REPLICATION_PROBE_KEY, VersionId=version).get(
            "ReplicationStatus", "none")
    if status == "PENDING":
        return skip(resource, "the object appears in the DR bucket",
                    f"still PENDING after {v.wait_seconds:.0f} s (S3 replicates most objects within 15 minutes): "
                    "run verify again with a longer wait")
    copied = status == "COMPLETED" and _has_version(dr, target, version)
    return check_row(resource, copied, "COMPLETED and the version is in the DR bucket", status,
                     "read the replication role's policy and both keys' policies (FAILED: S3 could not replicate)")
