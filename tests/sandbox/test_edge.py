"""A prod stack on the emulator with HTTPS (the self-signed certificate), the WAF and mixed instances: verify
passes; taking away the WAF association, the HTTPS listener or an endpoint policy makes verify fail naming it;
the private key never reaches the state; destroy leaves nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from botocore.exceptions import ClientError

from hainfra import documents, naming, verify
from hainfra.aws import Ctx, empty_prefix
from hainfra.config import StackConfig
from hainfra.engines import get_engine
from hainfra.engines.base import Engine
from hainfra.engines.sandbox.state import State
from hainfra.engines.sandbox.sweep import sweep

pytestmark = pytest.mark.slow
EDGE_CHECKS = ["edge.https-only", "edge.waf-attached", "hardening.endpoint-policies", "compute.instance-options",
               "hardening.service-principals", "hardening.log-retention"]
TYPES = ["t3.micro", "t3a.micro"]


@dataclass
class Deployed:
    home: Path
    config: StackConfig
    engine: Engine
    outputs: dict
    aws: Ctx
    first: pd.DataFrame

    def verify(self) -> pd.DataFrame:
        return verify.run(self.config, engine=self.engine, wait_seconds=1, checks=EDGE_CHECKS)


@pytest.fixture(scope="module")
def prod(emulator: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    home = tmp_path_factory.mktemp("edge-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HAINFRA_HOME", str(home))
        config = StackConfig.load({"stack": "edge", "project": "edge", "environment": "prod", "asg_min": 3,
                                   "instance_types": TYPES, "aws_endpoint_url": emulator.url})  # type: ignore[attr-defined]
        engine = get_engine("sandbox", config)
        result = engine.up()
        aws = Ctx(config.aws_endpoint_url, config.region)
        try:
            yield Deployed(home, config, engine, result.outputs, aws, result.changes)
        finally:
            aws.client("s3").put_bucket_logging(Bucket=result.outputs["bucket_name"], BucketLoggingStatus={})
            for bucket in (result.outputs["bucket_name"], result.outputs["log_bucket_name"]):
                empty_prefix(aws, bucket, "")
            engine.destroy()
            remaining = sweep(aws, config)
            assert int(remaining["remaining"].sum()) == 0, remaining[remaining["remaining"] > 0].to_string()


@pytest.fixture
def stack(prod: Deployed, hainfra_home: Path, monkeypatch: pytest.MonkeyPatch) -> Deployed:
    """The module's prod stack, with its state folder (each test otherwise gets a fresh one)."""
    monkeypatch.setenv("HAINFRA_HOME", str(prod.home))
    return prod


def _failed(results: pd.DataFrame) -> pd.DataFrame:
    return results[results["status"] == "fail"]


def test_prod_deploys_https_waf_and_mixed_instances_and_verify_passes(stack: Deployed) -> None:
    created = set(stack.first["type"])
    assert {"aws:acm/certificate:Certificate", "aws:wafv2/webAcl:WebAcl", "aws:wafv2/webAclAssociation:WebAclAssociation",
            "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"} <= created
    results = stack.verify()
    assert _failed(results).empty, _failed(results).to_string()
    passed = results[results["status"] == "pass"]
    assert {"HTTPS listener", "HTTP listener", "WAF association", "WAF logging", "instance types",
            "launch template monitoring"} <= set(passed["resource"])
    assert len(passed[passed["check"] == "hardening.endpoint-policies"]) == 6
    group = stack.aws.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[stack.outputs["asg_name"]])["AutoScalingGroups"][0]
    assert [o["InstanceType"] for o in group["MixedInstancesPolicy"]["LaunchTemplate"]["Overrides"]] == TYPES


def test_whole_verify_passes_on_the_mixed_instances_prod_stack(stack: Deployed) -> None:
    """Every check, including the instance → SSM → S3 → CloudWatch flow through a mixed-instances group."""
    results = verify.run(stack.config, engine=stack.engine, wait_seconds=2)
    assert _failed(results).empty, _failed(results).to_string()
    assert set(results[results["check"] == "dataflow.instance-to-s3"]["status"]) == {"pass"}, \
        results[results["check"] == "dataflow.instance-to-s3"].to_string()


def test_certificate_key_never_in_state_and_rerun_changes_nothing(stack: Deployed) -> None:
    text = State.for_stack(stack.config.stack).path.read_text()
    assert "aws:acm/certificate:Certificate" in text and "PRIVATE KEY" not in text
    again = stack.engine.up()  # a fresh key pair is drawn, and ignored: the imported certificate stays
    assert set(again.changes["action"]) == {"same"}, again.changes[again.changes["action"] != "same"].to_string()
    certs = stack.aws.client("acm").list_certificates()["CertificateSummaryList"]
    ours = [c for c in certs if naming.stack_slug(stack.config.stack) in c.get("DomainName", "")]
    assert len(ours) == 1, certs


def test_removing_the_waf_association_fails_verify_naming_it(stack: Deployed) -> None:
    waf = stack.aws.client("wafv2")
    acl = waf.get_web_acl_for_resource(ResourceArn=stack.outputs["alb_arn"])["WebACL"]
    waf.disassociate_web_acl(ResourceArn=stack.outputs["alb_arn"])
    try:
        failed = _failed(stack.verify())
    finally:
        waf.associate_web_acl(WebACLArn=acl["ARN"], ResourceArn=stack.outputs["alb_arn"])
    assert list(zip(failed["check"], failed["resource"], strict=True)) == [("edge.waf-attached", "WAF association")], failed
    assert "no web ACL on the ALB" in failed.iloc[0]["found"]


