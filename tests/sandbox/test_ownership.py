"""Stacks own what they create (against the real emulator): side by side, a second state folder, foreign
resources with the stack's names, destroy of re-owned resources, and kills at chosen points."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hainfra import naming, verify
from hainfra.aws import Ctx
from hainfra.config import StackConfig
from hainfra.engines import get_engine
from hainfra.engines.sandbox import ownership
from hainfra.engines.sandbox.emulator import Emulator
from hainfra.engines.sandbox.handlers import REGISTRY
from hainfra.engines.sandbox.state import State
from hainfra.engines.sandbox.sweep import sweep
from hainfra.errors import OwnershipError

pytestmark = pytest.mark.slow


@dataclass
class Pair:
    """Two stacks of one project and environment, deployed side by side, each with its own home."""

    alpha: StackConfig
    beta: StackConfig
    home: Path
    aws: Ctx

    def left(self, config: StackConfig) -> int:
        return int(sweep(self.aws, config)["remaining"].sum())


@pytest.fixture(scope="module")
def pair(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    home = tmp_path_factory.mktemp("pair-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HAINFRA_HOME", str(home))
        common = {"project": "owners", "aws_endpoint_url": emulator.url, "asg_min": 2, "asg_desired": 2, "az_count": 2}
        alpha = StackConfig.load({**common, "stack": "alpha"})
        beta = StackConfig.load({**common, "stack": "beta"})
        get_engine("sandbox", alpha).up()
        get_engine("sandbox", beta).up()
        yield Pair(alpha, beta, home, Ctx(emulator.url, alpha.region))
        mp.setenv("HAINFRA_HOME", str(home))
        for config in (alpha, beta):
            if not State.for_stack(config.stack).empty:
                get_engine("sandbox", config).destroy()


def test_names_differ_per_stack_and_buckets_carry_the_account(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAINFRA_HOME", str(pair.home))
    a, b = (get_engine("sandbox", c).outputs() for c in (pair.alpha, pair.beta))
    for key in ("bucket_name", "ssm_path", "app_log_group", "event_rule_name", "asg_name", "flow_log_group"):
        assert a[key] != b[key], key
    assert pair.aws.account_id in a["bucket_name"] and a["bucket_name"].endswith(pair.alpha.region)


def test_every_lookup_finds_its_resource_and_its_owner(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    """The declarative lookups the engine relies on: by id, and (named types) by name alone."""
    monkeypatch.setenv("HAINFRA_HOME", str(pair.home))
    entries = State.for_stack(pair.alpha.stack).resources.values()
    checked = set()
    for e in entries:
        handler = REGISTRY[e["type"]]
        if handler.lookup is None:
            continue
        props = {**e["inputs"], **e["outputs"]}
        for found in (handler.lookup(pair.aws, {**props, "id": e["id"]}), handler.lookup(pair.aws, props)):
            assert found is not None, e["urn"]
            assert naming.owner(found.tags) in (pair.alpha.stack, "unknown"), (e["urn"], found)
            if found.tags:  # untaggable (a log resource policy): its name carries the stack
                assert not ownership.may_create(found, pair.beta.stack, pending=True), e["urn"]
            assert not ownership.may_create(found, pair.alpha.stack, pending=False) or found.part_of, e["urn"]
        checked.add(e["type"])
    assert len(checked) >= 35, sorted(set(REGISTRY) - checked)


def test_same_stack_from_a_second_state_folder_is_refused_with_nothing_changed(
        pair: Pair, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = sweep(pair.aws, pair.alpha)
    monkeypatch.setenv("HAINFRA_HOME", str(tmp_path / "second-checkout"))
    engine = get_engine("sandbox", pair.alpha)
    with pytest.raises(OwnershipError, match="another state folder") as refused:
        engine.up()
    message = str(refused.value)
    for kind in ("Bucket", "Role", "LogGroup", "Parameter", "Secret", "LoadBalancer", "Topic"):
        assert f"{kind} " in message, kind
    assert "nothing was changed" in message and "Fix:" in message
    assert State.for_stack(pair.alpha.stack).empty
    assert sweep(pair.aws, pair.alpha).equals(before)


def test_a_foreign_resource_with_the_stacks_name_stops_up_before_any_change(
        make_config: Callable[..., StackConfig]) -> None:
    config = make_config()
    aws = Ctx(config.aws_endpoint_url, config.region)
    name = f"{naming.ssm_path(config)}/config/backup-bucket"
    aws.client("ssm").put_parameter(Name=name, Value="theirs", Type="String",
                                    Tags=[{"Key": "Stack", "Value": "intruder"}])
    with pytest.raises(OwnershipError, match=r"Parameter .*belongs to stack 'intruder'"):
        get_engine("sandbox", config).up()
    assert aws.client("ssm").get_parameter(Name=name)["Parameter"]["Value"] == "theirs"
    swept = sweep(aws, config)
    assert int(swept["remaining"].sum()) == 0
    assert f"{name} (stack intruder)" in " ".join(swept["not_ours"]), "the sweep reports it as not ours"
    aws.client("ssm").delete_parameter(Name=name)


def test_destroying_one_stack_leaves_the_other_verified(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAINFRA_HOME", str(pair.home))
    # Someone re-tags one of beta's log groups for their own stack: beta's destroy must leave it alone.
    group = get_engine("sandbox", pair.beta).outputs()["app_log_group"]
    arn = f"arn:aws:logs:{pair.beta.region}:{pair.aws.account_id}:log-group:{group}"
    pair.aws.client("logs").tag_resource(resourceArn=arn, tags={"Stack": "someone-else"})

    result = get_engine("sandbox", pair.beta).destroy()
    not_ours = result.changes[result.changes["action"] == "not ours"]
    assert list(not_ours["type"]) == ["aws:cloudwatch/logGroup:LogGroup"]
    assert pair.aws.client("logs").describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert pair.left(pair.beta) == 0
    pair.aws.client("logs").delete_log_group(logGroupName=group)

    results = verify.run(pair.alpha, wait_seconds=5)
    assert verify.mandatory_failures(results).empty, verify.mandatory_failures(results).to_string()


# --- kills at chosen points (issue 13, item 5) -----------------------------------------------------------
KILL_SCRIPT = """
import os, signal, sys
from hainfra.config import StackConfig
from hainfra.engines import get_engine
from hainfra.engines.sandbox import handlers

