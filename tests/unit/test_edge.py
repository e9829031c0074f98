"""Edge configuration and program (offline): HTTPS in prod, the WAF switch, instance types, endpoint policies,
and the sandbox's self-signed certificate kept secret (plan, state fingerprint, logs, Terraform export)."""

from __future__ import annotations

import json
import logging

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from hainfra import naming, redact
from hainfra.components.edge import MANAGED_RULE_GROUPS, self_signed_certificate
from hainfra.config import FIELDS, StackConfig
from hainfra.engines.runtime import unwrap_secrets
from hainfra.engines.sandbox.engine import stored_inputs
from hainfra.errors import ConfigError
from hainfra.plan import evaluate_offline, plan
from hainfra.policy import export_stack_tfplan

CERT = "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"
PROD = {"environment": "prod", "asg_min": 3}


def problems(params: dict) -> dict[str, str]:
    with pytest.raises(ConfigError) as info:
        StackConfig.load(params, env={})
    return {field: f"{value} {fix}" for field, value, fix in info.value.problems}


# --- HTTPS ---------------------------------------------------------------------------------------------
def test_prod_on_aws_without_a_certificate_is_refused_with_the_fix() -> None:
    found = problems({**PROD, "engine": "pulumi"})
    assert "prod serves HTTPS only" in found["certificate_arn"] and "aws acm request-certificate" in found["certificate_arn"]
    assert StackConfig.load({**PROD, "engine": "pulumi", "certificate_arn": CERT}, env={}).https


@pytest.mark.parametrize(("params", "self_signed"), [
    (PROD, True),                                                             # sandbox
    ({**PROD, "engine": "pulumi", "aws_endpoint_url": "http://127.0.0.1:5000"}, True),  # pulumi against an emulator
    ({**PROD, "certificate_arn": CERT}, False),                               # the operator's own certificate wins
    ({}, False),                                                              # dev: HTTP only, no certificate made
])
def test_self_signed_certificate_only_for_prod_on_an_emulator(params: dict, self_signed: bool) -> None:
    config = StackConfig.load(params, env={})
    assert config.self_signed_certificate is self_signed
    types = set(plan(config)["token"])
    assert ("aws:acm/certificate:Certificate" in types) is self_signed
    https = [r for r in evaluate_offline(config)[0].custom if r.name == naming.name(config, "listener-https")]
    assert bool(https) is config.https


def test_http_listener_redirects_when_https() -> None:
    config = StackConfig.load(PROD, env={})
    http = next(r for r in evaluate_offline(config)[0].custom if r.name == naming.name(config, "listener-http"))
    assert [a["type"] for a in http.inputs["defaultActions"]] == ["redirect"]
    assert http.inputs["defaultActions"][0]["redirect"]["protocol"] == "HTTPS"


def test_self_signed_certificate_is_a_valid_pair() -> None:
    key_pem, cert_pem = self_signed_certificate("s.p.sandbox.invalid")
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()  # type: ignore[union-attr]
    assert cert.subject.rfc4514_string() == "CN=s.p.sandbox.invalid"
    assert self_signed_certificate("x.invalid")[0] != key_pem  # fresh each time: never a key shipped in code


def test_private_key_is_secret_in_state_export_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    config = StackConfig.load({**PROD, "stack": "keysecret"}, env={})
    reg = next(r for r in evaluate_offline(config)[0].custom if r.type == "aws:acm/certificate:Certificate")
    key_pem = unwrap_secrets(reg.inputs)["privateKey"]
    assert key_pem.startswith("-----BEGIN PRIVATE KEY-----")
    assert set(reg.ignore_changes) >= {"privateKey", "certificateBody"}
    assert "PRIVATE KEY" not in json.dumps(stored_inputs(reg))  # what the sandbox state keeps
    exported = json.dumps(export_stack_tfplan(config).plan)
    assert "aws_acm_certificate" in exported
    assert "PRIVATE KEY" not in exported and key_pem.splitlines()[1] not in exported
    body_line = key_pem.splitlines()[1]
    assert body_line not in redact.scrub_log_text(f"ImportCertificate {{'PrivateKey': b{key_pem!r}}}")
    logger = logging.getLogger("hainfra.test-edge")
    handler_filter = redact.LogFilter()
    caplog.handler.addFilter(handler_filter)
    logger.warning("key=%s", key_pem)
    assert body_line not in caplog.text


# --- WAF -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("params", "on"), [({}, False), (PROD, True), ({"waf": True}, True),
                                            ({**PROD, "waf": False}, False)])
def test_waf_default_follows_the_environment(params: dict, on: bool) -> None:
    config = StackConfig.load(params, env={})
    assert config.waf_enabled is on
    regs = {r.type: r for r in evaluate_offline(config)[0].custom}
    assert ("aws:wafv2/webAclAssociation:WebAclAssociation" in regs) is on
    assert (naming.WAF_LOG_KIND in naming.log_group_kinds(config)) is on
    if on:
        acl = regs["aws:wafv2/webAcl:WebAcl"]
        assert acl.inputs["scope"] == "REGIONAL"
        assert [r["statement"]["managedRuleGroupStatement"]["name"] for r in acl.inputs["rules"]] == list(MANAGED_RULE_GROUPS)
        group = naming.log_group_name(config, naming.WAF_LOG_KIND)
        assert group.startswith("aws-waf-logs-") and regs["aws:cloudwatch/logGroup:LogGroup"]
        key = json.loads(regs["aws:kms/key:Key"].inputs["policy"])
        logs = next(s for s in key["Statement"] if s["Sid"] == "LogsDeliveryUseKey")
        assert any(a.endswith(f":log-group:{group}") for a in logs["Condition"]["ArnEquals"][
            "kms:EncryptionContext:aws:logs:arn"])


