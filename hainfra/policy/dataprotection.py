"""Policy rules for data protection (issue 19): secret rotation and resource policy, locked backups, scoped
function permissions. They read any program's resource graph; imported by :mod:`hainfra.policy.rules`."""

from __future__ import annotations

from collections.abc import Iterator

from hainfra import documents
from hainfra.aws import policy_doc
from hainfra.config import MAX_ROTATION_DAYS, StackConfig
from hainfra.policy.graph import Graph, Resource
from hainfra.policy.rules import Hit, _bucket_configs, log_targets, rule

BUCKET_TYPES = ("s3/bucket:Bucket", "s3/bucketV2:BucketV2")
LOCK_TYPES = ("s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
              "s3/bucketObjectLockConfigurationV2:BucketObjectLockConfigurationV2")


def _of_secret(g: Graph, secret: Resource, key: str, suffix: str) -> list[Resource]:
    return [r for r in g.of(suffix) if g.ref(r.inputs.get(key)) is secret]


@rule("secret-rotation", "high", "declare aws.secretsmanager.SecretRotation(secret_id=..., rotation_lambda_arn=..., "
      f"rotation_rules={{'automatically_after_days': <1-{MAX_ROTATION_DAYS}>}}) (hainfra: secret_rotation_days)",
      "SecurityHub SecretsManager.1/.4, CKV2_AWS_57, CKV_AWS_304; Prowler secretsmanager_automatic_rotation_enabled",
      prod_only_mandatory=True)
def secret_rotation(g: Graph, c: StackConfig | None) -> Iterator[Hit]:
    for secret in g.of("secretsmanager/secret:Secret"):
        rotations = _of_secret(g, secret, "secretId", "secretsmanager/secretRotation:SecretRotation")
        if not rotations:
            yield secret, "the secret is never rotated"
        for r in rotations:
            days = (r.inputs.get("rotationRules") or {}).get("automaticallyAfterDays")
            if not r.inputs.get("rotationLambdaArn"):
                yield r, "rotation names no function"
            if days is not None and float(days) > MAX_ROTATION_DAYS:
                yield r, f"rotates every {int(float(days))} days; at most {MAX_ROTATION_DAYS}"


@rule("secret-resource-policy", "high", "declare aws.secretsmanager.SecretPolicy with hainfra.documents.secret_policy: "
      "Deny secretsmanager:* to Principal '*' with StringNotEquals aws:PrincipalArn [the readers, the rotation role, "
      "the deployer, the administrators]", "Prowler secretsmanager_has_restrictive_resource_policy",
      prod_only_mandatory=True)
def secret_resource_policy(g: Graph, c: StackConfig | None) -> Iterator[Hit]:
    for secret in g.of("secretsmanager/secret:Secret"):
        policies = _of_secret(g, secret, "secretArn", "secretsmanager/secretPolicy:SecretPolicy")
        exempt = [documents.secret_exempt(policy_doc(p.inputs.get("policy"))) for p in policies]
        if not any(e is not None for e in exempt):
            yield secret, "no resource policy denies principals other than the named ones"
        for p, names in zip(policies, exempt, strict=True):
            if names is not None and (not names or any("*" in n for n in names)):
                yield p, f"the exemption list must name IAM roles/users exactly (found {names})"


@rule("s3-object-lock", "medium", "declare aws.s3.BucketObjectLockConfiguration(bucket=..., rule={'default_retention': "
      "{'mode': 'GOVERNANCE', 'days': N}}) (hainfra: backup_lock_days; log buckets are exempt)",
      "SecurityHub S3.15; Prowler s3_bucket_object_lock", prod_only_mandatory=True)
def s3_object_lock(g: Graph, c: StackConfig | None) -> Iterator[Hit]:
    """Data buckets keep their versions against deletion; a log bucket (an access-log target) is exempt:
    AWS log delivery needs none and its lifecycle expires logs daily."""
    targets = log_targets(g)
    for b in g.of(*BUCKET_TYPES):
        if id(b) in targets:
            continue
        locks = _bucket_configs(g, b, *LOCK_TYPES)
        if not any(((r.inputs.get("rule") or {}).get("defaultRetention") or {}).get("days") or
                   ((r.inputs.get("rule") or {}).get("defaultRetention") or {}).get("years") for r in locks):
            yield b, "no Object Lock default retention: any version can be deleted at once"


