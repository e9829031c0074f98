"""The day-2 change matrix, one specification for both engines (tests/sandbox, tests/engines).

Each case changes one parameter of the stack as it stands and proves: preview names exactly the
resources ``up`` then changes (and what the case expects: which kinds, which actions), ``up``
succeeds, verify passes, a second ``up`` changes nothing. One deployed stack per chain keeps the
cost to one deploy and one destroy (which must leave nothing).
"""

from __future__ import annotations

from typing import Any

from hainfra import verify
from hainfra.aws import Ctx
from hainfra.config import StackConfig
from hainfra.engines import get_engine
from hainfra.engines.base import OperationResult
from hainfra.engines.sandbox.sweep import sweep
from hainfra.plan import short_type

Kinds = dict[str, set[str]]  # action -> short types expected to take it (exactly)


def changed(result: OperationResult) -> set[tuple[str, str]]:
    rows = result.changes[result.changes["action"] != "same"]
    return set(zip(rows["name"], rows["action"], strict=True))


def kinds(result: OperationResult) -> Kinds:
    rows = result.changes[result.changes["action"] != "same"]
    out: Kinds = {}
    for action, token in zip(rows["action"], rows["type"], strict=True):
        out.setdefault(action, set()).add(short_type(token))
    return out


def apply_case(config: StackConfig, expected: Kinds, exact: bool = True) -> StackConfig:
    """Preview → check the expectation → up does exactly that → verify passes → up again is a no-op.

    Args:
        exact: the preview's kinds must equal ``expected`` (else: include it; for an engine whose
            replacement strategy differs, e.g. Pulumi updates what the sandbox replaces delete-first).
    """
    engine = get_engine(config.engine, config)
    preview = engine.preview()
    found = kinds(preview)
    ok = found == expected if exact else all(v <= found.get(k, set()) for k, v in expected.items())
    assert ok, preview.changes[preview.changes["action"] != "same"].to_string()
    up = engine.up()
    assert changed(up) == changed(preview), "up changed something the preview did not name (or the reverse)"
    results = verify.run(config, engine=engine, wait_seconds=5)
    failing = results[results["status"] == "fail"]
    assert failing.empty, failing.to_string()
    again = engine.up()
    assert again.no_changes, again.changes[again.changes["action"] != "same"].to_string()
    return config


def destroy_leaves_nothing(config: StackConfig) -> None:
    get_engine(config.engine, config).destroy()
    assert int(sweep(Ctx(config.aws_endpoint_url, config.region), config)["remaining"].sum()) == 0


def run_chain(config: StackConfig, cases: list[tuple[dict[str, Any], Kinds]], exact: bool = True) -> StackConfig:
    """Deploy once, apply every case in turn on the live stack; returns the last configuration."""
    get_engine(config.engine, config).up()
    for change, expected in cases:
        config = apply_case(config.replace(**change), expected, exact)
    return config


NETWORK = ({"ec2.Vpc", "ec2.Subnet", "ec2.RouteTable", "ec2.Route", "ec2.RouteTableAssociation", "ec2.NetworkAcl",
            "ec2.NetworkAclAssociation", "ec2.SecurityGroup", "ec2.DefaultSecurityGroup", "ec2.DefaultNetworkAcl",
            "ec2.FlowLog",
            "ec2.NatGateway", "ec2.VpcEndpoint", "lb.TargetGroup", "lb.Listener", "autoscaling.Group",
            "cloudwatch.MetricAlarm"})

