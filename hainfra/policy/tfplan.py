"""Any Pulumi program as a Terraform plan JSON, so Terraform scanners (checkov) can read it.

pulumi-aws is bridged from the Terraform AWS provider: every resource has a Terraform twin
(``aws:ec2/vpc:Vpc`` → ``aws_vpc``), properties are the Terraform attributes in camelCase,
list blocks are pluralised (``rules`` → ``rule``) and single blocks (MaxItems 1) are
flattened to objects. This module undoes that for the types in :data:`TF_TYPES` (names
checked against pulumi-aws' ``bridge-metadata.json``) and writes the three parts of
``terraform show -json`` that checkov's ``terraform_plan`` framework reads:
``planned_values`` (attribute values), ``resource_changes`` (all ``create``) and
``configuration`` whose ``expressions`` carry the references between resources.

References come from the program's dependency graph: an input (or a field of a block)
whose value is the id, ARN or name of a resource the program said it depends on becomes
``{"references": ["aws_subnet.x.id", "aws_subnet.x"]}`` and is left out of the planned
values, exactly as Terraform shows a value known only after apply. That is what lets
checkov's graph checks see that a subnet has its NACL association or a bucket its PAB.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hainfra.engines.runtime import SECRET_SIG, SECRET_SIG_KEY
from hainfra.errors import ExportError
from hainfra.policy.graph import Resource

TERRAFORM_VERSION = "1.9.8"  # the plan format checkov parses (format 1.2)
PROVIDER = "registry.terraform.io/hashicorp/aws"
MAP_ATTRIBUTES = frozenset({"tags", "tagsAll", "dimensions", "defaultTags"})  # Terraform maps, not blocks
REDACTED = "<secret>"


@dataclass(frozen=True)
class TfType:
    """A Terraform resource type and the Pulumi property names that are not plain camelCase of it.

    ``renames`` maps a Pulumi property (at any depth of this type) to its Terraform attribute;
    the bridge pluralises list blocks, so these are mostly plural → singular.
    """

    type: str
    renames: dict[str, str] = field(default_factory=dict)


def _t(tf_type: str, **renames: str) -> TfType:
    return TfType(tf_type, renames)


_LIFECYCLE = {"rules": "rule", "transitions": "transition",
              "noncurrentVersionTransitions": "noncurrent_version_transition"}
_BUCKET_V1 = {"versionings": "versioning", "loggings": "logging", "lifecycleRules": "lifecycle_rule",
              "serverSideEncryptionConfigurations": "server_side_encryption_configuration",
              "corsRules": "cors_rule", "grants": "grant", "websites": "website",
              "replicationConfigurations": "replication_configuration", "rules": "rule",
              "transitions": "transition", "noncurrentVersionTransitions": "noncurrent_version_transition"}

# Pulumi type token -> Terraform type. Types the stack and the policy tests use, and those the
# hardening issues add (VPC endpoints, log bucket, WAF, rotation, replication, Object Lock).
TF_TYPES: dict[str, TfType] = {
    # network
    "aws:ec2/vpc:Vpc": _t("aws_vpc"),
    "aws:ec2/subnet:Subnet": _t("aws_subnet"),
    "aws:ec2/internetGateway:InternetGateway": _t("aws_internet_gateway"),
    "aws:ec2/eip:Eip": _t("aws_eip"),
    "aws:ec2/natGateway:NatGateway": _t("aws_nat_gateway"),
    "aws:ec2/routeTable:RouteTable": _t("aws_route_table", routes="route"),
    "aws:ec2/route:Route": _t("aws_route"),
    "aws:ec2/routeTableAssociation:RouteTableAssociation": _t("aws_route_table_association"),
    "aws:ec2/networkAcl:NetworkAcl": _t("aws_network_acl"),
    "aws:ec2/networkAclAssociation:NetworkAclAssociation": _t("aws_network_acl_association"),
    "aws:ec2/networkAclRule:NetworkAclRule": _t("aws_network_acl_rule"),
    "aws:ec2/defaultNetworkAcl:DefaultNetworkAcl": _t("aws_default_network_acl"),
    "aws:ec2/securityGroup:SecurityGroup": _t("aws_security_group"),
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": _t("aws_default_security_group"),
    "aws:ec2/securityGroupRule:SecurityGroupRule": _t("aws_security_group_rule"),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": _t("aws_vpc_security_group_ingress_rule"),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": _t("aws_vpc_security_group_egress_rule"),
    "aws:ec2/flowLog:FlowLog": _t("aws_flow_log"),
    "aws:ec2/vpcEndpoint:VpcEndpoint": _t("aws_vpc_endpoint"),
    "aws:ec2/vpcEndpointRouteTableAssociation:VpcEndpointRouteTableAssociation":
        _t("aws_vpc_endpoint_route_table_association"),
    # compute and load balancing
    "aws:ec2/launchTemplate:LaunchTemplate": _t("aws_launch_template"),
    "aws:ec2/instance:Instance": _t("aws_instance"),
    "aws:autoscaling/group:Group": _t("aws_autoscaling_group", vpcZoneIdentifiers="vpc_zone_identifier",
                                      tags="tag", overrides="override"),
    "aws:lb/loadBalancer:LoadBalancer": _t("aws_lb", subnetMappings="subnet_mapping"),
    "aws:alb/loadBalancer:LoadBalancer": _t("aws_alb", subnetMappings="subnet_mapping"),
    "aws:lb/targetGroup:TargetGroup": _t("aws_lb_target_group"),
    "aws:lb/listener:Listener": _t("aws_lb_listener", defaultActions="default_action",
                                   targetGroups="target_group"),
    "aws:alb/listener:Listener": _t("aws_alb_listener", defaultActions="default_action",
                                    targetGroups="target_group"),
    "aws:acm/certificate:Certificate": _t("aws_acm_certificate"),
    "aws:wafv2/webAcl:WebAcl": _t("aws_wafv2_web_acl", rules="rule"),
    "aws:wafv2/webAclAssociation:WebAclAssociation": _t("aws_wafv2_web_acl_association"),
    "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration":
        _t("aws_wafv2_web_acl_logging_configuration", redactedFields="redacted_fields"),
    # IAM
    "aws:iam/role:Role": _t("aws_iam_role", inlinePolicies="inline_policy"),
    "aws:iam/rolePolicy:RolePolicy": _t("aws_iam_role_policy"),
    "aws:iam/policy:Policy": _t("aws_iam_policy"),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": _t("aws_iam_role_policy_attachment"),
    "aws:iam/instanceProfile:InstanceProfile": _t("aws_iam_instance_profile"),
    "aws:iam/userPolicy:UserPolicy": _t("aws_iam_user_policy"),
    "aws:iam/groupPolicy:GroupPolicy": _t("aws_iam_group_policy"),
    # storage
    "aws:s3/bucket:Bucket": _t("aws_s3_bucket", **_BUCKET_V1),
    "aws:s3/bucketV2:BucketV2": _t("aws_s3_bucket", **_BUCKET_V1),
    "aws:s3/bucketVersioning:BucketVersioning": _t("aws_s3_bucket_versioning"),
    "aws:s3/bucketVersioningV2:BucketVersioningV2": _t("aws_s3_bucket_versioning"),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration":
        _t("aws_s3_bucket_server_side_encryption_configuration", rules="rule"),
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2":
        _t("aws_s3_bucket_server_side_encryption_configuration", rules="rule"),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration":
        _t("aws_s3_bucket_lifecycle_configuration", **_LIFECYCLE),
    "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2":
        _t("aws_s3_bucket_lifecycle_configuration", **_LIFECYCLE),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": _t("aws_s3_bucket_public_access_block"),
    "aws:s3/bucketPolicy:BucketPolicy": _t("aws_s3_bucket_policy"),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": _t("aws_s3_bucket_ownership_controls"),
    "aws:s3/bucketNotification:BucketNotification": _t("aws_s3_bucket_notification", topics="topic",
                                                       queues="queue", lambdaFunctions="lambda_function"),
    "aws:s3/bucketLogging:BucketLogging": _t("aws_s3_bucket_logging"),
    "aws:s3/bucketLoggingV2:BucketLoggingV2": _t("aws_s3_bucket_logging"),
    "aws:s3/bucketAclV2:BucketAclV2": _t("aws_s3_bucket_acl"),
    "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration":
        _t("aws_s3_bucket_object_lock_configuration"),
    "aws:s3/bucketReplicationConfig:BucketReplicationConfig":
        _t("aws_s3_bucket_replication_configuration", rules="rule"),
    "aws:s3/bucketObject:BucketObject": _t("aws_s3_bucket_object"),
    "aws:s3/bucketObjectv2:BucketObjectv2": _t("aws_s3_object"),
    # secrets and keys
    "aws:kms/key:Key": _t("aws_kms_key"),
    "aws:kms/alias:Alias": _t("aws_kms_alias"),
    "aws:secretsmanager/secret:Secret": _t("aws_secretsmanager_secret", replicas="replica"),
    "aws:secretsmanager/secretVersion:SecretVersion": _t("aws_secretsmanager_secret_version"),
    "aws:secretsmanager/secretPolicy:SecretPolicy": _t("aws_secretsmanager_secret_policy"),
    "aws:secretsmanager/secretRotation:SecretRotation": _t("aws_secretsmanager_secret_rotation"),
    "aws:ssm/parameter:Parameter": _t("aws_ssm_parameter"),
    "aws:lambda/function:Function": _t("aws_lambda_function"),
    "aws:lambda/permission:Permission": _t("aws_lambda_permission"),
    # monitoring
    "aws:cloudwatch/logGroup:LogGroup": _t("aws_cloudwatch_log_group"),
    "aws:cloudwatch/logResourcePolicy:LogResourcePolicy": _t("aws_cloudwatch_log_resource_policy"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": _t("aws_cloudwatch_metric_alarm", metricQueries="metric_query"),
    "aws:cloudwatch/eventRule:EventRule": _t("aws_cloudwatch_event_rule"),
    "aws:cloudwatch/eventTarget:EventTarget": _t("aws_cloudwatch_event_target"),
    "aws:sns/topic:Topic": _t("aws_sns_topic"),
    "aws:sns/topicPolicy:TopicPolicy": _t("aws_sns_topic_policy"),
}

# Which output a reference names, by the input value it matched.
_REF_ATTRIBUTES = ("id", "arn", "name", "bucket")
_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def snake(name: str) -> str:
    """``mapPublicIpOnLaunch`` → ``map_public_ip_on_launch`` (the bridge's inverse)."""
    return _CAMEL.sub(r"_\1", name).lower()


def tf_type(token: str) -> TfType:
    """The Terraform type of a Pulumi token; :class:`ExportError` naming the fix when unmapped."""
    if token not in TF_TYPES:
        raise ExportError(f"no Terraform type is known for {token}; add it to hainfra.policy.tfplan.TF_TYPES "
                          "(its name is in pulumi-aws' bridge-metadata.json), or export with skip_unmapped=True "
                          "to list it as skipped")
    return TF_TYPES[token]


@dataclass
class Export:
    """The plan document, where each Terraform address came from, and what was left out."""

    plan: dict[str, Any]
    addresses: dict[str, Resource]
    skipped: list[Resource]

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.plan, indent=1, sort_keys=True))
        return path


