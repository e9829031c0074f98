"""Secrets Manager and SSM Parameter Store handlers."""

from __future__ import annotations

from typing import Any

from hainfra.aws import Ctx, tags_of
from hainfra.engines.sandbox.handlers import (
    Created,
    Found,
    Handler,
    Props,
    ignore,
    ints,
    lookup,
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


@lookup("name")
def find_secret(ctx: Ctx, p: Props) -> Found | None:
    """A secret scheduled for deletion still holds its name: found too."""
    secret = sm(ctx).describe_secret(SecretId=p["name"])
    return Found(secret["ARN"], tags_of(secret.get("Tags")))


tag_secret = tagger("secretsmanager", "tag_resource", "untag_resource", "SecretId")
tag_parameter = tagger("ssm", "add_tags_to_resource", "remove_tags_from_resource", "ResourceId", ResourceType="Parameter")

register("aws:secretsmanager/secret:Secret", Handler(
    create_secret, delete_secret, update_secret, frozenset({"description", "kmsKeyId", "recoveryWindowInDays"}),
    tag_secret, lookup=find_secret, named=True))


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
    ssm(ctx).put_parameter(**args, Tags=tag_list(p.get("tags") or {}))
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


@lookup("name")
def find_parameter(ctx: Ctx, p: Props) -> Found | None:
    ssm(ctx).get_parameter(Name=p["name"])
    tags = ssm(ctx).list_tags_for_resource(ResourceType="Parameter", ResourceId=p["name"])["TagList"]
    return Found(p["name"], tags_of(tags))


register("aws:ssm/parameter:Parameter", Handler(
    create_parameter, delete_parameter, update_parameter, frozenset({"value", "keyId", "type"}), tag_parameter,
    lookup=find_parameter, named=True))


@lookup("secretArn")
def find_secret_setting(ctx: Ctx, p: Props) -> Found | None:
    """A policy or rotation is written into its secret: the secret's tags say who owns it."""
    secret = sm(ctx).describe_secret(SecretId=p["secretArn"] if "secretArn" in p else p["secretId"])
    return Found(secret["ARN"], tags_of(secret.get("Tags")), part_of="secret")


def put_secret_policy(ctx: Ctx, p: Props) -> Created:
    sm(ctx).put_resource_policy(SecretId=p["secretArn"], ResourcePolicy=p["policy"],
                                BlockPublicPolicy=bool(p.get("blockPublicPolicy")))
    return p["secretArn"], {}


def update_secret_policy(ctx: Ctx, rid: str, old: Props, new: Props) -> Props:
    put_secret_policy(ctx, new)
    return {}


@ignore("ResourceNotFoundException")
def delete_secret_policy(ctx: Ctx, rid: str, p: Props) -> None:
    sm(ctx).delete_resource_policy(SecretId=p["secretArn"])


register("aws:secretsmanager/secretPolicy:SecretPolicy", Handler(
    put_secret_policy, delete_secret_policy, update_secret_policy, frozenset({"policy", "blockPublicPolicy"}),
    lookup=find_secret_setting, named=True))


def _rotate(ctx: Ctx, p: Props, immediately: bool) -> None:
    rules = {"AutomaticallyAfterDays": ints((p.get("rotationRules") or {})["automaticallyAfterDays"])}
    sm(ctx).rotate_secret(SecretId=p["secretId"], RotationLambdaARN=p["rotationLambdaArn"], RotationRules=rules,
                          RotateImmediately=immediately)


def create_rotation(ctx: Ctx, p: Props) -> Created:
    """RotateSecret: rotates at once unless told not to (the provider's default), with the deployed function."""
    _rotate(ctx, p, p.get("rotateImmediately") is not False)
    return p["secretId"], {}


def update_rotation(ctx: Ctx, rid: str, old: Props, new: Props) -> Props:
    _rotate(ctx, new, False)  # a new schedule or function: no extra rotation (as the provider does)
    return {}


@ignore("ResourceNotFoundException")
def delete_rotation(ctx: Ctx, rid: str, p: Props) -> None:
    sm(ctx).cancel_rotate_secret(SecretId=p["secretId"])


@lookup("secretId")
def find_rotation(ctx: Ctx, p: Props) -> Found | None:
    return find_secret_setting(ctx, {"secretArn": p["secretId"]})


register("aws:secretsmanager/secretRotation:SecretRotation", Handler(
    create_rotation, delete_rotation, update_rotation, frozenset({"rotationLambdaArn", "rotationRules"}),
    lookup=find_rotation, named=True))


# --- replace-forcing inputs (ForceNew in terraform-provider-aws, bridged by pulumi-aws) ----------------

replaces_on("aws:secretsmanager/secret:Secret", "name", "namePrefix", unique=("name",))
replaces_on("aws:secretsmanager/secretVersion:SecretVersion", "secretId", "secretString", "secretBinary")
replaces_on("aws:ssm/parameter:Parameter", "name", "dataType", unique=("name",))
replaces_on("aws:secretsmanager/secretPolicy:SecretPolicy", "secretArn", unique=("secretArn",))
replaces_on("aws:secretsmanager/secretRotation:SecretRotation", "secretId", unique=("secretId",))
