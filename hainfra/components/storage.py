"""Storage: the encrypted, versioned backup bucket with lifecycle rules, and the stack's log bucket."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from hainfra import documents, naming
from hainfra.components import document
from hainfra.config import StackConfig

# Noncurrent log objects (overwritten or deleted) are kept this long: enough to notice tampering.
LOG_NONCURRENT_DAYS = 30


@dataclass(kw_only=True)
class StorageArgs:
    config: StackConfig
    key_arn: pulumi.Input[str]
    account_id: str  # S3 names are global: the bucket name carries the account
    partition: str = "aws"


class Storage(pulumi.ComponentResource):
    """Backup bucket (versioning, SSE-KMS, lifecycle, PAB, TLS-only, owner-enforced, EventBridge, access logs)
    and the log bucket receiving the ALB's access logs and the backup bucket's server access logs."""

    def __init__(self, name: str, args: StorageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("hainfra:storage:Storage", name, None, opts)
        c = args.config
        child = pulumi.ResourceOptions(parent=self)
        bucket_name = naming.bucket_name(c, args.account_id)
        n = naming.name(c, "backup")
        # Backups survive a prod teardown: only non-prod buckets are emptied on destroy.
        self.bucket = aws.s3.Bucket(n, bucket=bucket_name, force_destroy=not c.is_prod,
                                    tags=naming.tags(c, bucket_name), opts=child)
        pab, self.versioning = self._guard(n, self.bucket)
        bucket_opts = pulumi.ResourceOptions(parent=self, depends_on=[self.bucket])
        aws.s3.BucketServerSideEncryptionConfiguration(
            n, bucket=self.bucket.id,
            rules=[aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm="aws:kms", kms_master_key_id=args.key_arn),
                bucket_key_enabled=True)],
            opts=bucket_opts)
        aws.s3.BucketLifecycleConfiguration(
            n, bucket=self.bucket.id,
            rules=[aws.s3.BucketLifecycleConfigurationRuleArgs(
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
                    days_after_initiation=c.abort_upload_days),
            )],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.versioning]))
        aws.s3.BucketPolicy(n, bucket=self.bucket.id,
                            policy=document(documents.tls_only_bucket_policy, bucket_arn=self.bucket.arn),
                            opts=pulumi.ResourceOptions(parent=self, depends_on=[pab]))
        self.notification = aws.s3.BucketNotification(n, bucket=self.bucket.id, eventbridge=True, opts=bucket_opts)
        self._log_bucket(args)
        self.register_outputs({"bucket_name": self.bucket.bucket, "bucket_arn": self.bucket.arn,
                               "log_bucket_name": self.log_bucket.bucket})

    def _guard(self, n: str, bucket: aws.s3.Bucket) -> tuple[aws.s3.BucketPublicAccessBlock, aws.s3.BucketVersioning]:
        """What every bucket of the stack has: owner-enforced objects, all public access blocked, versioning."""
        opts = pulumi.ResourceOptions(parent=self, depends_on=[bucket])
        aws.s3.BucketOwnershipControls(
            n, bucket=bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"), opts=opts)
        pab = aws.s3.BucketPublicAccessBlock(
            n, bucket=bucket.id, block_public_acls=True, block_public_policy=True,
            ignore_public_acls=True, restrict_public_buckets=True, opts=opts)
        versioning = aws.s3.BucketVersioning(
            n, bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"), opts=opts)
        return pab, versioning

    def _log_bucket(self, args: StorageArgs) -> None:
        """Log bucket: SSE-S3 (ALB access logs cannot use a KMS key), versioned, PAB, TLS-only, lifecycle."""
        c = args.config
        n = naming.name(c, "logs")
        log_name = naming.log_bucket_name(c, args.account_id)
        self.log_bucket = aws.s3.Bucket(n, bucket=log_name, force_destroy=not c.is_prod,
                                        tags=naming.tags(c, log_name), opts=pulumi.ResourceOptions(parent=self))
        pab, versioning = self._guard(n, self.log_bucket)
        opts = pulumi.ResourceOptions(parent=self, depends_on=[self.log_bucket])
        aws.s3.BucketServerSideEncryptionConfiguration(
            n, bucket=self.log_bucket.id,
            rules=[aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm="AES256"))],
            opts=opts)
        aws.s3.BucketLifecycleConfiguration(
            n, bucket=self.log_bucket.id,
            rules=[aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="log-retention", status="Enabled",
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=c.retention_days),
                noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                    noncurrent_days=LOG_NONCURRENT_DAYS),
                abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                    days_after_initiation=c.abort_upload_days),
            )],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning]))
        access_prefix = f"s3-access/{naming.bucket_name(c, args.account_id)}/"
        self.log_policy = aws.s3.BucketPolicy(
            n, bucket=self.log_bucket.id,
            policy=document(documents.log_bucket_policy, bucket_arn=self.log_bucket.arn, account_id=args.account_id,
                            region=c.region, alb_prefix=naming.alb_log_prefix(c), source_bucket_arn=self.bucket.arn,
                            access_log_prefix=access_prefix, partition=args.partition),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[pab]))
        aws.s3.BucketLogging(
            naming.name(c, "backup"), bucket=self.bucket.id, target_bucket=self.log_bucket.id,
            target_prefix=access_prefix, opts=pulumi.ResourceOptions(parent=self, depends_on=[self.log_policy]))