class _Refs:
    """Finds, for an input value, the dependency it names and which of its outputs."""

    def __init__(self, addresses: dict[str, Resource]) -> None:
        self._by_value: dict[str, tuple[str, str]] = {}
        for address, r in addresses.items():
            for attr in _REF_ATTRIBUTES:
                value = r.id if attr == "id" else r.outputs.get(attr)
                if isinstance(value, str) and value:
                    self._by_value.setdefault(value, (address, attr))
        self._urn_of = {address: r.urn for address, r in addresses.items()}

    def find(self, value: Any, allowed: set[str]) -> list[str] | None:
        """``["aws_x.n.id", "aws_x.n"]`` if ``value`` is an output of a resource whose URN is in ``allowed``."""
        hit = self._by_value.get(value) if isinstance(value, str) else None
        if hit and self._urn_of[hit[0]] in allowed:
            return [f"{hit[0]}.{hit[1]}", hit[0]]
        return None


def _number(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def redact_secrets(value: Any) -> Any:
    """Pulumi secrets (wire format) replaced by a placeholder: an export is scanned and archived, never secret."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG_KEY) == SECRET_SIG:
            return REDACTED
        return {k: redact_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_secrets(v) for v in value]
    return value


def _convert(props: dict[str, Any], spec: TfType, refs: _Refs,
             deps: set[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(values, expressions) of one resource or block, in Terraform's names and shapes."""
    values: dict[str, Any] = {}
    expressions: dict[str, Any] = {}
    for key, raw in props.items():
        name = spec.renames.get(key, snake(key))
        if isinstance(raw, dict) and key in MAP_ATTRIBUTES:
            values[name] = {k: _number(v) for k, v in raw.items()}
        elif isinstance(raw, dict) or (isinstance(raw, list) and raw and all(isinstance(x, dict) for x in raw)):
            blocks = [_convert(b, spec, refs, deps) for b in (raw if isinstance(raw, list) else [raw])]
            values[name] = [b[0] for b in blocks]
            if any(b[1] for b in blocks):
                expressions[name] = [b[1] for b in blocks]
        elif isinstance(raw, list):
            found = [refs.find(x, deps) for x in raw]
            if raw and all(found):
                expressions[name] = {"references": [ref for pair in found for ref in pair or []]}
            else:
                values[name] = [_number(x) for x in raw]
        else:
            ref = refs.find(raw, deps)
            if ref:
                expressions[name] = {"references": ref}
            else:
                values[name] = _number(raw)
    return values, expressions


def _addresses(resources: Iterable[Resource], skip_unmapped: bool) -> tuple[dict[str, Resource], list[Resource]]:
    addresses: dict[str, Resource] = {}
    skipped: list[Resource] = []
    unmapped = sorted({r.type for r in resources if r.type not in TF_TYPES})
    if unmapped and not skip_unmapped:
        tf_type(unmapped[0])  # raises, naming the first
    for r in resources:
        if r.type not in TF_TYPES:
            skipped.append(r)
            continue
        base = _UNSAFE.sub("_", r.name)
        base = base if re.match(r"[A-Za-z_]", base) else f"r_{base}"
        address, n = f"{TF_TYPES[r.type].type}.{base}", 1
        while address in addresses:
            n += 1
            address = f"{TF_TYPES[r.type].type}.{base}_{n}"
        addresses[address] = r
    return addresses, skipped


def export(resources: Iterable[Resource], dependencies: dict[str, list[str]], *, region: str = "us-east-1",
           skip_unmapped: bool = False) -> Export:
    """The Terraform plan of ``resources`` (graph resources; ``dependencies`` maps URN → URNs it depends on).

    Inputs must already be free of secrets (see :func:`redact_secrets`).

    Raises:
        ExportError: a resource type has no Terraform twin in :data:`TF_TYPES` (unless ``skip_unmapped``:
            then it is left out and listed in ``Export.skipped``).
    """
    addresses, skipped = _addresses(list(resources), skip_unmapped)
    refs = _Refs(addresses)
    planned, changes, config = [], [], []
    for address, r in addresses.items():
        spec = TF_TYPES[r.type]
        values, expressions = _convert(r.inputs, spec, refs, set(dependencies.get(r.urn, [])))
        head = {"address": address, "mode": "managed", "type": spec.type, "name": address.split(".", 1)[1]}
        planned.append({**head, "provider_name": PROVIDER, "schema_version": 0, "values": values,
                        "sensitive_values": {}})
        changes.append({**head, "provider_name": PROVIDER, "change": {
            "actions": ["create"], "before": None, "after": values,
            "after_unknown": {k: True for k in expressions if isinstance(expressions[k], dict)},
            "before_sensitive": False, "after_sensitive": {}}})
        config.append({**head, "provider_config_key": "aws", "schema_version": 0, "expressions": expressions})
    plan = {
        "format_version": "1.2", "terraform_version": TERRAFORM_VERSION,
        "planned_values": {"root_module": {"resources": planned}},
        "resource_changes": changes,
        "configuration": {"provider_config": {"aws": {"name": "aws", "full_name": PROVIDER,
                                                      "expressions": {"region": {"constant_value": region}}}},
                          "root_module": {"resources": config}},
    }
    return Export(plan, addresses, skipped)
