"""Policy rules for the edge: HTTPS listeners, a WAF on every internet-facing ALB (with logging),
account-only VPC endpoint policies, and detailed monitoring in prod.

Each rule reads any program's resource graph and names the Security Hub / checkov / Prowler
controls it stands for. Imported by :mod:`hainfra.policy.rules`.
"""

from __future__ import annotations

from collections.abc import Iterator

from hainfra import documents
from hainfra.aws import policy_doc
from hainfra.config import StackConfig
from hainfra.policy.graph import Graph, Resource
from hainfra.policy.rules import LB_TYPES, Hit, _is_true, rule

LISTENER_TYPES = ("lb/listener:Listener", "alb/listener:Listener")


def _public_albs(g: Graph) -> list[Resource]:
    return [lb for lb in g.of(*LB_TYPES) if lb.inputs.get("loadBalancerType", "application") == "application"
            and not _is_true(lb.inputs.get("internal"))]


@rule("alb-https", "high", "add an aws.lb.Listener(port=443, protocol='HTTPS', certificate_arn=..., ssl_policy="
      "'ELBSecurityPolicy-TLS13-1-2-FIPS-PQ-2025-09') and make port 80 redirect to it (hainfra: set certificate_arn)",
      "SecurityHub ELB.1, CKV_AWS_2, CKV_AWS_103, Prowler elbv2_ssl_listeners", prod_only_mandatory=True)
def alb_https(g: Graph, c: StackConfig | None) -> Iterator[Hit]:
    """An internet-facing ALB serves HTTPS with a certificate; plain HTTP stays only as a redirect."""
    listeners = g.of(*LISTENER_TYPES)
    for lb in _public_albs(g):
        own = [x for x in listeners if g.ref(x.inputs.get("loadBalancerArn")) is lb]
        tls = [x for x in own if x.inputs.get("protocol") == "HTTPS" and x.inputs.get("certificateArn")]
        if not tls:
            yield lb, "no HTTPS listener with a certificate: traffic travels in clear text"
        for x in own:
            if x.inputs.get("protocol") == "HTTP" and tls and \
                    any(a.get("type") != "redirect" for a in x.inputs.get("defaultActions") or []):
                yield x, "HTTP listener serves traffic beside the HTTPS one instead of redirecting"


@rule("waf-attached", "medium", "declare aws.wafv2.WebAcl(scope='REGIONAL', rules=[AWS managed rule groups]) and "
      "aws.wafv2.WebAclAssociation(resource_arn=<alb>.arn, web_acl_arn=<acl>.arn) (hainfra: waf=true)",
      "SecurityHub ELB.16, CKV2_AWS_28, Prowler elbv2_waf_acl_attached", prod_only_mandatory=True)
def waf_attached(g: Graph, c: StackConfig | None) -> Iterator[Hit]:
    """An internet-facing ALB is behind a web ACL (common exploits, bad inputs, known bad IPs)."""
    attached = {id(g.ref(a.inputs.get("resourceArn"))) for a in g.of("wafv2/webAclAssociation:WebAclAssociation")
                if a.inputs.get("webAclArn")}
    for lb in _public_albs(g):
        if id(lb) not in attached:
            yield lb, "internet-facing ALB without a WAF web ACL"


@rule("waf-logging", "medium", "declare aws.wafv2.WebAclLoggingConfiguration(resource_arn=<acl>.arn, "
      "log_destination_configs=[<log group named aws-waf-logs-...>.arn])",
      "SecurityHub WAF.11, CKV2_AWS_31", mandatory=False)
def waf_logging(g: Graph, c: StackConfig | None) -> Iterator[Hit]:
    logged = {id(g.ref(x.inputs.get("resourceArn")))
              for x in g.of("wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration")}
    for acl in g.of("wafv2/webAcl:WebAcl"):
        if id(acl) not in logged:
            yield acl, "web ACL decisions are not logged"


@rule("endpoint-policy", "medium", "give each aws.ec2.VpcEndpoint a policy whose Principal '*' statements carry "
      "Condition StringEquals aws:PrincipalAccount=<account> (see hainfra.documents.endpoint_policy)",
      "AWS PrivateLink endpoint policies; Prowler vpc_endpoint_connections_trust_boundaries",
      prod_only_mandatory=True)
def endpoint_policy(g: Graph, c: StackConfig | None) -> Iterator[Hit]:
    """An endpoint with AWS's default policy lets the VPC reach any account's resources through it."""
    for e in g.of("ec2/vpcEndpoint:VpcEndpoint"):
        for gap in documents.endpoint_policy_gaps(policy_doc(e.inputs.get("policy"))):
            yield e, gap


@rule("lt-detailed-monitoring", "low", "monitoring=aws.ec2.LaunchTemplateMonitoringArgs(enabled=True) in prod",
      "CKV_AWS_126, Prowler ec2_instance_detailed_monitoring_enabled", mandatory=False)
def lt_detailed_monitoring(g: Graph, c: StackConfig | None) -> Iterator[Hit]:
    """Prod instances report 1-minute metrics, so scaling and alarms react within minutes, not five."""
    if c is not None and not c.is_prod:
        return
    for lt in g.of("ec2/launchTemplate:LaunchTemplate"):
        if not _is_true((lt.inputs.get("monitoring") or {}).get("enabled")):
            yield lt, "instances launch with basic (5-minute) monitoring"
