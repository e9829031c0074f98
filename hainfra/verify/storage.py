"""Backup bucket checks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from hainfra.components.storage import BACKUP_LOCK_MODE
from hainfra.verify.base import Row, VerifyContext, check, check_row, skip


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
