"""Secrets Manager and SSM Parameter Store handlers."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from hainfra.aws import Ctx
from hainfra.engines.sandbox.handlers import (
    Created,
    Handler,
    Props,
    error_code,
    ignore,
    ints,
    register,
    replaces_on,
    tag_list,
    tagger,
)


def sm(ctx: Ctx) -> Any:
    return ctx.client("secretsmanager")


def ssm(ctx: Ctx) -> Any:
    return ctx.client("ssm")


def create_secret(ctx: Ctx, p: Props) -> Created:
    args = {"Name": p["name"], "Description": p.get("description", ""), "Tags": tag_list(p.get("tags") or {})}
    if p.get("kmsKeyId"):
        args["KmsKeyId"] = p["kmsKeyId"]
    arn = sm(ctx).create_secret(**args)["ARN"]
    return arn, {"arn": arn}


def update_secret(ctx: Ctx, rid: str, old: Props, new: Props) -> Props:
    sm(ctx).update_secret(SecretId=rid, Description=new.get("description", ""), KmsKeyId=new.get("kmsKeyId", ""))
    return {}




@ignore("ResourceNotFoundException")
def delete_secret(ctx: Ctx, rid: str, p: Props) -> None:
    window = ints(p.get("recoveryWindowInDays", 30))
    if window == 0:
        sm(ctx).delete_secret(SecretId=rid, ForceDeleteWithoutRecovery=True)
    else:
        sm(ctx).delete_secret(SecretId=rid, RecoveryWindowInDays=window)


def find_secret(ctx: Ctx, p: Props) -> str | None:
    try:
        return sm(ctx).describe_secret(SecretId=p["name"])["ARN"]
    except ClientError:
        return None


tag_secret = tagger("secretsmanager", "tag_resource", "untag_resource", "SecretId")
tag_parameter = tagger("ssm", "add_tags_to_resource", "remove_tags_from_resource", "ResourceId", ResourceType="Parameter")

register("aws:secretsmanager/secret:Secret", Handler(
    create_secret, delete_secret, update_secret, frozenset({"description", "kmsKeyId", "recoveryWindowInDays"}),
    tag_secret, find_secret))


def create_secret_version(ctx: Ctx, p: Props) -> Created:
    version = sm(ctx).put_secret_value(SecretId=p["secretId"], SecretString=p["secretString"])["VersionId"]
    return f"{p['secretId']}|{version}", {"versionId": version, "arn": p["secretId"]}


def delete_secret_version(ctx: Ctx, rid: str, p: Props) -> None:
    """The version goes with its secret; nothing to do on its own (as in Pulumi, AWSCURRENT cannot be removed)."""


register("aws:secretsmanager/secretVersion:SecretVersion", Handler(create_secret_version, delete_secret_version))


def create_parameter(ctx: Ctx, p: Props) -> Created:
    args = {"Name": p["name"], "Value": p["value"], "Type": p["type"]}
    if p.get("keyId"):
        args["KeyId"] = p["keyId"]
    try:
        ssm(ctx).put_parameter(**args, Tags=tag_list(p.get("tags") or {}))
    except ClientError as exc:
        if error_code(exc) != "ParameterAlreadyExists":
            raise
        ssm(ctx).put_parameter(**args, Overwrite=True)
    arn = f"arn:aws:ssm:{ctx.region}:{ctx.account_id}:parameter{p['name']}"
    return p["name"], {"arn": arn}


def update_parameter(ctx: Ctx, rid: str, old: Props, new: Props) -> Props:
    args = {"Name": rid, "Value": new["value"], "Type": new["type"], "Overwrite": True}
    if new.get("keyId"):
        args["KeyId"] = new["keyId"]
    ssm(ctx).put_parameter(**args)
    return {}




@ignore("ParameterNotFound")
def delete_parameter(ctx: Ctx, rid: str, p: Props) -> None:
    ssm(ctx).delete_parameter(Name=rid)


register("aws:ssm/parameter:Parameter", Handler(
    create_parameter, delete_parameter, update_parameter, frozenset({"value", "keyId", "type"}), tag_parameter))


# --- replace-forcing inputs (ForceNew in terraform-provider-aws, bridged by pulumi-aws) ----------------

replaces_on("aws:secretsmanager/secret:Secret", "name", "namePrefix", unique=("name",))
replaces_on("aws:secretsmanager/secretVersion:SecretVersion", "secretId", "secretString", "secretBinary")
replaces_on("aws:ssm/parameter:Parameter", "name", "dataType", unique=("name",))
