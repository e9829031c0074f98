"""Hardening rules: each catches a broken program and passes its fixed twin; hainfra's stack passes them."""

from __future__ import annotations

import json
from collections.abc import Callable

import pulumi
import pulumi_aws as aws
import pytest

from hainfra import documents
from hainfra.config import StackConfig
from hainfra.policy import check, check_stack, mandatory

TAGS = {"Project": "p", "Environment": "dev", "ManagedBy": "hainfra", "Stack": "s", "ResourceType": "test"}
ACCOUNT = "123456789012"  # the offline evaluation's account


def _json(doc: dict) -> str:
    return json.dumps(doc)


def encrypted_launch(*, grant: bool = True, via_alias: bool = False, launch_configuration: bool = False) -> None:
    """A launch template (or configuration) encrypting EBS with a CMK whose policy may lack the ASG grant."""
    policy = documents.key_policy(account_id=ACCOUNT, region="us-east-1", log_group_names=["/g"], alarm_names=["a"])
    if not grant:
        policy["Statement"] = [s for s in policy["Statement"] if not s["Sid"].startswith("AutoScaling")]
    key = aws.kms.Key("k", enable_key_rotation=True, policy=_json(policy), tags=TAGS)
    ref = aws.kms.Alias("alias", name="alias/k", target_key_id=key.key_id).arn if via_alias else key.arn
    if launch_configuration:
        aws.ec2.LaunchConfiguration("lc", image_id="ami-1", instance_type="t3.micro", root_block_device=
                                    aws.ec2.LaunchConfigurationRootBlockDeviceArgs(encrypted=True))
        aws.ec2.LaunchTemplate("lt", image_id="ami-1", tags=TAGS, block_device_mappings=[
            aws.ec2.LaunchTemplateBlockDeviceMappingArgs(device_name="/dev/xvda", ebs=aws.ec2.
                                                         LaunchTemplateBlockDeviceMappingEbsArgs(encrypted="true",
                                                                                                 kms_key_id=ref))])
        return
    aws.ec2.LaunchTemplate("lt", image_id="ami-1", tags=TAGS, block_device_mappings=[
        aws.ec2.LaunchTemplateBlockDeviceMappingArgs(device_name="/dev/xvda", ebs=aws.ec2.
                                                     LaunchTemplateBlockDeviceMappingEbsArgs(encrypted="true",
                                                                                             kms_key_id=ref))])


def flow_log_role(*, source_arn: bool = True) -> None:
    trust = documents.flow_log_trust(account_id=ACCOUNT, region="us-east-1") if source_arn else \
        documents.assume_role("vpc-flow-logs.amazonaws.com", ACCOUNT)
    aws.iam.Role("role", assume_role_policy=_json(trust), tags=TAGS)


def log_bucket(*, logs: bool = True, elb_grant: bool = True, prefix: str = "alb/x") -> pulumi.Output:
    b = aws.s3.Bucket("logs", tags=TAGS)
    policy = b.arn.apply(lambda arn: _json(documents.log_bucket_policy(
        bucket_arn=arn, account_id=ACCOUNT, region="us-east-1", alb_prefix="alb/x",
        source_bucket_arn="arn:aws:s3:::src", access_log_prefix="s3/")))
    if not elb_grant:
        policy = b.arn.apply(lambda arn: _json(documents.tls_only_bucket_policy(arn)))
    aws.s3.BucketPolicy("logs", bucket=b.id, policy=policy)
    aws.lb.LoadBalancer("alb", tags=TAGS, access_logs=aws.lb.LoadBalancerAccessLogsArgs(
        bucket=b.bucket, prefix=prefix, enabled=logs))
    return b.bucket


def alb_protected(on: bool) -> None:
    aws.lb.LoadBalancer("alb", enable_deletion_protection=on, tags=TAGS)


def logged_bucket(logged: bool) -> None:
    target = aws.s3.Bucket("target", tags=TAGS)
    source = aws.s3.Bucket("source", tags=TAGS)
    if logged:
        aws.s3.BucketLogging("source", bucket=source.id, target_bucket=target.id, target_prefix="s3/")


