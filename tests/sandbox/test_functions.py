"""The offline plan and the emulator answer every provider function with the same fields."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from hainfra import redact
from hainfra.aws import Ctx
from hainfra.components.compute import AMI_PARAMETER
from hainfra.config import StackConfig
from hainfra.engines import functions
from hainfra.plan import offline_zones

ARGS = {functions.AZS: {"state": "available"}, functions.CALLER: {}, functions.PARTITION: {},
        functions.PARAMETER: {"name": AMI_PARAMETER},
        functions.PASSWORD: {"passwordLength": 32, "excludePunctuation": True}}


@pytest.mark.parametrize("token", sorted(functions.FUNCTIONS))
def test_offline_answers_have_the_emulators_fields(token: str, make_config: Callable[..., StackConfig]) -> None:
    config = make_config()
    ctx = Ctx(config.aws_endpoint_url, config.region)
    live = functions.live_answer(ctx, token, ARGS[token])
    offline = functions.offline_answer(token, ARGS[token], config.region, offline_zones(config.region))
    assert set(offline) <= set(live), (token, offline, live)  # the plan never reads a field the sandbox lacks
    if token == functions.PASSWORD:
        assert len(live["randomPassword"]) == 32 and live["randomPassword"] not in redact.scrub_log_text(f"got {live['randomPassword']}")
    if token == functions.AZS:
        assert live["names"][:3] == list(offline["names"])[:3]
