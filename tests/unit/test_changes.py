"""The day-2 planner as pure functions: diff with ForceNew and unknowns, delete-first, ordering, refusals."""

from __future__ import annotations

import pytest

from hainfra.config import ALLOW_REPLACE, StackConfig
from hainfra.engines.changes import (
    PROTECTED,
    UNKNOWN,
    Planned,
    diff,
    normalise,
    order_steps,
    refuse_data_loss,
    refuse_immutable,
)
from hainfra.errors import ConfigError, ProtectedResourceError

SUBNET = frozenset({"vpcId", "cidrBlock", "availabilityZone"})
VPC_URN = "urn:vpc"


def test_unchanged_inputs_are_same_and_tags_update() -> None:
    old = {"vpcId": "vpc-1", "cidrBlock": "10.0.0.0/24", "tags": {"a": "1"}}
    assert diff(old, dict(old), force_new=SUBNET).action == "same"
    d = diff(old, {**old, "tags": {"a": "2"}}, force_new=SUBNET)
    assert (d.action, d.changed, d.delete_first) == ("update", ("tags",), False)


def test_a_force_new_input_replaces_and_names_itself() -> None:
    old = {"vpcId": "vpc-1", "cidrBlock": "10.0.0.0/24", "mapPublicIpOnLaunch": False}
    d = diff(old, {**old, "cidrBlock": "10.1.0.0/24", "mapPublicIpOnLaunch": True}, force_new=SUBNET)
    assert d.action == "replace" and d.causes == ("cidrBlock",)
    assert set(d.changed) == {"cidrBlock", "mapPublicIpOnLaunch"}


def test_an_unknown_replace_forcing_input_replaces() -> None:
    """The new VPC's id is unknown in preview: every subnet must be replaced (Pulumi's own preview says so)."""
    old = {"vpcId": "vpc-1", "cidrBlock": "10.0.0.0/24"}
    for pending in (UNKNOWN, "<new:the-vpc>"):
        d = diff(old, {**old, "vpcId": pending}, force_new=SUBNET)
        assert d.action == "replace" and "known after a dependency is replaced" in d.causes[0]


def test_an_unknown_updatable_input_only_updates() -> None:
    old = {"subnets": ["subnet-1", "subnet-2"], "name": "alb"}
    d = diff(old, {**old, "subnets": ["subnet-1", UNKNOWN]}, force_new=frozenset({"name"}), unique=("name",))
    assert d.action == "update" and d.changed == ("subnets",)


def test_normalise_turns_pulumi_unknowns_into_the_marker() -> None:
    from pulumi.output import Unknown

    assert normalise({"a": [Unknown(), "x"], "b": {"c": Unknown()}}) == {"a": [UNKNOWN, "x"], "b": {"c": UNKNOWN}}


def test_unique_inputs_unchanged_means_delete_first() -> None:
    """A target group keeps its name when its VPC is replaced: two cannot coexist, so the old one goes first."""
    tg = frozenset({"name", "vpcId", "port"})
    old = {"name": "tg", "vpcId": "vpc-1", "port": 80}
    same_name = diff(old, {**old, "vpcId": UNKNOWN}, force_new=tg, unique=("name",))
    assert same_name.action == "replace" and same_name.delete_first
    renamed = diff(old, {**old, "vpcId": UNKNOWN, "name": "tg-2"}, force_new=tg, unique=("name",))
    assert renamed.action == "replace" and not renamed.delete_first
    sg = frozenset({"name", "vpcId"})
    moved = diff({"name": "sg", "vpcId": "vpc-1"}, {"name": "sg", "vpcId": UNKNOWN}, force_new=sg,
                 unique=("name", "vpcId"))
    assert moved.action == "replace" and not moved.delete_first, "a group name is unique per VPC only"


def test_dependents_of_a_delete_first_replacement_are_replaced_first_too() -> None:
    """A listener forwarding to a target group deleted first cannot stay: it is deleted before it."""
    old = {"loadBalancerArn": "arn:lb", "port": 80, "defaultActions": [{"targetGroupArn": "arn:tg-1"}]}
    new = {**old, "defaultActions": [{"targetGroupArn": UNKNOWN}]}
    deps = {"defaultActions": ["urn:tg"], "loadBalancerArn": ["urn:lb"]}
    cbd = diff(old, new, force_new=frozenset({"loadBalancerArn"}), property_deps=deps)
    assert cbd.action == "update", "a target group replaced create-first: the listener just moves to it"
    dbr = diff(old, new, force_new=frozenset({"loadBalancerArn"}), property_deps=deps,
               deleted_first={"urn:tg": "app-tg"})
    assert dbr.action == "replace" and dbr.delete_first and "from app-tg, replaced first" in dbr.causes[0]


