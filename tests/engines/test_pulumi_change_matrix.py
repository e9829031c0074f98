"""The day-2 change matrix on the Pulumi engine: the sandbox's specification (tests/change_matrix.py).

Runs where the Pulumi CLI and its AWS plugin are installed (against the session emulator) and skips
here otherwise. Pulumi replaces what its provider says and updates in place what forwards to a
replaced target group, where the sandbox replaces it delete-first; so each case's kinds must be
included in the preview (not equal), and everything else holds as for the sandbox: the preview
names exactly what ``up`` changes, verify passes, a second ``up`` is a no-op, destroy leaves nothing.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable

import pytest

from hainfra.config import StackConfig
from hainfra.errors import ConfigError, ProtectedResourceError
from tests.change_matrix import APPLICATION_CASES, NETWORK_CASES, destroy_leaves_nothing, run_chain

pytestmark = [
    pytest.mark.slow, pytest.mark.pulumi_cli,
    pytest.mark.skipif(shutil.which("pulumi") is None,
                       reason="the Pulumi CLI is not on PATH (it cannot be downloaded on this machine); install it "
                              "and the AWS plugin to hold the Pulumi engine to the change matrix"),
]


@pytest.fixture
def pulumi_config(make_config: Callable[..., StackConfig], monkeypatch: pytest.MonkeyPatch) -> StackConfig:
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "test-only")
    return make_config(engine="pulumi")


@pytest.mark.parametrize("cases", [NETWORK_CASES, APPLICATION_CASES], ids=["network", "application"])
def test_pulumi_parameters_change_live(pulumi_config: StackConfig, cases: list) -> None:  # pragma: no cover
    destroy_leaves_nothing(run_chain(pulumi_config, cases, exact=False))


def test_pulumi_refuses_what_the_sandbox_refuses(pulumi_config: StackConfig) -> None:  # pragma: no cover
    from hainfra.engines import get_engine

    run_chain(pulumi_config, [])
    with pytest.raises(ConfigError, match="region"):
        get_engine("pulumi", pulumi_config.replace(region="eu-west-1")).preview()
    with pytest.raises(ProtectedResourceError, match="backup_bucket"):
        get_engine("pulumi", pulumi_config.replace(environment_suffix="blue")).preview()
    destroy_leaves_nothing(pulumi_config)