def vpc_with_endpoints(*, gateway_tables: int = 2, interface: bool = True, private_dns: bool = True,
                       https_from_vpc: bool = True) -> None:
    vpc = aws.ec2.Vpc("vpc", cidr_block="10.0.0.0/16", tags=TAGS)
    tables, subnets = [], []
    for i, az in enumerate(("us-east-1a", "us-east-1b")):
        subnet = aws.ec2.Subnet(f"private-{az}", vpc_id=vpc.id, cidr_block=f"10.0.{i}.0/24", availability_zone=az,
                                tags=TAGS)
        rt = aws.ec2.RouteTable(f"rt-{az}", vpc_id=vpc.id, tags=TAGS)
        aws.ec2.RouteTableAssociation(f"rta-{az}", subnet_id=subnet.id, route_table_id=rt.id)
        tables.append(rt)
        subnets.append(subnet)
    aws.ec2.VpcEndpoint("s3", vpc_id=vpc.id, service_name="com.amazonaws.us-east-1.s3", vpc_endpoint_type="Gateway",
                        route_table_ids=[t.id for t in tables[:gateway_tables]], tags=TAGS)
    if not interface:
        return
    sg = aws.ec2.SecurityGroup("vpce", vpc_id=vpc.id, tags=TAGS, ingress=[aws.ec2.SecurityGroupIngressArgs(
        protocol="tcp", from_port=443, to_port=443, cidr_blocks=["10.0.0.0/16" if https_from_vpc else "10.9.0.0/16"],
        description="HTTPS from the VPC")], description="interface endpoints")
    for service in ("ssm", "ssmmessages", "ec2messages", "logs"):
        aws.ec2.VpcEndpoint(service, vpc_id=vpc.id, service_name=f"com.amazonaws.us-east-1.{service}",
                            vpc_endpoint_type="Interface", private_dns_enabled=private_dns,
                            subnet_ids=[s.id for s in subnets], security_group_ids=[sg.id], tags=TAGS)


def log_group(days: int) -> None:
    aws.cloudwatch.LogGroup("g", retention_in_days=days, kms_key_id="arn:key", tags=TAGS)


HARDENING: dict[str, tuple[Callable[[], object], Callable[[], object]]] = {
    "kms-autoscaling-grant": (lambda: encrypted_launch(grant=False), encrypted_launch),
    "service-principal-scoped": (lambda: flow_log_role(source_arn=False), flow_log_role),
    "alb-access-logs": (lambda: log_bucket(logs=False), log_bucket),
    "alb-deletion-protection": (lambda: alb_protected(False), lambda: alb_protected(True)),
    "s3-access-logging": (lambda: logged_bucket(False), lambda: logged_bucket(True)),
    "s3-gateway-endpoint": (lambda: vpc_with_endpoints(gateway_tables=1), vpc_with_endpoints),
    "interface-endpoints": (lambda: vpc_with_endpoints(interface=False), vpc_with_endpoints),
    "log-retention-prod": (lambda: log_group(30), lambda: log_group(365)),
}


def hits(program: Callable[[], object], config: StackConfig | None = None) -> dict[str, list[str]]:
    findings = check(program, config)
    findings = findings[findings["status"] == "violation"]
    return {rule: list(findings[findings["rule"] == rule]["message"]) for rule in set(findings["rule"])}


def test_grant_rule_follows_aliases_and_reads_launch_configurations() -> None:
    assert "kms-autoscaling-grant" in hits(lambda: encrypted_launch(grant=False, via_alias=True))
    assert "kms-autoscaling-grant" not in hits(lambda: encrypted_launch(via_alias=True))
    message = hits(lambda: encrypted_launch(grant=False))["kms-autoscaling-grant"][0]
    assert "/dev/xvda" in message and "AWSServiceRoleForAutoScaling" in message


