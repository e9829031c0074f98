"""The hardening policy documents, read as AWS would (pure functions, no Pulumi)."""

from __future__ import annotations

import copy
import json

import pytest

from hainfra import documents, naming
from hainfra.config import StackConfig

ACCOUNT = "111122223333"


def key_doc() -> dict:
    return documents.key_policy(account_id=ACCOUNT, region="eu-west-1", log_group_names=["/a", "/aws/events/b"],
                                alarm_names=["x-alarm-1"])


def statement(doc: dict, sid: str) -> dict:
    return next(st for st in doc["Statement"] if st["Sid"] == sid)


def test_key_policy_grants_the_autoscaling_role_exactly_what_ebs_needs() -> None:
    doc = key_doc()
    assert documents.autoscaling_grant_gaps(doc) == []
    use, grant = statement(doc, "AutoScalingUseKey"), statement(doc, "AutoScalingCreateGrant")
    role = f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
    assert use["Principal"] == grant["Principal"] == {"AWS": role}, "scoped to this account's role"
    assert sorted(use["Action"]) == sorted(documents.EBS_KEY_ACTIONS) and "kms:CreateGrant" not in use["Action"]
    assert grant["Action"] == "kms:CreateGrant"
    assert grant["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}


@pytest.mark.parametrize("breakage, gap", [
    (lambda d: d["Statement"].remove(statement(d, "AutoScalingCreateGrant")), "kms:CreateGrant not allowed"),
    (lambda d: statement(d, "AutoScalingCreateGrant").pop("Condition"), "GrantIsForAWSResource"),
    (lambda d: statement(d, "AutoScalingUseKey").update(Action=["kms:Decrypt"]), "kms:GenerateDataKeyWithoutPlaintext"),
    (lambda d: statement(d, "AutoScalingUseKey").update(Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:role/other"}),
     "kms:Encrypt not allowed"),
    (lambda d: d.update(Statement=d["Statement"][:1]), "no statement for the AWSServiceRoleForAutoScaling"),
])
def test_grant_gaps_name_what_is_missing(breakage, gap: str) -> None:
    doc = copy.deepcopy(key_doc())
    breakage(doc)
    assert any(gap in g for g in documents.autoscaling_grant_gaps(doc)), documents.autoscaling_grant_gaps(doc)


def test_wildcard_actions_and_custom_suffix_roles_count_as_granted() -> None:
    doc = {"Statement": [
        {"Effect": "Allow", "Action": "kms:*", "Resource": "*",
         "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/"
                              "AWSServiceRoleForAutoScaling_team"}}]}
    assert documents.autoscaling_grant_gaps(doc) == ["kms:CreateGrant not limited by kms:GrantIsForAWSResource=true"]


def test_logs_key_condition_names_exactly_the_stack_groups() -> None:
    logs = statement(key_doc(), "LogsDeliveryUseKey")
    assert logs["Condition"] == {"ArnEquals": {documents.LOGS_CONTEXT: [
        f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/a", f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/aws/events/b"]}}
    assert "*" not in json.dumps(logs["Condition"]), "no prefix wildcard that other projects' groups could match"


def test_stack_config_feeds_the_key_policy_every_log_group_and_alarm() -> None:
    config = StackConfig.load({"project": "shop", "stack": "alpha"})
    groups = [naming.log_group_name(config, k) for k in naming.LOG_GROUP_KINDS]
    assert groups == ["/shop/dev/alpha/flow-logs", "/shop/dev/alpha/app", "/aws/events/shop-s3-events-dev-alpha",
                      "/aws/lambda/shop-rotate-secret-dev-alpha"]  # Lambda writes only to /aws/lambda/<function>
    assert all(a.startswith("shop-alarm-") for a in (naming.name(config, k) for k in naming.ALARM_KINDS))


def every_stack_document() -> dict[str, dict]:
    return {
        "key": key_doc(),
        "events->logs": documents.events_to_logs_policy("arn:aws:logs:eu-west-1:1:log-group:/g",
                                                        "arn:aws:events:eu-west-1:1:rule/r", ACCOUNT),
        "flow-logs trust": documents.flow_log_trust(account_id=ACCOUNT, region="eu-west-1"),
        "instance trust": documents.assume_role("ec2.amazonaws.com"),
        "log bucket": documents.log_bucket_policy(bucket_arn="arn:aws:s3:::logs", account_id=ACCOUNT,
                                                  region="eu-west-1", alb_prefix="alb/x",
                                                  source_bucket_arn="arn:aws:s3:::backup", access_log_prefix="s3/"),
        "new-region log bucket": documents.log_bucket_policy(
            bucket_arn="arn:aws:s3:::logs", account_id=ACCOUNT, region="ap-southeast-5", alb_prefix="alb/x",
            source_bucket_arn="arn:aws:s3:::backup", access_log_prefix="s3/"),
    }


@pytest.mark.parametrize("name", sorted(every_stack_document()))
def test_every_service_principal_of_the_stack_is_scoped(name: str) -> None:
    assert documents.unscoped_service_statements(every_stack_document()[name]) == []


def test_unscoped_statements_are_named_with_the_missing_keys() -> None:
    old_trust = documents.assume_role("vpc-flow-logs.amazonaws.com", ACCOUNT)  # account only: the old flow-log trust
    assert documents.unscoped_service_statements(old_trust) == [
        "TrustService: vpc-flow-logs.amazonaws.com without aws:SourceArn"]
    alarms = copy.deepcopy(key_doc())
    statement(alarms, "AlarmsUseKey").pop("Condition")
    assert documents.unscoped_service_statements(alarms) == [
        "AlarmsUseKey: cloudwatch.amazonaws.com without aws:SourceAccount, aws:SourceArn"]
    unknown = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "newservice.amazonaws.com"}, "Action": "x"}]}
    assert documents.unscoped_service_statements(unknown) == ["statement: newservice.amazonaws.com without "
                                                              "aws:SourceAccount"]


def test_elb_log_delivery_principal_follows_the_region() -> None:
    docs = every_stack_document()
    old, new = statement(docs["log bucket"], "AlbAccessLogs"), statement(docs["new-region log bucket"], "AlbAccessLogs")
    assert old["Principal"] == {"AWS": "arn:aws:iam::156460612806:root"}  # eu-west-1's ELB account
    assert new["Principal"] == {"Service": documents.ELB_LOG_SERVICE}
    assert old["Resource"] == f"arn:aws:s3:::logs/alb/x/AWSLogs/{ACCOUNT}/*", "only this ALB's prefix, this account"
    access = statement(docs["log bucket"], "S3ServerAccessLogs")
    assert access["Condition"]["ArnLike"] == {"aws:SourceArn": "arn:aws:s3:::backup"}
    assert statement(docs["log bucket"], "DenyInsecureTransport")["Effect"] == "Deny"


def test_events_keep_no_key_grant() -> None:
    services = [s for st in key_doc()["Statement"] for s in documents._principals(st, "Service")]
    assert "events.amazonaws.com" not in services
