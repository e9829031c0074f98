"""dr_region (issue 19 item 5): validation, names, the DR resources in the DR region, least-privilege replication."""

from __future__ import annotations

import json
from functools import cache

import pytest

from hainfra import documents, naming
from hainfra.aws import Ctx, as_list
from hainfra.config import StackConfig
from hainfra.errors import ConfigError
from hainfra.plan import OFFLINE_ACCOUNT, evaluate_offline
from hainfra.policy import graph_of
from hainfra.policy.graph import Graph

DR = "us-west-2"
REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"


@cache
def graph(dr_region: str) -> tuple[StackConfig, Graph]:
    config = StackConfig.load({"environment": "prod", "stack": "drunit", "dr_region": dr_region}, env={})
    evaluation, _ = evaluate_offline(config)
    return config, graph_of(evaluation)


@pytest.mark.parametrize(("value", "fragment"), [
    ("us-nowhere-9", "use an AWS region code such as us-west-2"),
    ("us-east-1", "survives no regional outage"),
    ("US-WEST-2", "use an AWS region code"),
])
def test_bad_dr_region_is_refused_naming_field_value_and_fix(value: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        StackConfig.load({"region": "us-east-1", "dr_region": value}, env={})
    assert [(f, v) for f, v, _ in info.value.problems if f == "dr_region"] == [("dr_region", value)]
    assert fragment in str(info.value) and value in str(info.value)


def test_dr_region_is_off_by_default_and_any_other_known_region_is_accepted() -> None:
    assert not StackConfig.load({}, env={}).dr_enabled
    assert StackConfig.load({"dr_region": "eu-central-1"}, env={}).dr_enabled


def test_the_replica_name_carries_the_stack_and_the_dr_region_and_fits_s3() -> None:
    config = StackConfig.load({"stack": "a-very-long-stack-name-for-the-dr-test", "dr_region": "ap-southeast-2"}, env={})
    name = naming.dr_bucket_name(config, OFFLINE_ACCOUNT)
    assert name.endswith(f"-{OFFLINE_ACCOUNT}-ap-southeast-2") and len(name) <= 63
    assert name != naming.bucket_name(config, OFFLINE_ACCOUNT)
    other = StackConfig.load({"stack": "a-very-long-stack-name-for-the-dr-test-2", "dr_region": "ap-southeast-2"},
                             env={})
    assert naming.dr_bucket_name(other, OFFLINE_ACCOUNT) != name  # two stacks, one DR region: two replicas


def test_without_dr_region_nothing_is_declared_outside_the_stack_region() -> None:
    _, g = graph("")
    assert not [r.label for r in g.resources if r.inputs.get("region")]
    assert not g.of(REPLICATION)


def test_every_dr_resource_is_declared_in_the_dr_region_and_the_rule_points_at_them() -> None:
    config, g = graph(DR)
    in_dr = {r.label for r in g.resources if r.inputs.get("region") == DR}
    replica = next(r for r in g.of("s3/bucket:Bucket") if r.inputs.get("bucket") == naming.dr_bucket_name(
        config, OFFLINE_ACCOUNT))
    key = next(r for r in g.of("kms/key:Key") if r.inputs.get("region") == DR)
    assert replica.inputs["region"] == DR and key.inputs["enableKeyRotation"] is True
    settings = ("BucketVersioning", "BucketServerSideEncryptionConfiguration", "BucketLifecycleConfiguration",
                "BucketPublicAccessBlock", "BucketOwnershipControls", "BucketPolicy", "BucketObjectLockConfiguration",
                "BucketLogging")
    for kind in settings:
        assert any(label.startswith(f"{kind} ") for label in in_dr), (kind, sorted(in_dr))
    assert {r.inputs.get("region") for r in g.of(*[f"{k[0].lower()}{k[1:]}:{k}" for k in settings])
            if g.ref(r.inputs.get("bucket")) is replica} == {DR}
    lock = next(r for r in g.of("s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")
                if g.ref(r.inputs.get("bucket")) is replica)
    assert lock.inputs["rule"]["defaultRetention"] == {"mode": "GOVERNANCE", "days": config.lock_days}
    [replication] = g.of(REPLICATION)
    assert not replication.inputs.get("region"), "the rule belongs to the source bucket, in the stack's region"
    [rule] = replication.inputs["rules"]
    assert g.ref(rule["destination"]["bucket"]) is replica
    assert g.ref(rule["destination"]["encryptionConfiguration"]["replicaKmsKeyId"]) is key
    assert rule["deleteMarkerReplication"]["status"] == "Enabled" and rule["status"] == "Enabled"
    assert rule["sourceSelectionCriteria"]["sseKmsEncryptedObjects"]["status"] == "Enabled"


def test_the_replication_role_is_least_privilege() -> None:
    src, dst = "arn:aws:s3:::src", "arn:aws:s3:::dst"
    doc = documents.replication_policy(source_bucket_arn=src, dest_bucket_arn=dst, source_key_arn="arn:k:src",
                                       dest_key_arn="arn:k:dst", source_region="us-east-1", dest_region=DR)
    statements = {st["Sid"]: st for st in doc["Statement"]}
    assert not documents.wildcard_statements(doc)
    assert all("*" not in action for st in doc["Statement"] for action in as_list(st["Action"]))
    resources = {r for st in doc["Statement"] for r in st["Resource"]}
    assert resources == {src, f"{src}/*", f"{dst}/*", "arn:k:src", "arn:k:dst"}
    assert statements["DecryptSource"]["Action"] == "kms:Decrypt" and statements["DecryptSource"]["Resource"] == [
        "arn:k:src"]
    assert statements["DecryptSource"]["Condition"]["StringLike"]["kms:ViaService"] == "s3.us-east-1.amazonaws.com"
    assert statements["EncryptReplicas"]["Resource"] == ["arn:k:dst"]
    assert statements["EncryptReplicas"]["Condition"]["StringLike"]["kms:ViaService"] == f"s3.{DR}.amazonaws.com"
    writes = [st for st in doc["Statement"] if any(a.startswith("s3:Replicate") for a in st["Action"])]
    assert [st["Resource"] for st in writes] == [[f"{dst}/*"]], "replicas are written to the DR bucket only"


def test_the_declared_role_trusts_only_s3_for_this_bucket_and_names_the_exact_arns() -> None:
    config, g = graph(DR)
    role = next(r for r in g.of("iam/role:Role") if r.name == naming.name(config, "replication-role"))
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "s3.amazonaws.com"}
    assert trust["Condition"]["StringEquals"]["aws:SourceAccount"] == OFFLINE_ACCOUNT
    source = next(r for r in g.of("s3/bucket:Bucket") if r.inputs.get("bucket") == naming.bucket_name(
        config, OFFLINE_ACCOUNT))
    assert g.ref(trust["Condition"]["ArnLike"]["aws:SourceArn"]) is source
    policy = next(r for r in g.of("iam/rolePolicy:RolePolicy") if g.ref(r.inputs.get("role")) is role)
    doc = json.loads(policy.inputs["policy"])
    assert not documents.wildcard_statements(doc)
    keys = {st["Sid"]: g.ref(st["Resource"][0]) for st in doc["Statement"]}
    assert keys["DecryptSource"].type.endswith("kms/key:Key") and keys["DecryptSource"].inputs.get("region") is None
    assert keys["EncryptReplicas"].type.endswith("kms/key:Key") and keys["EncryptReplicas"].inputs["region"] == DR


def test_a_context_in_another_region_shares_the_endpoint_and_the_call_count() -> None:
    home = Ctx("https://127.0.0.1:1", "us-east-1")
    assert home.at(None) is home and home.at("us-east-1") is home and home.at("") is home
    dr = home.at(DR)
    assert dr is home.at(DR) and (dr.region, dr.endpoint_url) == (DR, home.endpoint_url)
    assert dr.calls is home.calls
