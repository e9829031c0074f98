"""HA and security invariants of the declared stack, checked on the offline resource graph."""

from __future__ import annotations

import importlib
import inspect
import json
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pulumi
import pytest

from hainfra import documents, naming
from hainfra.config import REQUIRED_TAGS, StackConfig
from hainfra.engines.runtime import evaluate
from hainfra.plan import OFFLINE_ACCOUNT, OfflineRealiser, evaluate_offline, plan
from hainfra.policy import graph_of
from hainfra.policy.graph import Graph, taggable
from hainfra.stack import program

README = Path(__file__).resolve().parents[2] / "README.md"


def graph(**params: object) -> tuple[StackConfig, Graph]:
    return _graph(json.dumps(params, sort_keys=True))


@cache
def _graph(params: str) -> tuple[StackConfig, Graph]:
    config = StackConfig.load(json.loads(params))
    evaluation, _ = evaluate_offline(config)
    return config, graph_of(evaluation)


@pytest.mark.parametrize("az_count", [2, 3, 6])
def test_one_nat_per_az_and_private_routes_stay_in_their_az(az_count: int) -> None:
    _, g = graph(az_count=az_count)
    nats = g.of("ec2/natGateway:NatGateway")
    assert sorted(g.az_of(n.inputs["subnetId"]) for n in nats) == sorted(
        {s.inputs["availabilityZone"] for s in g.of("ec2/subnet:Subnet")})
    private_routes = [r for r in g.of("ec2/route:Route") if r.inputs.get("natGatewayId")]
    assert len(private_routes) == az_count
    for route in private_routes:
        table = g.ref(route.inputs["routeTableId"])
        assoc = next(a for a in g.of("ec2/routeTableAssociation:RouteTableAssociation")
                     if g.ref(a.inputs["routeTableId"]) is table)
        subnet_az = g.az_of(assoc.inputs["subnetId"])
        nat_az = g.az_of(g.ref(route.inputs["natGatewayId"]).inputs["subnetId"])
        assert subnet_az == nat_az, f"{table.name} routes {subnet_az} through a NAT in {nat_az}"


def test_single_nat_strategy_is_one_switch() -> None:
    _, g = graph(nat_strategy="single")
    assert len(g.of("ec2/natGateway:NatGateway")) == 1
    assert len({r.inputs["natGatewayId"] for r in g.of("ec2/route:Route") if r.inputs.get("natGatewayId")}) == 1


def test_each_tier_spans_distinct_azs_and_every_subnet_has_its_tier_nacl() -> None:
    _, g = graph()
    subnets = g.of("ec2/subnet:Subnet")
    for tier in ("public", "private"):
        azs = [s.inputs["availabilityZone"] for s in subnets if s.inputs["tags"]["Tier"] == tier]
        assert len(azs) == len(set(azs)) == 3
    for subnet in subnets:
        (assoc,) = [a for a in g.of("ec2/networkAclAssociation:NetworkAclAssociation")
                    if g.ref(a.inputs["subnetId"]) is subnet]
        assert g.ref(assoc.inputs["networkAclId"]).inputs["tags"]["Tier"] == subnet.inputs["tags"]["Tier"]
        assert subnet.inputs["mapPublicIpOnLaunch"] is False


def test_flow_log_captures_all_traffic_into_the_encrypted_group() -> None:
    config, g = graph()
    (flow,) = g.of("ec2/flowLog:FlowLog")
    assert g.ref(flow.inputs["vpcId"]) is g.of("ec2/vpc:Vpc")[0]
    assert flow.inputs["trafficType"] == "ALL"
    group = g.ref(flow.inputs["logDestination"])
    assert group.inputs["name"] == naming.log_group_name(config, "flow-logs")
    assert group.inputs["kmsKeyId"] and group.inputs["retentionInDays"] == config.retention_days == 30
    role = g.ref(flow.inputs["iamRoleArn"])
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "vpc-flow-logs.amazonaws.com"}]


def test_no_wildcard_resource_unless_documented() -> None:
    _, g = graph()
    policies = [json.loads(p.inputs["policy"]) for p in g.of("iam/rolePolicy:RolePolicy")]
    assert len(policies) == 3  # flow logs, instances, secret rotation
    for doc in policies:
        assert documents.wildcard_statements(doc) == []
        for st in doc["Statement"]:
            if "*" in st["Resource"]:
                assert st["Sid"] in documents.WILDCARD_ALLOWED


