"""Drills: inject a failure into a live stack and prove it recovers, with timings.

``run(config, scenario)`` → :class:`DrillResult` (passed, detail, a timings DataFrame). Scenarios
live in ``SCENARIOS`` (name → function): *instance* terminates one instance of the group, *nat*
deletes one AZ's NAT gateway, *az* takes one AZ away from the group. Same code on AWS (real APIs;
``confirm`` must equal the stack name, as for teardown) and in the sandbox, where the Auto Scaling
replacement and AZ balance come from the emulator's documented emulation
(``hainfra.engines.sandbox.asg_emulation``) — a sandbox drill proves the drill and the stack's
wiring, never AWS's own recovery times.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from hainfra.config import StackConfig
from hainfra.errors import ConfigError, EngineError
from hainfra.verify.base import VerifyContext

log = logging.getLogger(__name__)

TIMING_COLUMNS = ["phase", "seconds", "ok", "detail"]
AWS_BOUND = 900.0  # seconds: instance launch + ELB health checks (3 x 30 s) + grace, with margin
SANDBOX_BOUND = 30.0


@dataclass
class DrillResult:
    scenario: str
    stack: str
    passed: bool
    detail: str
    timings: pd.DataFrame

    def describe(self) -> str:
        total = self.timings["seconds"].max() if len(self.timings) else 0.0
        return f"drill {self.scenario} on {self.stack}: {'passed' if self.passed else 'FAILED'} in {total:.1f}s — {self.detail}"


@dataclass
class Drill:
    """What a scenario works with: the engine, boto3 clients, a clock, a bound for each wait."""

    config: StackConfig
    engine: Any
    aws: VerifyContext
    bound: float
    poll: float
    started: float = field(default_factory=time.monotonic)
    rows: list[dict[str, Any]] = field(default_factory=list)

    def client(self, service: str) -> Any:
        return self.aws.client(service)

    @property
    def outputs(self) -> dict[str, Any]:
        return self.aws.outputs

    def mark(self, phase: str, ok: bool, detail: str) -> bool:
        self.rows.append({"phase": phase, "seconds": round(time.monotonic() - self.started, 2), "ok": ok,
                          "detail": detail})
        log.info("drill %s: %s (%s)", phase, "ok" if ok else "FAILED", detail)
        return ok

    def wait_for(self, phase: str, condition: Callable[[], tuple[bool, str]]) -> bool:
        """Poll ``condition`` until it holds or the bound passes; marks the phase either way."""
        deadline = time.monotonic() + self.bound
        while True:
            ok, detail = condition()
            if ok or time.monotonic() >= deadline:
                return self.mark(phase, ok, detail if ok else f"not within {self.bound:.0f}s: {detail}")
            time.sleep(self.poll)


Scenario = Callable[[Drill], str]
SCENARIOS: dict[str, Scenario] = {}


def scenario(name: str) -> Callable[[Scenario], Scenario]:
    def register(fn: Scenario) -> Scenario:
        SCENARIOS[name] = fn
        return fn

    return register


def run(config: StackConfig, scenario_name: str = "instance", *, confirm: str = "", engine: Any = None,
        bound_seconds: float | None = None) -> DrillResult:
    """Run one drill against the deployed stack of ``config``.

    Raises:
        ConfigError: unknown scenario, or a real stack without ``confirm`` equal to its name.
        EngineError: the stack is not deployed.
    """
    from hainfra.drill import scenarios  # noqa: F401 - registers the scenarios
    from hainfra.engines import get_engine

    if scenario_name not in SCENARIOS:
        raise ConfigError.one("scenario", scenario_name, f"use one of {', '.join(SCENARIOS)}")
    emulated = config.engine == "sandbox" or bool(config.aws_endpoint_url)
    if not emulated and confirm != config.stack:
        raise ConfigError.one("confirm", confirm, f"a drill injects real failures: pass confirm={config.stack!r}")
    engine = engine or get_engine(None, config)
    outputs = engine.outputs()
    if not outputs:
        raise EngineError(f"stack {config.stack!r} is not deployed (no outputs); run `hainfra up --stack "
                          f"{config.stack}` first")
    bound = bound_seconds if bound_seconds is not None else SANDBOX_BOUND if emulated else AWS_BOUND
    drill = Drill(config, engine, VerifyContext(config, outputs, engine.aws_client_kwargs(), emulated, bound),
                  bound, poll=0.5 if emulated else 10.0)
    detail = SCENARIOS[scenario_name](drill)
    passed = bool(drill.rows) and all(r["ok"] for r in drill.rows)
    return DrillResult(scenario_name, config.stack, passed, detail,
                       pd.DataFrame(drill.rows, columns=TIMING_COLUMNS))


__all__ = ["SCENARIOS", "DrillResult", "run"]
