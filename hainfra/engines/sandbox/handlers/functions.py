"""Lambda handlers: the secret's rotation function and the permission letting Secrets Manager invoke it."""

from __future__ import annotations

import json
from typing import Any

from hainfra import lambdas
from hainfra.aws import Ctx
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
    tag_diff,
)

ARCHIVE_ASSETS = "assets"  # Pulumi's wire form of an AssetArchive: {"assets": {name: {"text": ...}}}


def lam(ctx: Ctx) -> Any:
    return ctx.client("lambda")


def zipped(code: Props) -> bytes:
    """The deployment zip of an AssetArchive of text assets, built the way hainfra packages its functions."""
    assets = (code or {}).get(ARCHIVE_ASSETS) or {}
    files = {name: asset.get("text") for name, asset in assets.items()}
    if not files or any(text is None for text in files.values()):
        raise ValueError("the sandbox deploys functions from an AssetArchive of text assets only")
    return lambdas.zip_files(files)


def _configuration(p: Props) -> dict[str, Any]:
    args: dict[str, Any] = {"Role": p["role"], "Handler": p["handler"], "Runtime": p["runtime"],
                            "Timeout": ints(p.get("timeout", 3)), "MemorySize": ints(p.get("memorySize", 128))}
    if p.get("environment"):
        args["Environment"] = {"Variables": dict((p["environment"] or {}).get("variables") or {})}
    if p.get("kmsKeyArn"):
        args["KMSKeyArn"] = p["kmsKeyArn"]
    if p.get("tracingConfig"):
        args["TracingConfig"] = {"Mode": p["tracingConfig"].get("mode", "PassThrough")}
    return args


def create_function(ctx: Ctx, p: Props) -> Created:
    fn = lam(ctx).create_function(FunctionName=p["name"], Code={"ZipFile": zipped(p["code"])},
                                  Tags=dict(p.get("tags") or {}), **_configuration(p))
    if p.get("reservedConcurrentExecutions") is not None and ints(p["reservedConcurrentExecutions"]) >= 0:
        lam(ctx).put_function_concurrency(FunctionName=p["name"],
                                          ReservedConcurrentExecutions=ints(p["reservedConcurrentExecutions"]))
    return p["name"], {"arn": fn["FunctionArn"], "invokeArn": fn["FunctionArn"], "version": fn.get("Version", "$LATEST"),
                       "qualifiedArn": f"{fn['FunctionArn']}:$LATEST"}


def update_function(ctx: Ctx, rid: str, old: Props, new: Props) -> Props:
    if old.get("code") != new.get("code") or old.get("sourceCodeHash") != new.get("sourceCodeHash"):
        lam(ctx).update_function_code(FunctionName=rid, ZipFile=zipped(new["code"]))
    lam(ctx).update_function_configuration(FunctionName=rid, **_configuration(new))
    if new.get("reservedConcurrentExecutions") is not None:
        lam(ctx).put_function_concurrency(FunctionName=rid,
                                          ReservedConcurrentExecutions=ints(new["reservedConcurrentExecutions"]))
    return {}


@ignore("ResourceNotFoundException")
def delete_function(ctx: Ctx, rid: str, p: Props) -> None:
    lam(ctx).delete_function(FunctionName=rid)


def tag_function(ctx: Ctx, rid: str, p: Props, old: dict[str, str], new: dict[str, str]) -> None:
    arn = p.get("arn") or lam(ctx).get_function(FunctionName=rid)["Configuration"]["FunctionArn"]
    put, remove = tag_diff(old, new)
    if put:
        lam(ctx).tag_resource(Resource=arn, Tags=put)
    if remove:
        lam(ctx).untag_resource(Resource=arn, TagKeys=remove)


@lookup("name")
def find_function(ctx: Ctx, p: Props) -> Found | None:
    fn = lam(ctx).get_function(FunctionName=p["name"])
    return Found(p["name"], dict(fn.get("Tags") or {}))


register("aws:lambda/function:Function", Handler(
    create_function, delete_function, update_function,
    frozenset({"code", "sourceCodeHash", "role", "handler", "runtime", "timeout", "memorySize", "environment",
               "kmsKeyArn", "tracingConfig", "reservedConcurrentExecutions"}),
    tag_function, lookup=find_function, named=True))


def create_permission(ctx: Ctx, p: Props) -> Created:
    args = {"FunctionName": p["function"], "StatementId": p["statementId"], "Action": p["action"],
            "Principal": p["principal"]}
    if p.get("sourceAccount"):
        args["SourceAccount"] = p["sourceAccount"]
    if p.get("sourceArn"):
        args["SourceArn"] = p["sourceArn"]
    lam(ctx).add_permission(**args)
    return f"{p['function']}|{p['statementId']}", {}


@ignore("ResourceNotFoundException")
def delete_permission(ctx: Ctx, rid: str, p: Props) -> None:
    lam(ctx).remove_permission(FunctionName=p["function"], StatementId=p["statementId"])


@lookup("function", "statementId")
def find_permission(ctx: Ctx, p: Props) -> Found | None:
    """A statement in its function's policy: the function's tags say who owns it."""
    policy = json.loads(lam(ctx).get_policy(FunctionName=p["function"])["Policy"])
    if not any(st.get("Sid") == p["statementId"] for st in policy.get("Statement", [])):
        return None
    fn = lam(ctx).get_function(FunctionName=p["function"])
    return Found(p["function"], dict(fn.get("Tags") or {}), part_of="function")


register("aws:lambda/permission:Permission", Handler(create_permission, delete_permission,
                                                     lookup=find_permission, named=True))


# --- replace-forcing inputs (ForceNew in terraform-provider-aws, bridged by pulumi-aws) ----------------

replaces_on("aws:lambda/function:Function", "name", "packageType", "ephemeralStorage", unique=("name",))
replaces_on("aws:lambda/permission:Permission", "action", "function", "principal", "sourceAccount", "sourceArn",
            "statementId", "statementIdPrefix", "qualifier", "eventSourceToken", "principalOrgId",
            "functionUrlAuthType", unique=("function", "statementId"))
