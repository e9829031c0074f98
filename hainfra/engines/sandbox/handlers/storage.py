"""S3 handlers: the bucket and its configuration resources (each keyed by the bucket name)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from hainfra.aws import Ctx, empty_prefix, tags_of
from hainfra.engines.sandbox.handlers import (
    Created,
    Found,
    Handler,
    Props,
    error_code,
    ignore,
    ints,
    lookup,
    register,
    replaces_on,
    tag_list,
)
from hainfra.naming import STACK_TAG


def s3(ctx: Ctx) -> Any:
    return ctx.client("s3")


def create_bucket(ctx: Ctx, p: Props) -> Created:
    name = p["bucket"]
    args: dict[str, Any] = {"Bucket": name, "ObjectLockEnabledForBucket": bool(p.get("objectLockEnabled"))}
    if ctx.region != "us-east-1":
        args["CreateBucketConfiguration"] = {"LocationConstraint": ctx.region}
    s3(ctx).create_bucket(**args)
    if p.get("tags"):
        tag_bucket(ctx, name, p, {}, p["tags"])
    return name, {"arn": f"arn:aws:s3:::{name}", "bucketDomainName": f"{name}.s3.amazonaws.com",
                  "bucketRegionalDomainName": f"{name}.s3.{ctx.region}.amazonaws.com", "region": ctx.region}


def tag_bucket(ctx: Ctx, rid: str, p: Props, old: dict[str, str], new: dict[str, str]) -> None:
    if new:
        s3(ctx).put_bucket_tagging(Bucket=rid, Tagging={"TagSet": tag_list(new)})
    else:
        s3(ctx).delete_bucket_tagging(Bucket=rid)


def empty_bucket(ctx: Ctx, name: str, bypass_governance: bool = False) -> int:
    """Delete every object version and delete marker; returns how many."""
    return empty_prefix(ctx, name, "", bypass_governance)


@ignore("NoSuchBucket")
def delete_bucket(ctx: Ctx, rid: str, p: Props) -> None:
    if p.get("forceDestroy"):  # like the provider's force_destroy: GOVERNANCE locks are bypassed, COMPLIANCE never
        empty_bucket(ctx, rid, bypass_governance=object_locked(ctx, rid))
    s3(ctx).delete_bucket(Bucket=rid)  # BucketNotEmpty without forceDestroy: backups are never lost silently


def object_locked(ctx: Ctx, name: str) -> bool:
    """Whether Object Lock is enabled on bucket ``name``."""
    try:
        config = s3(ctx).get_object_lock_configuration(Bucket=name)["ObjectLockConfiguration"]
    except ClientError as exc:
        if error_code(exc) == "ObjectLockConfigurationNotFoundError":
            return False
        raise
    return config.get("ObjectLockEnabled") == "Enabled"


OTHER_ACCOUNT = {STACK_TAG: "another AWS account"}


def bucket_owner(ctx: Ctx, name: str) -> dict[str, str] | None:
    """The tags of bucket ``name``; ``None`` when there is none. (In us-east-1 CreateBucket by its owner succeeds
    on an existing bucket: it would silently adopt it.)"""
    try:
        s3(ctx).head_bucket(Bucket=name)
    except ClientError as exc:
        if error_code(exc) in ("403", "Forbidden", "AccessDenied"):
            return OTHER_ACCOUNT  # S3 names are global: someone else's bucket
        if error_code(exc) in ("404", "NoSuchBucket", "NotFound"):
            return None
        raise
    try:
        return tags_of(s3(ctx).get_bucket_tagging(Bucket=name)["TagSet"])
    except ClientError as exc:
        if error_code(exc) == "NoSuchTagSet":
            return {}
        raise


@lookup("bucket")
def find_bucket(ctx: Ctx, p: Props) -> Found | None:
    tags = bucket_owner(ctx, p["bucket"])
    return None if tags is None else Found(p["bucket"], tags)


@lookup("bucket")
def find_bucket_setting(ctx: Ctx, p: Props) -> Found | None:
    """A bucket setting is written into its bucket: the bucket's tags say who owns it."""
    tags = bucket_owner(ctx, p["bucket"])
    return None if tags is None else Found(p["bucket"], tags, part_of="bucket")


def update_bucket(ctx: Ctx, rid: str, old: Props, new: Props) -> Props:
    """force_destroy lives in state only (it is read by delete)."""
    return {}


register("aws:s3/bucket:Bucket", Handler(create_bucket, delete_bucket, update_bucket, frozenset({"forceDestroy"}),
                                         tag=tag_bucket, lookup=find_bucket, named=True))


