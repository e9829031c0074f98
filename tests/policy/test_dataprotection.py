"""Issue 19's data-protection rules: each catches its broken program and passes its fixed twin (any program)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pulumi_aws as aws

from hainfra import documents
from hainfra.config import StackConfig
from hainfra.policy import check, check_stack
from tests.policy.test_hardening import TAGS

ROLE = "arn:aws:iam::123456789012:role/app"


def secret(*, rotation: bool = False, days: int = 30, policy: list[str] | None = None) -> None:
    s = aws.secretsmanager.Secret("s", kms_key_id="arn:key", tags=TAGS)
    if rotation:
        aws.secretsmanager.SecretRotation("r", secret_id=s.id, rotation_lambda_arn="arn:aws:lambda:::function:f",
                                          rotation_rules={"automatically_after_days": days})
    if policy is not None:
        aws.secretsmanager.SecretPolicy("p", secret_arn=s.arn,
                                        policy=json.dumps(documents.secret_policy(allowed_arns=policy)))


def locked_bucket(*, days: int | None = 30, log_target: bool = False) -> None:
    b = aws.s3.Bucket("backups", tags=TAGS)
    if days:
        aws.s3.BucketObjectLockConfiguration("lock", bucket=b.id, rule={
            "default_retention": {"mode": "GOVERNANCE", "days": days}})
    if log_target:
        source = aws.s3.Bucket("data", tags=TAGS)
        aws.s3.BucketLogging("l", bucket=source.id, target_bucket=b.id, target_prefix="x/")


def replicated(*, rule: bool = True, versioned: bool = True, sse: bool = True, replica_key: bool = True) -> None:
    """A source bucket replicating to a replica declared in the same program (another region)."""
    source = aws.s3.Bucket("backups", tags=TAGS)
    replica = aws.s3.Bucket("replica", region="us-west-2", tags=TAGS)
    if versioned:
        aws.s3.BucketVersioning("rv", region="us-west-2", bucket=replica.id,
                                versioning_configuration={"status": "Enabled"})
    if sse:
        aws.s3.BucketServerSideEncryptionConfiguration("rsse", region="us-west-2", bucket=replica.id, rules=[{
            "apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms", "kms_master_key_id": "arn:dr"}}])
    if rule:
        encryption = {"encryption_configuration": {"replica_kms_key_id": "arn:dr"}} if replica_key else {}
        aws.s3.BucketReplicationConfig("repl", bucket=source.id, role="arn:aws:iam::123456789012:role/r", rules=[{
            "id": "dr", "status": "Enabled", "filter": {"prefix": ""},
            "delete_marker_replication": {"status": "Enabled"},
            "destination": {"bucket": replica.arn, **encryption}}])


def permission(*, scoped: bool) -> None:
    extra = {"source_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:s", "source_account": "123456789012"}
    aws.lambda_.Permission("perm", function="f", action="lambda:InvokeFunction",
                           principal="secretsmanager.amazonaws.com", **(extra if scoped else {}))


DATA_PROTECTION: dict[str, tuple[Callable[[], object], Callable[[], object]]] = {
    "secret-rotation": (lambda: secret(rotation=True, days=400), lambda: secret(rotation=True)),
    "secret-resource-policy": (lambda: secret(policy=["arn:aws:iam::123456789012:role/*"]),
                               lambda: secret(policy=[ROLE])),
    "s3-object-lock": (lambda: locked_bucket(days=None), locked_bucket),
    "lambda-permission-scoped": (lambda: permission(scoped=False), lambda: permission(scoped=True)),
    "s3-replication": (lambda: replicated(rule=False), replicated),
    "s3-replication-protected": (lambda: replicated(versioned=False), replicated),
}


def rules_hit(program: Callable[[], object]) -> set[str]:
    findings = check(program, None)
    return set(findings[findings["status"] == "violation"]["rule"])


def test_a_secret_without_rotation_or_policy_is_named() -> None:
    assert {"secret-rotation", "secret-resource-policy"} <= rules_hit(secret)


def test_a_log_target_needs_no_lock() -> None:
    hits = rules_hit(lambda: locked_bucket(days=None, log_target=True))
    assert "s3-object-lock" in hits  # the source bucket "data" is not locked …
    assert "s3-object-lock" not in rules_hit(lambda: (locked_bucket(days=None, log_target=True),
                                                     aws.s3.BucketObjectLockConfiguration(
                                                         "lock2", bucket="data", rule={"default_retention": {
                                                             "mode": "GOVERNANCE", "days": 1}})))


def test_hainfra_prod_passes_and_dev_is_only_told() -> None:
    prod = check_stack(StackConfig.load({"environment": "prod", "dr_region": "us-west-2"}, env={}))
    ours = prod[prod["rule"].isin(DATA_PROTECTION)]
    assert ours.empty, ours.to_string()  # findings list only what fails
    dev = check_stack(StackConfig.load({}, env={}))
    lock = dev[dev["rule"] == "s3-object-lock"]
    assert len(lock) == 1 and not lock["mandatory"].any(), "dev backups unlocked by default: a finding, not a block"



def test_a_replica_weaker_than_its_source_is_a_block() -> None:
    """Replication configured to an unencrypted or unversioned replica, or without a replica key: mandatory."""
    for broken in (lambda: replicated(sse=False), lambda: replicated(versioned=False),
                   lambda: replicated(replica_key=False)):
        findings = check(broken, None)
        hits = findings[(findings["rule"] == "s3-replication-protected") & (findings["status"] == "violation")]
        assert len(hits) >= 1 and hits["mandatory"].all(), findings.to_string()


def test_prod_without_dr_region_is_told_not_blocked_and_dev_is_not_told() -> None:
    prod = check_stack(StackConfig.load({"environment": "prod"}, env={}))
    replication = prod[prod["rule"] == "s3-replication"]
    assert len(replication) == 1 and not replication["mandatory"].any(), replication.to_string()
    assert "dr_region" in replication["message"].iloc[0] and "dr_region" in replication["fix"].iloc[0]
    dev = check_stack(StackConfig.load({}, env={}))
    assert dev[dev["rule"].str.startswith("s3-replication")].empty
