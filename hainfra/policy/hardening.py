"""Policy rules for running on real AWS: key grants, confused-deputy scoping, logs, endpoints, retention.

Each rule reads any program's resource graph (not only hainfra's) and names the AWS Security Hub
(FSBP) / CIS / checkov controls it stands for. Imported by :mod:`hainfra.policy.rules`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hainfra import documents
from hainfra.aws import as_list, policy_doc
from hainfra.config import PROD_LOG_RETENTION_DAYS, StackConfig
from hainfra.policy.graph import Graph, Resource
from hainfra.policy.rules import (
    LB_TYPES,
    LOGGING_TYPES,
    Hit,
    _bucket_configs,
    _is_true,
    _subnet_route_table,
    log_targets,
    private_subnets,
    rule,
)

BUCKET_TYPES = ("s3/bucket:Bucket", "s3/bucketV2:BucketV2")
REQUIRED_INTERFACE_SERVICES = ("ssm", "ssmmessages", "ec2messages", "logs")


# --- KMS: the Auto Scaling service-linked role and encrypted EBS ------------------------------------
def _key_of(g: Graph, value: Any) -> Resource | None:
    """The declared KMS key behind a key id/ARN or an alias ARN/name (None: not declared here)."""
    target = g.ref(value)
    if target is not None and target.type.endswith("kms/alias:Alias"):
        target = g.ref(target.inputs.get("targetKeyId"))
    return target if target is not None and target.type.endswith("kms/key:Key") else None


def _key_policy(g: Graph, key: Resource) -> dict[str, Any]:
    """The key's policy: a separate aws.kms.KeyPolicy wins over the key's own ``policy`` input."""
    separate = [p for p in g.of("kms/keyPolicy:KeyPolicy") if _key_of(g, p.inputs.get("keyId")) is key]
    return policy_doc(separate[-1].inputs.get("policy") if separate else key.inputs.get("policy"))


def _ebs_keys(r: Resource) -> Iterator[tuple[str, Any]]:
    """(device, kms key) of every encrypted EBS volume a launch template or launch configuration declares."""
    for m in r.inputs.get("blockDeviceMappings") or []:
        ebs = m.get("ebs") or {}
        if ebs.get("kmsKeyId"):
            yield m.get("deviceName", "?"), ebs["kmsKeyId"]
    for m in (r.inputs.get("ebsBlockDevices") or []) + as_list(r.inputs.get("rootBlockDevice")):
        if m.get("kmsKeyId"):
            yield m.get("deviceName", "root"), m["kmsKeyId"]


@rule("kms-autoscaling-grant", "critical",
      "add to the key policy the statements of hainfra.documents.key_policy (AutoScalingUseKey, "
      "AutoScalingCreateGrant) for role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling",
      "EC2 Auto Scaling KMS key policy for encrypted volumes (launch blocker); SecurityHub EC2.7")
def kms_autoscaling_grant(g: Graph, c: StackConfig | None) -> Iterator[Hit]:
    """Auto Scaling launches with its service-linked role: without the grant every launch fails on AWS.

    Launch templates and launch configurations are what Auto Scaling launches from. A plain
    ``aws.ec2.Instance`` is launched with the deployer's own permissions (the account statement
    delegates those to IAM), so it needs no grant. Keys not declared in the program cannot be read.
    """
    for lt in g.of("ec2/launchTemplate:LaunchTemplate", "ec2/launchConfiguration:LaunchConfiguration"):
        for device, value in _ebs_keys(lt):
            key = _key_of(g, value)
            gaps = documents.autoscaling_grant_gaps(_key_policy(g, key)) if key else []
            if gaps:
                yield lt, f"{device} is encrypted with {key.name}, whose policy lacks: {'; '.join(gaps)}"  # type: ignore[union-attr]


# --- confused deputy ------------------------------------------------------------------------------
def _resource_policies(g: Graph) -> Iterator[tuple[Resource, dict[str, Any]]]:
    for k in g.of("kms/key:Key"):
        yield k, policy_doc(k.inputs.get("policy"))
    for r, key in (("kms/keyPolicy:KeyPolicy", "policy"), ("cloudwatch/logResourcePolicy:LogResourcePolicy",
                   "policyDocument"), ("iam/role:Role", "assumeRolePolicy"), ("s3/bucketPolicy:BucketPolicy", "policy"),
                   ("sns/topicPolicy:TopicPolicy", "policy"), ("sqs/queuePolicy:QueuePolicy", "policy")):
        for res in g.of(r):
            yield res, policy_doc(res.inputs.get(key))


@rule("service-principal-scoped", "high",
      "add aws:SourceAccount (and aws:SourceArn where the service sends it) to every statement naming a service "
      "principal; see hainfra.documents.SERVICE_SCOPE for each service's keys and the documentation behind them",
      "AWS IAM cross-service confused deputy prevention; Prowler iam_role_cross_service_confused_deputy_prevention")
def service_principal_scoped(g: Graph, c: StackConfig | None) -> Iterator[Hit]:
    for r, doc in _resource_policies(g):
        for problem in documents.unscoped_service_statements(doc):
            yield r, problem


# --- load balancer: access logs, deletion protection -------------------------------------------
def _elb_can_write(g: Graph, bucket: Resource, prefix: str) -> bool:
    principals = {documents.ELB_LOG_SERVICE} | {f":{a}:root" for a in documents.ELB_LOG_ACCOUNTS.values()}
    for p in _bucket_configs(g, bucket, "s3/bucketPolicy:BucketPolicy"):
        for st in as_list(policy_doc(p.inputs.get("policy")).get("Statement")):
            who = json_values(st.get("Principal"))
            if st.get("Effect") == "Allow" and "s3:PutObject" in as_list(st.get("Action")) and \
                    any(w == s or w.endswith(s) for w in who for s in principals) and \
                    any(f"/{prefix}/AWSLogs/".replace("//", "/") in str(res) or (not prefix and "/AWSLogs/" in str(res))
                        for res in as_list(st.get("Resource"))):
                return True
    return False


def json_values(principal: Any) -> list[str]:
    """Every principal string of a statement's Principal element."""
    if isinstance(principal, dict):
        return [str(v) for value in principal.values() for v in as_list(value)]
    return [str(v) for v in as_list(principal)]


