"""IAM and KMS handlers: roles, inline policies, instance profiles, keys, aliases."""

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
    unknown,
)


def iam(ctx: Ctx) -> Any:
    return ctx.client("iam")


def kms(ctx: Ctx) -> Any:
    return ctx.client("kms")


# --- roles -------------------------------------------------------------------------------------
def create_role(ctx: Ctx, p: Props) -> Created:
    role = iam(ctx).create_role(RoleName=p["name"], AssumeRolePolicyDocument=p["assumeRolePolicy"],
                                Tags=tag_list(p.get("tags") or {}))["Role"]
    return p["name"], {"arn": role["Arn"], "uniqueId": role["RoleId"]}


def update_role(ctx: Ctx, rid: str, old: Props, new: Props) -> Props:
    iam(ctx).update_assume_role_policy(RoleName=rid, PolicyDocument=new["assumeRolePolicy"])
    return {}




@ignore("NoSuchEntity")
def delete_role(ctx: Ctx, rid: str, p: Props) -> None:
    for name in iam(ctx).list_role_policies(RoleName=rid)["PolicyNames"]:
        iam(ctx).delete_role_policy(RoleName=rid, PolicyName=name)
    for profile in iam(ctx).list_instance_profiles_for_role(RoleName=rid)["InstanceProfiles"]:
        iam(ctx).remove_role_from_instance_profile(InstanceProfileName=profile["InstanceProfileName"], RoleName=rid)
    iam(ctx).delete_role(RoleName=rid)


def _role_tags(ctx: Ctx, role: str) -> dict[str, str]:
    return tags_of(iam(ctx).list_role_tags(RoleName=role)["Tags"])


@lookup("name")
def find_role(ctx: Ctx, p: Props) -> Found | None:
    name = iam(ctx).get_role(RoleName=p["name"])["Role"]["RoleName"]
    return Found(name, _role_tags(ctx, name))


tag_role = tagger("iam", "tag_role", "untag_role", "RoleName")
tag_profile = tagger("iam", "tag_instance_profile", "untag_instance_profile", "InstanceProfileName")
tag_key = tagger("kms", "tag_resource", "untag_resource", "KeyId", key="TagKey", value="TagValue")

register("aws:iam/role:Role", Handler(create_role, delete_role, update_role, frozenset({"assumeRolePolicy"}),
                                      tag_role, lookup=find_role, named=True))


def create_role_policy(ctx: Ctx, p: Props) -> Created:
    iam(ctx).put_role_policy(RoleName=p["role"], PolicyName=p["name"], PolicyDocument=p["policy"])
    return f"{p['role']}:{p['name']}", {}


def update_role_policy(ctx: Ctx, rid: str, old: Props, new: Props) -> Props:
    create_role_policy(ctx, new)
    return {}


@ignore("NoSuchEntity")
def delete_role_policy(ctx: Ctx, rid: str, p: Props) -> None:
    iam(ctx).delete_role_policy(RoleName=p["role"], PolicyName=p["name"])


@lookup("role", "name")
def find_role_policy(ctx: Ctx, p: Props) -> Found | None:
    """An inline policy has no tags: its role's say who owns it."""
    iam(ctx).get_role_policy(RoleName=p["role"], PolicyName=p["name"])
    return Found(f"{p['role']}:{p['name']}", _role_tags(ctx, p["role"]))


register("aws:iam/rolePolicy:RolePolicy", Handler(create_role_policy, delete_role_policy, update_role_policy,
                                                  frozenset({"policy"}), lookup=find_role_policy, named=True))


def create_profile(ctx: Ctx, p: Props) -> Created:
    profile = iam(ctx).create_instance_profile(InstanceProfileName=p["name"], Tags=tag_list(p.get("tags") or {}))
    iam(ctx).add_role_to_instance_profile(InstanceProfileName=p["name"], RoleName=p["role"])
    return p["name"], {"arn": profile["InstanceProfile"]["Arn"], "uniqueId": profile["InstanceProfile"]["InstanceProfileId"]}


@ignore("NoSuchEntity")
def delete_profile(ctx: Ctx, rid: str, p: Props) -> None:
    for role in iam(ctx).get_instance_profile(InstanceProfileName=rid)["InstanceProfile"].get("Roles", []):
        iam(ctx).remove_role_from_instance_profile(InstanceProfileName=rid, RoleName=role["RoleName"])
    iam(ctx).delete_instance_profile(InstanceProfileName=rid)




def update_profile(ctx: Ctx, rid: str, old: Props, new: Props) -> Props:
    """A profile holds one role: swap it in place."""
    for role in iam(ctx).get_instance_profile(InstanceProfileName=rid)["InstanceProfile"].get("Roles", []):
        iam(ctx).remove_role_from_instance_profile(InstanceProfileName=rid, RoleName=role["RoleName"])
    iam(ctx).add_role_to_instance_profile(InstanceProfileName=rid, RoleName=new["role"])
    return {}


