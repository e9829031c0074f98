"""Edge rules (HTTPS, WAF, endpoint policies, detailed monitoring): each catches a broken program and passes
its fixed twin; hostile policies that only look restrictive are caught; hainfra's prod stack passes them."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pulumi_aws as aws
import pytest

from hainfra import documents
from hainfra.components.edge import managed_rules
from hainfra.config import StackConfig
from hainfra.policy import check, check_stack, mandatory
from tests.policy.test_hardening import ACCOUNT, TAGS


def hits(program: Callable[[], object], config: StackConfig | None = None) -> set[str]:
    findings = check(program, config)
    return set(findings[findings["status"] == "violation"]["rule"])


def alb(*, https: bool = True, waf: bool = False, logging: bool = True) -> None:
    lb = aws.lb.LoadBalancer("alb", subnets=["subnet-a", "subnet-b"], drop_invalid_header_fields=True, tags=TAGS)
    forward = aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn="arn:tg")
    if https:
        aws.lb.Listener("https", load_balancer_arn=lb.arn, port=443, protocol="HTTPS", certificate_arn="arn:cert",
                        ssl_policy="ELBSecurityPolicy-TLS13-1-2-2021-06", default_actions=[forward])
    redirect = aws.lb.ListenerDefaultActionArgs(type="redirect", redirect=aws.lb.ListenerDefaultActionRedirectArgs(
        port="443", protocol="HTTPS", status_code="HTTP_301"))
    aws.lb.Listener("http", load_balancer_arn=lb.arn, port=80, protocol="HTTP",
                    default_actions=[redirect if https else forward])
    if waf:
        # + AnonymousIpList, which checkov's CKV2_AWS_76 demands (hainfra's stack suppresses it, with the reason)
        anonymous = aws.wafv2.WebAclRuleArgs(
            name="anon", priority=90, override_action=aws.wafv2.WebAclRuleOverrideActionArgs(
                none=aws.wafv2.WebAclRuleOverrideActionNoneArgs()),
            statement=aws.wafv2.WebAclRuleStatementArgs(
                managed_rule_group_statement=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementArgs(
                    name="AWSManagedRulesAnonymousIpList", vendor_name="AWS")),
            visibility_config=aws.wafv2.WebAclRuleVisibilityConfigArgs(
                cloudwatch_metrics_enabled=True, metric_name="anon", sampled_requests_enabled=True))
        acl = aws.wafv2.WebAcl("acl", scope="REGIONAL", rules=[*managed_rules(), anonymous], tags=TAGS,
                               default_action=aws.wafv2.WebAclDefaultActionArgs(
                                   allow=aws.wafv2.WebAclDefaultActionAllowArgs()),
                               visibility_config=aws.wafv2.WebAclVisibilityConfigArgs(
                                   cloudwatch_metrics_enabled=True, metric_name="acl", sampled_requests_enabled=True))
        aws.wafv2.WebAclAssociation("assoc", resource_arn=lb.arn, web_acl_arn=acl.arn)
        if logging:
            group = aws.cloudwatch.LogGroup("waf-logs", name="aws-waf-logs-x", retention_in_days=365, tags=TAGS,
                                            kms_key_id="arn:aws:kms:us-east-1:123456789012:key/k")
            aws.wafv2.WebAclLoggingConfiguration("waf-logging", resource_arn=acl.arn,
                                                 log_destination_configs=[group.arn])


def endpoint(policy: dict[str, Any] | None) -> None:
    vpc = aws.ec2.Vpc("vpc", cidr_block="10.0.0.0/16", tags=TAGS)
    aws.ec2.VpcEndpoint("vpce", vpc_id=vpc.id, service_name="com.amazonaws.us-east-1.s3", tags=TAGS,
                        policy=json.dumps(policy) if policy is not None else None)


def launch_template(monitoring: bool) -> None:
    aws.ec2.LaunchTemplate("lt", image_id="ami-1", tags=TAGS,
                           monitoring=aws.ec2.LaunchTemplateMonitoringArgs(enabled=monitoring))


S3_POLICY = documents.s3_endpoint_policy(account_id=ACCOUNT, region="us-east-1")
EDGE: dict[str, tuple[Callable[[], object], Callable[[], object]]] = {
    "alb-https": (lambda: alb(https=False), alb),
    "waf-attached": (alb, lambda: alb(waf=True)),
    "waf-logging": (lambda: alb(waf=True, logging=False), lambda: alb(waf=True)),
    "endpoint-policy": (lambda: endpoint(None), lambda: endpoint(S3_POLICY)),
    "lt-detailed-monitoring": (lambda: launch_template(False), lambda: launch_template(True)),
}


@pytest.mark.parametrize("rule_id", sorted(EDGE))
def test_edge_rule_catches_broken_and_passes_fixed(rule_id: str) -> None:
    broken, fixed = EDGE[rule_id]
    assert rule_id in hits(broken), f"{rule_id} missed its broken program"
    assert rule_id not in hits(fixed), f"{rule_id} flagged its fixed twin"


ANYONE = {"Sid": "A", "Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}


@pytest.mark.parametrize(("statement", "why"), [
    (ANYONE, "no aws:PrincipalAccount"),
    ({**ANYONE, "Principal": {"AWS": "*"}}, "no aws:PrincipalAccount"),
    ({**ANYONE, "Condition": {"StringEquals": {"aws:SourceVpc": "vpc-1"}}}, "no aws:PrincipalAccount"),
    # dressed up as the repository statement, but granting every action / another bucket
    ({**ANYONE, "Sid": documents.REPOSITORY_SID, "Action": "*",
      "Resource": "arn:aws:s3:::al2023-repos-us-east-1-de612dc2/*"}, "no aws:PrincipalAccount"),
    ({**ANYONE, "Sid": documents.REPOSITORY_SID, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::my-data/*"},
     "no aws:PrincipalAccount"),
])
def test_endpoint_policies_that_only_look_restrictive_are_caught(statement: dict, why: str) -> None:
    doc = {"Version": "2012-10-17", "Statement": [statement]}
    assert why in "; ".join(documents.endpoint_policy_gaps(doc, ACCOUNT))
    assert "endpoint-policy" in hits(lambda: endpoint(doc))


def test_endpoint_policy_for_another_account_fails_verify_but_not_the_account_blind_gate() -> None:
    other = documents.endpoint_policy(account_id="999999999999")
    assert documents.endpoint_policy_gaps(other, ACCOUNT) == ["AccountPrincipalsOnly: any principal, accounts "
                                                              "['999999999999']"]
    assert documents.endpoint_policy_gaps(other) == []  # the gate cannot know the deploying account
    assert documents.endpoint_policy_gaps(S3_POLICY, ACCOUNT) == []
    assert documents.endpoint_policy_gaps({}, ACCOUNT)[0].startswith("no policy")


def test_http_forwarding_beside_https_is_caught() -> None:
    def program() -> None:
        lb = aws.lb.LoadBalancer("alb", subnets=["a", "b"], tags=TAGS)
        forward = [aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn="arn:tg")]
        aws.lb.Listener("https", load_balancer_arn=lb.arn, port=443, protocol="HTTPS", certificate_arn="arn:c",
                        default_actions=forward)
        aws.lb.Listener("http", load_balancer_arn=lb.arn, port=80, protocol="HTTP", default_actions=forward)

    findings = check(program)
    rows = findings[(findings["rule"] == "alb-https") & (findings["status"] == "violation")]
    assert list(rows["resource"]) == ["Listener http"], rows.to_string()


def test_internal_alb_needs_neither_https_nor_waf() -> None:
    def program() -> None:
        aws.lb.LoadBalancer("alb", internal=True, subnets=["a", "b"], tags=TAGS)

    assert not {"alb-https", "waf-attached"} & hits(program)


def test_edge_rules_block_only_in_prod() -> None:
    prod, dev = StackConfig.load({"environment": "prod", "asg_min": 3}), StackConfig.load({})
    for config, blocks in ((prod, True), (dev, False)):
        findings = check(lambda: alb(https=False), config)
        rows = findings[findings["rule"].isin(["alb-https", "waf-attached"])]
        assert len(rows) == 2 and rows["mandatory"].all() == blocks, rows.to_string()


@pytest.mark.parametrize("params", [{"environment": "prod", "asg_min": 3},
                                    {"environment": "prod", "asg_min": 3, "instance_types": ["t3.micro", "t3a.micro"]},
                                    {"certificate_arn": "arn:aws:acm:us-east-1:123456789012:certificate/"
                                                        "12345678-1234-1234-1234-123456789012", "waf": True}])
def test_hainfra_stack_passes_the_edge_rules(params: dict) -> None:
    findings = check_stack(StackConfig.load(params))
    violations = findings[(findings["status"] == "violation") & findings["rule"].isin(EDGE)]
    assert violations.empty, violations.to_string()
    assert mandatory(findings).empty


def test_dev_stack_without_certificate_or_waf_is_reported_not_blocked() -> None:
    findings = check_stack(StackConfig.load({}))
    rows = findings[findings["status"] == "violation"]
    assert {"alb-https", "waf-attached"} <= set(rows["rule"]) and mandatory(findings).empty
