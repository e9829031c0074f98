"""Edge: the sandbox's self-signed certificate, and the ALB's WAFv2 web ACL with its CloudWatch logging."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hainfra import documents, naming, redact
from hainfra.components import document
from hainfra.config import StackConfig

# AWS managed rule groups (AWS WAF Developer Guide, "AWS Managed Rules rule groups list"): the OWASP-style
# baseline, request patterns known to be malicious (Log4j, …) and Amazon's IP reputation list. In this
# order of priority: reputation is cheap to evaluate but the baseline blocks the most.
MANAGED_RULE_GROUPS = ("AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet",
                       "AWSManagedRulesAmazonIpReputationList")
CERTIFICATE_DAYS = 365
# Reserved by RFC 2606: the sandbox's certificate can never be mistaken for (or used as) a real name.
SANDBOX_DOMAIN = "sandbox.invalid"
# WAF logs carry request headers: these hold credentials and session tokens, so they are redacted at the source.
REDACTED_HEADERS = ("authorization", "cookie")


def self_signed_certificate(common_name: str, days: int = CERTIFICATE_DAYS) -> tuple[str, str]:
    """A fresh (private key PEM, certificate PEM) pair, ECDSA P-256 (ACM imports it; ALB serves it).

    Only for rehearsing prod offline: no client trusts it. The key is generated here, marked
    secret by the caller and remembered for log redaction; it is never written anywhere in clear.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(common_name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return key_pem, cert.public_bytes(serialization.Encoding.PEM).decode()


def remember_key(key_pem: str) -> None:
    """Hide a private key from every log line: whole, and line by line (a repr escapes its newlines)."""
    body = [line for line in key_pem.splitlines() if line and not line.startswith("-----")]
    redact.remember(key_pem, *body)


def sandbox_certificate(c: StackConfig, parent: pulumi.Resource) -> aws.acm.Certificate:
    """Prod rehearsed in an emulator: a self-signed certificate imported into its ACM (shown in the plan).

    A fresh pair is drawn on every evaluation; ``ignore_changes`` keeps the imported one, so the state
    stores neither (only the ``<ignored>`` placeholder) and a re-run changes nothing.
    """
    cert_name = naming.name(c, "cert")
    key_pem, cert_pem = self_signed_certificate(f"{naming.stack_slug(c.stack)}.{c.project}.{SANDBOX_DOMAIN}")
    remember_key(key_pem)
    return aws.acm.Certificate(
        cert_name, private_key=pulumi.Output.secret(key_pem), certificate_body=cert_pem,
        tags=naming.tags(c, cert_name),
        opts=pulumi.ResourceOptions(parent=parent, ignore_changes=["privateKey", "certificateBody"]))


def _visibility(metric: str) -> aws.wafv2.WebAclVisibilityConfigArgs:
    return aws.wafv2.WebAclVisibilityConfigArgs(cloudwatch_metrics_enabled=True, metric_name=metric,
                                                sampled_requests_enabled=True)


def managed_rules() -> list[aws.wafv2.WebAclRuleArgs]:
    """One rule per managed group, its own actions kept (override ``none``), metrics and samples on."""
    return [aws.wafv2.WebAclRuleArgs(
        name=group, priority=i * 10,
        override_action=aws.wafv2.WebAclRuleOverrideActionArgs(none=aws.wafv2.WebAclRuleOverrideActionNoneArgs()),
        statement=aws.wafv2.WebAclRuleStatementArgs(
            managed_rule_group_statement=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementArgs(
                name=group, vendor_name="AWS")),
        visibility_config=aws.wafv2.WebAclRuleVisibilityConfigArgs(
            cloudwatch_metrics_enabled=True, metric_name=group, sampled_requests_enabled=True))
        for i, group in enumerate(MANAGED_RULE_GROUPS)]


@dataclass(kw_only=True)
class FirewallArgs:
    config: StackConfig
    alb_arn: pulumi.Input[str]
    key_arn: pulumi.Input[str]
    account_id: str
    partition: str = "aws"


class Firewall(pulumi.ComponentResource):
    """A REGIONAL WAFv2 web ACL on the ALB, logging to a KMS-encrypted ``aws-waf-logs-`` log group."""

    def __init__(self, name: str, args: FirewallArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("hainfra:edge:Firewall", name, None, opts)
        c = args.config
        child = pulumi.ResourceOptions(parent=self)
        acl_name = naming.name(c, "waf")
        self.web_acl = aws.wafv2.WebAcl(
            acl_name, name=acl_name, scope="REGIONAL", description=f"{c.project} {c.env_id}: AWS managed rules",
            default_action=aws.wafv2.WebAclDefaultActionArgs(allow=aws.wafv2.WebAclDefaultActionAllowArgs()),
            rules=managed_rules(), visibility_config=_visibility(acl_name), tags=naming.tags(c, acl_name), opts=child)
        self.association = aws.wafv2.WebAclAssociation(
            naming.name(c, "waf-alb"), resource_arn=args.alb_arn, web_acl_arn=self.web_acl.arn, opts=child)
        self.log_group = aws.cloudwatch.LogGroup(
            naming.name(c, "waf-logs"), name=naming.log_group_name(c, "waf"), retention_in_days=c.retention_days,
            kms_key_id=args.key_arn, tags=naming.tags(c, naming.name(c, "waf-logs")), opts=child)
        policy_name = naming.name(c, "waf-logs-policy")
        policy = aws.cloudwatch.LogResourcePolicy(
            policy_name, policy_name=policy_name,
            policy_document=document(documents.log_delivery_policy, log_group_arn=self.log_group.arn,
                                     account_id=args.account_id, region=c.region, partition=args.partition),
            opts=child)
        aws.wafv2.WebAclLoggingConfiguration(
            naming.name(c, "waf-logging"), resource_arn=self.web_acl.arn,
            log_destination_configs=[self.log_group.arn],
            redacted_fields=[aws.wafv2.WebAclLoggingConfigurationRedactedFieldArgs(
                single_header=aws.wafv2.WebAclLoggingConfigurationRedactedFieldSingleHeaderArgs(name=header))
                for header in REDACTED_HEADERS],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]))
        self.register_outputs({"web_acl_arn": self.web_acl.arn, "log_group": self.log_group.name})
