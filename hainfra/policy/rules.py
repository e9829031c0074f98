"""Policy rules: one function per rule over the resource :class:`Graph`.

``RULES`` maps a rule id to its :class:`Rule`. A rule yields ``(resource, message)``
pairs; severity, fix hint and industry control ids live on the rule.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from hainfra import documents
from hainfra.aws import as_list, policy_doc
from hainfra.cidr import ADMIN_PORTS, ANYWHERE, WORLD
from hainfra.config import REQUIRED_TAGS, RESOURCE_TYPE_TAG, StackConfig
from hainfra.policy.graph import Graph, Resource, taggable
from hainfra.redact import SECRET_NAME

Hit = tuple[Resource, str]


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str  # critical | high | medium | low
    mandatory: bool
    fix: str
    controls: str
    check: Callable[[Graph, StackConfig | None], Iterator[Hit]]
    prod_only_mandatory: bool = False
    needs_config: bool = False  # checks nothing without a hainfra config (e.g. naming)

    def is_mandatory(self, config: StackConfig | None) -> bool:
        """Whether a finding blocks a deploy: prod-only rules only in prod, config rules only with a config."""
        if self.needs_config and config is None:
            return False
        if self.prod_only_mandatory:
            return bool(config and config.is_prod)
        return self.mandatory


RULES: dict[str, Rule] = {}
DEPRECATED_TYPES = {
    "aws:s3/bucketV2:BucketV2": "aws.s3.Bucket",
    "aws:s3/bucketVersioningV2:BucketVersioningV2": "aws.s3.BucketVersioning",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2":
        "aws.s3.BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2": "aws.s3.BucketLifecycleConfiguration",
    "aws:s3/bucketAclV2:BucketAclV2": "aws.s3.BucketAcl",
    "aws:s3/bucketLoggingV2:BucketLoggingV2": "aws.s3.BucketLogging",
    "aws:s3/bucketObject:BucketObject": "aws.s3.BucketObjectv2",
}
SECRET_VALUE = re.compile(
    r"(AKIA[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY-----|(password|secret|token|api_key)\s*[=:]\s*\S{6,})", re.I)


def rule(rule_id: str, severity: str, fix: str, controls: str = "", mandatory: bool = True,
         prod_only_mandatory: bool = False,
         needs_config: bool = False) -> Callable[[Callable[..., Iterator[Hit]]], Callable[..., Iterator[Hit]]]:
    def register(fn: Callable[..., Iterator[Hit]]) -> Callable[..., Iterator[Hit]]:
        RULES[rule_id] = Rule(rule_id, severity, mandatory, fix, controls, fn, prod_only_mandatory, needs_config)
        return fn

    return register


def _is_true(value: Any) -> bool:
    return str(value).lower() == "true"


# --- network --------------------------------------------------------------------------------------
@rule("vpc-flow-logs", "high", "declare aws.ec2.FlowLog(vpc_id=vpc.id, traffic_type='ALL', ...) for every VPC",
      "SecurityHub EC2.6, CIS 3.9, CKV2_AWS_11, AwsSolutions-VPC7")
def vpc_flow_logs(g: Graph, c: StackConfig | None) -> Iterator[Hit]:
    for vpc in g.of("ec2/vpc:Vpc"):
        logs = [f for f in g.of("ec2/flowLog:FlowLog")
                if g.ref(f.inputs.get("vpcId")) is vpc and f.inputs.get("trafficType") == "ALL"]
        if not logs:
            yield vpc, "VPC has no flow log capturing ALL traffic"


def _route_targets(g: Graph) -> dict[str, dict[str, Resource | None]]:
    """route table name -> {'igw': gateway or None, 'nat': NAT or None} for the default route."""
    out: dict[str, dict[str, Resource | None]] = {}
    for rt in g.of("ec2/routeTable:RouteTable"):
        targets: dict[str, Resource | None] = {"igw": None, "nat": None}
        routes = [r.inputs for r in g.of("ec2/route:Route") if g.ref(r.inputs.get("routeTableId")) is rt]
        routes += [{k: v for k, v in r.items()} for r in rt.inputs.get("routes") or []]
        for r in routes:
            if r.get("destinationCidrBlock", r.get("cidrBlock")) == ANYWHERE:
                if r.get("natGatewayId"):
                    targets["nat"] = g.ref(r["natGatewayId"])
                elif r.get("gatewayId"):
                    targets["igw"] = g.ref(r["gatewayId"])
        out[rt.name] = targets
    return out


def _subnet_route_table(g: Graph, subnet: Resource) -> Resource | None:
    for assoc in g.of("ec2/routeTableAssociation:RouteTableAssociation"):
        if g.ref(assoc.inputs.get("subnetId")) is subnet:
            return g.ref(assoc.inputs.get("routeTableId"))
    return None


def private_subnets(g: Graph) -> list[Resource]:
    """Subnets whose default route does not go to an internet gateway."""
    targets = _route_targets(g)
    private = []
    for subnet in g.of("ec2/subnet:Subnet"):
        rt = _subnet_route_table(g, subnet)
        if rt is None or targets.get(rt.name, {}).get("igw") is None:
            private.append(subnet)
    return private


@rule("nat-per-az", "high", "create one NAT gateway per AZ (nat_strategy=per_az) and route each private "
      "route table to the NAT in its own AZ", "AWS Well-Architected REL10-BP01", prod_only_mandatory=True)
def nat_per_az(g: Graph, c: StackConfig | None) -> Iterator[Hit]:
    targets = _route_targets(g)
    nat_azs = {g.az_of(n.inputs.get("subnetId")) for n in g.of("ec2/natGateway:NatGateway")}
    for subnet in private_subnets(g):
        az = subnet.inputs.get("availabilityZone", "")
        rt = _subnet_route_table(g, subnet)
        nat = targets.get(rt.name, {}).get("nat") if rt else None
        if az not in nat_azs:
            yield subnet, f"AZ {az} has private subnets but no NAT gateway of its own"
        elif nat is None:
            yield subnet, "private subnet has no default route through a NAT gateway"
        elif g.az_of(nat.inputs.get("subnetId")) != az:
            yield subnet, f"private subnet in {az} routes through NAT {nat.name} in another AZ"


@rule("subnet-nacl", "medium", "associate every subnet with its tier's aws.ec2.NetworkAcl "
      "(NetworkAclAssociation or NetworkAcl.subnet_ids)", "CIS 5.1, AwsSolutions-VPC3")
def subnet_nacl(g: Graph, c: StackConfig | None) -> Iterator[Hit]:
    associated = {id(g.ref(a.inputs.get("subnetId"))) for a in g.of("ec2/networkAclAssociation:NetworkAclAssociation")}
    for acl in g.of("ec2/networkAcl:NetworkAcl"):
        associated |= {id(g.ref(s)) for s in acl.inputs.get("subnetIds") or []}
    for subnet in g.of("ec2/subnet:Subnet"):
        if id(subnet) not in associated:
            yield subnet, "subnet uses the VPC's default network ACL"


def _covers(rule_: dict[str, Any], port: int) -> bool:
    proto = str(rule_.get("protocol", ""))
    if proto in ("-1", "all"):
        return True
    if proto not in ("tcp", "6"):
        return False
    return int(float(rule_.get("fromPort", 0))) <= port <= int(float(rule_.get("toPort", 0)))


def _world(cidrs: Any) -> bool:
    return any(c in WORLD for c in as_list(cidrs))


@rule("no-world-admin-ports", "critical", f"remove {ANYWHERE} ingress to {'/'.join(map(str, ADMIN_PORTS))} (use SSM "
      "Session Manager); in NACLs "
      "add lower-numbered deny rules before ephemeral-port allows",
      "SecurityHub EC2.13/EC2.14/EC2.21, CIS 5.1-5.3, CKV_AWS_24/25/231/232")
def no_world_admin_ports(g: Graph, c: StackConfig | None) -> Iterator[Hit]:
    for acl in g.of("ec2/networkAcl:NetworkAcl"):
        ordered = sorted(acl.inputs.get("ingress") or [], key=lambda r: float(r.get("ruleNo", 0)))
        for port in ADMIN_PORTS:
            first = next((r for r in ordered if _world(r.get("cidrBlock")) and _covers(r, port)), None)
            if first and first.get("action") == "allow":
                yield acl, f"NACL allows port {port} from the internet (rule {int(float(first['ruleNo']))})"
    for sg in g.of("ec2/securityGroup:SecurityGroup"):
        for r in sg.inputs.get("ingress") or []:
            for port in ADMIN_PORTS:
                if _world(r.get("cidrBlocks")) and _covers(r, port):
                    yield sg, f"security group allows port {port} from the internet"
    for r in g.of("ec2/securityGroupRule:SecurityGroupRule", "vpc/securityGroupIngressRule:SecurityGroupIngressRule"):
        i = r.inputs
        if i.get("type", "ingress") == "ingress" and (_world(i.get("cidrBlocks")) or _world(i.get("cidrIpv4"))):
            spec = {"protocol": i.get("protocol", i.get("ipProtocol")), "fromPort": i.get("fromPort", 0),
                    "toPort": i.get("toPort", 0)}
            for port in ADMIN_PORTS:
                if _covers(spec, port):
                    yield r, f"security group rule allows port {port} from the internet"


@rule("world-ingress", "low", "restrict the source CIDR, or suppress with the reason the exposure is intended",
      "SecurityHub EC2.18", mandatory=False)
def world_ingress(g: Graph, c: StackConfig | None) -> Iterator[Hit]:
    for sg in g.of("ec2/securityGroup:SecurityGroup"):
        ports = sorted({f"{int(float(r.get('fromPort', 0)))}" for r in sg.inputs.get("ingress") or []
                        if _world(r.get("cidrBlocks"))})
        if ports:
            yield sg, f"ingress open to the internet on port(s) {', '.join(ports)}"


@rule("default-sg-closed", "high", "declare aws.ec2.DefaultSecurityGroup(vpc_id=..., ingress=[], egress=[])",
      "SecurityHub EC2.2, CIS 5.4, CKV2_AWS_12")
def default_sg_closed(g: Graph, c: StackConfig | None) -> Iterator[Hit]:
    defaults = g.of("ec2/defaultSecurityGroup:DefaultSecurityGroup")
    for sg in defaults:
        if sg.inputs.get("ingress") or sg.inputs.get("egress"):
            yield sg, "default security group has rules"
    managed = {id(g.ref(d.inputs.get("vpcId"))) for d in defaults}
    for vpc in g.of("ec2/vpc:Vpc"):
        if id(vpc) not in managed:
            yield vpc, "the VPC's default security group is not locked down (AWS's default allows intra-group traffic)"


@rule("default-nacl-closed", "high", "declare aws.ec2.DefaultNetworkAcl(default_network_acl_id=vpc.default_network_acl_id, "
      "ingress=[], egress=[]) and give every subnet its tier's NetworkAcl",
      "SecurityHub EC2.21, CIS 5.1 (Prowler ec2_networkacl_allow_ingress_any_port/_tcp_port_22/_tcp_port_3389)")
def default_nacl_closed(g: Graph, c: StackConfig | None) -> Iterator[Hit]:
    defaults = g.of("ec2/defaultNetworkAcl:DefaultNetworkAcl")
    for acl in defaults:
        allows = [r for r in (acl.inputs.get("ingress") or []) + (acl.inputs.get("egress") or [])
                  if r.get("action") == "allow"]
        if allows:
            yield acl, f"default network ACL keeps {len(allows)} allow rule(s)"
    managed = {id(g.ref(d.inputs.get("defaultNetworkAclId"))) for d in defaults}
    for vpc in g.of("ec2/vpc:Vpc"):
        if id(vpc) not in managed:
            yield vpc, "the VPC's default network ACL is not adopted: AWS makes it allow all traffic in and out"


@rule("private-no-public-ip", "high", "set map_public_ip_on_launch=False on private subnets", "SecurityHub EC2.15")
def private_no_public_ip(g: Graph, c: StackConfig | None) -> Iterator[Hit]:
    for subnet in private_subnets(g):
        if _is_true(subnet.inputs.get("mapPublicIpOnLaunch")):
            yield subnet, "private subnet assigns public IPs on launch"


# --- compute -----------------------------------------------------------------------------------------
@rule("lt-imdsv2", "high", "metadata_options: http_tokens='required', http_put_response_hop_limit=1",
      "SecurityHub EC2.8/EC2.170, CKV_AWS_79, AwsSolutions-EC29")
def lt_imdsv2(g: Graph, c: StackConfig | None) -> Iterator[Hit]:
    for lt in g.of("ec2/launchTemplate:LaunchTemplate"):
        meta = lt.inputs.get("metadataOptions") or {}
        if meta.get("httpTokens") != "required":
            yield lt, "IMDSv2 is not required (http_tokens != 'required')"
        if float(meta.get("httpPutResponseHopLimit", 2)) > 1:
            yield lt, "metadata hop limit above 1 lets containers reach instance credentials"


@rule("lt-ebs-encrypted", "high", "encrypt every EBS volume: block_device_mappings[].ebs.encrypted='true'",
      "SecurityHub EC2.3/EC2.7, CKV_AWS_8")
def lt_ebs_encrypted(g: Graph, c: StackConfig | None) -> Iterator[Hit]:
    for lt in g.of("ec2/launchTemplate:LaunchTemplate"):
        mappings = lt.inputs.get("blockDeviceMappings") or []
        if not mappings:
            yield lt, "no block device mapping: root volume encryption depends on the account default"
        for m in mappings:
            if not _is_true((m.get("ebs") or {}).get("encrypted")):
                yield lt, f"volume {m.get('deviceName', '?')} is not encrypted"


@rule("lt-no-public-ip", "high", "network_interfaces[].associate_public_ip_address='false'", "SecurityHub EC2.9/AutoScaling.5")
def lt_no_public_ip(g: Graph, c: StackConfig | None) -> Iterator[Hit]:
    for lt in g.of("ec2/launchTemplate:LaunchTemplate"):
        for ni in lt.inputs.get("networkInterfaces") or []:
            if _is_true(ni.get("associatePublicIpAddress")):
                yield lt, "instances get a public IP address"


@rule("lt-user-data-secrets", "critical", "read secrets at boot from Secrets Manager or SSM SecureString, "
      "never embed them in user data", "CKV_AWS_46")
def lt_user_data_secrets(g: Graph, c: StackConfig | None) -> Iterator[Hit]:
    for lt in g.of("ec2/launchTemplate:LaunchTemplate"):
        data = lt.inputs.get("userData") or ""
        try:
            text = base64.b64decode(data, validate=True).decode(errors="replace")
        except (binascii.Error, ValueError):
            text = data
        if SECRET_VALUE.search(text):
            yield lt, "user data contains a secret-looking string"


@rule("asg-elb-health", "medium", "health_check_type='ELB' for groups behind a load balancer", "SecurityHub AutoScaling.1")
def asg_elb_health(g: Graph, c: StackConfig | None) -> Iterator[Hit]:
    for asg in g.of("autoscaling/group:Group"):
        if (asg.inputs.get("targetGroupArns") or asg.inputs.get("loadBalancers")) and \
                asg.inputs.get("healthCheckType") != "ELB":
            yield asg, "uses EC2 health checks: instances failing the load balancer's check are not replaced"


@rule("asg-multi-az", "high", "vpc_zone_identifiers must name subnets in at least two AZs", "SecurityHub AutoScaling.2")
def asg_multi_az(g: Graph, c: StackConfig | None) -> Iterator[Hit]:
    for asg in g.of("autoscaling/group:Group"):
        azs = {g.az_of(s) for s in asg.inputs.get("vpcZoneIdentifiers") or []} - {""}
        if len(azs) < 2:
            yield asg, f"spans {len(azs)} AZ(s)"


@rule("alb-multi-az", "high", "give the load balancer subnets in at least two AZs", "SecurityHub ELB.13")
def alb_multi_az(g: Graph, c: StackConfig | None) -> Iterator[Hit]:
    for lb in g.of("lb/loadBalancer:LoadBalancer", "alb/loadBalancer:LoadBalancer"):
        azs = {g.az_of(s) for s in lb.inputs.get("subnets") or []} - {""}
        if len(azs) < 2:
            yield lb, f"spans {len(azs)} AZ(s)"


@rule("alb-drop-invalid-headers", "medium", "drop_invalid_header_fields=True", "SecurityHub ELB.4, CKV_AWS_131")
def alb_drop_invalid_headers(g: Graph, c: StackConfig | None) -> Iterator[Hit]:
    for lb in g.of("lb/loadBalancer:LoadBalancer", "alb/loadBalancer:LoadBalancer"):
        if lb.inputs.get("loadBalancerType", "application") == "application" and \
                not _is_true(lb.inputs.get("dropInvalidHeaderFields")):
            yield lb, "invalid HTTP headers are passed to targets"


@rule("http-redirects", "high", "when a certificate is configured, the HTTP listener's default action must "
      "redirect to HTTPS", "SecurityHub ELB.1, CKV_AWS_103")
def http_redirects(g: Graph, c: StackConfig | None) -> Iterator[Hit]:
    listeners = g.of("lb/listener:Listener", "alb/listener:Listener")
    https_lbs = {id(g.ref(x.inputs.get("loadBalancerArn"))) for x in listeners if x.inputs.get("protocol") == "HTTPS"}
    for x in listeners:
        lb = g.ref(x.inputs.get("loadBalancerArn"))
        has_cert = id(lb) in https_lbs or bool(c and c.certificate_arn)
        if x.inputs.get("protocol") == "HTTP" and has_cert and \
                any(a.get("type") != "redirect" for a in x.inputs.get("defaultActions") or []):
            yield x, "HTTP listener serves traffic instead of redirecting to HTTPS"


# --- IAM ---------------------------------------------------------------------------------------------
def _identity_policies(g: Graph) -> Iterator[tuple[Resource, dict[str, Any]]]:
    for r in g.of("iam/rolePolicy:RolePolicy", "iam/policy:Policy", "iam/userPolicy:UserPolicy",
                  "iam/groupPolicy:GroupPolicy"):
        yield r, policy_doc(r.inputs.get("policy"))
    for role in g.of("iam/role:Role"):
        for inline in role.inputs.get("inlinePolicies") or []:
            yield role, policy_doc(inline.get("policy"))


def _allow_statements(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for st in as_list(doc.get("Statement")):
        if isinstance(st, dict) and st.get("Effect") == "Allow":
            yield st


@rule("iam-no-wildcard-action", "critical", "name the actions the principal needs", "SecurityHub IAM.1/IAM.21, CKV_AWS_1/62/63")
def iam_no_wildcard_action(g: Graph, c: StackConfig | None) -> Iterator[Hit]:
    for r, doc in _identity_policies(g):
        for st in _allow_statements(doc):
            if "*" in as_list(st.get("Action")) and st.get("Sid") not in documents.WILDCARD_ALLOWED:
                yield r, f"statement {st.get('Sid', '?')} allows every action"


@rule("iam-no-wildcard-resource", "high", "name exact ARNs; if AWS offers no resource-level permission, add the "
      "statement's Sid with the reason to hainfra.documents.WILDCARD_ALLOWED", "CKV_AWS_355, AwsSolutions-IAM5")
def iam_no_wildcard_resource(g: Graph, c: StackConfig | None) -> Iterator[Hit]:
    for r, doc in _identity_policies(g):
        for st in documents.wildcard_statements(doc):
            yield r, f"statement {st.get('Sid', '?')} allows {st.get('Action')} on Resource '*'"


@rule("iam-trust-service", "high", "trust policies of workload roles name service principals "
      "(e.g. ec2.amazonaws.com), never '*' or a whole account", "CKV_AWS_60/61")
def iam_trust_service(g: Graph, c: StackConfig | None) -> Iterator[Hit]:
    for role in g.of("iam/role:Role"):
        for st in _allow_statements(policy_doc(role.inputs.get("assumeRolePolicy"))):
            principal = st.get("Principal")
            if principal == "*" or (isinstance(principal, dict) and ("AWS" in principal or "*" in principal.values())):
                yield role, f"trust policy allows {principal!r} to assume the role"


# --- storage -----------------------------------------------------------------------------------------
LB_TYPES = ("lb/loadBalancer:LoadBalancer", "alb/loadBalancer:LoadBalancer")
LOGGING_TYPES = ("s3/bucketLogging:BucketLogging", "s3/bucketLoggingV2:BucketLoggingV2")


def log_targets(g: Graph) -> set[int]:
    """Buckets (by identity) that receive ALB access logs or S3 server access logs: those need SSE-S3."""
    targets = {id(g.ref((lb.inputs.get("accessLogs") or {}).get("bucket"))) for lb in g.of(*LB_TYPES)}
    targets |= {id(g.ref(r.inputs.get("targetBucket"))) for r in g.of(*LOGGING_TYPES)}
    return targets - {id(None)}


def _bucket_configs(g: Graph, bucket: Resource, *suffixes: str) -> list[Resource]:
    return [r for r in g.of(*suffixes) if g.ref(r.inputs.get("bucket")) is bucket or r.inputs.get("bucket") in
            (bucket.inputs.get("bucket"), bucket.id)]


@rule("s3-versioning", "high", "declare aws.s3.BucketVersioning(status='Enabled')", "SecurityHub S3.14, CKV_AWS_21")
def s3_versioning(g: Graph, c: StackConfig | None) -> Iterator[Hit]:
    for b in g.of("s3/bucket:Bucket", "s3/bucketV2:BucketV2"):
        configs = _bucket_configs(g, b, "s3/bucketVersioning:BucketVersioning", "s3/bucketVersioningV2:BucketVersioningV2")
        enabled = any((r.inputs.get("versioningConfiguration") or {}).get("status") == "Enabled" for r in configs) or \
            _is_true((b.inputs.get("versioning") or {}).get("enabled"))
        if not enabled:
            yield b, "versioning is not enabled"


@rule("s3-sse-kms", "high", "declare aws.s3.BucketServerSideEncryptionConfiguration with sse_algorithm='aws:kms' "
      "and a customer key", "SecurityHub S3.17, CKV_AWS_145")
def s3_sse_kms(g: Graph, c: StackConfig | None) -> Iterator[Hit]:
    for b in g.of("s3/bucket:Bucket", "s3/bucketV2:BucketV2"):
        configs = _bucket_configs(g, b, "s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
                                  "s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2")
        defaults = [rule_.get("applyServerSideEncryptionByDefault") or {} for r in configs
                    for rule_ in r.inputs.get("rules") or []]
        if id(b) in log_targets(g):  # ALB access logs and S3 server access logs need SSE-S3
            if not any(d.get("sseAlgorithm") == "AES256" for d in defaults):
                yield b, "log bucket must use SSE-S3 (AES256): ELB and S3 log delivery cannot use a KMS key"
        elif not any(d.get("sseAlgorithm") in ("aws:kms", "aws:kms:dsse") and d.get("kmsMasterKeyId") for d in defaults):
            yield b, "not encrypted with a customer-managed KMS key"


@rule("s3-public-access-block", "critical", "declare aws.s3.BucketPublicAccessBlock with all four settings True",
      "SecurityHub S3.8, CKV_AWS_53-56")
def s3_public_access_block(g: Graph, c: StackConfig | None) -> Iterator[Hit]:
    keys = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    for b in g.of("s3/bucket:Bucket", "s3/bucketV2:BucketV2"):
        blocks = _bucket_configs(g, b, "s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
        if not any(all(_is_true(r.inputs.get(k)) for k in keys) for r in blocks):
            yield b, "public access is not blocked (all four settings)"


@rule("s3-tls-only", "high", "bucket policy denying s3:* when aws:SecureTransport is false",
      "SecurityHub S3.5, AwsSolutions-S10")
def s3_tls_only(g: Graph, c: StackConfig | None) -> Iterator[Hit]:
    for b in g.of("s3/bucket:Bucket", "s3/bucketV2:BucketV2"):
        policies = _bucket_configs(g, b, "s3/bucketPolicy:BucketPolicy")
        ok = any(st.get("Effect") == "Deny" and "false" in json.dumps(st.get("Condition", {}).get("Bool", {})
                                                                       .get("aws:SecureTransport", ""))
                 for p in policies for st in as_list(policy_doc(p.inputs.get("policy")).get("Statement")))
        if not ok:
            yield b, "requests without TLS are not denied"


@rule("s3-lifecycle", "medium", "declare aws.s3.BucketLifecycleConfiguration with transitions/expiration and "
      "abort_incomplete_multipart_upload", "SecurityHub S3.13, CKV2_AWS_61/CKV_AWS_300")
def s3_lifecycle(g: Graph, c: StackConfig | None) -> Iterator[Hit]:
    for b in g.of("s3/bucket:Bucket", "s3/bucketV2:BucketV2"):
        rules = [r_ for lc in _bucket_configs(g, b, "s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
                                              "s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2")
                 for r_ in lc.inputs.get("rules") or [] if r_.get("status") == "Enabled"]
        if not any(r_.get("noncurrentVersionTransitions") or r_.get("transitions") or r_.get("expiration")
                   or r_.get("noncurrentVersionExpiration") for r_ in rules):
            yield b, "no lifecycle transitions or expiration: versions accumulate forever"
        if not any(r_.get("abortIncompleteMultipartUpload") for r_ in rules):
            yield b, "incomplete multipart uploads are never aborted"


# --- secrets, keys, logs, alarms ---------------------------------------------------------------------
@rule("secret-cmk", "medium", "set kms_key_id to a customer-managed key", "SecurityHub SecretsManager.x, CKV_AWS_149")
def secret_cmk(g: Graph, c: StackConfig | None) -> Iterator[Hit]:
    for s in g.of("secretsmanager/secret:Secret"):
        if not s.inputs.get("kmsKeyId"):
            yield s, "secret is encrypted with the AWS-managed key"


@rule("ssm-secure-string", "high", "type='SecureString' with key_id set to a customer-managed key", "CKV_AWS_337")
def ssm_secure_string(g: Graph, c: StackConfig | None) -> Iterator[Hit]:
    for p in g.of("ssm/parameter:Parameter"):
        if SECRET_NAME.search(str(p.inputs.get("name", p.name))):
            if p.inputs.get("type") != "SecureString":
                yield p, "secret-looking parameter is stored in plain text"
            elif not p.inputs.get("keyId"):
                yield p, "SecureString uses the AWS-managed key"


@rule("kms-rotation", "medium", "enable_key_rotation=True", "SecurityHub KMS.4, CIS 3.6, CKV_AWS_7")
def kms_rotation(g: Graph, c: StackConfig | None) -> Iterator[Hit]:
    for k in g.of("kms/key:Key"):
        if k.inputs.get("customerMasterKeySpec", "SYMMETRIC_DEFAULT") == "SYMMETRIC_DEFAULT" and \
                not _is_true(k.inputs.get("enableKeyRotation")):
            yield k, "automatic key rotation is off"


@rule("log-retention-kms", "medium", "set retention_in_days and kms_key_id", "SecurityHub CloudWatch.16, CKV_AWS_66/158")
def log_retention_kms(g: Graph, c: StackConfig | None) -> Iterator[Hit]:
    for lg in g.of("cloudwatch/logGroup:LogGroup"):
        if not lg.inputs.get("retentionInDays"):
            yield lg, "logs are kept forever (no retention)"
        if not lg.inputs.get("kmsKeyId"):
            yield lg, "not encrypted with a customer-managed key"


@rule("alarm-actions", "medium", "alarm_actions=[topic.arn]", "SecurityHub CloudWatch.15")
def alarm_actions(g: Graph, c: StackConfig | None) -> Iterator[Hit]:
    for a in g.of("cloudwatch/metricAlarm:MetricAlarm"):
        if not a.inputs.get("alarmActions"):
            yield a, "alarm notifies nobody"


# --- hygiene -----------------------------------------------------------------------------------------
@rule("no-deprecated-types", "high", "use the current resource type named in the message", "")
def no_deprecated_types(g: Graph, c: StackConfig | None) -> Iterator[Hit]:
    for r in g.resources:
        if r.type in DEPRECATED_TYPES:
            yield r, f"{r.type} is deprecated; use {DEPRECATED_TYPES[r.type]}"


@rule("required-tags", "medium", f"tag with {', '.join(REQUIRED_TAGS)} via hainfra.naming.tags() and "
      f"{RESOURCE_TYPE_TAG} (hainfra.stack.tag_resource_type)", "AWS tagging policy")
def required_tags(g: Graph, c: StackConfig | None) -> Iterator[Hit]:
    for r in g.resources:
        if not taggable(r.type):
            continue
        tags = r.inputs.get("tags") or {}
        if isinstance(tags, list):  # autoscaling groups
            tags = {t.get("key"): t.get("value") for t in tags}
        missing = [t for t in (*REQUIRED_TAGS, RESOURCE_TYPE_TAG) if not tags.get(t)]
        if missing:
            yield r, f"missing tags {', '.join(missing)}"


@rule("naming-convention", "low", "name resources with hainfra.naming.name(config, kind)", "", needs_config=True)
def naming_convention(g: Graph, c: StackConfig | None) -> Iterator[Hit]:
    if c is None:
        return
    pattern = re.compile(rf"^{re.escape(c.project)}-[a-z0-9-]+?-{re.escape(c.env_id)}(-[a-z0-9-]+)?$")
    for r in g.resources:
        if not pattern.match(r.name):
            yield r, f"name {r.name!r} does not follow {c.project}-<kind>-{c.env_id}"


from hainfra.policy import dataprotection, edge, hardening  # noqa: E402,F401 - registers their rules after the base ones
