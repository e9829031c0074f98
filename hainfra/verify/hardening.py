"""Checks for running on real AWS: the Auto Scaling key grant, confused-deputy scoping, the log
bucket and what feeds it, ALB deletion protection, VPC endpoints, retention and ResourceType tags.

Policies are read as documents (the emulator authorises nothing), with the same pure functions
the policy gate uses (:mod:`hainfra.documents`), so gate and verify cannot disagree.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from hainfra import documents, naming
from hainfra.aws import as_list, policy_doc
from hainfra.cidr import HTTPS
from hainfra.components.network import INTERFACE_SERVICES
from hainfra.config import PROD_LOG_RETENTION_DAYS, RESOURCE_TYPE_TAG
from hainfra.verify.base import Row, VerifyContext, check, check_row, skip

FIX_UP = "run `hainfra up` to restore it"


def _key_policy(v: VerifyContext) -> dict[str, Any]:
    return policy_doc(v.client("kms").get_key_policy(KeyId=v.key_id, PolicyName="default")["Policy"])


def _launch_keys(v: VerifyContext) -> set[str]:
    """KMS keys the launch template's default version encrypts its EBS volumes with."""
    data = v.client("ec2").describe_launch_template_versions(
        LaunchTemplateId=v.outputs["launch_template_id"], Versions=["$Default"])["LaunchTemplateVersions"][0]
    return {m["Ebs"]["KmsKeyId"] for m in data["LaunchTemplateData"].get("BlockDeviceMappings", [])
            if m.get("Ebs", {}).get("KmsKeyId")}


