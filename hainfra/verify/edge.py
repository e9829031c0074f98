"""Edge checks: HTTPS only, the WAF on the ALB and its logging, account-only VPC endpoint policies,
detailed monitoring and the instance types of the application tier.

Same documents and names as the gate (:mod:`hainfra.documents`, :mod:`hainfra.naming`), so the two agree.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from hainfra import documents, naming
from hainfra.aws import policy_doc
from hainfra.cidr import HTTP, HTTPS
from hainfra.components.edge import MANAGED_RULE_GROUPS
from hainfra.verify.base import Row, VerifyContext, check, check_row, skip

FIX_UP = "run `hainfra up` to restore it"


def _listeners(v: VerifyContext) -> dict[int, dict[str, Any]]:
    listeners = v.client("elbv2").describe_listeners(LoadBalancerArn=v.outputs["alb_arn"])["Listeners"]
    return {int(x["Port"]): x for x in listeners}


def _redirects_to_https(listener: dict[str, Any]) -> bool:
    actions = listener.get("DefaultActions") or []
    return bool(actions) and all(a.get("Type") == "redirect" and
                                 (a.get("RedirectConfig") or {}).get("Protocol") == "HTTPS" for a in actions)


@check("edge.https-only")
def https_only(v: VerifyContext) -> Iterator[Row]:
    """Prod serves HTTPS only: a TLS listener with a certificate, and port 80 only redirects to it."""
    if not v.config.https:
        yield skip("ALB listeners", "HTTPS on 443, HTTP redirects", "no certificate_arn (non-prod: HTTP only)")
        return
    listeners = _listeners(v)
    tls = listeners.get(HTTPS, {})
    certs = [c.get("CertificateArn") for c in tls.get("Certificates") or []]
    yield check_row("HTTPS listener", tls.get("Protocol") == "HTTPS" and bool(certs) and
                    str(tls.get("SslPolicy", "")).startswith("ELBSecurityPolicy-TLS13"),
                    f"HTTPS on {HTTPS} with a certificate and a TLS 1.3/1.2 policy",
                    f"{tls.get('Protocol')} on {HTTPS}, certificate {certs or 'none'}, policy {tls.get('SslPolicy')}"
                    if tls else f"no listener on {HTTPS}", FIX_UP)
    plain = listeners.get(HTTP)
    yield check_row("HTTP listener", plain is None or _redirects_to_https(plain),
                    f"port {HTTP} only redirects to HTTPS",
                    "absent" if plain is None else ", ".join(a.get("Type", "?") for a in plain.get("DefaultActions", [])),
                    FIX_UP)
    for port, listener in sorted(listeners.items()):
        if port not in (HTTP, HTTPS) and listener.get("Protocol") != "HTTPS":
            yield check_row(f"listener {port}", False, "no other plain-text listener", listener.get("Protocol", "?"),
                            f"delete the listener on {port}")


def _web_acl(v: VerifyContext) -> dict[str, Any] | None:
    return v.client("wafv2").get_web_acl_for_resource(ResourceArn=v.outputs["alb_arn"]).get("WebACL")


@check("edge.waf-attached")
def waf_attached(v: VerifyContext) -> Iterator[Row]:
    """The stack's web ACL protects the ALB with the managed rule groups and logs to its KMS-encrypted group."""
    if not v.config.waf_enabled:
        yield skip("WAF web ACL", "a web ACL on the ALB", "waf is off for this stack (default outside prod)")
        return
    name = naming.name(v.config, "waf")
    acl = _web_acl(v)
    yield check_row("WAF association", bool(acl) and acl.get("Name") == name, f"web ACL {name} on the ALB",
                    acl.get("Name", "?") if acl else "no web ACL on the ALB", FIX_UP)
    if not acl:
        return
    groups = {((r.get("Statement") or {}).get("ManagedRuleGroupStatement") or {}).get("Name") for r in acl.get("Rules", [])}
    missing = [g for g in MANAGED_RULE_GROUPS if g not in groups]
    yield check_row(f"{name} rules", not missing, ", ".join(MANAGED_RULE_GROUPS),
                    f"missing {', '.join(missing)}" if missing else "all present", FIX_UP)
    yield from _waf_logging(v, acl["ARN"])


def _waf_logging(v: VerifyContext, acl_arn: str) -> Iterator[Row]:
    group = naming.log_group_name(v.config, naming.WAF_LOG_KIND)
    try:
        destinations = v.client("wafv2").get_logging_configuration(
            ResourceArn=acl_arn)["LoggingConfiguration"]["LogDestinationConfigs"]
    except ClientError:
        destinations = []
    yield check_row("WAF logging", any(d.endswith(f":log-group:{group}") for d in destinations),
                    f"logs to {group}", ", ".join(destinations) or "off", FIX_UP)
    groups = v.client("logs").describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    found = next((g for g in groups if g["logGroupName"] == group), {})
    yield check_row(f"{group} encryption", v.is_stack_key(found.get("kmsKeyId")), "the stack's KMS key",
                    found.get("kmsKeyId") or ("no such log group" if not found else "none"), FIX_UP)


@check("hardening.endpoint-policies")
def endpoint_policies(v: VerifyContext) -> Iterator[Row]:
    """Every VPC endpoint admits only this account's principals (Prowler vpc_endpoint_connections_trust_boundaries)."""
    endpoints = v.client("ec2").describe_vpc_endpoints(
        Filters=[{"Name": "vpc-id", "Values": [v.outputs["vpc_id"]]}])["VpcEndpoints"]
    for e in endpoints:
        if str(e.get("State", "")).lower() in ("deleted", "deleting"):
            continue
        gaps = documents.endpoint_policy_gaps(policy_doc(e.get("PolicyDocument") or ""), v.aws.account_id)
        yield check_row(f"{e['VpcEndpointId']} ({e['ServiceName'].rsplit('.', 1)[-1]})", not gaps,
                        f"only principals of account {v.aws.account_id}", "; ".join(gaps) or "account only", FIX_UP)


@check("compute.instance-options")
def instance_options(v: VerifyContext) -> Iterator[Row]:
    """Detailed (1-minute) monitoring in prod; the configured instance types, mixed when more than one."""
    data = v.client("ec2").describe_launch_template_versions(
        LaunchTemplateId=v.outputs["launch_template_id"], Versions=["$Default"])["LaunchTemplateVersions"][0][
        "LaunchTemplateData"]
    monitored = bool((data.get("Monitoring") or {}).get("Enabled"))
    yield Row("launch template monitoring", "pass" if monitored or not v.config.is_prod else "fail",
              "detailed monitoring on (prod)" if v.config.is_prod else "basic or detailed",
              "detailed" if monitored else "basic", FIX_UP, mandatory=v.config.is_prod)
    group = v.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[v.outputs["asg_name"]])["AutoScalingGroups"][0]
    overrides = ((group.get("MixedInstancesPolicy") or {}).get("LaunchTemplate") or {}).get("Overrides") or []
    types = tuple(o.get("InstanceType") for o in overrides) or (data.get("InstanceType"),)
    want = v.config.app_instance_types
    yield check_row("instance types", types == want, ", ".join(want), ", ".join(str(t) for t in types), FIX_UP)