def test_grant_rule_reads_a_separate_key_policy_resource() -> None:
    def program(grant: bool) -> None:
        key = aws.kms.Key("k", enable_key_rotation=True, tags=TAGS)
        doc = documents.key_policy(account_id=ACCOUNT, region="us-east-1", log_group_names=["/g"], alarm_names=["a"])
        if not grant:
            doc["Statement"] = doc["Statement"][:1]
        aws.kms.KeyPolicy("kp", key_id=key.id, policy=_json(doc))
        aws.ec2.LaunchTemplate("lt", image_id="ami-1", tags=TAGS, block_device_mappings=[
            aws.ec2.LaunchTemplateBlockDeviceMappingArgs(device_name="/dev/xvda", ebs=aws.ec2.
                                                         LaunchTemplateBlockDeviceMappingEbsArgs(kms_key_id=key.arn))])

    assert "kms-autoscaling-grant" in hits(lambda: program(False))
    assert "kms-autoscaling-grant" not in hits(lambda: program(True))


def test_access_logs_need_a_bucket_policy_for_elb_delivery_under_the_prefix() -> None:
    assert "alb-access-logs" in hits(lambda: log_bucket(elb_grant=False))
    assert "alb-access-logs" in hits(lambda: log_bucket(prefix="other"))


def test_log_bucket_must_use_sse_s3_and_needs_no_access_logging_of_its_own() -> None:
    def program(algorithm: str) -> None:
        bucket = log_bucket()
        aws.s3.BucketServerSideEncryptionConfiguration("sse", bucket=bucket, rules=[{
            "apply_server_side_encryption_by_default": {"sse_algorithm": algorithm, "kms_master_key_id": "arn:key"}}])

    kms = hits(lambda: program("aws:kms"))
    assert any("SSE-S3" in m for m in kms["s3-sse-kms"])
    fixed = hits(lambda: program("AES256"))
    assert "s3-sse-kms" not in fixed and "s3-access-logging" not in fixed


def test_interface_endpoints_need_private_dns_and_https_from_the_vpc() -> None:
    assert any("private DNS" in m for m in hits(lambda: vpc_with_endpoints(private_dns=False))["interface-endpoints"])
    assert any("443" in m for m in hits(lambda: vpc_with_endpoints(https_from_vpc=False))["interface-endpoints"])


def test_prod_only_rules_spare_dev_and_bind_prod() -> None:
    dev, prod = StackConfig.load({}), StackConfig.load({"environment": "prod", "asg_min": 3})
    assert "alb-deletion-protection" not in hits(lambda: alb_protected(False), dev)
    prod_findings = check(lambda: alb_protected(False), prod)
    assert not mandatory(prod_findings[prod_findings["rule"] == "alb-deletion-protection"]).empty
    assert "log-retention-prod" not in hits(lambda: log_group(30), dev)
    retention = check(lambda: log_group(30), prod)
    row = retention[retention["rule"] == "log-retention-prod"].iloc[0]
    assert not row["mandatory"] and "CloudWatch.16" in row["controls"], "a finding, not a block: the parameter wins"


@pytest.mark.parametrize("params", [{}, {"environment": "prod", "asg_min": 3}, {"region": "eu-west-1"},
                                    {"region": "ap-southeast-3"}])
def test_hainfra_stack_satisfies_the_hardening_rules(params: dict) -> None:
    findings = check_stack(StackConfig.load(params))
    violations = findings[(findings["status"] == "violation") & findings["rule"].isin(HARDENING)]
    expected = set() if params.get("environment") == "prod" else {"interface-endpoints"}  # off by default in dev
    assert set(violations["rule"]) == expected, violations.to_string()


def test_prod_retention_override_is_reported() -> None:
    findings = check_stack(StackConfig.load({"environment": "prod", "asg_min": 3, "log_retention_days": 90}))
    rows = findings[findings["rule"] == "log-retention-prod"]
    assert len(rows) == 5 and mandatory(findings).empty  # flow logs, app, S3 events, rotation function, WAF (on in prod)
