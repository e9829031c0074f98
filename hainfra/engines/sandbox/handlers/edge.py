"""ACM (imported certificates) and WAFv2 (web ACL, association, logging configuration) handlers."""

from __future__ import annotations

from typing import Any

from hainfra.aws import Ctx, tags_of
from hainfra.engines.sandbox.handlers import (
    HELD,
    Created,
    Found,
    Handler,
    Props,
    ignore,
    ints,
    lookup,
    register,
    replaces_on,
    tag_diff,
    tag_list,
    tagger,
    unknown,
)


def acm(ctx: Ctx) -> Any:
    return ctx.client("acm")


def waf(ctx: Ctx) -> Any:
    return ctx.client("wafv2")


# --- ACM: an imported certificate (the sandbox's self-signed one) -----------------------------------
def _import_args(p: Props) -> dict[str, Any]:
    args: dict[str, Any] = {"Certificate": p["certificateBody"].encode(), "PrivateKey": p["privateKey"].encode()}
    if p.get("certificateChain"):
        args["CertificateChain"] = p["certificateChain"].encode()
    return args


def create_certificate(ctx: Ctx, p: Props) -> Created:
    arn = acm(ctx).import_certificate(**_import_args(p), Tags=tag_list(p.get("tags") or {}))["CertificateArn"]
    cert = acm(ctx).describe_certificate(CertificateArn=arn)["Certificate"]
    return arn, {"arn": arn, "domainName": cert.get("DomainName", ""), "status": cert.get("Status", ""),
                 "notAfter": str(cert.get("NotAfter", ""))}


def update_certificate(ctx: Ctx, rid: str, old: Props, new: Props) -> Props:
    """A new body, key or chain is re-imported under the same ARN (as the provider does)."""
    acm(ctx).import_certificate(CertificateArn=rid, **_import_args(new))
    return {}


@ignore("ResourceNotFoundException")
def delete_certificate(ctx: Ctx, rid: str, p: Props) -> None:
    acm(ctx).delete_certificate(CertificateArn=rid)


def tag_certificate(ctx: Ctx, rid: str, p: Props, old: dict[str, str], new: dict[str, str]) -> None:
    put, remove = tag_diff(old, new)
    if put:
        acm(ctx).add_tags_to_certificate(CertificateArn=rid, Tags=tag_list(put))
    if remove:
        acm(ctx).remove_tags_from_certificate(CertificateArn=rid, Tags=[{"Key": k} for k in remove])


def _certificate_tags(ctx: Ctx, arn: str) -> dict[str, str]:
    return tags_of(acm(ctx).list_tags_for_certificate(CertificateArn=arn).get("Tags"))


@lookup()
def find_certificate(ctx: Ctx, p: Props) -> Found | None:
    """By ARN when known, else by the stack-unique Name tag (ACM keeps no names)."""
    if not unknown(p.get("id")):
        arn = acm(ctx).describe_certificate(CertificateArn=p["id"])["Certificate"]["CertificateArn"]
        return Found(arn, _certificate_tags(ctx, arn))
    name = (p.get("tags") or {}).get("Name")
    for summary in acm(ctx).list_certificates().get("CertificateSummaryList", []) if name else []:
        arn = summary["CertificateArn"]
        tags = _certificate_tags(ctx, arn)
        if tags.get("Name") == name and arn not in p.get(HELD, ()):
            return Found(arn, tags)
    return None


register("aws:acm/certificate:Certificate", Handler(
    create_certificate, delete_certificate, update_certificate,
    frozenset({"certificateBody", "privateKey", "certificateChain"}), tag_certificate, lookup=find_certificate))


# --- WAFv2 web ACL -----------------------------------------------------------------------------------
# Pulumi's camelCase → the WAFv2 API's PascalCase, where capitalising the first letter is not enough.
_API_NAMES = {"cloudwatchMetricsEnabled": "CloudWatchMetricsEnabled"}
_INTS = {"priority"}


