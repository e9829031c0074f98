"""Day-2 change matrix on the sandbox: every parameter that may change on a live stack, one at a time.

The cases and the per-case proof live in ``tests/change_matrix.py`` (shared with the Pulumi engine's
test). Two chains, each on one deployed stack, run side by side under ``-n 2``. Parameters that
cannot change live are refused at preview, and a change that would replace the backup bucket, the
key or the secret is refused unless ``allow_replace`` names it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from hainfra import verify
from hainfra.aws import Ctx
from hainfra.config import StackConfig
from hainfra.engines import get_engine
from hainfra.engines.base import OperationResult
from hainfra.engines.sandbox.state import State
from hainfra.errors import ConfigError, ProtectedResourceError
from tests.change_matrix import (
    APPLICATION_CASES,
    NETWORK_CASES,
    TAGGABLE,
    apply_case,
    changed,
    destroy_leaves_nothing,
    kinds,
    run_chain,
)

pytestmark = pytest.mark.slow


def test_network_parameters_change_live(make_config: Callable[..., StackConfig]) -> None:
    destroy_leaves_nothing(run_chain(make_config(), NETWORK_CASES))


def test_application_parameters_change_live(make_config: Callable[..., StackConfig]) -> None:
    config = run_chain(make_config(), APPLICATION_CASES)
    for tags in ({"Team": "ops"}, {}):  # tags change in place on every taggable kind, and go again
        tagged = config.replace(extra_tags=tags)
        expected = kinds(get_engine("sandbox", tagged).preview())
        assert set(expected) == {"update"} and TAGGABLE <= expected["update"], expected
        config = apply_case(tagged, expected)
    destroy_leaves_nothing(config)




def test_identity_parameters_are_refused_with_the_way(make_config: Callable[..., StackConfig]) -> None:
    config = make_config()
    get_engine("sandbox", config).up()
    for change in ({"region": "eu-west-1"}, {"project": "other"}, {"environment": "staging"}):
        field = next(iter(change))
        with pytest.raises(ConfigError) as info:
            get_engine("sandbox", config.replace(**change)).preview()
        message = str(info.value)
        assert info.value.field == field and "new stack" in message and "--stack" in message, message
        with pytest.raises(ConfigError):
            get_engine("sandbox", config.replace(**change)).up()
    assert get_engine("sandbox", config).preview().no_changes, "a refused change touched nothing"
    destroy_leaves_nothing(config)


def test_data_loss_refused_unless_allowed(make_config: Callable[..., StackConfig]) -> None:
    config = make_config()
    engine = get_engine("sandbox", config)
    outputs = engine.up().outputs
    Ctx(config.aws_endpoint_url, config.region).client("s3").put_object(
        Bucket=outputs["bucket_name"], Key="backup/1", Body=b"data")
    renamed = config.replace(environment_suffix="blue")
    for operation in ("preview", "up"):
        with pytest.raises(ProtectedResourceError) as info:
            getattr(get_engine("sandbox", renamed), operation)()
        message = str(info.value)
        assert "every backup object" in message and "backup" in message.split("replace or delete")[1], message
        # every name carries the suffix: the bucket, the secret and the key itself are new resources
        assert all(f"({kind})" in message for kind in ("backup_bucket", "secret", "kms_key")), message
        assert "allow_replace" in message
    assert get_engine("sandbox", config).preview().no_changes, "the refused change touched nothing"
    body = Ctx(config.aws_endpoint_url, config.region).client("s3").get_object(
        Bucket=outputs["bucket_name"], Key="backup/1")["Body"].read()
    assert body == b"data"

    with pytest.raises(ProtectedResourceError, match=r"\(kms_key\)") as partly:
        get_engine("sandbox", renamed.replace(allow_replace=["backup_bucket", "secret"])).preview()
    assert "(backup_bucket)" not in str(partly.value), "what is allowed is not listed again"
    allowed = renamed.replace(allow_replace=["backup_bucket", "secret", "kms_key"])
    preview = get_engine("sandbox", allowed).preview()
    assert {"s3.Bucket", "secretsmanager.Secret", "kms.Key"} <= kinds(preview)["delete"] & kinds(preview)["create"]
    # empty the old bucket's objects is forceDestroy's job (dev); the change then goes through
    final = apply_case(allowed, kinds(preview))
    destroy_leaves_nothing(final)


def test_interrupted_replacement_resumes_to_the_new_configuration(
        make_config: Callable[..., StackConfig], monkeypatch: pytest.MonkeyPatch) -> None:
    """A step failing half-way through a VPC replacement: the error says what to run; running it finishes."""
    from dataclasses import replace

    from hainfra.engines.sandbox.handlers import REGISTRY

    config = make_config()
    get_engine("sandbox", config).up()
    token = "aws:ec2/routeTable:RouteTable"
    real = REGISTRY[token]

    def broken(ctx: Ctx, p: dict[str, Any]) -> Any:
        raise RuntimeError("injected failure")

    monkeypatch.setitem(REGISTRY, token, replace(real, create=broken))
    moved = config.replace(vpc_cidr="10.2.0.0/16")
    with pytest.raises(Exception) as info:
        get_engine("sandbox", moved).up()
    assert f"hainfra up --stack {config.stack}" in str(info.value)
    monkeypatch.setitem(REGISTRY, token, real)
    remaining = get_engine("sandbox", moved).preview()
    assert "replace" in set(remaining.changes["action"]) or "create" in set(remaining.changes["action"])
    get_engine("sandbox", moved).up()
    again = get_engine("sandbox", moved).up()
    assert again.no_changes
    vpc = Ctx(config.aws_endpoint_url, config.region).client("ec2").describe_vpcs(
        VpcIds=[again.outputs["vpc_id"]])["Vpcs"][0]
    assert vpc["CidrBlock"] == "10.2.0.0/16"
    results = verify.run(moved, engine=get_engine("sandbox", moved), wait_seconds=5)
    assert results[results["status"] == "fail"].empty
    destroy_leaves_nothing(moved)


def test_frame_helpers() -> None:
    frame = pd.DataFrame([{"action": "update", "type": "aws:ec2/vpc:Vpc", "name": "v", "urn": "u", "changed": ""}])
    result = OperationResult("preview", frame)
    assert kinds(result) == {"update": {"ec2.Vpc"}} and changed(result) == {("v", "update")}


def test_sigkill_mid_replacement_resumes_to_the_new_configuration(
        make_config: Callable[..., StackConfig], hainfra_home: Path) -> None:
    """Killed while the new VPC is being built beside the old one: the next up finishes, nothing is orphaned."""
    config = make_config()
    get_engine("sandbox", config).up()
    moved = config.replace(vpc_cidr="10.3.0.0/16")
    script = ("from hainfra.config import StackConfig\nfrom hainfra.engines import get_engine\n"
              f"get_engine('sandbox', StackConfig.load({moved.as_dict()!r})).up()\n")
    proc = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, "HAINFRA_HOME": str(hainfra_home)})
    state_file = hainfra_home / "stacks" / config.stack / "state.json"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        resources = json.loads(state_file.read_text() or "{}").get("resources", {})
        if sum(1 for urn in resources if "#replaced-" in urn) >= 4:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    retired = [e for e in State.for_stack(config.stack).resources.values() if e.get("status") == "replaced"]
    assert len(retired) >= 4, "killed half-way: old resources kept for deletion"

    resumed = get_engine("sandbox", moved).preview()
    assert "delete" in set(resumed.changes["action"]), "the old halves are still to be deleted"
    get_engine("sandbox", moved).up()
    state = State.for_stack(config.stack)
    assert all(e["status"] == "created" for e in state.resources.values())
    assert get_engine("sandbox", moved).up().no_changes
    vpcs = Ctx(config.aws_endpoint_url, config.region).client("ec2").describe_vpcs(
        Filters=[{"Name": "tag:Stack", "Values": [config.stack]}])["Vpcs"]
    assert [v["CidrBlock"] for v in vpcs] == ["10.3.0.0/16"], "the old VPC is gone, the new one stays"
    destroy_leaves_nothing(moved)


def test_in_place_moves_are_repeatable_after_a_kill(emulator: Any) -> None:
    """Updates a killed run may already have applied (IGW to a new VPC, a subnet to a new table) run again cleanly."""
    from hainfra.engines.sandbox.handlers.ec2 import create_rta, update_igw, update_rta

    ctx = Ctx(emulator.url, "us-east-1")
    ec2 = ctx.client("ec2")
    vpcs = [ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"] for cidr in ("10.50.0.0/16", "10.51.0.0/16")]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpcs[0])
    for _ in range(2):
        update_igw(ctx, igw, {"vpcId": vpcs[0]}, {"vpcId": vpcs[1]})
    attached = ec2.describe_internet_gateways(InternetGatewayIds=[igw])["InternetGateways"][0]["Attachments"]
    assert [a["VpcId"] for a in attached] == [vpcs[1]]

    subnet = ec2.create_subnet(VpcId=vpcs[0], CidrBlock="10.50.1.0/24")["Subnet"]["SubnetId"]
    tables = [ec2.create_route_table(VpcId=vpcs[0])["RouteTable"]["RouteTableId"] for _ in range(2)]
    first, _ = create_rta(ctx, {"subnetId": subnet, "routeTableId": tables[0]})
    moved = update_rta(ctx, first, {}, {"subnetId": subnet, "routeTableId": tables[1]})["id"]
    assert update_rta(ctx, first, {}, {"subnetId": subnet, "routeTableId": tables[1]})["id"] == moved
    now = ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [subnet]}])["RouteTables"]
    assert [t["RouteTableId"] for t in now] == [tables[1]]
