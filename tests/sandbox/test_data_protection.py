"""Issue 19's data protection on the emulator: the secret's resource policy and rotation, locked backups."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from botocore.exceptions import ClientError

from hainfra import documents, lambdas, naming, verify
from hainfra.aws import Ctx
from hainfra.config import StackConfig
from hainfra.engines import get_engine
from hainfra.lambdas import rotate_secret

pytestmark = pytest.mark.slow
CHECKS = ["secrets.rotation", "secrets.resource-policy", "storage.object-lock"]


def test_rotation_deployed_and_run_and_a_locked_dev_bucket_still_tears_down(
        make_config: Callable[..., StackConfig]) -> None:
    config = make_config(backup_lock_days=1, secret_rotation_days=7)
    engine = get_engine("sandbox", config)
    outputs = engine.up().outputs
    ctx = Ctx(config.aws_endpoint_url, config.region)
    sm, s3 = ctx.client("secretsmanager"), ctx.client("s3")

    described = sm.describe_secret(SecretId=outputs["secret_arn"])
    fn = ctx.client("lambda").get_function(FunctionName=naming.name(config, naming.ROTATION_FUNCTION_KIND))
    assert described["RotationEnabled"] and described["RotationRules"]["AutomaticallyAfterDays"] == 7
    assert described["RotationLambdaARN"] == fn["Configuration"]["FunctionArn"]
    assert fn["Configuration"]["CodeSha256"] == lambdas.code_hash(lambdas.package(lambdas.ROTATE_SECRET))
    assert rotate_secret.valid_value(sm.get_secret_value(SecretId=outputs["secret_arn"])["SecretString"])
    assert "AWSPREVIOUS" in {s for stages in described["VersionIdsToStages"].values() for s in stages}, \
        "the deploy rotated once with the deployed function (the emulator runs hainfra's own zip)"

    policy = json.loads(sm.get_resource_policy(SecretId=outputs["secret_arn"])["ResourcePolicy"])
    exempt = policy["Statement"][0]["Condition"]["StringNotEquals"]["aws:PrincipalArn"]
    assert outputs["instance_role_arn"] in exempt and len(exempt) == 3, exempt  # + rotation role, deployer

    lock = s3.get_object_lock_configuration(Bucket=outputs["bucket_name"])["ObjectLockConfiguration"]
    retention = lock["Rule"]["DefaultRetention"]
    assert (retention["Mode"], retention["Days"]) == ("GOVERNANCE", 1)
    put = s3.put_object(Bucket=outputs["bucket_name"], Key="backup.tar", Body=b"data")
    with pytest.raises(ClientError, match="AccessDenied|locked|Retention"):
        s3.delete_object(Bucket=outputs["bucket_name"], Key="backup.tar", VersionId=put["VersionId"])

    results = verify.run(config, engine=engine, wait_seconds=2, checks=CHECKS)
    assert set(results["status"]) == {"pass"}, results.to_string()

    # out of band: a wider policy, a slower schedule, another code, no lock rule -> each check fails
    wider = json.dumps(documents.secret_policy(allowed_arns=[*exempt, "arn:aws:iam::123456789012:role/intruder"]))
    sm.put_resource_policy(SecretId=outputs["secret_arn"], ResourcePolicy=wider)
    sm.rotate_secret(SecretId=outputs["secret_arn"], RotationLambdaARN=described["RotationLambdaARN"],
                     RotationRules={"AutomaticallyAfterDays": 90}, RotateImmediately=False)
    s3.put_object_lock_configuration(Bucket=outputs["bucket_name"], ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled"})
    results = verify.run(config, engine=engine, wait_seconds=2, checks=CHECKS)
    failed = results[results["status"] == "fail"]
    assert set(failed["check"]) == set(CHECKS), results.to_string()
    assert "intruder" in failed[failed["check"] == "secrets.resource-policy"]["found"].iloc[0]

    engine.destroy()  # non-prod: force_destroy bypasses GOVERNANCE, as the provider does
    with pytest.raises(ClientError):
        s3.head_bucket(Bucket=outputs["bucket_name"])


def test_locking_a_live_backup_bucket_keeps_it_and_its_backups(make_config: Callable[..., StackConfig]) -> None:
    """AWS enables Object Lock on an existing versioned bucket (since 2023): the preview says one create, never a
    replacement of the bucket, and the backups already there stay (unlocked; new versions are locked)."""
    config = make_config()
    engine = get_engine("sandbox", config)
    outputs = engine.up().outputs
    s3 = Ctx(config.aws_endpoint_url, config.region).client("s3")
    s3.put_object(Bucket=outputs["bucket_name"], Key="before.tar", Body=b"old")
    try:
        locked = get_engine("sandbox", config.replace(backup_lock_days=5))
        changes = locked.preview().changes
        changed = changes[changes["action"] != "same"]
        assert list(zip(changed["type"], changed["action"], strict=True)) == [
            ("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration", "create")], changed.to_string()
        locked.up()
        assert s3.get_object(Bucket=outputs["bucket_name"], Key="before.tar")["Body"].read() == b"old"
        put = s3.put_object(Bucket=outputs["bucket_name"], Key="after.tar", Body=b"new")
        with pytest.raises(ClientError, match="AccessDenied"):
            s3.delete_object(Bucket=outputs["bucket_name"], Key="after.tar", VersionId=put["VersionId"])
    finally:
        engine.destroy()
