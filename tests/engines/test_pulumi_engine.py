"""The Pulumi Automation API engine: everything that needs no CLI runs everywhere; the end-to-end
test runs where the `pulumi` CLI is on PATH and otherwise skips saying so."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pulumi.automation import CommandError, ConcurrentUpdateError
from pulumi.automation._cmd import CommandResult
from pulumi.automation.events import EngineEvent, OpType, ResourcePreEvent, ResOutputsEvent, StepEventMetadata

from hainfra.config import StackConfig
from hainfra.engines import get_engine
from hainfra.engines.pulumi import ENDPOINT_SERVICES, PulumiEngine, config_map, map_error, progress_from_event
from hainfra.errors import ConfigError, EngineError, ResourceError, StackLockedError
from hainfra.stack import OUTPUTS

URN = "urn:pulumi:dev::hainfra::hainfra:network:Network$aws:ec2/vpc:Vpc::hainfra-vpc-dev"


def test_get_engine_backend_and_secrets_provider(hainfra_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = get_engine("pulumi", StackConfig.load({}))
    assert isinstance(engine, PulumiEngine)
    assert engine.backend_url == f"file://{hainfra_home / 'pulumi-state'}" and engine.secrets_provider == "passphrase"
    monkeypatch.setenv("HAINFRA_PULUMI_BACKEND_URL", "s3://state-bucket/hainfra")
    assert PulumiEngine(StackConfig.load({})).backend_url == "s3://state-bucket/hainfra"
    kms = "awskms://alias/pulumi?region=us-east-1"
    assert PulumiEngine(StackConfig.load({"pulumi_secrets_provider": kms})).secrets_provider == kms
    with pytest.raises(ConfigError, match="pulumi_backend_url"):
        StackConfig.load({"pulumi_backend_url": "ftp://nope"})


def test_config_map_applies_region_and_tags() -> None:
    values = config_map(StackConfig.load({"region": "eu-west-1", "stack": "s1", "extra_tags": {"Team": "ops"}}))
    assert values["aws:region"] == ("eu-west-1", False)
    assert values["aws:defaultTags.tags.Stack"] == ("s1", False)
    assert values["aws:defaultTags.tags.Team"] == ("ops", False)
    assert not any(k.startswith("aws:endpoints") for k in values)


def test_config_map_points_the_provider_at_an_emulator_like_pulumilocal() -> None:
    values = config_map(StackConfig.load({"aws_endpoint_url": "https://127.0.0.1:4566"}))
    endpoints = {k.split(".")[-1]: v[0] for k, v in values.items() if k.startswith("aws:endpoints[")}
    assert set(endpoints) == set(ENDPOINT_SERVICES) and set(endpoints.values()) == {"https://127.0.0.1:4566"}
    for key in ("skipCredentialsValidation", "skipRequestingAccountId", "s3UsePathStyle", "insecure"):
        assert values[f"aws:{key}"] == ("true", False)
    assert values["aws:secretKey"] == ("test", True), "the test key is still set as a secret"


def test_engine_events_become_progress() -> None:
    meta = StepEventMetadata(op=OpType.CREATE, urn=URN, type="aws:ec2/vpc:Vpc", provider="")
    start = progress_from_event(EngineEvent(sequence=1, timestamp=0, resource_pre_event=ResourcePreEvent(meta)))
    done = progress_from_event(EngineEvent(sequence=2, timestamp=0, res_outputs_event=ResOutputsEvent(meta)))
    assert (start.action, start.name, start.status) == ("create", "hainfra-vpc-dev", "start")
    assert done.status == "done"
    replaced = StepEventMetadata(op=OpType.CREATE_REPLACEMENT, urn=URN, type="aws:ec2/vpc:Vpc", provider="")
    assert progress_from_event(EngineEvent(sequence=3, timestamp=0,
                                           resource_pre_event=ResourcePreEvent(replaced))).action == "replace"
    assert progress_from_event(EngineEvent(sequence=4, timestamp=0)) is None


def test_errors_are_mapped_to_fixes() -> None:
    locked = map_error(ConcurrentUpdateError(CommandResult("", "[409] Conflict: Another update is currently in progress", 255)),
                       "dev", [])
    assert isinstance(locked, StackLockedError) and "pulumi cancel --stack dev" in str(locked)
    creds = map_error(CommandError(CommandResult("", "error: NoCredentialProviders: no valid providers", 255)), "dev", [])
    assert "AWS_PROFILE" in str(creds)
    failed = map_error(CommandError(CommandResult("", "update failed", 255)), "dev", [(URN, "creating VPC: limit exceeded")])
    assert isinstance(failed, ResourceError) and failed.urn == URN and "limit exceeded" in str(failed)


def test_missing_cli_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(EngineError, match="pulumi plugin install resource aws"):
        PulumiEngine(StackConfig.load({"engine": "pulumi"})).preview()


@pytest.mark.pulumi_cli
@pytest.mark.skipif(shutil.which("pulumi") is None,
                    reason="the Pulumi CLI is not on PATH (it cannot be downloaded on this machine); "
                           "install it to run the Automation API end to end against the emulator")
def test_end_to_end_against_the_emulator(emulator, monkeypatch: pytest.MonkeyPatch) -> None:  # pragma: no cover
    from hainfra import verify

    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "test-only")
    config = StackConfig.load({"engine": "pulumi", "stack": "e2e", "project": "e2e", "aws_endpoint_url": emulator.url,
                               "asg_min": 2, "asg_desired": 2})
    engine = get_engine("pulumi", config)
    result = engine.up()
    try:
        assert set(result.outputs) == set(OUTPUTS)
        assert engine.preview().no_changes
        results = verify.run(config, engine=engine, wait_seconds=5)
        assert verify.mandatory_failures(results).empty
    finally:
        engine.destroy()


class _FakeStack:
    """The Automation API calls destroy makes: destroy and remove_stack recorded; outputs read (none)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []
        self.workspace = self

    def outputs(self) -> dict[str, object]:
        return {}  # no alb_arn: nothing to unprotect

    def destroy(self, on_event: object = None) -> None:
        self.calls.append(("destroy", None))

    def remove_stack(self, name: str, force: bool | None = None) -> None:
        self.calls.append(("remove_stack", force))


@pytest.mark.parametrize(("forget", "calls"), [(False, [("destroy", None), ("remove_stack", False)]),
                                               (True, [("remove_stack", True)])])
def test_destroy_forget_removes_the_stack_without_destroying(forget: bool, calls: list, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = get_engine("pulumi", StackConfig.load({}))
    fake = _FakeStack()
    monkeypatch.setattr(engine, "_stack", lambda: fake)
    assert engine.destroy(forget=forget).operation == "destroy"
    assert fake.calls == calls


def test_emulated_only_with_an_endpoint() -> None:
    assert not get_engine("pulumi", StackConfig.load({})).emulated
    assert get_engine("pulumi", StackConfig.load({"aws_endpoint_url": "https://127.0.0.1:4566"})).emulated
    assert get_engine("sandbox", StackConfig.load({})).emulated