@rule("alb-access-logs", "medium", "access_logs=aws.lb.LoadBalancerAccessLogsArgs(bucket=<log bucket>, prefix=..., "
      "enabled=True) and a log-bucket policy letting ELB log delivery write <prefix>/AWSLogs/<account>/*",
      "SecurityHub ELB.5, CKV_AWS_91")
def alb_access_logs(g: Graph, c: StackConfig | None) -> Iterator[Hit]:
    for lb in g.of(*LB_TYPES):
        if lb.inputs.get("loadBalancerType", "application") != "application":
            continue
        logs = lb.inputs.get("accessLogs") or {}
        if not (_is_true(logs.get("enabled")) and logs.get("bucket")):
            yield lb, "access logs are off"
            continue
        bucket = g.ref(logs["bucket"])
        if bucket is not None and not _elb_can_write(g, bucket, str(logs.get("prefix") or "")):
            yield lb, f"bucket {bucket.name}'s policy does not let ELB log delivery write this ALB's prefix " \
                      "(AWS refuses the access-log setting)"


@rule("alb-deletion-protection", "medium", "enable_deletion_protection=True (hainfra turns it off inside "
      "`hainfra destroy`)", "SecurityHub ELB.6, CKV_AWS_150", prod_only_mandatory=True)
def alb_deletion_protection(g: Graph, c: StackConfig | None) -> Iterator[Hit]:
    if c is not None and not c.is_prod:
        return
    for lb in g.of(*LB_TYPES):
        if not _is_true(lb.inputs.get("enableDeletionProtection")):
            yield lb, "load balancer can be deleted by any caller with elasticloadbalancing:DeleteLoadBalancer"


# --- S3 server access logs ---------------------------------------------------------------------
@rule("s3-access-logging", "medium", "declare aws.s3.BucketLogging(bucket=..., target_bucket=<log bucket>, "
      "target_prefix=...)", "SecurityHub S3.9, CIS 3.6 (v1.4), CKV_AWS_18")
def s3_access_logging(g: Graph, c: StackConfig | None) -> Iterator[Hit]:
    """Every bucket logs its requests, except a log bucket itself (logging into itself would loop)."""
    targets = log_targets(g)
    for b in g.of(*BUCKET_TYPES):
        if id(b) in targets:
            continue
        if not (_bucket_configs(g, b, *LOGGING_TYPES) or b.inputs.get("loggings") or b.inputs.get("logging")):
            yield b, "server access logging is off"


