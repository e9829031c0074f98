"""Verify and outputs of a stack whose resources are gone: failing rows that name them, never a traceback."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from hainfra import cli, verify
from hainfra.config import StackConfig
from hainfra.engines import get_engine
from hainfra.engines.sandbox.emulator import Emulator
from hainfra.engines.sandbox.handlers import Ctx
from hainfra.engines.sandbox.state import State
from hainfra.errors import EmulatorError

pytestmark = pytest.mark.slow


def test_resources_deleted_outside_hainfra_are_named_in_failing_rows(
        make_config: Callable[..., StackConfig], emulator: Emulator, capsys: pytest.CaptureFixture) -> None:
    config = make_config()
    engine = get_engine("sandbox", config)
    outputs = engine.up().outputs
    aws = Ctx(emulator.url, config.region)
    try:
        aws.client("sns").delete_topic(TopicArn=outputs["alarm_topic_arn"])
        aws.client("secretsmanager").delete_secret(SecretId=outputs["secret_arn"], ForceDeleteWithoutRecovery=True)
        results = verify.run(config, wait_seconds=1)
        failed = results[results["status"] == "fail"]
        named = failed[failed["check"] == "stack.resources-exist"]
        assert set(named["resource"]) == {f"alarm_topic_arn: {outputs['alarm_topic_arn']}",
                                          f"secret_arn: {outputs['secret_arn']}"}
        assert set(named["found"]) == {"missing"} and all("hainfra up --stack" in f for f in named["fix"])
        crashed = failed[failed["expected"] == "check runs"]
        assert crashed.empty, crashed.to_string()  # every other failure is a named, missing resource
        assert "Traceback" not in capsys.readouterr().err
    finally:
        state = State.for_stack(config.stack)
        for entry in list(state.resources.values()):  # already deleted above: destroy the rest
            if entry["type"] in ("aws:sns/topic:Topic", "aws:secretsmanager/secret:Secret"):
                state.remove(entry["urn"])
        engine.destroy()


def test_outputs_and_verify_of_a_stack_whose_emulator_is_gone_say_so(
        make_config: Callable[..., StackConfig], capsys: pytest.CaptureFixture) -> None:
    config = make_config()
    state = State.for_stack(config.stack)
    state.meta.update(emulator_id="0" * 32, endpoint=Emulator().url)  # an emulator that died with its run
    state.outputs = {"vpc_id": "vpc-0123456789abcdef0"}
    state.put("urn:pulumi:x::y::aws:ec2/vpc:Vpc::v", {"urn": "urn:pulumi:x::y::aws:ec2/vpc:Vpc::v", "type":
              "aws:ec2/vpc:Vpc", "name": "v", "id": "vpc-0123456789abcdef0", "status": "created", "inputs": {},
              "outputs": {}})
    with pytest.raises(EmulatorError, match="which is gone"):
        get_engine("sandbox", config).outputs()
    with pytest.raises(EmulatorError, match="--forget"):
        verify.run(config, wait_seconds=1)
    argv = ["outputs", "--stack", config.stack, "-p", "aws_endpoint_url", config.aws_endpoint_url]
    assert cli.main(argv) == 1
    captured = capsys.readouterr()
    assert "which is gone" in captured.err and "vpc-0123456789abcdef0" not in captured.out
