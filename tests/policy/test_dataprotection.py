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
    prod = check_stack(StackConfig.load({"environment": "prod"}, env={}))
    ours = prod[prod["rule"].isin(DATA_PROTECTION)]
    assert ours.empty, ours.to_string()  # findings list only what fails
    dev = check_stack(StackConfig.load({}, env={}))
    lock = dev[dev["rule"] == "s3-object-lock"]
    assert len(lock) == 1 and not lock["mandatory"].any(), "dev backups unlocked by default: a finding, not a block"

