"""Replace-forcing inputs per sandbox handler: complete, consistent, and what the AWS provider documents.

The provider facts below come from terraform-provider-aws's schemas (``ForceNew: true``), which
pulumi-aws bridges; its registry docs say "Changing this forces a new resource". A new handler
(VPC endpoints, a log bucket, …) without a ``replaces_on`` declaration fails here, by name.
"""

from __future__ import annotations

import pytest

from hainfra.config import StackConfig
from hainfra.engines.sandbox.engine import replace_rule
from hainfra.engines.sandbox.handlers import REGISTRY, REPLACE_RULES
from hainfra.errors import UnsupportedResourceError
from hainfra.plan import evaluate_offline

CERT = "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"
VARIANTS = ({}, {"certificate_arn": CERT, "alarm_email": "ops@example.com", "nat_strategy": "single",
                 "interface_endpoints": True}, {"environment": "prod", "asg_min": 3},
            {"environment": "prod", "asg_min": 3, "instance_types": ["t3.micro", "t3a.micro"]},
            {"environment": "prod", "asg_min": 3, "dr_region": "us-west-2"})

# (type, input, forces a new resource?) as the provider documents it.
PROVIDER: list[tuple[str, str, bool]] = [
    ("aws:ec2/vpc:Vpc", "cidrBlock", True),
    ("aws:ec2/vpc:Vpc", "enableDnsHostnames", False),
    ("aws:ec2/subnet:Subnet", "vpcId", True),
    ("aws:ec2/subnet:Subnet", "cidrBlock", True),
    ("aws:ec2/subnet:Subnet", "availabilityZone", True),
    ("aws:ec2/subnet:Subnet", "mapPublicIpOnLaunch", False),
    ("aws:ec2/internetGateway:InternetGateway", "vpcId", False),  # detach + attach in place
    ("aws:ec2/natGateway:NatGateway", "subnetId", True),
    ("aws:ec2/natGateway:NatGateway", "allocationId", True),
    ("aws:ec2/routeTable:RouteTable", "vpcId", True),
    ("aws:ec2/route:Route", "routeTableId", True),
    ("aws:ec2/route:Route", "destinationCidrBlock", True),
    ("aws:ec2/route:Route", "natGatewayId", False),
    ("aws:ec2/routeTableAssociation:RouteTableAssociation", "subnetId", True),
    ("aws:ec2/routeTableAssociation:RouteTableAssociation", "routeTableId", False),  # ReplaceRouteTableAssociation
    ("aws:ec2/networkAcl:NetworkAcl", "vpcId", True),
    ("aws:ec2/networkAcl:NetworkAcl", "ingress", False),
    ("aws:ec2/networkAclAssociation:NetworkAclAssociation", "networkAclId", True),
    ("aws:ec2/networkAclAssociation:NetworkAclAssociation", "subnetId", True),
    ("aws:ec2/securityGroup:SecurityGroup", "name", True),
    ("aws:ec2/securityGroup:SecurityGroup", "description", True),
    ("aws:ec2/securityGroup:SecurityGroup", "vpcId", True),
    ("aws:ec2/securityGroup:SecurityGroup", "ingress", False),
    ("aws:ec2/flowLog:FlowLog", "trafficType", True),
    ("aws:ec2/flowLog:FlowLog", "logDestination", True),
    ("aws:ec2/flowLog:FlowLog", "maxAggregationInterval", True),
    ("aws:ec2/vpcEndpoint:VpcEndpoint", "vpcId", True),
    ("aws:ec2/vpcEndpoint:VpcEndpoint", "serviceName", True),
    ("aws:ec2/vpcEndpoint:VpcEndpoint", "routeTableIds", False),
    ("aws:ec2/vpcEndpoint:VpcEndpoint", "subnetIds", False),
    ("aws:s3/bucketLogging:BucketLogging", "bucket", True),
    ("aws:s3/bucketLogging:BucketLogging", "targetPrefix", False),
    ("aws:lb/loadBalancer:LoadBalancer", "name", True),
    ("aws:lb/loadBalancer:LoadBalancer", "internal", True),
    ("aws:lb/loadBalancer:LoadBalancer", "subnets", False),
    ("aws:lb/targetGroup:TargetGroup", "vpcId", True),
    ("aws:lb/targetGroup:TargetGroup", "port", True),
    ("aws:lb/targetGroup:TargetGroup", "healthCheck", False),
    ("aws:lb/listener:Listener", "loadBalancerArn", True),
    ("aws:lb/listener:Listener", "port", False),
    ("aws:ec2/launchTemplate:LaunchTemplate", "instanceType", False),  # a new version
    ("aws:autoscaling/group:Group", "name", True),
    ("aws:autoscaling/group:Group", "vpcZoneIdentifiers", False),
    ("aws:iam/role:Role", "name", True),
    ("aws:iam/role:Role", "assumeRolePolicy", False),
    ("aws:iam/rolePolicy:RolePolicy", "role", True),
    ("aws:iam/instanceProfile:InstanceProfile", "role", False),
    ("aws:kms/key:Key", "description", False),
    ("aws:kms/key:Key", "region", True),  # pulumi-aws 7: each resource's own region; another region, another key
    ("aws:s3/bucket:Bucket", "region", True),
    ("aws:s3/bucketReplicationConfig:BucketReplicationConfig", "bucket", True),
    ("aws:s3/bucketReplicationConfig:BucketReplicationConfig", "role", False),
    ("aws:kms/key:Key", "keyUsage", True),
    ("aws:kms/alias:Alias", "name", True),
    ("aws:kms/alias:Alias", "targetKeyId", False),
    ("aws:s3/bucket:Bucket", "bucket", True),
    ("aws:s3/bucket:Bucket", "forceDestroy", False),
    ("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "bucket", True),
    ("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "rules", False),
    ("aws:secretsmanager/secret:Secret", "name", True),
    ("aws:secretsmanager/secret:Secret", "kmsKeyId", False),
    ("aws:secretsmanager/secretVersion:SecretVersion", "secretString", True),
    ("aws:ssm/parameter:Parameter", "name", True),
    ("aws:ssm/parameter:Parameter", "value", False),
    ("aws:cloudwatch/logGroup:LogGroup", "name", True),
    ("aws:cloudwatch/logGroup:LogGroup", "retentionInDays", False),
    ("aws:cloudwatch/eventRule:EventRule", "name", True),
    ("aws:cloudwatch/eventTarget:EventTarget", "rule", True),
    ("aws:cloudwatch/metricAlarm:MetricAlarm", "name", True),
    ("aws:cloudwatch/metricAlarm:MetricAlarm", "threshold", False),
    ("aws:sns/topic:Topic", "name", True),
    ("aws:sns/topicSubscription:TopicSubscription", "endpoint", True),
    ("aws:ec2/vpcEndpoint:VpcEndpoint", "policy", False),
    ("aws:autoscaling/group:Group", "mixedInstancesPolicy", False),
    ("aws:ec2/launchTemplate:LaunchTemplate", "monitoring", False),
    ("aws:acm/certificate:Certificate", "domainName", True),
    ("aws:acm/certificate:Certificate", "privateKey", False),  # an imported certificate is re-imported in place
    ("aws:acm/certificate:Certificate", "certificateBody", False),
    ("aws:wafv2/webAcl:WebAcl", "name", True),
    ("aws:wafv2/webAcl:WebAcl", "scope", True),
    ("aws:wafv2/webAcl:WebAcl", "rules", False),
    ("aws:wafv2/webAcl:WebAcl", "defaultAction", False),
    ("aws:wafv2/webAclAssociation:WebAclAssociation", "resourceArn", True),
    ("aws:wafv2/webAclAssociation:WebAclAssociation", "webAclArn", True),
    ("aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration", "resourceArn", True),
    ("aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration", "logDestinationConfigs", True),
    ("aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration", "redactedFields", False),
]


@pytest.mark.parametrize(("token", "key", "forces"), PROVIDER, ids=[f"{t.split(':')[-1]}.{k}" for t, k, _ in PROVIDER])
def test_replace_rules_match_the_provider(token: str, key: str, forces: bool) -> None:
    assert (key in REPLACE_RULES[token].force_new) is forces


def test_every_handler_declares_its_replace_forcing_inputs() -> None:
    missing = sorted(set(REGISTRY) - set(REPLACE_RULES))
    assert not missing, f"handlers without replaces_on(...): {missing}"
    assert not set(REPLACE_RULES) - set(REGISTRY), "a rule for a type nobody handles"


def test_every_declared_input_is_either_replace_forcing_or_changed_in_place() -> None:
    """Otherwise a change to it would be called an update that the handler silently does not apply."""
    gaps = []
    for params in VARIANTS:
        evaluation, _ = evaluate_offline(StackConfig.load(params))
        for reg in evaluation.custom:
            handler, rule = REGISTRY[reg.type], REPLACE_RULES[reg.type]
            for key in set(reg.inputs) - set(reg.ignore_changes):
                if key not in rule.force_new and key not in handler.updatable and not (key == "tags" and handler.tag):
                    gaps.append((reg.type, key))
    assert not gaps, sorted(set(gaps))


def test_unique_inputs_are_declared_inputs() -> None:
    for token, rule in REPLACE_RULES.items():
        assert set(rule.unique) <= rule.force_new | REGISTRY[token].updatable, token


def test_a_type_without_replace_rules_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(REPLACE_RULES, "aws:sns/topic:Topic")
    with pytest.raises(UnsupportedResourceError, match=r"aws:sns/topic:Topic.*replaces_on"):
        replace_rule("aws:sns/topic:Topic")