def bucket_config(put: Callable[[Ctx, Props], None], remove: Callable[[Ctx, str], None]) -> Handler:
    """A bucket sub-resource: create and update are the same PUT; delete restores the default."""

    def create(ctx: Ctx, p: Props) -> Created:
        put(ctx, p)
        return p["bucket"], {}

    def update(ctx: Ctx, rid: str, old: Props, new: Props) -> Props:
        put(ctx, new)
        return {}

    @ignore("NoSuchBucket")
    def delete(ctx: Ctx, rid: str, p: Props) -> None:
        remove(ctx, p["bucket"])

    return Handler(create, delete, update, frozenset(k for k in _ALL_KEYS if k != "bucket"), lookup=find_bucket_setting, named=True)


_ALL_KEYS = ("bucket", "rule", "rules", "objectLockEnabled", "versioningConfiguration", "blockPublicAcls", "blockPublicPolicy",
             "ignorePublicAcls", "restrictPublicBuckets", "policy", "eventbridge", "targetBucket", "targetPrefix", "role")


def _lifecycle_rule(r: Props) -> dict[str, Any]:
    rule: dict[str, Any] = {"ID": r["id"], "Status": r["status"], "Filter": {"Prefix": (r.get("filter") or {}).get("prefix", "")}}
    if r.get("noncurrentVersionTransitions"):
        rule["NoncurrentVersionTransitions"] = [
            {"NoncurrentDays": ints(t["noncurrentDays"]), "StorageClass": t["storageClass"]}
            for t in r["noncurrentVersionTransitions"]]
    if r.get("expiration"):
        rule["Expiration"] = {"Days": ints(r["expiration"]["days"])}
    if r.get("noncurrentVersionExpiration"):
        rule["NoncurrentVersionExpiration"] = {"NoncurrentDays": ints(r["noncurrentVersionExpiration"]["noncurrentDays"])}
    if r.get("abortIncompleteMultipartUpload"):
        rule["AbortIncompleteMultipartUpload"] = {
            "DaysAfterInitiation": ints(r["abortIncompleteMultipartUpload"]["daysAfterInitiation"])}
    return rule


def _sse_rule(r: Props) -> dict[str, Any]:
    default = r["applyServerSideEncryptionByDefault"]
    sse: dict[str, Any] = {"SSEAlgorithm": default["sseAlgorithm"]}
    if default.get("kmsMasterKeyId"):
        sse["KMSMasterKeyID"] = default["kmsMasterKeyId"]
    return {"ApplyServerSideEncryptionByDefault": sse, "BucketKeyEnabled": bool(r.get("bucketKeyEnabled"))}


register("aws:s3/bucketVersioning:BucketVersioning", bucket_config(
    lambda ctx, p: s3(ctx).put_bucket_versioning(
        Bucket=p["bucket"], VersioningConfiguration={"Status": p["versioningConfiguration"]["status"]}),
    # Like Pulumi: versioning cannot be switched off, only suspended (and not at all under Object Lock).
    lambda ctx, b: None if object_locked(ctx, b) else s3(ctx).put_bucket_versioning(
        Bucket=b, VersioningConfiguration={"Status": "Suspended"})))

register("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", bucket_config(
    lambda ctx, p: s3(ctx).put_bucket_encryption(
        Bucket=p["bucket"], ServerSideEncryptionConfiguration={"Rules": [_sse_rule(r) for r in p["rules"]]}),
    lambda ctx, b: s3(ctx).delete_bucket_encryption(Bucket=b)))

register("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", bucket_config(
    lambda ctx, p: s3(ctx).put_bucket_lifecycle_configuration(
        Bucket=p["bucket"], LifecycleConfiguration={"Rules": [_lifecycle_rule(r) for r in p["rules"]]}),
    lambda ctx, b: s3(ctx).delete_bucket_lifecycle(Bucket=b)))