# --- instance types and monitoring ----------------------------------------------------------------------
def test_instance_types_give_a_mixed_instances_policy_and_prod_monitoring() -> None:
    config = StackConfig.load({**PROD, "instance_types": ["t3.small", "t3a.small"]}, env={})
    regs = {r.type: r for r in evaluate_offline(config)[0].custom}
    group = regs["aws:autoscaling/group:Group"].inputs
    assert "launchTemplate" not in group
    overrides = group["mixedInstancesPolicy"]["launchTemplate"]["overrides"]
    assert [o["instanceType"] for o in overrides] == ["t3.small", "t3a.small"]
    assert group["mixedInstancesPolicy"]["instancesDistribution"]["onDemandPercentageAboveBaseCapacity"] == 100
    template = regs["aws:ec2/launchTemplate:LaunchTemplate"].inputs
    assert template["instanceType"] == "t3.small" and template["monitoring"]["enabled"] is True


def test_single_instance_type_keeps_the_plain_launch_template() -> None:
    config = StackConfig.load({"instance_type": "t3.small"}, env={})
    regs = {r.type: r for r in evaluate_offline(config)[0].custom}
    assert regs["aws:autoscaling/group:Group"].inputs["launchTemplate"]
    assert "mixedInstancesPolicy" not in regs["aws:autoscaling/group:Group"].inputs
    assert regs["aws:ec2/launchTemplate:LaunchTemplate"].inputs["monitoring"]["enabled"] is False  # dev: basic
    assert config.app_instance_types == ("t3.small",)


@pytest.mark.parametrize(("value", "field", "fix"), [
    (["t3.micro", "t3 large"], "instance_types", "EC2 instance types"),
    (["t3.micro", 3], "instance_types", "EC2 instance types"),
    (["t3.micro", "t3.micro"], "instance_types", "once"),
    ([f"t3.x{i}" for i in range(41)], "instance_types", "at most 40"),
    ("t3.micro", "instance_types", "must be list"),
])
def test_bad_instance_types_are_refused_naming_the_field(value: object, field: str, fix: str) -> None:
    assert fix in problems({"instance_types": value})[field]


def test_instance_type_contradicting_instance_types_is_refused() -> None:
    found = problems({"instance_type": "m5.large", "instance_types": ["t3.micro", "t3a.micro"]})
    assert "not among instance_types" in found["instance_type"]
    # the default instance_type is not a contradiction: instance_types wins
    assert FIELDS["instance_type"].default == "t3.micro"
    ok = StackConfig.load({"instance_types": ["m5.large", "m5a.large"]}, env={})
    assert ok.app_instance_types == ("m5.large", "m5a.large")
    assert StackConfig.load({"instance_type": "m5.large", "instance_types": ["m5a.large", "m5.large"]},
                            env={}).app_instance_types[0] == "m5a.large"


# --- endpoint policies ---------------------------------------------------------------------------------
def test_every_endpoint_has_an_account_only_policy() -> None:
    config = StackConfig.load(PROD, env={})
    endpoints = [r for r in evaluate_offline(config)[0].custom if r.type == "aws:ec2/vpcEndpoint:VpcEndpoint"]
    assert len(endpoints) == 6
    for e in endpoints:
        doc = json.loads(e.inputs["policy"])
        account = doc["Statement"][0]["Condition"]["StringEquals"]["aws:PrincipalAccount"]
        assert account == "123456789012"
        s3_only = [s for s in doc["Statement"] if "Condition" not in s]
        assert (len(s3_only) == 1) is e.inputs["serviceName"].endswith(".s3")
        for st in s3_only:
            assert st["Action"] == "s3:GetObject" and st["Resource"] == "arn:aws:s3:::al2023-repos-us-east-1-de612dc2/*"


def test_two_stacks_side_by_side_never_share_an_edge_name() -> None:
    """Web ACL names are unique per region and scope, log groups per account: each stack has its own."""
    a, b = (StackConfig.load({**PROD, "stack": s}, env={}) for s in ("blue", "green"))
    for kind in ("waf", "waf-logs-policy", "cert"):
        assert naming.name(a, kind) != naming.name(b, kind)
    assert naming.log_group_name(a, naming.WAF_LOG_KIND) != naming.log_group_name(b, naming.WAF_LOG_KIND)


def test_every_service_the_program_uses_is_loaded_under_the_lock() -> None:
    """``components.load_services`` loads pulumi_aws's lazy service modules once, under a lock (the lazy
    loader is not thread-safe); a service the program uses but the list misses would load lazily, racing."""
    from hainfra.components import SERVICES

    used: set[str] = set()
    for params in (PROD, {"environment": "dev", "waf": True}):
        evaluation, _ = evaluate_offline(StackConfig.load(params, env={}))
        used |= {r.type.split(":")[1].split("/")[0] for r in evaluation.custom}
    module = {"lambda": "lambda_"}  # pulumi_aws's module names avoid Python keywords
    assert {module.get(s, s) for s in used} <= set(SERVICES)
