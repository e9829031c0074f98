"""Every policy rule catches a small broken program and passes its fixed twin."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pulumi_aws as aws
import pytest

from hainfra.config import StackConfig
from hainfra.policy import RULES, Suppression, check, check_stack, mandatory
from tests.policy.test_dataprotection import DATA_PROTECTION
from tests.policy.test_edge import EDGE
from tests.policy.test_hardening import HARDENING, TAGS


def rules_hit(program: Callable[[], object], config: StackConfig | None = None,
              suppressions: list[Suppression] | None = None) -> set[str]:
    findings = check(program, config, suppressions=suppressions)
    return set(findings[findings["status"] == "violation"]["rule"])


# --- small programs -----------------------------------------------------------------------------------
def network(*, nat_per_az: bool = True, associate: bool = True, map_public: bool = False,
            default_sg: bool = True, flow_log: bool = True, default_nacl: str = "closed") -> None:
    vpc = aws.ec2.Vpc("vpc", cidr_block="10.0.0.0/16", tags=TAGS)
    igw = aws.ec2.InternetGateway("igw", vpc_id=vpc.id, tags=TAGS)
    public_rt = aws.ec2.RouteTable("rt-public", vpc_id=vpc.id, tags=TAGS)
    aws.ec2.Route("route-public", route_table_id=public_rt.id, destination_cidr_block="0.0.0.0/0", gateway_id=igw.id)
    acl = aws.ec2.NetworkAcl("acl", vpc_id=vpc.id, tags=TAGS)
    nats = []
    for i, az in enumerate(("us-east-1a", "us-east-1b")):
        public = aws.ec2.Subnet(f"public-{az}", vpc_id=vpc.id, cidr_block=f"10.0.{i}.0/24", availability_zone=az, tags=TAGS)
        aws.ec2.RouteTableAssociation(f"rta-public-{az}", subnet_id=public.id, route_table_id=public_rt.id)
        if nat_per_az or i == 0:
            eip = aws.ec2.Eip(f"eip-{az}", domain="vpc", tags=TAGS)
            nats.append(aws.ec2.NatGateway(f"nat-{az}", subnet_id=public.id, allocation_id=eip.allocation_id, tags=TAGS))
        private = aws.ec2.Subnet(f"private-{az}", vpc_id=vpc.id, cidr_block=f"10.0.{10 + i}.0/24", availability_zone=az,
                                 map_public_ip_on_launch=map_public, tags=TAGS)
        rt = aws.ec2.RouteTable(f"rt-private-{az}", vpc_id=vpc.id, tags=TAGS)
        aws.ec2.Route(f"route-private-{az}", route_table_id=rt.id, destination_cidr_block="0.0.0.0/0",
                      nat_gateway_id=nats[min(i, len(nats) - 1)].id)
        aws.ec2.RouteTableAssociation(f"rta-private-{az}", subnet_id=private.id, route_table_id=rt.id)
        for subnet in (public, private) if associate else ():
            aws.ec2.NetworkAclAssociation(f"acla-{subnet._name}", network_acl_id=acl.id, subnet_id=subnet.id)
    if default_sg:
        aws.ec2.DefaultSecurityGroup("default-sg", vpc_id=vpc.id, ingress=[], egress=[], tags=TAGS)
    if default_nacl != "unmanaged":
        rules = [aws.ec2.DefaultNetworkAclIngressArgs(rule_no=100, protocol="-1", action="allow", from_port=0,
                                                      to_port=0, cidr_block="0.0.0.0/0")] if default_nacl == "open" else []
        aws.ec2.DefaultNetworkAcl("default-nacl", default_network_acl_id=vpc.default_network_acl_id, ingress=rules,
                                  egress=[], tags=TAGS)
    if flow_log:
        aws.ec2.FlowLog("flow", vpc_id=vpc.id, traffic_type="ALL", log_destination="arn:aws:logs:::group",
                        iam_role_arn="arn:aws:iam::1:role/r", tags=TAGS)


def nacl(rules: list[dict]) -> None:
    vpc = aws.ec2.Vpc("vpc", cidr_block="10.0.0.0/16", tags=TAGS)
    aws.ec2.NetworkAcl("acl", vpc_id=vpc.id, ingress=[aws.ec2.NetworkAclIngressArgs(**r) for r in rules], tags=TAGS)


def security_group(port: int, cidr: str) -> None:
    aws.ec2.SecurityGroup("sg", ingress=[aws.ec2.SecurityGroupIngressArgs(
        protocol="tcp", from_port=port, to_port=port, cidr_blocks=[cidr])], tags=TAGS)


def launch_template(tokens: str = "required", hop: int = 1, encrypted: str = "true", public_ip: str = "false",
                    user_data: str = "#!/bin/bash\necho hello\n") -> None:
    aws.ec2.LaunchTemplate(
        "lt", image_id="ami-1", instance_type="t3.micro", tags=TAGS,
        metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(http_tokens=tokens, http_put_response_hop_limit=hop),
        block_device_mappings=[aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
            device_name="/dev/xvda", ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(encrypted=encrypted))],
        network_interfaces=[aws.ec2.LaunchTemplateNetworkInterfaceArgs(associate_public_ip_address=public_ip)],
        user_data=base64.b64encode(user_data.encode()).decode())


def subnets(n: int) -> list[aws.ec2.Subnet]:
    return [aws.ec2.Subnet(f"sn-{i}", vpc_id="vpc-1", cidr_block=f"10.0.{i}.0/24", availability_zone=f"us-east-1{'ab'[i]}",
                           tags=TAGS) for i in range(n)]


def asg(health: str = "ELB", azs: int = 2) -> None:
    aws.autoscaling.Group("asg", min_size=1, max_size=2, vpc_zone_identifiers=[s.id for s in subnets(azs)],
                          target_group_arns=["arn:aws:elasticloadbalancing:::tg"], health_check_type=health,
                          launch_template=aws.autoscaling.GroupLaunchTemplateArgs(id="lt-1"))


def alb(azs: int = 2, drop: bool = True, http_action: str = "redirect") -> None:
    lb = aws.lb.LoadBalancer("alb", subnets=[s.id for s in subnets(azs)], drop_invalid_header_fields=drop, tags=TAGS)
    aws.lb.Listener("https", load_balancer_arn=lb.arn, port=443, protocol="HTTPS", certificate_arn="arn:cert",
                    default_actions=[aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn="arn:tg")])
    action = aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn="arn:tg") if http_action == "forward" \
        else aws.lb.ListenerDefaultActionArgs(type="redirect", redirect=aws.lb.ListenerDefaultActionRedirectArgs(
            port="443", protocol="HTTPS", status_code="HTTP_301"))
    aws.lb.Listener("http", load_balancer_arn=lb.arn, port=80, protocol="HTTP", default_actions=[action])


def role_policy(statement: dict, principal: dict | None = None) -> None:
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": principal or {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    role = aws.iam.Role("role", assume_role_policy=json.dumps(trust), tags=TAGS)
    aws.iam.RolePolicy("policy", role=role.name, policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]}))


def bucket(*, versioning: bool = False, sse: bool = False, pab: bool = False, tls: bool = False,
           lifecycle: bool = False, deprecated: bool = False) -> None:
    b = (aws.s3.BucketV2 if deprecated else aws.s3.Bucket)("bucket", tags=TAGS)
    if versioning:
        aws.s3.BucketVersioning("v", bucket=b.id, versioning_configuration={"status": "Enabled"})
    if sse:
        aws.s3.BucketServerSideEncryptionConfiguration("sse", bucket=b.id, rules=[{
            "apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms", "kms_master_key_id": "arn:key"}}])
    if pab:
        aws.s3.BucketPublicAccessBlock("pab", bucket=b.id, block_public_acls=True, block_public_policy=True,
                                       ignore_public_acls=True, restrict_public_buckets=True)
    if tls:
        aws.s3.BucketPolicy("tls", bucket=b.id, policy=b.arn.apply(lambda arn: json.dumps({"Statement": [{
            "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": [arn, f"{arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]})))
    if lifecycle:
        aws.s3.BucketLifecycleConfiguration("lc", bucket=b.id, rules=[{
            "id": "r", "status": "Enabled", "noncurrent_version_expiration": {"noncurrent_days": 365},
            "abort_incomplete_multipart_upload": {"days_after_initiation": 7}}])


BROKEN_AND_FIXED: dict[str, tuple[Callable[[], object], Callable[[], object]]] = {
    "vpc-flow-logs": (lambda: network(flow_log=False), network),
    "nat-per-az": (lambda: network(nat_per_az=False), network),
    "subnet-nacl": (lambda: network(associate=False), network),
    "no-world-admin-ports": (lambda: security_group(22, "0.0.0.0/0"), lambda: security_group(22, "10.0.0.0/8")),
    "world-ingress": (lambda: security_group(443, "0.0.0.0/0"), lambda: security_group(443, "10.0.0.0/8")),
    "default-sg-closed": (lambda: network(default_sg=False), network),
    "default-nacl-closed": (lambda: network(default_nacl="unmanaged"), network),
    "private-no-public-ip": (lambda: network(map_public=True), network),
    "lt-imdsv2": (lambda: launch_template(tokens="optional", hop=2), launch_template),
    "lt-ebs-encrypted": (lambda: launch_template(encrypted="false"), launch_template),
    "lt-no-public-ip": (lambda: launch_template(public_ip="true"), launch_template),
    "lt-user-data-secrets": (lambda: launch_template(user_data="export DB_PASSWORD=hunter2hunter2\n"), launch_template),
    "asg-elb-health": (lambda: asg(health="EC2"), asg),
    "asg-multi-az": (lambda: asg(azs=1), asg),
    "alb-multi-az": (lambda: alb(azs=1), alb),
    "alb-drop-invalid-headers": (lambda: alb(drop=False), alb),
    "http-redirects": (lambda: alb(http_action="forward"), alb),
    "iam-no-wildcard-action": (
        lambda: role_policy({"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::b"}),
        lambda: role_policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"})),
    "iam-no-wildcard-resource": (
        lambda: role_policy({"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}),
        lambda: role_policy({"Sid": "SsmAgentCore", "Effect": "Allow", "Action": "ssmmessages:OpenDataChannel",
                             "Resource": "*"})),  # documented as unavoidable
    "iam-trust-service": (
        lambda: role_policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}, {"AWS": "*"}),
        lambda: role_policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"})),
    "s3-versioning": (bucket, lambda: bucket(versioning=True)),
    "s3-sse-kms": (bucket, lambda: bucket(sse=True)),
    "s3-public-access-block": (bucket, lambda: bucket(pab=True)),
    "s3-tls-only": (bucket, lambda: bucket(tls=True)),
    "s3-lifecycle": (bucket, lambda: bucket(lifecycle=True)),
    "secret-cmk": (lambda: aws.secretsmanager.Secret("s", tags=TAGS),
                   lambda: aws.secretsmanager.Secret("s", kms_key_id="arn:key", tags=TAGS)),
    "ssm-secure-string": (
        lambda: aws.ssm.Parameter("p", name="/app/db-password", type="String", value="x", tags=TAGS),
        lambda: aws.ssm.Parameter("p", name="/app/db-password", type="SecureString", key_id="arn:key", value="x",
                                  tags=TAGS)),
    "kms-rotation": (lambda: aws.kms.Key("k", tags=TAGS), lambda: aws.kms.Key("k", enable_key_rotation=True, tags=TAGS)),
    "log-retention-kms": (lambda: aws.cloudwatch.LogGroup("g", tags=TAGS),
                          lambda: aws.cloudwatch.LogGroup("g", retention_in_days=30, kms_key_id="arn:key", tags=TAGS)),
    "alarm-actions": (
        lambda: aws.cloudwatch.MetricAlarm("a", comparison_operator="GreaterThanThreshold", evaluation_periods=1,
                                           metric_name="m", namespace="n", period=60, statistic="Sum", threshold=1,
                                           tags=TAGS),
        lambda: aws.cloudwatch.MetricAlarm("a", comparison_operator="GreaterThanThreshold", evaluation_periods=1,
                                           metric_name="m", namespace="n", period=60, statistic="Sum", threshold=1,
                                           alarm_actions=["arn:aws:sns:::t"], tags=TAGS)),
    "no-deprecated-types": (lambda: bucket(deprecated=True), bucket),
    "required-tags": (lambda: aws.ec2.Vpc("vpc", cidr_block="10.0.0.0/16"),
                      lambda: aws.ec2.Vpc("vpc", cidr_block="10.0.0.0/16", tags=TAGS)),
}


BROKEN_AND_FIXED.update(HARDENING)
BROKEN_AND_FIXED.update(EDGE)
BROKEN_AND_FIXED.update(DATA_PROTECTION)


def test_every_rule_has_a_broken_and_fixed_program() -> None:
    assert set(BROKEN_AND_FIXED) | {"naming-convention"} == set(RULES)


@pytest.mark.parametrize("rule_id", sorted(BROKEN_AND_FIXED))
def test_rule_catches_broken_and_passes_fixed(rule_id: str) -> None:
    broken, fixed = BROKEN_AND_FIXED[rule_id]
    assert rule_id in rules_hit(broken), f"{rule_id} missed its broken program"
    assert rule_id not in rules_hit(fixed), f"{rule_id} flagged its fixed twin"


def test_nacl_ephemeral_range_needs_an_earlier_deny() -> None:
    ephemeral = {"rule_no": 120, "protocol": "tcp", "action": "allow", "cidr_block": "0.0.0.0/0",
                 "from_port": 1024, "to_port": 65535}
    deny = {"rule_no": 91, "protocol": "tcp", "action": "deny", "cidr_block": "0.0.0.0/0",
            "from_port": 3389, "to_port": 3389}
    assert "no-world-admin-ports" in rules_hit(lambda: nacl([ephemeral]))
    assert "no-world-admin-ports" not in rules_hit(lambda: nacl([deny, ephemeral]))


def test_default_nacl_adopted_with_an_allow_rule_is_still_open() -> None:
    assert "default-nacl-closed" in rules_hit(lambda: network(default_nacl="open"))


def test_naming_convention_needs_config() -> None:
    config = StackConfig.load({"project": "hainfra"})
    assert "naming-convention" in rules_hit(lambda: aws.ec2.Vpc("my-vpc", tags=TAGS), config)
    assert "naming-convention" not in rules_hit(lambda: aws.ec2.Vpc("hainfra-vpc-dev", tags=TAGS), config)


def test_suppression_is_explicit_and_reported_with_reason() -> None:
    findings = check(lambda: security_group(443, "0.0.0.0/0"),
                     suppressions=[Suppression("world-ingress", "sg", "public web entry point")])
    row = findings[findings["rule"] == "world-ingress"].iloc[0]
    assert row["status"] == "suppressed" and row["reason"] == "public web entry point"


def test_nat_per_az_is_mandatory_only_in_prod() -> None:
    dev = check(lambda: network(nat_per_az=False), StackConfig.load({}))
    prod = check(lambda: network(nat_per_az=False), StackConfig.load({"environment": "prod"}))
    assert not mandatory(dev[dev["rule"] == "nat-per-az"]).shape[0]
    assert mandatory(prod[prod["rule"] == "nat-per-az"]).shape[0] == 1


def test_findings_carry_fix_and_controls() -> None:
    findings = check(lambda: network(flow_log=False))
    row = findings[findings["rule"] == "vpc-flow-logs"].iloc[0]
    assert "FlowLog" in row["fix"] and "EC2.6" in row["controls"] and row["mandatory"]


@pytest.mark.parametrize("params", [{}, {"environment": "prod", "asg_min": 3}, {"az_count": 6, "asg_min": 6,
                                    "asg_desired": 6, "environment": "prod"}, {"nat_strategy": "single", "az_count": 2}])
def test_hainfra_stack_has_no_mandatory_findings(params: dict) -> None:
    findings = check_stack(StackConfig.load(params))
    assert mandatory(findings).empty, mandatory(findings).to_string()
