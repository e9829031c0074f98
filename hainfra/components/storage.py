"""Storage: the encrypted, versioned backup bucket with lifecycle rules."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from hainfra import documents, naming
from hainfra.components import document
from hainfra.config import StackConfig


@dataclass
class StorageArgs:
    config: StackConfig
    key_arn: pulumi.Input[str]
    account_id: str  # S3 names are global: the bucket name carries the account


class Storage(pulumi.ComponentResource):
    """Backup bucket: versioning, SSE-KMS, lifecycle, public access block, TLS-only, owner-enforced, EventBridge."""

    def __init__(self, name: str, args: StorageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("hainfra:storage:Storage", name, None, opts)
        c = args.config
        child = pulumi.ResourceOptions(parent=self)
        bucket_name = naming.bucket_name(c, args.account_id)
        n = naming.name(c, "backup")
        # Backups survive a prod teardown: only non-prod buckets are emptied on destroy.
        self.bucket = aws.s3.Bucket(n, bucket=bucket_name, force_destroy=not c.is_prod,
                                    tags=naming.tags(c, bucket_name), opts=child)
        bucket_opts = pulumi.ResourceOptions(parent=self, depends_on=[self.bucket])
        aws.s3.BucketOwnershipControls(
            n, bucket=self.bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"), opts=bucket_opts)
        pab = aws.s3.BucketPublicAccessBlock(
            n, bucket=self.bucket.id, block_public_acls=True, block_public_policy=True,
            ignore_public_acls=True, restrict_public_buckets=True, opts=bucket_opts)
        self.versioning = aws.s3.BucketVersioning(
            n, bucket=self.bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            opts=bucket_opts)
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
        self.register_outputs({"bucket_name": self.bucket.bucket, "bucket_arn": self.bucket.arn})