@lookup("name")
def find_profile(ctx: Ctx, p: Props) -> Found | None:
    profile = iam(ctx).get_instance_profile(InstanceProfileName=p["name"])["InstanceProfile"]
    return Found(p["name"], tags_of(profile.get("Tags")))


register("aws:iam/instanceProfile:InstanceProfile", Handler(create_profile, delete_profile, update_profile,
                                                            frozenset({"role"}), tag=tag_profile,
                                                            lookup=find_profile, named=True))


# --- KMS ---------------------------------------------------------------------------------------
def create_key(ctx: Ctx, p: Props) -> Created:
    meta = kms(ctx).create_key(Description=p.get("description", ""), Policy=p["policy"],
                               Tags=tag_list(p.get("tags") or {}, "TagKey", "TagValue"))["KeyMetadata"]
    if p.get("enableKeyRotation"):
        kms(ctx).enable_key_rotation(KeyId=meta["KeyId"])
    return meta["KeyId"], {"arn": meta["Arn"], "keyId": meta["KeyId"]}


def update_key(ctx: Ctx, rid: str, old: Props, new: Props) -> Props:
    kms(ctx).put_key_policy(KeyId=rid, PolicyName="default", Policy=new["policy"])
    kms(ctx).update_key_description(KeyId=rid, Description=new.get("description", ""))
    (kms(ctx).enable_key_rotation if new.get("enableKeyRotation") else kms(ctx).disable_key_rotation)(KeyId=rid)
    return {}




def delete_key(ctx: Ctx, rid: str, p: Props) -> None:
    """KMS keys cannot be deleted at once: schedule deletion (the sweep accepts PendingDeletion)."""
    state = kms(ctx).describe_key(KeyId=rid)["KeyMetadata"]["KeyState"]
    if state != "PendingDeletion":
        kms(ctx).schedule_key_deletion(KeyId=rid, PendingWindowInDays=ints(p.get("deletionWindowInDays", 7)))


def _key_tags(ctx: Ctx, key_id: str) -> dict[str, str]:
    return tags_of(kms(ctx).list_resource_tags(KeyId=key_id).get("Tags"), "TagKey", "TagValue")


@lookup()
def find_key(ctx: Ctx, p: Props) -> Found | None:
    """By id when known; else the live key carrying this Name tag (keys have no name of their own)."""
    if not unknown(p.get("id")):
        return Found(p["id"], _key_tags(ctx, p["id"]))
    name = (p.get("tags") or {}).get("Name")
    for key in kms(ctx).list_keys()["Keys"] if name else []:
        tags = _key_tags(ctx, key["KeyId"])
        if tags.get("Name") == name and kms(ctx).describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] != "PendingDeletion":
            return Found(key["KeyId"], tags)
    return None


register("aws:kms/key:Key", Handler(create_key, delete_key, update_key,
                                    frozenset({"policy", "description", "enableKeyRotation", "deletionWindowInDays"}),
                                    tag_key, lookup=find_key))


def create_alias(ctx: Ctx, p: Props) -> Created:
    kms(ctx).create_alias(AliasName=p["name"], TargetKeyId=p["targetKeyId"])
    return p["name"], {"arn": f"arn:aws:kms:{ctx.region}:{ctx.account_id}:{p['name']}"}


def update_alias(ctx: Ctx, rid: str, old: Props, new: Props) -> Props:
    kms(ctx).update_alias(AliasName=rid, TargetKeyId=new["targetKeyId"])
    return {}


@ignore("NotFoundException")
def delete_alias(ctx: Ctx, rid: str, p: Props) -> None:
    kms(ctx).delete_alias(AliasName=rid)


@lookup("name")
def find_alias(ctx: Ctx, p: Props) -> Found | None:
    """An alias has no tags: the key it points to says who owns it."""
    for page in kms(ctx).get_paginator("list_aliases").paginate():
        for alias in page["Aliases"]:
            if alias["AliasName"] == p["name"]:
                target = alias.get("TargetKeyId")
                return Found(p["name"], _key_tags(ctx, target) if target else None)
    return None


register("aws:kms/alias:Alias", Handler(create_alias, delete_alias, update_alias, frozenset({"targetKeyId"}),
                                        lookup=find_alias, named=True))


# --- replace-forcing inputs (ForceNew in terraform-provider-aws, bridged by pulumi-aws) ----------------

replaces_on("aws:iam/role:Role", "name", "namePrefix", "path", unique=("name",))
replaces_on("aws:iam/rolePolicy:RolePolicy", "name", "namePrefix", "role", unique=("role", "name"))
replaces_on("aws:iam/instanceProfile:InstanceProfile", "name", "namePrefix", "path", unique=("name",))
replaces_on("aws:kms/key:Key", "customerMasterKeySpec", "keyUsage", "multiRegion", "customKeyStoreId", "xksKeyId")
replaces_on("aws:kms/alias:Alias", "name", "namePrefix", unique=("name",))