def test_the_emulator_lists_the_web_acls_resources_as_aws_does(stack: Deployed) -> None:
    """What Prowler's elbv2_waf_acl_attached reads: ListResourcesForWebACL (emulated: moto has none)."""
    waf, alb = stack.aws.client("wafv2"), stack.outputs["alb_arn"]
    acl = waf.get_web_acl_for_resource(ResourceArn=alb)["WebACL"]["ARN"]
    assert waf.list_resources_for_web_acl(WebACLArn=acl, ResourceType="APPLICATION_LOAD_BALANCER")["ResourceArns"] == [alb]
    assert waf.list_resources_for_web_acl(WebACLArn=acl, ResourceType="COGNITO_USER_POOL")["ResourceArns"] == []
    waf.disassociate_web_acl(ResourceArn=alb)
    try:
        assert waf.list_resources_for_web_acl(WebACLArn=acl)["ResourceArns"] == []
    finally:
        waf.associate_web_acl(WebACLArn=acl, ResourceArn=alb)
    with pytest.raises(ClientError, match="WAFNonexistentItemException"):
        waf.list_resources_for_web_acl(WebACLArn=acl.replace(acl.rsplit("/", 1)[-1], "0" * 36))


def test_removing_the_https_listener_fails_verify_naming_it(stack: Deployed) -> None:
    elb = stack.aws.client("elbv2")
    listener = next(x for x in elb.describe_listeners(LoadBalancerArn=stack.outputs["alb_arn"])["Listeners"]
                    if x["Port"] == 443)
    elb.delete_listener(ListenerArn=listener["ListenerArn"])
    try:
        failed = _failed(stack.verify())
    finally:
        elb.create_listener(LoadBalancerArn=stack.outputs["alb_arn"], Protocol="HTTPS", Port=443,
                            Certificates=listener["Certificates"], SslPolicy=listener["SslPolicy"],
                            DefaultActions=listener["DefaultActions"])
    assert list(zip(failed["check"], failed["resource"], strict=True)) == [("edge.https-only", "HTTPS listener")], failed
    assert "no listener on 443" in failed.iloc[0]["found"]


def test_http_listener_serving_traffic_fails_verify(stack: Deployed) -> None:
    elb = stack.aws.client("elbv2")
    http = next(x for x in elb.describe_listeners(LoadBalancerArn=stack.outputs["alb_arn"])["Listeners"]
                if x["Port"] == 80)
    elb.modify_listener(ListenerArn=http["ListenerArn"], DefaultActions=[
        {"Type": "forward", "TargetGroupArn": stack.outputs["target_group_arn"]}])
    try:
        failed = _failed(stack.verify())
    finally:
        elb.modify_listener(ListenerArn=http["ListenerArn"], DefaultActions=http["DefaultActions"])
    assert list(zip(failed["check"], failed["resource"], strict=True)) == [("edge.https-only", "HTTP listener")], failed


def test_widened_endpoint_policy_fails_verify(stack: Deployed) -> None:
    ec2 = stack.aws.client("ec2")
    gateway = next(e for e in ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [stack.outputs["vpc_id"]]}])[
        "VpcEndpoints"] if e["ServiceName"].endswith(".s3"))
    wide = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]}
    ec2.modify_vpc_endpoint(VpcEndpointId=gateway["VpcEndpointId"], PolicyDocument=json.dumps(wide))
    try:
        failed = _failed(stack.verify())
    finally:
        ec2.modify_vpc_endpoint(VpcEndpointId=gateway["VpcEndpointId"], PolicyDocument=gateway["PolicyDocument"])
    assert list(failed["check"]) == ["hardening.endpoint-policies"], failed
    assert gateway["VpcEndpointId"] in failed.iloc[0]["resource"] and documents.PRINCIPAL_ACCOUNT in failed.iloc[0]["found"]


def test_waf_switched_off_removes_it_and_verify_skips(stack: Deployed) -> None:
    off = get_engine("sandbox", stack.config.replace(waf=False)).up()
    deleted = sorted(off.changes[off.changes["action"] == "delete"]["type"].str.split(":").str[-1])
    assert deleted == ["LogGroup", "LogResourcePolicy", "WebAcl", "WebAclAssociation", "WebAclLoggingConfiguration"]
    assert stack.aws.client("wafv2").get_web_acl_for_resource(ResourceArn=stack.outputs["alb_arn"]).get("WebACL") is None
    results = verify.run(stack.config.replace(waf=False), engine=get_engine("sandbox", stack.config.replace(waf=False)),
                         wait_seconds=1, checks=EDGE_CHECKS)
    assert _failed(results).empty, _failed(results).to_string()
    assert set(results[results["check"] == "edge.waf-attached"]["status"]) == {"skip"}
    back = get_engine("sandbox", stack.config).up()
    assert set(back.changes[back.changes["action"] == "create"]["type"].str.split(":").str[-1]) == {
        "LogGroup", "LogResourcePolicy", "WebAcl", "WebAclAssociation", "WebAclLoggingConfiguration"}
