"""Issue 19 item 5: the backups replicated to ``dr_region`` — resources there, verify, destroy in both regions."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from hainfra import naming, verify
from hainfra.aws import Ctx, empty_prefix
from hainfra.config import StackConfig
from hainfra.engines import get_engine
from hainfra.engines.sandbox import sweep
from hainfra.errors import OwnershipError, ResourceError

pytestmark = pytest.mark.slow
DR = "us-west-2"


def test_prod_with_dr_region_replicates_to_a_protected_bucket_there_and_destroys_in_both_regions(
        make_config: Callable[..., StackConfig]) -> None:
    config = make_config(environment="prod", asg_min=3, asg_desired=3, dr_region=DR)
    engine = get_engine("sandbox", config)
    outputs = engine.up().outputs
    home = Ctx(config.aws_endpoint_url, config.region)
    dr = home.at(DR)
    replica = naming.dr_bucket_name(config, home.account_id)
    assert DR in replica and naming.stack_slug(config.stack) in replica

    # where the emulator keeps them: the replica bucket and its key in the DR region, not in the stack's
    assert (dr.client("s3").get_bucket_location(Bucket=replica)["LocationConstraint"]) == DR
    rule = home.client("s3").get_bucket_replication(Bucket=outputs["bucket_name"])["ReplicationConfiguration"]["Rules"][0]
    key_arn = rule["Destination"]["EncryptionConfiguration"]["ReplicaKmsKeyID"]
    assert f":kms:{DR}:" in key_arn and dr.client("kms").describe_key(KeyId=key_arn)["KeyMetadata"]["Enabled"]
    with pytest.raises(Exception, match="NotFound"):
        home.client("kms").describe_key(KeyId=key_arn.split("/")[-1])
    assert rule["DeleteMarkerReplication"]["Status"] == "Enabled"
    lock = dr.client("s3").get_object_lock_configuration(Bucket=replica)["ObjectLockConfiguration"]
    retention = lock["Rule"]["DefaultRetention"]
    assert (retention["Mode"], retention["Days"]) == ("GOVERNANCE", config.lock_days)

    results = verify.run(config, engine=engine, wait_seconds=2, checks=["storage.replication"])
    statuses = dict(zip(results["resource"], results["status"], strict=True))
    assert sorted(statuses.values()) == ["pass", "skip"], results.to_string()
    assert "copies no object" in results[results["status"] == "skip"]["found"].iloc[0]

    # out of band: the replication rule is deleted -> verify fails naming the check
    home.client("s3").delete_bucket_replication(Bucket=outputs["bucket_name"])
    results = verify.run(config, engine=engine, wait_seconds=2, checks=["storage.replication"])
    failed = results[results["status"] == "fail"]
    assert list(failed["check"]) == ["storage.replication"], results.to_string()
    assert "no enabled replication rule" in failed["found"].iloc[0]

    with pytest.raises(ResourceError, match="BucketNotEmpty"):  # prod keeps its logs (access logs of the teardown)
        engine.destroy()
    for logs in (outputs["log_bucket_name"], naming.log_bucket_name(config, home.account_id, DR)):
        empty_prefix(home, logs, "")  # what an operator does after archiving the logs (both regions' log buckets)
    result = engine.destroy()
    left = result.sweep[result.sweep["remaining"] > 0]
    assert left.empty, left.to_string()
    again = sweep.sweep(home, config)
    assert again["remaining"].sum() == 0, again.to_string()
    assert replica not in {b["Name"] for b in home.client("s3").list_buckets()["Buckets"]}
    keys = [k["KeyId"] for k in dr.client("kms").list_keys()["Keys"]]
    states = {dr.client("kms").describe_key(KeyId=k)["KeyMetadata"]["KeyState"] for k in keys
              if k == key_arn.split("/")[-1]}
    assert states == {"PendingDeletion"}, states


def test_a_dr_leftover_is_found_by_the_sweep_in_the_dr_region(make_config: Callable[..., StackConfig]) -> None:
    """The sweep looks in dr_region: a key the stack left there is a leftover (without dr_region it is missed)."""
    config = make_config(dr_region=DR)
    dr = Ctx(config.aws_endpoint_url, DR)
    tags = naming.tags(config, naming.name(config, "backup-dr"))
    key = dr.client("kms").create_key(Tags=[{"TagKey": k, "TagValue": v} for k, v in tags.items()])["KeyMetadata"]
    try:
        found = sweep.check(Ctx(config.aws_endpoint_url, config.region), config, ("kms", "keys"))
        assert found.ours == [f"{DR}:{key['KeyId']}"]
        off = sweep.check(Ctx(config.aws_endpoint_url, config.region), config.replace(dr_region=""), ("kms", "keys"))
        assert off.ours == []
    finally:
        dr.client("kms").schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    assert json.dumps(found.ours)


def test_a_replica_name_taken_by_another_stack_stops_up_before_any_change(
        make_config: Callable[..., StackConfig]) -> None:
    """Ownership is looked up in the DR region too: a foreign bucket there is never adopted."""
    config = make_config(dr_region=DR)
    dr = Ctx(config.aws_endpoint_url, DR)
    replica = naming.dr_bucket_name(config, dr.account_id)
    dr.client("s3").create_bucket(Bucket=replica, CreateBucketConfiguration={"LocationConstraint": DR})
    dr.client("s3").put_bucket_tagging(Bucket=replica, Tagging={"TagSet": [{"Key": "Stack", "Value": "other"}]})
    try:
        with pytest.raises(OwnershipError, match=f"{replica}.*stack 'other'"):
            get_engine("sandbox", config).up()
        home = Ctx(config.aws_endpoint_url, config.region)
        assert naming.bucket_name(config, home.account_id) not in {
            b["Name"] for b in home.client("s3").list_buckets()["Buckets"]}, "nothing was created"
    finally:
        dr.client("s3").delete_bucket(Bucket=replica)
