"""Verify on a live sandbox stack: all pass (or justified skip), and every out-of-band change
fails exactly the matching check, naming the resource, what was expected and what was found."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from hainfra import documents, naming, verify
from hainfra.aws import Ctx
from hainfra.config import StackConfig
from hainfra.engines import get_engine
from hainfra.engines.sandbox.emulator import Emulator

pytestmark = pytest.mark.slow


@dataclass
class Live:
    config: StackConfig
    home: Path
    outputs: dict[str, Any]
    aws: Ctx

    def ec2(self) -> Any:
        return self.aws.client("ec2")

    def verify(self, monkeypatch: pytest.MonkeyPatch) -> pd.DataFrame:
        monkeypatch.setenv("HAINFRA_HOME", str(self.home))
        return verify.run(self.config, wait_seconds=3)


@pytest.fixture(scope="module")
def live(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    home = tmp_path_factory.mktemp("verify-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HAINFRA_HOME", str(home))
        config = StackConfig.load({"stack": "drift", "project": "drift", "aws_endpoint_url": emulator.url,
                                   "asg_min": 2, "asg_desired": 2})
        engine = get_engine("sandbox", config)
        outputs = engine.up().outputs
        yield Live(config, home, outputs, Ctx(emulator.url, config.region))
        mp.setenv("HAINFRA_HOME", str(home))
        engine.destroy()


def failing(results: pd.DataFrame) -> pd.DataFrame:
    return results[results["status"] == "fail"]


def test_fresh_stack_passes_or_skips_with_reasons(live: Live, monkeypatch: pytest.MonkeyPatch) -> None:
    results = live.verify(monkeypatch)
    assert failing(results).empty, failing(results).to_string()
    assert len(results) >= 50 and results["check"].nunique() >= 20
    skips = results[results["status"] == "skip"]
    assert set(skips["check"]) == {"flowlogs.delivery", "compute.asg",
                                   "hardening.autoscaling-key-grant",  # moto creates no service-linked roles
                                   "hardening.vpc-endpoints",  # interface endpoints are off outside prod
                                   "edge.https-only", "edge.waf-attached",  # no certificate, no WAF outside prod
                                   "storage.object-lock",  # backups are locked in prod (or with backup_lock_days)
                                   "storage.replication"}  # dr_region is opt-in
    assert all(len(reason) > 30 for reason in skips["found"])
    assert "pass" in set(results[results["check"] == "dataflow.s3-to-cloudwatch"]["status"])
    assert set(results[results["check"] == "dataflow.instance-to-s3"]["status"]) == {"pass"}


def test_secret_value_never_in_results(live: Live, monkeypatch: pytest.MonkeyPatch) -> None:
    value = live.aws.client("secretsmanager").get_secret_value(SecretId=live.outputs["secret_arn"])["SecretString"]
    results = live.verify(monkeypatch)
    assert value not in results.to_csv()


def test_cli_verify_prints_the_table_and_exits_by_verdict(live: Live, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture) -> None:
    from hainfra import cli

    monkeypatch.setenv("HAINFRA_HOME", str(live.home))
    argv = ["verify", "--stack", "drift", "--wait", "2", "-p", "project", "drift", "-p", "aws_endpoint_url",
            live.config.aws_endpoint_url, "-p", "asg_min", "2", "-p", "asg_desired", "2"]
    assert cli.main(argv) == 0
    assert "verify passed" in capsys.readouterr().out
    _suspend(live)
    try:
        assert cli.main(argv) == 1
    finally:
        DRIFTS["versioning suspended"].restore(live)
    out = capsys.readouterr().out
    assert "verify FAILED" in out and "storage.versioning" in out


# (apply, restore) pairs: each an out-of-band change through boto3 and its undo.
def _subnet_acl(live: Live, subnet: str) -> tuple[str, str]:
    acls = live.ec2().describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": [subnet]}])
    for acl in acls["NetworkAcls"]:
        for a in acl["Associations"]:
            if a["SubnetId"] == subnet:
                return a["NetworkAclAssociationId"], acl["NetworkAclId"]
    raise LookupError(subnet)


def _default_acl(live: Live) -> str:
    return live.ec2().describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [live.outputs["vpc_id"]]},
                                                     {"Name": "default", "Values": ["true"]}])["NetworkAcls"][0]["NetworkAclId"]


def _private_table(live: Live, index: int) -> str:
    subnet = live.outputs["private_subnet_ids"][index]
    tables = live.ec2().describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [subnet]}])
    return tables["RouteTables"][0]["RouteTableId"]


def _app_sg(live: Live) -> str:
    return live.ec2().describe_security_groups(Filters=[
        {"Name": "group-name", "Values": [naming.name(live.config, "app-sg")]}])["SecurityGroups"][0]["GroupId"]


def _default_sg(live: Live) -> str:
    return live.ec2().describe_security_groups(Filters=[
        {"Name": "vpc-id", "Values": [live.outputs["vpc_id"]]},
        {"Name": "group-name", "Values": ["default"]}])["SecurityGroups"][0]["GroupId"]


def _nacl(live: Live, tier: str) -> str:
    return live.ec2().describe_network_acls(Filters=[
        {"Name": "tag:Name", "Values": [naming.name(live.config, f"nacl-{tier}")]}])["NetworkAcls"][0]["NetworkAclId"]


EARLY_SSH = {"RuleNumber": 80, "Protocol": "6", "RuleAction": "allow", "Egress": False, "CidrBlock": "0.0.0.0/0",
             "PortRange": {"From": 22, "To": 22}}
RETURN_TRAFFIC = {"RuleNumber": 110, "Protocol": "6", "RuleAction": "allow", "Egress": False, "CidrBlock": "0.0.0.0/0",
                  "PortRange": {"From": 1024, "To": 65535}}
ALLOW_ALL_IN = {"RuleNumber": 100, "Protocol": "-1", "RuleAction": "allow", "Egress": False, "CidrBlock": "0.0.0.0/0"}
WORLD_SSH = [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]


@dataclass
class Drift:
    check: str
    apply: Callable[[Live], Any]
    restore: Callable[[Live], Any]
    found: str
    also: tuple[str, ...] = ()  # checks that fail too (a deleted resource is also named by the presence check)


def _suspend(live: Live) -> Any:
    return live.aws.client("s3").put_bucket_versioning(Bucket=live.outputs["bucket_name"],
                                                       VersioningConfiguration={"Status": "Suspended"})


def _reassociate(live: Live, acl: str) -> Any:
    assoc, _ = _subnet_acl(live, live.outputs["private_subnet_ids"][0])
    return live.ec2().replace_network_acl_association(AssociationId=assoc, NetworkAclId=acl)


def _key_policy(s: Live) -> dict:
    kms = s.aws.client("kms")
    return json.loads(kms.get_key_policy(KeyId=s.outputs["kms_key_arn"], PolicyName="default")["Policy"])


def _put_key_policy(s: Live, doc: dict) -> Any:
    return s.aws.client("kms").put_key_policy(KeyId=s.outputs["kms_key_arn"], PolicyName="default",
                                              Policy=json.dumps(doc))


def _without_autoscaling(doc: dict) -> dict:
    return {**doc, "Statement": [st for st in doc["Statement"] if not st.get("Sid", "").startswith("AutoScaling")]}


def _alb_logs(s: Live, on: bool) -> Any:
    return s.aws.client("elbv2").modify_load_balancer_attributes(
        LoadBalancerArn=s.outputs["alb_arn"], Attributes=[{"Key": "access_logs.s3.enabled", "Value": str(on).lower()}])


def _flow_role(s: Live) -> str:
    return naming.name(s.config, "flow-logs-role")


def _s3_gateway(s: Live) -> str:
    endpoints = s.ec2().describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [s.outputs["vpc_id"]]}])
    return next(e["VpcEndpointId"] for e in endpoints["VpcEndpoints"] if e["ServiceName"].endswith(".s3"))


def _log_bucket_sse(s: Live, algorithm: str) -> Any:
    default = {"SSEAlgorithm": algorithm, **({"KMSMasterKeyID": s.outputs["kms_key_arn"]} if algorithm != "AES256" else {})}
    return s.aws.client("s3").put_bucket_encryption(Bucket=s.outputs["log_bucket_name"], ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": default}]})


def _access_logging(s: Live, on: bool) -> Any:
    status = {"LoggingEnabled": {"TargetBucket": s.outputs["log_bucket_name"],
                                 "TargetPrefix": f"s3-access/{s.outputs['bucket_name']}/"}} if on else {}
    return s.aws.client("s3").put_bucket_logging(Bucket=s.outputs["bucket_name"], BucketLoggingStatus=status)


_saved: dict[str, Any] = {}

HARDENING_DRIFTS: dict[str, Drift] = {
    "Auto Scaling grant removed from the key policy": Drift(
        "hardening.autoscaling-key-grant",
        lambda s: (_saved.__setitem__("key", _key_policy(s)), _put_key_policy(s, _without_autoscaling(_saved["key"]))),
        lambda s: _put_key_policy(s, _saved["key"]),
        "no statement for the AWSServiceRoleForAutoScaling"),
    "flow-logs trust without aws:SourceArn": Drift(
        "hardening.service-principals",
        lambda s: s.aws.client("iam").update_assume_role_policy(RoleName=_flow_role(s), PolicyDocument=json.dumps(
            documents.assume_role("vpc-flow-logs.amazonaws.com", s.aws.account_id))),
        lambda s: s.aws.client("iam").update_assume_role_policy(RoleName=_flow_role(s), PolicyDocument=json.dumps(
            documents.flow_log_trust(account_id=s.aws.account_id, region=s.config.region))),
        "without aws:SourceArn"),
    "ALB access logs off": Drift(
        "hardening.alb", lambda s: _alb_logs(s, False), lambda s: _alb_logs(s, True), "access_logs.s3.enabled=false"),
    "backup bucket access logging off": Drift(
        "hardening.s3-access-logs", lambda s: _access_logging(s, False), lambda s: _access_logging(s, True), "off"),
    "log bucket switched to SSE-KMS": Drift(
        "hardening.log-bucket", lambda s: _log_bucket_sse(s, "aws:kms"), lambda s: _log_bucket_sse(s, "AES256"),
        "aws:kms"),
    "S3 gateway endpoint dropped from a private route table": Drift(
        "hardening.vpc-endpoints",
        lambda s: s.ec2().modify_vpc_endpoint(VpcEndpointId=_s3_gateway(s), RemoveRouteTableIds=[_private_table(s, 0)]),
        lambda s: s.ec2().modify_vpc_endpoint(VpcEndpointId=_s3_gateway(s), AddRouteTableIds=[_private_table(s, 0)]),
        "not on"),
    "app log retention lowered": Drift(
        "hardening.log-retention",
        lambda s: s.aws.client("logs").put_retention_policy(logGroupName=s.outputs["app_log_group"], retentionInDays=7),
        lambda s: s.aws.client("logs").put_retention_policy(logGroupName=s.outputs["app_log_group"], retentionInDays=30),
        "7 d"),
    "ResourceType tag removed": Drift(
        "tags.resource-type",
        lambda s: s.ec2().delete_tags(Resources=[s.outputs["vpc_id"]], Tags=[{"Key": "ResourceType"}]),
        lambda s: s.ec2().create_tags(Resources=[s.outputs["vpc_id"]], Tags=[{"Key": "ResourceType", "Value": "ec2.Vpc"}]),
        "missing"),
}


DRIFTS: dict[str, Drift] = {
    "versioning suspended": Drift(
        "storage.versioning", _suspend,
        lambda s: s.aws.client("s3").put_bucket_versioning(Bucket=s.outputs["bucket_name"],
                                                           VersioningConfiguration={"Status": "Enabled"}),
        "Suspended"),
    "bucket encryption removed": Drift(
        "storage.encryption",
        lambda s: s.aws.client("s3").delete_bucket_encryption(Bucket=s.outputs["bucket_name"]),
        lambda s: s.aws.client("s3").put_bucket_encryption(
            Bucket=s.outputs["bucket_name"], ServerSideEncryptionConfiguration={"Rules": [
                {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms",
                                                        "KMSMasterKeyID": s.outputs["kms_key_arn"]},
                 "BucketKeyEnabled": True}]}),
        # moto keeps no default after the delete (AWS would report AES256); the instance's probe is unencrypted too
        "none", also=("dataflow.instance-to-s3",)),
    "subnet back on the default NACL": Drift(
        "network.nacl-association",
        lambda s: _reassociate(s, _default_acl(s)),
        lambda s: _reassociate(s, next(a["NetworkAclId"] for a in s.ec2().describe_network_acls(Filters=[
            {"Name": "tag:Name", "Values": [naming.name(s.config, "nacl-private")]}])["NetworkAcls"])),
        "default NACL"),
    "private route to another AZ's NAT": Drift(
        "network.private-routes",
        lambda s: s.ec2().replace_route(RouteTableId=_private_table(s, 0), DestinationCidrBlock="0.0.0.0/0",
                                        NatGatewayId=s.outputs["nat_gateway_ids"][1]),
        lambda s: s.ec2().replace_route(RouteTableId=_private_table(s, 0), DestinationCidrBlock="0.0.0.0/0",
                                        NatGatewayId=s.outputs["nat_gateway_ids"][0]),
        "us-east-1b"),
    "port 22 open to the world": Drift(
        "network.no-world-admin-ports",
        lambda s: s.ec2().authorize_security_group_ingress(GroupId=_app_sg(s), IpPermissions=WORLD_SSH),
        lambda s: s.ec2().revoke_security_group_ingress(GroupId=_app_sg(s), IpPermissions=WORLD_SSH),
        "[22]"),
    "default security group opened": Drift(
        "network.default-sg-closed",
        lambda s: s.ec2().authorize_security_group_ingress(GroupId=_default_sg(s), IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.0.0.0/16"}]}]),
        lambda s: s.ec2().revoke_security_group_ingress(GroupId=_default_sg(s), IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.0.0.0/16"}]}]),
        "1 rule"),
    "default NACL re-opened": Drift(
        "network.default-nacl-closed",
        lambda s: s.ec2().create_network_acl_entry(NetworkAclId=_default_acl(s), **ALLOW_ALL_IN),
        lambda s: s.ec2().delete_network_acl_entry(NetworkAclId=_default_acl(s), RuleNumber=100, Egress=False),
        "1 allow rule(s): ingress 100 0.0.0.0/0"),
    "EventBridge notifications disabled": Drift(
        "dataflow.s3-to-cloudwatch",
        lambda s: s.aws.client("s3").put_bucket_notification_configuration(
            Bucket=s.outputs["bucket_name"], NotificationConfiguration={}),
        lambda s: s.aws.client("s3").put_bucket_notification_configuration(
            Bucket=s.outputs["bucket_name"], NotificationConfiguration={"EventBridgeConfiguration": {}}),
        "bucket notifications off", also=("dataflow.instance-to-s3",)),  # its eventbridge hop
    "required tag removed": Drift(
        "tags.required",
        lambda s: s.ec2().delete_tags(Resources=[s.outputs["vpc_id"]], Tags=[{"Key": "Stack"}]),
        lambda s: s.ec2().create_tags(Resources=[s.outputs["vpc_id"]], Tags=[{"Key": "Stack", "Value": "drift"}]),
        "Stack=None"),
    "NACL allow rule numbered before the denies": Drift(
        "network.nacl-rules",
        lambda s: s.ec2().create_network_acl_entry(NetworkAclId=_nacl(s, "public"), **EARLY_SSH),
        lambda s: s.ec2().delete_network_acl_entry(NetworkAclId=_nacl(s, "public"), RuleNumber=80, Egress=False),
        "allow rule(s) #80 precede the admin-port denies; extra: ingress #80 allow 6 0.0.0.0/0 22-22"),
    "NACL rule removed": Drift(
        "network.nacl-rules",
        lambda s: s.ec2().delete_network_acl_entry(NetworkAclId=_nacl(s, "private"), RuleNumber=110, Egress=False),
        lambda s: s.ec2().create_network_acl_entry(NetworkAclId=_nacl(s, "private"), **RETURN_TRAFFIC),
        "missing: ingress #110 allow 6 0.0.0.0/0 1024-65535"),
    "tag removed from a NACL": Drift(
        "tags.required",
        lambda s: s.ec2().delete_tags(Resources=[_nacl(s, "private")], Tags=[{"Key": "Environment"}]),
        lambda s: s.ec2().create_tags(Resources=[_nacl(s, "private")], Tags=[{"Key": "Environment", "Value": "dev"}]),
        "Environment=None"),
    "IMDSv1 allowed by a new default version": Drift(
        "compute.launch-template",
        lambda s: s.ec2().modify_launch_template(LaunchTemplateId=s.outputs["launch_template_id"], DefaultVersion=str(
            s.ec2().create_launch_template_version(
                LaunchTemplateId=s.outputs["launch_template_id"], SourceVersion="1",
                # InstanceType too: AWS copies it from SourceVersion, moto does not (compute.instance-options reads it)
                LaunchTemplateData={"InstanceType": "t3.micro",
                                    "MetadataOptions": {"HttpTokens": "optional", "HttpPutResponseHopLimit": 1}},
            )["LaunchTemplateVersion"]["VersionNumber"])),
        lambda s: s.ec2().modify_launch_template(LaunchTemplateId=s.outputs["launch_template_id"], DefaultVersion="1"),
        "HttpTokens=optional"),
    "ASG on EC2 health checks": Drift(
        "compute.asg",
        lambda s: s.aws.client("autoscaling").update_auto_scaling_group(
            AutoScalingGroupName=s.outputs["asg_name"], HealthCheckType="EC2"),
        lambda s: s.aws.client("autoscaling").update_auto_scaling_group(
            AutoScalingGroupName=s.outputs["asg_name"], HealthCheckType="ELB"),
        "EC2"),
    **{name: drift for name, drift in HARDENING_DRIFTS.items()},
    # Last: the flow log cannot be put back under the stack's state (it would be a new resource).
    "flow log deleted": Drift(
        "flowlogs.active",
        lambda s: s.ec2().delete_flow_logs(FlowLogIds=[s.outputs["flow_log_id"]]),
        lambda s: None,
        "no flow log", also=("stack.resources-exist",)),
}


@pytest.mark.parametrize("name", list(DRIFTS))
def test_drift_fails_exactly_the_matching_check(name: str, live: Live, monkeypatch: pytest.MonkeyPatch) -> None:
    drift = DRIFTS[name]
    drift.apply(live)
    try:
        results = live.verify(monkeypatch)
    finally:
        drift.restore(live)
    failed = failing(results)
    assert set(failed["check"]) == {drift.check, *drift.also}, failed[["check", "resource", "found"]].to_string()
    row = failed[failed["check"] == drift.check].iloc[0]
    assert drift.found in row["found"], row.to_dict()
    assert row["resource"] and row["expected"] and row["fix"]
    assert len(verify.mandatory_failures(results)) >= 1