token, untagged = sys.argv[1].partition("@untagged")[:2]
real = handlers.REGISTRY[token]

def die(*args):
    os.kill(os.getpid(), signal.SIGKILL)

def create_then_die(ctx, props):
    real.create(ctx, props)  # the resource exists; the state still says pending
    die()

if untagged:  # die between CreateBucket and PutBucketTagging: the bucket exists without tags
    from hainfra.engines.sandbox.handlers import storage
    storage.tag_bucket = die
else:
    handlers.REGISTRY[token] = real.__class__(**{**real.__dict__, "create": create_then_die})
get_engine("sandbox", StackConfig.load(%r)).up()
"""


def kill_after_create(config: StackConfig, token: str, home: Path) -> list[dict[str, Any]]:
    """Run `up` in a child that SIGKILLs itself right after creating the first resource of ``token``.

    Returns every pending entry of that type: independent resources are created concurrently, so
    others of the type may be pending too (their create not yet sent when the kill came).
    """
    script = KILL_SCRIPT % (config.as_dict(),)
    proc = subprocess.run([sys.executable, "-c", script, token], env={**os.environ, "HAINFRA_HOME": str(home)},
                          timeout=300, capture_output=True, text=True)
    assert proc.returncode == -9, proc.stderr[-2000:]
    state = json.loads((home / "stacks" / config.stack / "state.json").read_text())
    token = token.partition("@")[0]
    pending = [r for r in state["resources"].values() if r["type"] == token and r["status"] == "pending"]
    assert pending, f"no pending {token} after the kill"
    return pending


@pytest.mark.parametrize("token", ["aws:cloudwatch/logGroup:LogGroup", "aws:kms/alias:Alias", "aws:s3/bucket:Bucket",
                                   "aws:iam/role:Role", "aws:ec2/natGateway:NatGateway",
                                   "aws:ssm/parameter:Parameter", "aws:s3/bucket:Bucket@untagged"])
def test_kill_right_after_a_create_then_destroy_leaves_nothing(
        token: str, make_config: Callable[..., StackConfig], hainfra_home: Path) -> None:
    config = make_config(az_count=2)
    pending = kill_after_create(config, token, hainfra_home)
    token = token.partition("@")[0]
    aws = Ctx(config.aws_endpoint_url, config.region)
    assert any(REGISTRY[token].lookup(aws, e["inputs"]) is not None for e in pending), "a half-made resource exists"

    get_engine("sandbox", config).destroy()  # raises LeftoverError if anything survived
    assert all(REGISTRY[token].lookup(aws, e["inputs"]) is None for e in pending)
    assert int(sweep(aws, config)["remaining"].sum()) == 0


def test_kill_right_after_a_create_then_up_resumes(make_config: Callable[..., StackConfig], hainfra_home: Path) -> None:
    config = make_config(az_count=2)
    kill_after_create(config, "aws:kms/alias:Alias", hainfra_home)
    engine = get_engine("sandbox", config)
    engine.up()
    assert all(r["status"] == "created" for r in State.for_stack(config.stack).resources.values())
    assert engine.up().no_changes
    engine.destroy()


# --- remembered parameters ---------------------------------------------------------------------------------
def test_up_with_a_parameter_then_plain_commands_use_it(
        make_config: Callable[..., StackConfig], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from hainfra.cli import main

    config = make_config()
    monkeypatch.setenv("HAINFRA_AWS_ENDPOINT_URL", config.aws_endpoint_url)  # the emulator is not remembered
    stack = ["--stack", config.stack]
    assert main(["up", *stack, "-p", "project", config.project, "-p", "az_count", "2",
                 "-p", "asg_min", "2", "-p", "asg_desired", "2"]) == 0
    capsys.readouterr()
    assert main(["preview", *stack]) == 0
    assert "(no changes)" in capsys.readouterr().out
    assert main(["verify", *stack, "--wait", "3"]) == 0, "plain verify checks the 2-AZ stack it deployed"
    assert main(["config", "show", *stack]) == 0 and "az_count: 2" in capsys.readouterr().out
    assert main(["preview", *stack, "-p", "az_count", "3"]) == 0
    assert "create" in capsys.readouterr().out, "an explicit parameter that differs is a change"
    assert main(["destroy", *stack]) == 0