def test_a_known_force_new_input_from_a_delete_first_resource_still_drags() -> None:
    """An inline role policy names its role (same name after the role's replacement) but dies with the old role."""
    old = {"role": "app-role", "name": "p", "policy": "{}"}
    d = diff(old, dict(old), force_new=frozenset({"role", "name"}), property_deps={"role": ["urn:role"]},
             deleted_first={"urn:role": "app-role"})
    assert d.action == "replace" and d.delete_first


# --- ordering --------------------------------------------------------------------------------------
def _vpc_change() -> list[Planned]:
    """VPC replaced create-first; subnet create-first; a TG (same name) and its listener delete-first; a removed route."""
    return [
        Planned(VPC_URN, "replace", deps=(), old_order=1),
        Planned("urn:subnet", "replace", deps=(VPC_URN,), old_order=2),
        Planned("urn:tg", "replace", delete_first=True, deps=(VPC_URN,), old_order=3),
        Planned("urn:alb", "update", deps=("urn:subnet",), old_order=4),
        Planned("urn:listener", "replace", delete_first=True, deps=("urn:alb", "urn:tg"), old_order=5),
        Planned("urn:route", "delete", old_order=6),
        Planned("urn:new-subnet", "create", deps=(VPC_URN,)),
        Planned("urn:same", "same", old_order=7),
    ]


def test_order_deletes_first_then_builds_then_deletes_the_replaced() -> None:
    steps = [(s.op, s.urn) for s in order_steps(_vpc_change())]
    pos = {step: i for i, step in enumerate(steps)}
    # delete-first: the dependent (listener) before what it depends on (target group), both before anything is built
    assert steps[:2] == [("delete-replaced", "urn:listener"), ("delete-replaced", "urn:tg")]
    # built in dependency order
    assert pos[("create-replacement", VPC_URN)] < pos[("create-replacement", "urn:subnet")] < pos[("update", "urn:alb")]
    assert pos[("create", "urn:tg")] < pos[("create", "urn:listener")] and pos[("update", "urn:alb")] < pos[
        ("create", "urn:listener")]
    assert pos[("create-replacement", VPC_URN)] < pos[("create", "urn:new-subnet")]
    # the old halves go last, dependents first, after everything that used them has moved
    tail = steps[-3:]
    assert tail == [("delete", "urn:route"), ("delete-replaced", "urn:subnet"), ("delete-replaced", VPC_URN)]
    assert all(urn != "urn:same" for _, urn in steps)


def test_order_refuses_a_cycle() -> None:
    with pytest.raises(ValueError, match="cycle"):
        order_steps([Planned("a", "create", deps=("b",)), Planned("b", "create", deps=("a",))])


# --- refusals --------------------------------------------------------------------------------------
def test_identity_parameters_cannot_change_live() -> None:
    config = StackConfig.load({"region": "eu-west-1"})
    refuse_immutable({}, config)  # nothing deployed yet: anything goes
    refuse_immutable({"region": "eu-west-1", "project": "hainfra", "environment": "dev"}, config)
    with pytest.raises(ConfigError) as info:
        refuse_immutable({"region": "us-east-1", "project": "hainfra", "environment": "dev"}, config)
    assert info.value.field == "region" and "us-east-1" in str(info.value) and "--stack NEW" in str(info.value)


def test_data_loss_refused_naming_what_is_lost() -> None:
    replaced = [("aws:s3/bucket:Bucket", "app-backup"), ("aws:ec2/vpc:Vpc", "vpc"),
                ("aws:kms/key:Key", "app-key")]
    with pytest.raises(ProtectedResourceError) as info:
        refuse_data_loss(replaced, [], "dev")
    message = str(info.value)
    assert "app-backup (backup_bucket)" in message and "app-key (kms_key)" in message and "vpc" not in message.split(
        "Nothing")[0].replace("every backup", "")
    assert "allow_replace" in message and '["backup_bucket", "kms_key"]' in message
    with pytest.raises(ProtectedResourceError, match="app-key"):
        refuse_data_loss(replaced, ["backup_bucket"], "dev")
    refuse_data_loss(replaced, ["backup_bucket", "kms_key"], "dev")
    refuse_data_loss([("aws:ec2/vpc:Vpc", "vpc")], [], "dev")


def test_allow_replace_is_validated_against_the_protected_kinds() -> None:
    assert set(ALLOW_REPLACE) == set(PROTECTED)
    assert StackConfig.load({"allow_replace": ["secret"]}).allow_replace == ["secret"]
    with pytest.raises(ConfigError) as info:
        StackConfig.load({"allow_replace": ["bucket"]})
    assert info.value.field == "allow_replace" and "backup_bucket" in str(info.value)
