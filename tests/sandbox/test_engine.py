"""The sandbox engine against a real moto server: lifecycle, idempotence, updates, crashes, locks."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from hainfra import naming
from hainfra.aws import Ctx
from hainfra.config import StackConfig
from hainfra.engines import get_engine
from hainfra.engines.sandbox import emulator as emulator_mod
from hainfra.engines.sandbox.emulator import Emulator
from hainfra.engines.sandbox.handlers import REGISTRY
from hainfra.engines.sandbox.state import State, stack_lock
from hainfra.engines.sandbox.sweep import sweep
from hainfra.errors import EmulatorError, LeftoverError, StackLockedError, UnsupportedResourceError
from hainfra.stack import OUTPUTS

pytestmark = pytest.mark.slow


def ids(outputs: dict, key: str, n: int) -> list[str]:
    return outputs[key][:n]


def left(config: StackConfig) -> int:
    return int(sweep(Ctx(config.aws_endpoint_url, config.region), config)["remaining"].sum())


def test_full_lifecycle(make_config: Callable[..., StackConfig]) -> None:
    config = make_config()
    engine = get_engine("sandbox", config)

    preview = engine.preview()
    assert preview.summary == {"create": len(preview.changes)} and left(config) == 0, "preview has no side effects"

    first = engine.up()
    assert first.summary == {"create": len(preview.changes)}
    assert set(first.outputs) == set(OUTPUTS)
    assert len(first.outputs["nat_gateway_ids"]) == 3 and first.outputs["vpc_id"].startswith("vpc-")
    assert engine.outputs() == first.outputs
    assert left(config) >= 40

    second = engine.up()
    assert second.no_changes and "(no changes)" in second.describe()
    writes = {op: n for op, n in second.api_calls.items() if not op.split(":")[1].startswith(("Describe", "List", "Get"))}
    assert writes == {}, f"second up made write calls: {writes}"

    # A fourth AZ adds its subnets, NAT and routes; the first three AZs stay untouched.
    four = get_engine("sandbox", config.replace(az_count=4))
    result = four.up()
    changed = result.changes[result.changes["action"] != "same"]
    assert set(changed["action"]) == {"create", "update"}
    assert set(changed[changed["action"] == "update"]["name"]) == {
        naming.name(config, "alb"), naming.name(config, "asg"),
        naming.name(config, "vpce-s3")}  # the S3 gateway endpoint joins the new private route table in place
    for key in ("public_subnet_ids", "private_subnet_ids", "nat_gateway_ids"):
        assert ids(result.outputs, key, 3) == ids(first.outputs, key, 3)
        assert len(result.outputs[key]) == 4

    # Instance type and tags change in place.
    retyped = get_engine("sandbox", config.replace(az_count=4, instance_type="t3.small", extra_tags={"Team": "ops"}))
    result = retyped.up()
    assert "replace" not in set(result.changes["action"]) and "create" not in set(result.changes["action"])
    lt = Ctx(config.aws_endpoint_url, config.region).client("ec2").describe_launch_template_versions(
        LaunchTemplateId=result.outputs["launch_template_id"], Versions=["$Default"])["LaunchTemplateVersions"][0]
    assert lt["LaunchTemplateData"]["InstanceType"] == "t3.small"
    # Every tagger ran: verify's tag check covers VPC, subnets, NATs, bucket, secret, key, ALB, TG, ASG, role,
    # log groups and topic; the remaining kinds are read directly.
    from hainfra import verify

    tags = verify.run(retyped.config, engine=retyped, checks=["tags.required"])
    assert len(tags) >= 20 and set(tags["status"]) == {"pass"}, tags[tags["status"] != "pass"].to_string()
    aws = Ctx(config.aws_endpoint_url, config.region)
    team = {"Key": "Team", "Value": "ops"}
    alarm = aws.client("cloudwatch").describe_alarms(AlarmNamePrefix=config.project)["MetricAlarms"][0]
    assert team in aws.client("cloudwatch").list_tags_for_resource(ResourceARN=alarm["AlarmArn"])["Tags"]
    rule = aws.client("events").describe_rule(Name=result.outputs["event_rule_name"])
    assert team in aws.client("events").list_tags_for_resource(ResourceARN=rule["Arn"])["Tags"]
    assert team in aws.client("ssm").list_tags_for_resource(
        ResourceType="Parameter", ResourceId=f"{result.outputs['ssm_path']}/secure/api-token")["TagList"]
    profile = aws.client("iam").get_instance_profile(InstanceProfileName=naming.name(config, "app-profile"))
    assert team in profile["InstanceProfile"]["Tags"]

    destroyed = retyped.destroy()
    assert set(destroyed.changes["action"]) == {"delete"}
    assert destroyed.sweep is not None and len(destroyed.sweep) >= 20
    assert int(destroyed.sweep["remaining"].sum()) == 0
    assert engine.outputs() == {}


def test_unsupported_type_refused_before_anything_is_created(
        make_config: Callable[..., StackConfig], monkeypatch: pytest.MonkeyPatch) -> None:
    config = make_config()
    monkeypatch.delitem(REGISTRY, "aws:sns/topic:Topic")
    with pytest.raises(UnsupportedResourceError, match="aws:sns/topic:Topic"):
        get_engine("sandbox", config).up()
    assert left(config) == 0
    assert State.for_stack(config.stack).empty


def test_concurrent_operation_refused_naming_the_holder(make_config: Callable[..., StackConfig]) -> None:
    config = make_config()
    with stack_lock(config.stack, "up"):
        with pytest.raises(StackLockedError) as info:
            get_engine("sandbox", config).up()
        with pytest.raises(StackLockedError):
            get_engine("sandbox", config).destroy()
    message = str(info.value)
    assert f"pid {os.getpid()}" in message and "since 20" in message and "up by" in message
    assert State.for_stack(config.stack).empty and left(config) == 0


def test_different_stacks_run_side_by_side(make_config: Callable[..., StackConfig]) -> None:
    configs = [make_config(stack="side-a", project="sidea"), make_config(stack="side-b", project="sideb")]
    errors: list[BaseException] = []

    def deploy(config: StackConfig) -> None:
        try:
            get_engine("sandbox", config).up()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=deploy, args=(c,)) for c in configs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for config in configs:
        assert get_engine("sandbox", config).outputs()["stack"] == config.stack
        get_engine("sandbox", config).destroy()


def test_sigkill_mid_up_then_converge_and_destroy(make_config: Callable[..., StackConfig], hainfra_home: Path) -> None:
    config = make_config()
    script = (
        "from hainfra.config import StackConfig\n"
        "from hainfra.engines import get_engine\n"
        f"get_engine('sandbox', StackConfig.load({config.as_dict()!r})).up()\n"
    )
    env = {**os.environ, "HAINFRA_HOME": str(hainfra_home)}
    proc = subprocess.Popen([sys.executable, "-c", script], env=env)
    state_file = hainfra_home / "stacks" / config.stack / "state.json"
    deadline, entries = time.monotonic() + 120, {}
    while time.monotonic() < deadline:  # freeze it, look, and kill only with a create in flight
        proc.send_signal(signal.SIGSTOP)
        entries = json.loads(state_file.read_text() or "{}").get("resources", {}) if state_file.exists() else {}
        if len(entries) >= 25 and any(e["status"] == "pending" for e in entries.values()):
            break
        proc.send_signal(signal.SIGCONT)
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = State.for_stack(config.stack)
    pending = [e["urn"] for e in partial.resources.values() if e["status"] == "pending"]
    assert pending, "killed with a create in flight"
    assert 25 <= len(partial.resources) < 74, "killed in the middle"

    result = get_engine("sandbox", config).up()
    assert "create" in result.summary
    state = State.for_stack(config.stack)
    assert all(r["status"] == "created" for r in state.resources.values())
    assert set(pending) <= set(state.resources), "each half-made resource was converged, none forgotten"
    assert get_engine("sandbox", config).up().no_changes

    get_engine("sandbox", config).destroy()  # raises LeftoverError if anything half-made survived
    assert left(config) == 0


def test_destroy_that_leaves_a_resource_behind_raises_leftover_error(
        make_config: Callable[..., StackConfig], monkeypatch: pytest.MonkeyPatch) -> None:
    """The sweep after destroy is the proof: a delete that silently does nothing is caught and named."""
    config = make_config()
    topic_arn = get_engine("sandbox", config).up().outputs["alarm_topic_arn"]
    token = "aws:sns/topic:Topic"
    monkeypatch.setitem(REGISTRY, token, dataclasses.replace(REGISTRY[token], delete=lambda ctx, rid, p: None))
    with pytest.raises(LeftoverError, match=f"still holds resources of stack '{config.stack}': "
                                            f"sns topics: {re.escape(topic_arn)}"):
        get_engine("sandbox", config).destroy()
    assert left(config) == 1
    monkeypatch.undo()
    Ctx(config.aws_endpoint_url, config.region).client("sns").delete_topic(TopicArn=topic_arn)
    assert left(config) == 0


def test_emulator_problems_are_explained(make_config: Callable[..., StackConfig], monkeypatch) -> None:
    config = make_config()
    with pytest.raises(EmulatorError, match="hainfra sandbox serve"):
        emulator_mod.resolve(None)
    dead = Emulator()  # never started: nothing listens on its port
    with pytest.raises(EmulatorError, match=f"emulator at {dead.url} is gone \\(nothing listens there\\)"):
        get_engine("sandbox", config.replace(aws_endpoint_url=dead.url)).preview()

    state = State.for_stack(config.stack)
    state.meta.update(emulator_id="0" * 32, endpoint="http://127.0.0.1:1")
    state.put("urn:pulumi:x::y::aws:ec2/vpc:Vpc::v", {"urn": "urn:pulumi:x::y::aws:ec2/vpc:Vpc::v", "type":
              "aws:ec2/vpc:Vpc", "name": "v", "id": "vpc-1", "status": "created", "inputs": {}, "outputs": {}})
    with pytest.raises(EmulatorError, match="which is gone") as info:
        get_engine("sandbox", config).up()
    assert "--forget" in str(info.value)
    get_engine("sandbox", config).destroy(forget=True)
    assert State.for_stack(config.stack).empty


def test_two_operations_in_one_jupyter_kernel(make_config: Callable[..., StackConfig], hainfra_home: Path) -> None:
    import nbformat
    from nbclient import NotebookClient

    config = make_config()
    cells = [
        "import os\n"
        f"os.environ['HAINFRA_HOME'] = {str(hainfra_home)!r}\n"
        "from hainfra.config import StackConfig\nfrom hainfra.engines import get_engine\n"
        f"engine = get_engine('sandbox', StackConfig.load({config.as_dict()!r}))",
        "first = engine.up()\nassert first.summary['create'] > 40, first.summary",
        "second = engine.preview()\nassert second.no_changes, second.summary",
        "gone = engine.destroy()\nassert int(gone.sweep['remaining'].sum()) == 0",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(nb, timeout=300, kernel_name="python3").execute()
    assert left(config) == 0


def test_policy_gate_blocks_a_violating_deploy_before_anything_is_created(
        make_config: Callable[..., StackConfig], monkeypatch: pytest.MonkeyPatch) -> None:
    from hainfra.components import network
    from hainfra.errors import PolicyViolation
    from hainfra.policy import gated_up

    config = make_config()
    monkeypatch.setattr(network, "ADMIN_PORTS", ())  # the NACLs lose their SSH/RDP deny rules
    with pytest.raises(PolicyViolation, match="no-world-admin-ports") as info:
        gated_up(get_engine("sandbox", config))
    assert "nothing was created" in str(info.value) and "--skip-policy" in str(info.value)
    assert left(config) == 0 and State.for_stack(config.stack).empty

    result = gated_up(get_engine("sandbox", config), "accepted for this test")
    assert result.policy_override == "accepted for this test" and left(config) > 0
    get_engine("sandbox", config).destroy()


def test_sandbox_serve_is_found_by_later_commands(hainfra_home: Path) -> None:
    port = emulator_mod.free_port()
    env = {**os.environ, "HAINFRA_HOME": str(hainfra_home)}
    serve = subprocess.Popen([sys.executable, "-m", "hainfra.cli", "sandbox", "serve", "--port", str(port)], env=env,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert serve.stdout is not None
        assert f"https://127.0.0.1:{port}" in serve.stdout.readline()
        assert emulator_mod.resolve(None) == f"https://127.0.0.1:{port}"
        done = subprocess.run([sys.executable, "-m", "hainfra.cli", "preview", "--stack", "served", "-p", "asg_min", "2",
                               "-p", "asg_desired", "2"], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "preview: 91 create" in done.stdout
    finally:
        serve.terminate()
        serve.wait(timeout=20)
    assert not (hainfra_home / "emulator.json").exists(), "a stopped serve forgets its URL"