NETWORK_CASES: list[tuple[dict[str, Any], Kinds]] = [
    # a new CIDR: the VPC and everything whose replace-forcing input comes from it (Pulumi's own preview)
    ({"vpc_cidr": "10.1.0.0/16"}, {"replace": NETWORK,
                                   "update": {"ec2.InternetGateway", "lb.LoadBalancer", "ec2.LaunchTemplate"}}),
    ({"az_count": 4}, {"create": {"ec2.Subnet", "ec2.Eip", "ec2.NatGateway", "ec2.RouteTable", "ec2.Route",
                                  "ec2.RouteTableAssociation", "ec2.NetworkAclAssociation"},
                       "update": {"lb.LoadBalancer", "autoscaling.Group", "ec2.VpcEndpoint"}}),
    ({"az_count": 3}, {"delete": {"ec2.Subnet", "ec2.Eip", "ec2.NatGateway", "ec2.RouteTable", "ec2.Route",
                                  "ec2.RouteTableAssociation", "ec2.NetworkAclAssociation"},
                       "update": {"lb.LoadBalancer", "autoscaling.Group", "ec2.VpcEndpoint"}}),
    ({"nat_strategy": "single"}, {"delete": {"ec2.Eip", "ec2.NatGateway"}, "update": {"ec2.Route"}}),
    ({"nat_strategy": "per_az"}, {"create": {"ec2.Eip", "ec2.NatGateway"}, "update": {"ec2.Route"}}),
]

APPLICATION_CASES: list[tuple[dict[str, Any], Kinds]] = [
    ({"instance_type": "t3.small"}, {"update": {"ec2.LaunchTemplate"}}),
    # a mixed-instances policy comes and goes in place (the preferred type stays the template's)
    ({"instance_types": ["t3.small", "t3a.small"]}, {"update": {"autoscaling.Group"}}),
    ({"instance_types": []}, {"update": {"autoscaling.Group"}}),
    # the WAF and its logging come and go; the key policy names its log group only while it exists
    ({"waf": True}, {"create": {"wafv2.WebAcl", "wafv2.WebAclAssociation", "wafv2.WebAclLoggingConfiguration",
                                "cloudwatch.LogGroup", "cloudwatch.LogResourcePolicy"}, "update": {"kms.Key"}}),
    ({"waf": False}, {"delete": {"wafv2.WebAcl", "wafv2.WebAclAssociation", "wafv2.WebAclLoggingConfiguration",
                                 "cloudwatch.LogGroup", "cloudwatch.LogResourcePolicy"}, "update": {"kms.Key"}}),
    ({"asg_max": 8}, {"update": {"autoscaling.Group"}}),
    # the capacity alarm's threshold follows asg_min
    ({"asg_min": 3, "asg_desired": 3}, {"update": {"autoscaling.Group", "cloudwatch.MetricAlarm"}}),
    # log groups, and the log bucket's expiry (it follows the log retention)
    ({"log_retention_days": 60}, {"update": {"cloudwatch.LogGroup", "s3.BucketLifecycleConfiguration"}}),
    ({"backup_glacier_days": 120}, {"update": {"s3.BucketLifecycleConfiguration"}}),
    ({"abort_upload_days": 3}, {"update": {"s3.BucketLifecycleConfiguration"}}),
    ({"alarm_email": "ops@example.com"}, {"create": {"sns.TopicSubscription"}}),
    ({"avoid_cidrs": ["172.16.0.0/12"]}, {}),  # validation only: nothing changes
    ({"secret_rotation_days": 14}, {"update": {"secretsmanager.SecretRotation"}}),
    ({"secret_admin_arns": ["arn:aws:iam::123456789012:role/BreakGlass"]}, {"update": {"secretsmanager.SecretPolicy"}}),
    # Object Lock on a live bucket: one resource, never a new bucket; off again: the default retention goes
    ({"backup_lock_days": 5}, {"create": {"s3.BucketObjectLockConfiguration"}}),
    ({"backup_lock_days": 0}, {"delete": {"s3.BucketObjectLockConfiguration"}}),
]

TAGGABLE = {"ec2.Vpc", "ec2.Subnet", "ec2.NatGateway", "ec2.SecurityGroup", "s3.Bucket", "kms.Key",
            "secretsmanager.Secret", "lb.LoadBalancer", "autoscaling.Group", "iam.Role", "cloudwatch.LogGroup",
            "sns.Topic", "ssm.Parameter"}
