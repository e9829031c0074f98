"""Storage: the encrypted, versioned backup bucket with lifecycle rules (locked in prod), and the stack's log bucket."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from hainfra import documents, naming
from hainfra.components import document
from hainfra.config import StackConfig

# Noncurrent log objects (overwritten or deleted) are kept this long: enough to notice tampering.
LOG_NONCURRENT_DAYS = 30
# Object Lock mode of the backups: GOVERNANCE lets a principal holding s3:BypassGovernanceRetention
# remove a version early (an emergency, a non-prod teardown); COMPLIANCE would let nobody, not even root.
BACKUP_LOCK_MODE = "GOVERNANCE"
# The one replication rule of the backup bucket (verify looks it up by this id).
REPLICATION_RULE = "dr-replica"


@dataclass(kw_only=True)
class StorageArgs:
    config: StackConfig
    key_arn: pulumi.Input[str]
    account_id: str  # S3 names are global: the bucket name carries the account
    partition: str = "aws"



def _kms_rule(key_arn: pulumi.Input[str]) -> aws.s3.BucketServerSideEncryptionConfigurationRuleArgs:
    """SSE-KMS under ``key_arn`` with S3 Bucket Keys (fewer KMS calls)."""
    return aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
        apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
            sse_algorithm="aws:kms", kms_master_key_id=key_arn),
        bucket_key_enabled=True)


def _backup_lifecycle(c: StackConfig) -> aws.s3.BucketLifecycleConfigurationRuleArgs:
    """Noncurrent backups: STANDARD_IA, then GLACIER, then expired; incomplete uploads aborted (source and replica)."""
    return aws.s3.BucketLifecycleConfigurationRuleArgs(
        id="backup-retention", status="Enabled",
        filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
        noncurrent_version_transitions=[
            aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionTransitionArgs(
                noncurrent_days=c.backup_ia_days, storage_class="STANDARD_IA"),
            aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionTransitionArgs(
                noncurrent_days=c.backup_glacier_days, storage_class="GLACIER"),
        ],
        noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
            noncurrent_days=c.backup_expire_days),
        abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
            days_after_initiation=c.abort_upload_days))


class Storage(pulumi.ComponentResource):
    """Backup bucket (versioning, SSE-KMS, lifecycle, PAB, TLS-only, owner-enforced, EventBridge, access logs,
    Object Lock when ``lock_days``) and the log bucket receiving the ALB's access logs and the backup bucket's
    server access logs."""

    def __init__(self, name: str, args: StorageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("hainfra:storage:Storage", name, None, opts)
        c = args.config
        n = naming.name(c, "backup")
        lock = c.lock_days > 0
        self.bucket = aws.s3.Bucket(n, bucket=naming.bucket_name(c, args.account_id), force_destroy=not c.is_prod,
                                    tags=naming.tags(c, naming.bucket_name(c, args.account_id)),
                                    opts=pulumi.ResourceOptions(parent=self))
        # Under Object Lock AWS refuses to suspend versioning: deleting the versioning resource (which suspends
        # it) would stop a teardown, so then it is only dropped from the stack (retain_on_delete).
        self.versioning, _ = self._guard(n, self.bucket, _kms_rule(args.key_arn), _backup_lifecycle(c),
                                         document(documents.tls_only_bucket_policy, bucket_arn=self.bucket.arn),
                                         keep_versioning=lock)
        bucket_opts = pulumi.ResourceOptions(parent=self, depends_on=[self.bucket, self.versioning])
        self._lock(n, self.bucket, c, bucket_opts)
        self.notification = aws.s3.BucketNotification(n, bucket=self.bucket.id, eventbridge=True, opts=bucket_opts)
        self.log_bucket, self.log_policy = self._log_bucket(args, self.bucket)
        if c.dr_enabled:
            self._replica(args)
        self.register_outputs({"bucket_name": self.bucket.bucket, "bucket_arn": self.bucket.arn,
                               "log_bucket_name": self.log_bucket.bucket})

    def _lock(self, n: str, bucket: aws.s3.Bucket, c: StackConfig, opts: pulumi.ResourceOptions,
              region: str | None = None) -> None:
        """Object Lock: every new version is locked for lock_days (deleting it is refused until then).

        Enabled by this resource on the versioned bucket (AWS allows it on existing buckets since 2023), never by
        the bucket's own object_lock_enabled, which the provider marks ForceNew: turning the lock on for a live
        stack would replace the bucket and lose every backup.
        """
        if c.lock_days > 0:
            aws.s3.BucketObjectLockConfiguration(
                n, region=region, bucket=bucket.id, object_lock_enabled="Enabled",
                rule=aws.s3.BucketObjectLockConfigurationRuleArgs(
                    default_retention=aws.s3.BucketObjectLockConfigurationRuleDefaultRetentionArgs(
                        mode=BACKUP_LOCK_MODE, days=c.lock_days)),
                opts=opts)

    def _replica(self, args: StorageArgs) -> None:
        """The backups' replica in ``dr_region``: a bucket with the source's protections under a key of that region,
        a least-privilege role for S3, and the replication rule (delete markers and SSE-KMS objects included).

        Each DR resource names its region itself (pulumi-aws 7's ``region`` argument): no second provider.
        """
        c, dr = args.config, args.config.dr_region
        n = naming.name(c, "backup-dr")
        child = pulumi.ResourceOptions(parent=self)
        self.dr_key = aws.kms.Key(
            n, region=dr, description=f"{c.project} {c.env_id}: backup replica in {dr}", enable_key_rotation=True,
            deletion_window_in_days=30 if c.is_prod else 7,
            policy=document(documents.dr_key_policy, account_id=args.account_id, partition=args.partition),
            tags=naming.tags(c, n), opts=child)
        aws.kms.Alias(n, region=dr, name=f"alias/{n}", target_key_id=self.dr_key.key_id, opts=child)
        name = naming.dr_bucket_name(c, args.account_id)
        self.dr_bucket = aws.s3.Bucket(n, region=dr, bucket=name, force_destroy=not c.is_prod,
                                       tags=naming.tags(c, name), opts=child)
        dr_versioning, _ = self._guard(n, self.dr_bucket, _kms_rule(self.dr_key.arn), _backup_lifecycle(c),
                                       document(documents.tls_only_bucket_policy, bucket_arn=self.dr_bucket.arn),
                                       keep_versioning=c.lock_days > 0, region=dr)
        self._lock(n, self.dr_bucket, c, pulumi.ResourceOptions(parent=self, depends_on=[dr_versioning]), region=dr)
        self._log_bucket(args, self.dr_bucket, region=dr)
        role_name = naming.name(c, "replication-role")
        role = aws.iam.Role(
            role_name, name=role_name, tags=naming.tags(c, role_name), opts=child,
            assume_role_policy=document(documents.assume_role, service="s3.amazonaws.com",
                                        account_id=args.account_id, source_arn=self.bucket.arn))
        policy = aws.iam.RolePolicy(
            role_name, name=naming.name(c, "replication-policy"), role=role.name, opts=child,
            policy=document(documents.replication_policy, source_bucket_arn=self.bucket.arn,
                            dest_bucket_arn=self.dr_bucket.arn, source_key_arn=args.key_arn,
                            dest_key_arn=self.dr_key.arn, source_region=c.region, dest_region=dr))
        r = aws.s3
        self.replication = r.BucketReplicationConfig(
            naming.name(c, "backup"), bucket=self.bucket.id, role=role.arn,
            rules=[r.BucketReplicationConfigRuleArgs(
                id=REPLICATION_RULE, status="Enabled", priority=1,
                filter=r.BucketReplicationConfigRuleFilterArgs(prefix=""),
                delete_marker_replication=r.BucketReplicationConfigRuleDeleteMarkerReplicationArgs(status="Enabled"),
                source_selection_criteria=r.BucketReplicationConfigRuleSourceSelectionCriteriaArgs(
                    sse_kms_encrypted_objects=r.BucketReplicationConfigRuleSourceSelectionCriteriaSseKmsEncryptedObjectsArgs(
                        status="Enabled")),
                destination=r.BucketReplicationConfigRuleDestinationArgs(
                    bucket=self.dr_bucket.arn, storage_class="STANDARD",
                    encryption_configuration=r.BucketReplicationConfigRuleDestinationEncryptionConfigurationArgs(
                        replica_kms_key_id=self.dr_key.arn)))],
            # S3 refuses a replication rule unless both buckets are versioned; the role must be able to act
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.versioning, dr_versioning, policy]))

    def _guard(self, n: str, bucket: aws.s3.Bucket,
               sse: aws.s3.BucketServerSideEncryptionConfigurationRuleArgs, lifecycle: aws.s3.BucketLifecycleConfigurationRuleArgs,
               policy: pulumi.Input[str], keep_versioning: bool = False, region: str | None = None,
               ) -> tuple[aws.s3.BucketVersioning, aws.s3.BucketPolicy]:
        """What every bucket of the stack has: owner-enforced objects, all public access blocked, versioning,
        default encryption, a lifecycle (after versioning, which it acts on) and a policy (after the public
        access block, which would otherwise refuse a policy S3 judges public). ``region``: the bucket's, when it is
        not the provider's (the DR replica)."""
        opts = pulumi.ResourceOptions(parent=self, depends_on=[bucket])
        aws.s3.BucketOwnershipControls(
            n, region=region, bucket=bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"), opts=opts)
        pab = aws.s3.BucketPublicAccessBlock(
            n, region=region, bucket=bucket.id, block_public_acls=True, block_public_policy=True,
            ignore_public_acls=True, restrict_public_buckets=True, opts=opts)
        versioning = aws.s3.BucketVersioning(
            n, region=region, bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(retain_on_delete=keep_versioning)))
        aws.s3.BucketServerSideEncryptionConfiguration(n, region=region, bucket=bucket.id, rules=[sse], opts=opts)
        aws.s3.BucketLifecycleConfiguration(n, region=region, bucket=bucket.id, rules=[lifecycle],
                                            opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning]))
        return versioning, aws.s3.BucketPolicy(n, region=region, bucket=bucket.id, policy=policy,
                                               opts=pulumi.ResourceOptions(parent=self, depends_on=[pab]))

    def _log_bucket(self, args: StorageArgs, source: aws.s3.Bucket, region: str | None = None,
                    ) -> tuple[aws.s3.Bucket, aws.s3.BucketPolicy]:
        """Log bucket: SSE-S3 (ALB access logs cannot use a KMS key), versioned, PAB, TLS-only, lifecycle; it takes
        ``source``'s server access logs (S3 delivers them only within a region: the DR replica has its own, in
        ``region``, which no ALB writes to)."""
        c = args.config
        n = naming.name(c, "logs-dr" if region else "logs")
        log_name = naming.log_bucket_name(c, args.account_id, region)
        log_bucket = aws.s3.Bucket(n, region=region, bucket=log_name, force_destroy=not c.is_prod,
                                   tags=naming.tags(c, log_name), opts=pulumi.ResourceOptions(parent=self))
        source_name = naming.dr_bucket_name(c, args.account_id) if region else naming.bucket_name(c, args.account_id)
        access_prefix = f"s3-access/{source_name}/"
        _, policy = self._guard(n, log_bucket, aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
            apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                sse_algorithm="AES256")), aws.s3.BucketLifecycleConfigurationRuleArgs(
            id="log-retention", status="Enabled",
            filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
            expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=c.retention_days),
            noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                noncurrent_days=LOG_NONCURRENT_DAYS),
            abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                days_after_initiation=c.abort_upload_days)),
            document(documents.log_bucket_policy, bucket_arn=log_bucket.arn, account_id=args.account_id,
                     region=region or c.region, alb_prefix=None if region else naming.alb_log_prefix(c),
                     source_bucket_arn=source.arn, access_log_prefix=access_prefix, partition=args.partition),
            region=region)
        aws.s3.BucketLogging(
            naming.name(c, "backup-dr" if region else "backup"), region=region, bucket=source.id,
            target_bucket=log_bucket.id, target_prefix=access_prefix,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]))
        return log_bucket, policy