def test_bucket_protections_present() -> None:
    config, g = graph()
    (bucket,) = [b for b in g.of("s3/bucket:Bucket") if b.inputs["bucket"] == naming.bucket_name(config, OFFLINE_ACCOUNT)]
    kinds = {r.type.split(":")[-1]: r.inputs for r in g.resources if r.inputs.get("bucket") in (bucket.id,)}
    assert kinds["BucketVersioning"]["versioningConfiguration"]["status"] == "Enabled"
    rule = kinds["BucketServerSideEncryptionConfiguration"]["rules"][0]["applyServerSideEncryptionByDefault"]
    assert rule["sseAlgorithm"] == "aws:kms" and rule["kmsMasterKeyId"]
    pab = kinds["BucketPublicAccessBlock"]
    assert all(pab[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    assert kinds["BucketOwnershipControls"]["rule"]["objectOwnership"] == "BucketOwnerEnforced"
    assert kinds["BucketNotification"]["eventbridge"] is True
    policy = json.loads(kinds["BucketPolicy"]["policy"])["Statement"][0]
    assert policy["Effect"] == "Deny" and policy["Condition"]["Bool"]["aws:SecureTransport"] == "false"
    lifecycle = kinds["BucketLifecycleConfiguration"]["rules"][0]
    assert [t["storageClass"] for t in lifecycle["noncurrentVersionTransitions"]] == ["STANDARD_IA", "GLACIER"]
    assert lifecycle["noncurrentVersionExpiration"]["noncurrentDays"] == config.backup_expire_days
    assert lifecycle["abortIncompleteMultipartUpload"]["daysAfterInitiation"] == config.abort_upload_days


def test_launch_template_and_asg_hardening() -> None:
    _, g = graph()
    (lt,) = g.of("ec2/launchTemplate:LaunchTemplate")
    assert lt.inputs["metadataOptions"]["httpTokens"] == "required"
    assert lt.inputs["metadataOptions"]["httpPutResponseHopLimit"] == 1
    assert all(b["ebs"]["encrypted"] == "true" for b in lt.inputs["blockDeviceMappings"])
    assert all(n["associatePublicIpAddress"] == "false" for n in lt.inputs["networkInterfaces"])
    (asg,) = g.of("autoscaling/group:Group")
    assert asg.inputs["healthCheckType"] == "ELB"
    assert len({g.az_of(s) for s in asg.inputs["vpcZoneIdentifiers"]}) == 3


def test_every_taggable_resource_tagged_and_named_by_convention() -> None:
    config, g = graph(extra_tags={"CostCenter": "42"})
    checked = 0
    for r in g.resources:
        assert r.name.startswith(f"{config.project}-") and f"-{config.env_id}" in r.name, r.name
        if taggable(r.type):
            tags = r.inputs.get("tags") or {}
            tags = {t["key"]: t["value"] for t in tags} if isinstance(tags, list) else tags
            assert all(tags.get(k) for k in (*REQUIRED_TAGS, "CostCenter")), r.label
            checked += 1
    assert checked >= 40  # guards against the check silently matching nothing


def deprecations(program: Callable[[], object], monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What pulumi_aws itself calls deprecated in ``program``: its resource classes that warn "has been
    deprecated" (BucketV2…) and the arguments it warns about while the program runs (never our own table)."""
    warned: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *args, **kwargs: warned.append(str(message)))
    evaluation = evaluate(program, OfflineRealiser("us-east-1"), project="deprecations", stack="probe")
    for token in sorted({r.type for r in evaluation.custom}):
        module, kind = token.split(":")[1].split("/")[0], token.split(":")[2]
        module = {"lambda": "lambda_"}.get(module, module)  # pulumi_aws's module names avoid Python keywords
        source = inspect.getsource(getattr(importlib.import_module(f"pulumi_aws.{module}"), kind))
        warned += [f"{token}: {line.strip()}" for line in source.splitlines()[:4] if "deprecated" in line]
    return [m for m in warned if "deprecated" in m]


def test_pulumi_aws_deprecates_nothing_the_stack_declares(monkeypatch: pytest.MonkeyPatch) -> None:
    config = StackConfig.load({"stack": "deprecation-probe", "environment": "prod", "asg_min": 3, "asg_desired": 3,
                               "asg_max": 6})  # prod: every optional resource (interface endpoints, protection)
    assert deprecations(lambda: program(config), monkeypatch) == []


def test_the_deprecation_probe_sees_a_deprecated_type(monkeypatch: pytest.MonkeyPatch) -> None:
    import pulumi_aws as aws

    found = deprecations(lambda: aws.s3.BucketV2("old"), monkeypatch)
    assert any(m.startswith("BucketV2 is deprecated") for m in found), found  # warned while the program runs
    assert any(m.startswith("aws:s3/bucketV2:BucketV2: warnings.warn") for m in found), found  # its class says so


def test_the_outputs_are_the_readme_table_and_all_have_values() -> None:
    """The README's "Stack outputs" table is what users read; every row is exported with a value."""
    text = README.read_text()
    table = text[text.index("## Stack outputs"):].split("\n\n## ")[0]
    documented = re.findall(r"^\| `([a-z0-9_]+)` \|", table, flags=re.M)
    outputs = plan(StackConfig.load({})).attrs["outputs"]
    assert sorted(outputs) == sorted(documented) and len(documented) >= 20
    assert [k for k, v in outputs.items() if v in (None, "", [])] == []


def test_region_is_applied_not_hard_coded() -> None:
    _, g = graph(region="eu-west-1", az_count=2)
    assert {s.inputs["availabilityZone"] for s in g.of("ec2/subnet:Subnet")} == {"eu-west-1a", "eu-west-1b"}


# --- hardened for real AWS (issue 16) ------------------------------------------------------------
def test_every_taggable_resource_carries_its_resource_type() -> None:
    _, g = graph(environment="prod", asg_min=3)
    for r in g.resources:
        if not taggable(r.type):
            continue
        tags = r.inputs.get("tags") or {}
        if isinstance(tags, list):  # the ASG: ResourceType is not propagated to the instances (another kind)
            (tag,) = [t for t in tags if t["key"] == "ResourceType"]
            assert tag["value"] == "autoscaling.Group" and tag["propagateAtLaunch"] is False
            continue
        assert tags.get("ResourceType") == naming.resource_type(r.type), r.label


@pytest.mark.parametrize("params, interface", [({}, 0), ({"environment": "prod", "asg_min": 3}, 5),
                                               ({"interface_endpoints": True}, 5),
                                               ({"environment": "prod", "asg_min": 3, "interface_endpoints": False}, 0)])
def test_vpc_endpoints_follow_the_switch(params: dict, interface: int) -> None:
    config, g = graph(**params)
    endpoints = g.of("ec2/vpcEndpoint:VpcEndpoint")
    (gateway,) = [e for e in endpoints if e.inputs["vpcEndpointType"] == "Gateway"]
    private_tables = {g.ref(a.inputs["routeTableId"]).name for a in g.of("ec2/routeTableAssociation:RouteTableAssociation")
                      if "private" in g.ref(a.inputs["subnetId"]).name}
    assert {g.ref(t).name for t in gateway.inputs["routeTableIds"]} == private_tables and len(private_tables) == 3
    interfaces = [e for e in endpoints if e.inputs["vpcEndpointType"] == "Interface"]
    assert len(interfaces) == interface
    for e in interfaces:
        assert e.inputs["privateDnsEnabled"] is True and len(e.inputs["subnetIds"]) == config.az_count
        (sg,) = [g.ref(x) for x in e.inputs["securityGroupIds"]]
        assert sg.inputs["ingress"] == [{"protocol": "tcp", "fromPort": 443, "toPort": 443,
                                         "cidrBlocks": [config.vpc_cidr], "description": "HTTPS from the VPC"}]
        assert sg.inputs["egress"] == []


@pytest.mark.parametrize("environment, protected, retention", [("dev", False, 30), ("prod", True, 365)])
def test_prod_alb_is_protected_and_logs_are_kept_a_year(environment: str, protected: bool, retention: int) -> None:
    config, g = graph(environment=environment, asg_min=3)
    (alb,) = g.of("lb/loadBalancer:LoadBalancer")
    assert alb.inputs["enableDeletionProtection"] is protected
    logs = alb.inputs["accessLogs"]
    assert logs["enabled"] is True and logs["bucket"] == naming.log_bucket_name(config, OFFLINE_ACCOUNT)
    assert logs["prefix"] == naming.alb_log_prefix(config)
    assert {lg.inputs["retentionInDays"] for lg in g.of("cloudwatch/logGroup:LogGroup")} == {retention}


def test_log_bucket_is_sse_s3_and_receives_the_backup_buckets_access_logs() -> None:
    config, g = graph()
    log_bucket = next(b for b in g.of("s3/bucket:Bucket") if b.inputs["bucket"] == naming.log_bucket_name(config, OFFLINE_ACCOUNT))
    kinds = {r.type.split(":")[-1]: r.inputs for r in g.resources if r.inputs.get("bucket") == log_bucket.id}
    sse = kinds["BucketServerSideEncryptionConfiguration"]["rules"][0]["applyServerSideEncryptionByDefault"]
    assert sse == {"sseAlgorithm": "AES256"}
    assert kinds["BucketVersioning"]["versioningConfiguration"]["status"] == "Enabled"
    assert kinds["BucketLifecycleConfiguration"]["rules"][0]["expiration"]["days"] == config.retention_days
    (logging,) = g.of("s3/bucketLogging:BucketLogging")
    assert g.ref(logging.inputs["targetBucket"]) is log_bucket
    assert g.ref(logging.inputs["bucket"]).inputs["bucket"] == naming.bucket_name(config, OFFLINE_ACCOUNT)
    policy = json.loads(kinds["BucketPolicy"]["policy"])
    assert documents.unscoped_service_statements(policy) == []


def test_component_args_are_keyword_only() -> None:
    """Five ARN-like strings in a row are easy to swap unseen: every component's Args takes keywords only."""
    import dataclasses

    from hainfra.components import compute, monitoring, network, secrets, security, storage

    args = [cls for module in (compute, monitoring, network, secrets, security, storage)
            for name, cls in vars(module).items() if name.endswith("Args") and dataclasses.is_dataclass(cls)]
    assert len(args) == 8, args
    assert [a.__name__ for a in args if not all(f.kw_only for f in dataclasses.fields(a))] == []
    with pytest.raises(TypeError):
        security.IdentityArgs(StackConfig.load({}), "ssm", "secret", "key", "bucket", "log")  # type: ignore[misc]