@rule("lambda-permission-scoped", "high", "set source_arn (and source_account) on aws.lambda_.Permission for a service "
      "principal", "CKV_AWS_364, confused deputy (Lambda Developer Guide, resource-based policies)")
def lambda_permission_scoped(g: Graph, c: StackConfig | None) -> Iterator[Hit]:
    for p in g.of("lambda/permission:Permission"):
        if str(p.inputs.get("principal", "")).endswith(".amazonaws.com") and not (
                p.inputs.get("sourceArn") and p.inputs.get("sourceAccount")):
            yield p, f"{p.inputs.get('principal')} may invoke the function for any resource or account"


REPLICATION_TYPES = ("s3/bucketReplicationConfig:BucketReplicationConfig",)


def _destinations(g: Graph) -> list[tuple[Resource, Resource | None, dict]]:
    """(replication configuration, destination bucket or None when not in the program, the rule's destination)."""
    return [(r, g.ref(rule_.get("destination", {}).get("bucket")), rule_.get("destination") or {})
            for r in g.of(*REPLICATION_TYPES) for rule_ in r.inputs.get("rules") or []
            if rule_.get("status") == "Enabled"]


@rule("s3-replication", "medium", "set dr_region (hainfra), or declare aws.s3.BucketReplicationConfig to a bucket in "
      "another region", "CKV_AWS_144; Prowler s3_bucket_cross_region_replication; SecurityHub S3.7",
      mandatory=False)
def s3_replication(g: Graph, c: StackConfig | None) -> Iterator[Hit]:
    """A prod data bucket has a copy in a second region (a finding, never a block: replication is opt-in)."""
    if c is not None and not c.is_prod:
        return
    targets, replicas = log_targets(g), {id(d) for _, d, _ in _destinations(g)}
    for b in g.of(*BUCKET_TYPES):
        if id(b) in targets or id(b) in replicas:
            continue
        if not any(_destinations_of(g, b)):
            yield b, "backups live in one region only (dr_region is empty)"


def _destinations_of(g: Graph, bucket: Resource) -> list[Resource]:
    return [r for r in _bucket_configs(g, bucket, *REPLICATION_TYPES)
            if any(rule_.get("status") == "Enabled" for rule_ in r.inputs.get("rules") or [])]


@rule("s3-replication-protected", "high", "give the replica bucket aws.s3.BucketVersioning(status='Enabled') and SSE-KMS "
      "with a key of its region, and set replica_kms_key_id in the rule's destination encryption_configuration",
      "CKV_AWS_144, SecurityHub S3.7/S3.17")
def s3_replication_protected(g: Graph, c: StackConfig | None) -> Iterator[Hit]:
    """Replication configured to a replica weaker than its source (unversioned or unencrypted) is refused."""
    for r, dest, spec in _destinations(g):
        if not (spec.get("encryptionConfiguration") or {}).get("replicaKmsKeyId"):
            yield r, "replicas are not encrypted with a KMS key (no replica_kms_key_id)"
        if dest is None:
            continue  # a bucket outside the program: its settings cannot be read here
        versioned = _bucket_configs(g, dest, "s3/bucketVersioning:BucketVersioning",
                                    "s3/bucketVersioningV2:BucketVersioningV2")
        if not any((v.inputs.get("versioningConfiguration") or {}).get("status") == "Enabled" for v in versioned):
            yield dest, "the replica bucket is not versioned (S3 refuses replication to it)"
        sse = [rule_.get("applyServerSideEncryptionByDefault") or {} for s in _bucket_configs(
            g, dest, "s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            "s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2")
            for rule_ in s.inputs.get("rules") or []]
        if not any(d.get("sseAlgorithm") in ("aws:kms", "aws:kms:dsse") and d.get("kmsMasterKeyId") for d in sse):
            yield dest, "the replica bucket is not encrypted with a customer-managed KMS key"