def api_shape(value: Any, key: str = "") -> Any:
    """A Pulumi input block as the WAFv2 API spells it (keys PascalCase, numbers as ints)."""
    if isinstance(value, dict):
        return {_API_NAMES.get(k, k[:1].upper() + k[1:]): api_shape(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [api_shape(v, key) for v in value]
    return ints(value) if key in _INTS else value


def _acl_body(p: Props) -> dict[str, Any]:
    return {"DefaultAction": api_shape(p["defaultAction"]), "Rules": api_shape(p.get("rules") or []),
            "VisibilityConfig": api_shape(p["visibilityConfig"]), "Description": p.get("description") or ""}


def _id_of(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def create_web_acl(ctx: Ctx, p: Props) -> Created:
    summary = waf(ctx).create_web_acl(Name=p["name"], Scope=p["scope"], Tags=tag_list(p.get("tags") or {}),
                                      **_acl_body(p))["Summary"]
    return summary["Id"], {"arn": summary["ARN"], "lockToken": summary.get("LockToken", "")}


def _lock_token(ctx: Ctx, rid: str, p: Props) -> str:
    return waf(ctx).get_web_acl(Name=p["name"], Scope=p["scope"], Id=rid)["LockToken"]


def update_web_acl(ctx: Ctx, rid: str, old: Props, new: Props) -> Props:
    token = waf(ctx).update_web_acl(Name=new["name"], Scope=new["scope"], Id=rid, LockToken=_lock_token(ctx, rid, new),
                                    **_acl_body(new)).get("NextLockToken", "")
    return {"lockToken": token}


@ignore("WAFNonexistentItemException")
def delete_web_acl(ctx: Ctx, rid: str, p: Props) -> None:
    waf(ctx).delete_web_acl(Name=p["name"], Scope=p["scope"], Id=rid, LockToken=_lock_token(ctx, rid, p))


def _waf_tags(ctx: Ctx, arn: str) -> dict[str, str]:
    return tags_of(waf(ctx).list_tags_for_resource(ResourceARN=arn)["TagInfoForResource"].get("TagList"))


@lookup("name", "scope")
def find_web_acl(ctx: Ctx, p: Props) -> Found | None:
    for acl in waf(ctx).list_web_acls(Scope=p["scope"]).get("WebACLs", []):
        if acl["Name"] == p["name"] or acl["Id"] == p.get("id"):
            return Found(acl["Id"], _waf_tags(ctx, acl["ARN"]))
    return None


register("aws:wafv2/webAcl:WebAcl", Handler(
    create_web_acl, delete_web_acl, update_web_acl, frozenset({"defaultAction", "rules", "visibilityConfig", "description"}),
    tagger("wafv2", "tag_resource", "untag_resource", "ResourceARN", arn=True), lookup=find_web_acl, named=True))


# --- association with the ALB, and logging: untaggable, owned by the web ACL -------------------------------
def _acl_tags(ctx: Ctx, acl_arn: str) -> dict[str, str] | None:
    return _waf_tags(ctx, acl_arn) if acl_arn else None


def create_association(ctx: Ctx, p: Props) -> Created:
    waf(ctx).associate_web_acl(WebACLArn=p["webAclArn"], ResourceArn=p["resourceArn"])
    return f"{p['webAclArn']},{p['resourceArn']}", {}


@ignore("WAFNonexistentItemException")
def delete_association(ctx: Ctx, rid: str, p: Props) -> None:
    waf(ctx).disassociate_web_acl(ResourceArn=p.get("resourceArn") or rid.split(",", 1)[1])


@lookup("resourceArn")
def find_association(ctx: Ctx, p: Props) -> Found | None:
    acl = waf(ctx).get_web_acl_for_resource(ResourceArn=p["resourceArn"]).get("WebACL")
    return Found(f"{acl['ARN']},{p['resourceArn']}", _acl_tags(ctx, acl["ARN"])) if acl else None


register("aws:wafv2/webAclAssociation:WebAclAssociation", Handler(create_association, delete_association,
                                                                  lookup=find_association))


def _logging(p: Props) -> dict[str, Any]:
    config: dict[str, Any] = {"ResourceArn": p["resourceArn"], "LogDestinationConfigs": p["logDestinationConfigs"]}
    if p.get("redactedFields"):
        config["RedactedFields"] = api_shape(p["redactedFields"])
    if p.get("loggingFilter"):
        config["LoggingFilter"] = api_shape(p["loggingFilter"])
    return config


def create_logging(ctx: Ctx, p: Props) -> Created:
    waf(ctx).put_logging_configuration(LoggingConfiguration=_logging(p))
    return p["resourceArn"], {}


def update_logging(ctx: Ctx, rid: str, old: Props, new: Props) -> Props:
    waf(ctx).put_logging_configuration(LoggingConfiguration=_logging(new))
    return {}


@ignore("WAFNonexistentItemException")
def delete_logging(ctx: Ctx, rid: str, p: Props) -> None:
    waf(ctx).delete_logging_configuration(ResourceArn=rid)


@lookup("resourceArn")
def find_logging(ctx: Ctx, p: Props) -> Found | None:
    config = waf(ctx).get_logging_configuration(ResourceArn=p["resourceArn"])["LoggingConfiguration"]
    return Found(config["ResourceArn"], _acl_tags(ctx, config["ResourceArn"]))


register("aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration", Handler(
    create_logging, delete_logging, update_logging, frozenset({"redactedFields", "loggingFilter"}),
    lookup=find_logging))


# --- replace-forcing inputs (ForceNew in terraform-provider-aws, bridged by pulumi-aws) ----------------
# aws_acm_certificate: an imported certificate's body, key and chain are re-imported in place.
replaces_on("aws:acm/certificate:Certificate", "domainName", "subjectAlternativeNames", "keyAlgorithm",
            "certificateAuthorityArn")
replaces_on("aws:wafv2/webAcl:WebAcl", "name", "namePrefix", "scope", unique=("name", "scope"))
# One web ACL per resource: a new association for the same ALB replaces the old one in place on AWS.
replaces_on("aws:wafv2/webAclAssociation:WebAclAssociation", "resourceArn", "webAclArn", unique=("resourceArn",))
replaces_on("aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration", "resourceArn",
            "logDestinationConfigs", unique=("resourceArn",))