@check("hardening.autoscaling-key-grant")
def autoscaling_key_grant(v: VerifyContext) -> Iterator[Row]:
    """Auto Scaling can launch with the encrypted EBS volumes (the launch blocker on AWS)."""
    kms = v.client("kms")
    for key in sorted(_launch_keys(v)):
        key_id = kms.describe_key(KeyId=key)["KeyMetadata"]["KeyId"]
        doc = policy_doc(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
        gaps = documents.autoscaling_grant_gaps(doc)
        yield check_row(f"key {key_id}", not gaps, f"{documents.AUTOSCALING_ROLE} may use the key and create grants "
                        "for AWS resources", "; ".join(gaps) or "granted",
                        "restore the key policy from hainfra.documents.key_policy (`hainfra up`)")
    role = documents.AUTOSCALING_ROLE
    try:
        v.client("iam").get_role(RoleName=role)
        found = True
    except ClientError:
        found = False
    if not found and v.emulated:
        yield skip(role, "the service-linked role exists", "the emulator creates no service-linked roles "
                   "(AWS creates it with the account's first Auto Scaling group)")
    else:
        yield check_row(role, found, "the service-linked role exists", "exists" if found else "missing",
                        "aws iam create-service-linked-role --aws-service-name autoscaling.amazonaws.com")


def _service_documents(v: VerifyContext) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every live resource policy of the stack that names a service principal."""
    yield "kms key policy", _key_policy(v)
    for p in v.client("logs").describe_resource_policies()["resourcePolicies"]:
        if p["policyName"] in (naming.name(v.config, "s3-events-policy"), naming.name(v.config, "waf-logs-policy")):
            yield f"log resource policy {p['policyName']}", policy_doc(p["policyDocument"])
    iam = v.client("iam")
    for arn in (v.outputs["instance_role_arn"], _flow_log_role(v)):
        if arn:
            name = arn.split("/")[-1]
            yield f"role {name} trust", policy_doc(iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"])
    for bucket in (v.outputs["bucket_name"], v.outputs["log_bucket_name"]):
        try:
            yield f"bucket {bucket} policy", policy_doc(v.client("s3").get_bucket_policy(Bucket=bucket)["Policy"])
        except ClientError:
            yield f"bucket {bucket} policy", {}


def _flow_log_role(v: VerifyContext) -> str:
    logs = v.client("ec2").describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [v.outputs["vpc_id"]]}])
    return next((f.get("DeliverLogsPermissionArn", "") for f in logs["FlowLogs"]), "")


@check("hardening.service-principals")
def service_principals(v: VerifyContext) -> Iterator[Row]:
    """Every service principal is pinned to this account (and resource) against the confused deputy."""
    for resource, doc in _service_documents(v):
        problems = documents.unscoped_service_statements(doc)
        yield check_row(resource, not problems, "every service principal scoped by aws:SourceAccount/aws:SourceArn",
                        "; ".join(problems) or "scoped", FIX_UP)
    expected = sorted(f"arn:aws:logs:{v.config.region}:{v.aws.account_id}:log-group:"
                      f"{naming.log_group_name(v.config, kind)}" for kind in naming.log_group_kinds(v.config))
    logs_st = [st for st in as_list(_key_policy(v).get("Statement")) if any(
        str(s).startswith("logs.") for s in as_list((st.get("Principal") or {}).get("Service")))]
    found = sorted({a for st in logs_st for a in as_list((st.get("Condition") or {}).get("ArnEquals", {})
                                                         .get(documents.LOGS_CONTEXT))})
    yield check_row("kms key policy: CloudWatch Logs", found == expected, "exactly this stack's log groups",
                    ", ".join(found) or "no condition", FIX_UP)


def _bucket_facts(v: VerifyContext, bucket: str) -> dict[str, Any]:
    s3 = v.client("s3")
    facts: dict[str, Any] = {}
    calls = {"sse": lambda: s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"],
             "versioning": lambda: s3.get_bucket_versioning(Bucket=bucket).get("Status"),
             "pab": lambda: s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"],
             "policy": lambda: policy_doc(s3.get_bucket_policy(Bucket=bucket)["Policy"]),
             "lifecycle": lambda: s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
    for name, call in calls.items():
        try:
            facts[name] = call()
        except ClientError:
            facts[name] = None
    return facts


@check("hardening.log-bucket")
def log_bucket(v: VerifyContext) -> Iterator[Row]:
    bucket = v.outputs["log_bucket_name"]
    f = _bucket_facts(v, bucket)
    sse = {r["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] for r in f["sse"] or []}
    yield check_row(f"{bucket} encryption", sse == {"AES256"}, "SSE-S3 (ALB access logs cannot use KMS)",
                    ", ".join(sorted(sse)) or "none", FIX_UP)
    yield check_row(f"{bucket} versioning", f["versioning"] == "Enabled", "Enabled", str(f["versioning"]), FIX_UP)
    yield check_row(f"{bucket} public access", bool(f["pab"]) and all(f["pab"].values()), "all four blocks on",
                    str(f["pab"]), FIX_UP)
    statements = as_list((f["policy"] or {}).get("Statement"))
    tls = any(st.get("Effect") == "Deny" and "aws:SecureTransport" in str(st.get("Condition")) for st in statements)
    yield check_row(f"{bucket} TLS only", tls, "requests without TLS denied", "denied" if tls else "allowed", FIX_UP)
    prefix = f"/{naming.alb_log_prefix(v.config)}/AWSLogs/{v.aws.account_id}/*"
    elb = [st for st in statements if st.get("Sid") == "AlbAccessLogs"]
    yield check_row(f"{bucket} ELB delivery", len(elb) == 1 and str(elb[0].get("Resource", "")).endswith(prefix),
                    f"ELB log delivery may write only *{prefix}", str([st.get("Resource") for st in elb]), FIX_UP)
    rules = [r for r in f["lifecycle"] or [] if r.get("Status") == "Enabled"]
    yield check_row(f"{bucket} lifecycle", any(r.get("Expiration") and r.get("AbortIncompleteMultipartUpload")
                                               for r in rules),
                    f"logs expire after {v.config.retention_days} d, incomplete uploads aborted",
                    f"{len(rules)} enabled rule(s)", FIX_UP)


@check("hardening.alb")
def alb(v: VerifyContext) -> Iterator[Row]:
    """ALB access logs go to the log bucket under this ALB's prefix; prod ALBs are deletion-protected."""
    attrs = {a["Key"]: a["Value"] for a in v.client("elbv2").describe_load_balancer_attributes(
        LoadBalancerArn=v.outputs["alb_arn"])["Attributes"]}
    want = {"access_logs.s3.enabled": "true", "access_logs.s3.bucket": v.outputs["log_bucket_name"],
            "access_logs.s3.prefix": naming.alb_log_prefix(v.config)}
    got = {k: attrs.get(k, "") for k in want}
    yield check_row("ALB access logs", got == want, ", ".join(f"{k}={val}" for k, val in want.items()),
                    ", ".join(f"{k}={val}" for k, val in got.items()), FIX_UP)
    protected = attrs.get("deletion_protection.enabled") == "true"
    yield Row("ALB deletion protection", "pass" if protected == v.config.is_prod else "fail",
              "on (prod)" if v.config.is_prod else "off (non-prod)", "on" if protected else "off", FIX_UP,
              mandatory=v.config.is_prod)


@check("hardening.s3-access-logs")
def s3_access_logs(v: VerifyContext) -> Iterator[Row]:
    bucket = v.outputs["bucket_name"]
    enabled = v.client("s3").get_bucket_logging(Bucket=bucket).get("LoggingEnabled") or {}
    yield check_row(bucket, enabled.get("TargetBucket") == v.outputs["log_bucket_name"],
                    f"server access logs -> {v.outputs['log_bucket_name']}", enabled.get("TargetBucket") or "off", FIX_UP)


def _private_tables(v: VerifyContext) -> set[str]:
    tables = v.client("ec2").describe_route_tables(Filters=[
        {"Name": "association.subnet-id", "Values": v.outputs["private_subnet_ids"]}])["RouteTables"]
    return {t["RouteTableId"] for t in tables}


def _allows_https(v: VerifyContext, group_ids: list[str]) -> bool:
    if not group_ids:
        return False
    groups = v.client("ec2").describe_security_groups(GroupIds=group_ids)["SecurityGroups"]
    cidr = v.config.vpc_cidr
    return any(p.get("FromPort", 0) <= HTTPS <= p.get("ToPort", 65535) and
               any(r.get("CidrIp") == cidr for r in p.get("IpRanges", []))
               for g in groups for p in g.get("IpPermissions", []))


@check("hardening.vpc-endpoints")
def vpc_endpoints(v: VerifyContext) -> Iterator[Row]:
    endpoints = v.client("ec2").describe_vpc_endpoints(
        Filters=[{"Name": "vpc-id", "Values": [v.outputs["vpc_id"]]}])["VpcEndpoints"]
    live = [e for e in endpoints if str(e.get("State", "")).lower() not in ("deleted", "deleting")]
    by_service = {e["ServiceName"].rsplit(".", 1)[-1]: e for e in live}
    s3 = by_service.get("s3", {})
    missing = _private_tables(v) - set(s3.get("RouteTableIds", []))
    yield check_row("S3 gateway endpoint", bool(s3) and not missing, "on every private route table",
                    "missing" if not s3 else (f"not on {', '.join(sorted(missing))}" if missing else "on all"), FIX_UP)
    if not v.config.endpoints_enabled:
        yield skip("interface endpoints", "SSM, SSM Messages, EC2 Messages, EC2, Logs", "interface_endpoints is off "
                   "for this stack (default outside prod)")
        return
    for service in INTERFACE_SERVICES:
        e = by_service.get(service)
        ok = bool(e) and e.get("PrivateDnsEnabled") and _allows_https(v, [g["GroupId"] for g in e.get("Groups", [])])
        yield check_row(f"{service} interface endpoint", bool(ok), "present, private DNS, 443 from the VPC",
                        "missing" if not e else f"private DNS {e.get('PrivateDnsEnabled')}, groups "
                        f"{[g['GroupId'] for g in e.get('Groups', [])]}", FIX_UP)


@check("hardening.log-retention")
def log_retention(v: VerifyContext) -> Iterator[Row]:
    """Every log group keeps the configured retention; in prod at least 365 days (CloudWatch.16)."""
    logs = v.client("logs")
    for kind in naming.log_group_kinds(v.config):
        name = naming.log_group_name(v.config, kind)
        groups = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
        days = next((g.get("retentionInDays") for g in groups if g["logGroupName"] == name), None)
        yield check_row(name, days == v.config.retention_days, f"{v.config.retention_days} d", f"{days} d", FIX_UP)
        if v.config.is_prod:
            yield Row(f"{name} (CloudWatch.16)", "pass" if days and days >= PROD_LOG_RETENTION_DAYS else "fail",
                      f">= {PROD_LOG_RETENTION_DAYS} d in prod", f"{days} d",
                      "leave log_retention_days unset in prod (365) or raise it", mandatory=False)


@check("tags.resource-type")
def resource_type_tags(v: VerifyContext) -> Iterator[Row]:
    from hainfra.verify.security import _tagged_resources

    for resource, tags in _tagged_resources(v):
        yield check_row(resource, bool(tags.get(RESOURCE_TYPE_TAG)), f"{RESOURCE_TYPE_TAG} set",
                        tags.get(RESOURCE_TYPE_TAG) or "missing", "re-tag the resource (or `hainfra up`)")