# --- VPC endpoints -----------------------------------------------------------------------------------
def _endpoints(g: Graph, vpc: Resource, kind: str) -> dict[str, Resource]:
    return {str(e.inputs.get("serviceName", "")).rsplit(".", 1)[-1]: e for e in g.of("ec2/vpcEndpoint:VpcEndpoint")
            if g.ref(e.inputs.get("vpcId")) is vpc and str(e.inputs.get("vpcEndpointType", "Gateway")) == kind}


@rule("s3-gateway-endpoint", "medium", "declare aws.ec2.VpcEndpoint(service_name='com.amazonaws.<region>.s3', "
      "vpc_endpoint_type='Gateway', route_table_ids=<every private route table>)",
      "AWS Well-Architected SEC05-BP02; FSBP EC2.10 family")
def s3_gateway_endpoint(g: Graph, c: StackConfig | None) -> Iterator[Hit]:
    """S3 traffic from private subnets stays on the AWS network and keeps working when a NAT fails."""
    for vpc in g.of("ec2/vpc:Vpc"):
        gateway = _endpoints(g, vpc, "Gateway").get("s3")
        tables = {id(g.ref(t)) for t in (gateway.inputs.get("routeTableIds") or [])} if gateway else set()
        for subnet in private_subnets(g):
            if g.ref(subnet.inputs.get("vpcId")) is not vpc:
                continue
            rt = _subnet_route_table(g, subnet)
            if gateway is None:
                yield subnet, "the VPC has no S3 gateway endpoint"
                break
            if rt is not None and id(rt) not in tables:
                yield subnet, f"route table {rt.name} does not use the S3 gateway endpoint"


@rule("interface-endpoints", "medium", "interface_endpoints=true: aws.ec2.VpcEndpoint(vpc_endpoint_type='Interface', "
      "private_dns_enabled=True, security_group_ids=[SG allowing 443 from the VPC]) for ssm, ssmmessages, "
      "ec2messages, logs (and ec2)", "SecurityHub EC2.10 (ec2), EC2.57 (ssm)", mandatory=False)
def interface_endpoints(g: Graph, c: StackConfig | None) -> Iterator[Hit]:
    """Without them, SSM and CloudWatch Logs from private subnets depend on the NAT gateways."""
    for vpc in g.of("ec2/vpc:Vpc"):
        found = _endpoints(g, vpc, "Interface")
        missing = [s for s in REQUIRED_INTERFACE_SERVICES if s not in found]
        if missing:
            yield vpc, f"no interface endpoint for {', '.join(missing)}"
        for service, e in found.items():
            if not _is_true(e.inputs.get("privateDnsEnabled")):
                yield e, f"{service} endpoint without private DNS: clients keep resolving the public endpoint"
            groups = [g.ref(s) for s in e.inputs.get("securityGroupIds") or []]
            if not any(_allows_https_from_vpc(sg, vpc) for sg in groups if sg is not None):
                yield e, f"{service} endpoint's security groups do not allow 443 from the VPC"


def _allows_https_from_vpc(sg: Resource, vpc: Resource) -> bool:
    cidr = vpc.inputs.get("cidrBlock")
    return any(str(r.get("protocol")) in ("tcp", "6", "-1") and
               float(r.get("fromPort", 0)) <= 443 <= float(r.get("toPort", 0) or 65535) and
               cidr in as_list(r.get("cidrBlocks")) for r in sg.inputs.get("ingress") or [])


# --- log retention -------------------------------------------------------------------------------
@rule("log-retention-prod", "medium", f"prod log groups keep at least {PROD_LOG_RETENTION_DAYS} days (hainfra: leave "
      "log_retention_days unset in prod, or set it >= 365)", "SecurityHub CloudWatch.16", mandatory=False)
def log_retention_prod(g: Graph, c: StackConfig | None) -> Iterator[Hit]:
    if c is not None and not c.is_prod:
        return
    for lg in g.of("cloudwatch/logGroup:LogGroup"):
        days = lg.inputs.get("retentionInDays")
        if days and float(days) < PROD_LOG_RETENTION_DAYS:
            yield lg, f"keeps logs {int(float(days))} days; CloudWatch.16 asks for {PROD_LOG_RETENTION_DAYS}"