register("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", bucket_config(
    lambda ctx, p: s3(ctx).put_public_access_block(Bucket=p["bucket"], PublicAccessBlockConfiguration={
        k[0].upper() + k[1:]: bool(p.get(k)) for k in
        ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")}),
    lambda ctx, b: s3(ctx).delete_public_access_block(Bucket=b)))

register("aws:s3/bucketOwnershipControls:BucketOwnershipControls", bucket_config(
    lambda ctx, p: s3(ctx).put_bucket_ownership_controls(
        Bucket=p["bucket"], OwnershipControls={"Rules": [{"ObjectOwnership": p["rule"]["objectOwnership"]}]}),
    lambda ctx, b: s3(ctx).delete_bucket_ownership_controls(Bucket=b)))

register("aws:s3/bucketPolicy:BucketPolicy", bucket_config(
    lambda ctx, p: s3(ctx).put_bucket_policy(Bucket=p["bucket"], Policy=p["policy"]),
    lambda ctx, b: s3(ctx).delete_bucket_policy(Bucket=b)))

register("aws:s3/bucketNotification:BucketNotification", bucket_config(
    lambda ctx, p: s3(ctx).put_bucket_notification_configuration(
        Bucket=p["bucket"], NotificationConfiguration={"EventBridgeConfiguration": {}} if p.get("eventbridge") else {}),
    lambda ctx, b: s3(ctx).put_bucket_notification_configuration(Bucket=b, NotificationConfiguration={})))

# Server access logging: S3 checks the target bucket's policy lets logging.s3.amazonaws.com write.
register("aws:s3/bucketLogging:BucketLogging", bucket_config(
    lambda ctx, p: s3(ctx).put_bucket_logging(Bucket=p["bucket"], BucketLoggingStatus={"LoggingEnabled": {
        "TargetBucket": p["targetBucket"], "TargetPrefix": p.get("targetPrefix") or ""}}),
    lambda ctx, b: s3(ctx).put_bucket_logging(Bucket=b, BucketLoggingStatus={})))

# Object Lock: enabled when the bucket is created (objectLockEnabled); this resource sets the default retention.
register("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration", bucket_config(
    lambda ctx, p: s3(ctx).put_object_lock_configuration(Bucket=p["bucket"], ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {
            "Mode": p["rule"]["defaultRetention"]["mode"], "Days": ints(p["rule"]["defaultRetention"]["days"])}}}),
    # Object Lock cannot be switched off: the default retention is removed (versions keep their own).
    lambda ctx, b: s3(ctx).put_object_lock_configuration(Bucket=b, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled"})))



def _replication_rule(r: Props) -> dict[str, Any]:
    dest = r["destination"]
    rule: dict[str, Any] = {"ID": r.get("id") or "", "Status": r["status"], "Priority": ints(r.get("priority") or 0),
                            "Filter": {"Prefix": (r.get("filter") or {}).get("prefix", "")},
                            "DeleteMarkerReplication": {
                                "Status": (r.get("deleteMarkerReplication") or {}).get("status", "Disabled")},
                            "Destination": {"Bucket": dest["bucket"]}}
    if dest.get("storageClass"):
        rule["Destination"]["StorageClass"] = dest["storageClass"]
    if (dest.get("encryptionConfiguration") or {}).get("replicaKmsKeyId"):
        rule["Destination"]["EncryptionConfiguration"] = {
            "ReplicaKmsKeyID": dest["encryptionConfiguration"]["replicaKmsKeyId"]}
    sse = ((r.get("sourceSelectionCriteria") or {}).get("sseKmsEncryptedObjects") or {}).get("status")
    if sse:
        rule["SourceSelectionCriteria"] = {"SseKmsEncryptedObjects": {"Status": sse}}
    return rule


# Cross-region replication (dr_region): written into the source bucket; S3 requires both buckets versioned.
register("aws:s3/bucketReplicationConfig:BucketReplicationConfig", bucket_config(
    lambda ctx, p: s3(ctx).put_bucket_replication(Bucket=p["bucket"], ReplicationConfiguration={
        "Role": p["role"], "Rules": [_replication_rule(r) for r in p["rules"]]}),
    lambda ctx, b: s3(ctx).delete_bucket_replication(Bucket=b)))


# --- replace-forcing inputs (ForceNew in terraform-provider-aws, bridged by pulumi-aws) ----------------

replaces_on("aws:s3/bucket:Bucket", "bucket", "bucketPrefix", "objectLockEnabled", unique=("bucket",))
for _token in ("BucketVersioning", "BucketServerSideEncryptionConfiguration", "BucketLifecycleConfiguration",
               "BucketPublicAccessBlock", "BucketOwnershipControls", "BucketPolicy", "BucketNotification",
               "BucketLogging", "BucketObjectLockConfiguration", "BucketReplicationConfig"):
    # settings written into the bucket: one of each per bucket
    replaces_on(f"aws:s3/{_token[0].lower()}{_token[1:]}:{_token}", "bucket", "expectedBucketOwner", unique=("bucket",))
