"""Verify: prove the live stack through boto3 (same code for AWS and the emulator).

``run(config)`` returns one row per check: check, resource, status (pass/fail/skip),
expected, found, fix, mandatory. Checks live in ``CHECKS`` (name -> function); each
reads live state, so a change made outside hainfra fails exactly the matching check.
A check the emulator cannot perform says ``skip`` and why — never a silent pass.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import pandas as pd

from hainfra.config import StackConfig
from hainfra.engines import get_engine
from hainfra.errors import EngineError
from hainfra.verify import (  # noqa: F401 - registers the checks
    compute,
    dataflow,
    edge,
    flow,
    hardening,
    nacl,
    network,
    presence,
    secrets,
    security,
    storage,
)
from hainfra.verify.base import CHECKS, COLUMNS, VerifyContext

log = logging.getLogger(__name__)


def run(config: StackConfig, *, engine: Any = None, wait_seconds: float = 30.0,
        checks: list[str] | None = None) -> pd.DataFrame:
    """Run the checks (all by default) against the deployed stack of ``config``.

    Raises:
        EngineError: when the stack has no outputs (not deployed).
    """
    engine = engine or get_engine(None, config)
    outputs = engine.outputs()
    if not outputs:
        raise EngineError(f"stack {config.stack!r} is not deployed (no outputs); run `hainfra up --stack "
                          f"{config.stack}` first")
    ctx = VerifyContext(config, outputs, engine.aws_client_kwargs(), emulated=engine.emulated,
                        wait_seconds=wait_seconds)
    rows: list[dict[str, Any]] = []
    first = [presence.CHECK] if presence.CHECK in CHECKS else []  # it names what is missing for the rest
    for name in first + [n for n in CHECKS if n not in first]:
        if checks and name not in checks:
            continue
        try:
            rows.extend(r.as_dict(name) for r in CHECKS[name](ctx))
        except Exception as exc:  # a check that crashes is a failure with its reason, never a pass
            rows.append(crash_row(name, exc, config))
    return pd.DataFrame(rows, columns=COLUMNS)


# ids and names in AWS error messages: 'quoted', {'quoted'}, "Role NAME not found", bare ids like lt-0abc
_NAMED = re.compile(r"'([^']+)'|Role (\S+) not found|\b((?:vpc|subnet|nat|lt|sg|igw|rtb|acl|eipalloc|fl|i)-[0-9a-f]{6,})\b")


def crash_row(name: str, exc: Exception, config: StackConfig) -> dict[str, Any]:
    """A failing row for a check that could not run; a missing resource is named, no traceback is printed."""
    log.info("check %s could not run: %s: %s", name, type(exc).__name__, exc)  # the row says it
    log.debug("check %s traceback", name, exc_info=exc)
    if presence.is_not_found(exc):
        error = exc.response["Error"]  # type: ignore[attr-defined]
        match = _NAMED.search(str(error.get("Message", "")))
        resource = error.get("BucketName") or (next(g for g in match.groups() if g) if match else
                                               f"({exc.operation_name} target)")  # type: ignore[attr-defined]
        return {"check": name, "resource": resource, "status": "fail", "expected": "resource exists",
                "found": f"missing ({error.get('Code')}: {error.get('Message')})",
                "fix": f"see stack.resources-exist; `hainfra up --stack {config.stack}` recreates what is gone",
                "mandatory": True}
    return {"check": name, "resource": "-", "status": "fail", "expected": "check runs",
            "found": f"{type(exc).__name__}: {exc}", "fix": "run `hainfra verify -v` for the traceback",
            "mandatory": True}


def mandatory_failures(results: pd.DataFrame) -> pd.DataFrame:
    return results[(results["status"] == "fail") & (results["mandatory"])]


# What summary() prints; the runbook reads the counts back from the executed notebook for the run record.
SUMMARY = re.compile(r"verify (passed|FAILED): (\d+) pass, (\d+) fail, (\d+) skip")


def summary(results: pd.DataFrame) -> str:
    counts = results["status"].value_counts().to_dict()
    failed = mandatory_failures(results)
    verdict = "FAILED" if len(failed) else "passed"
    return (f"verify {verdict}: {counts.get('pass', 0)} pass, {counts.get('fail', 0)} fail, "
            f"{counts.get('skip', 0)} skip")


def styled(results: pd.DataFrame) -> Any:
    """Colour-coded table for notebooks."""
    colours = {"pass": "background-color: #d4edda", "fail": "background-color: #f8d7da",
               "skip": "background-color: #fff3cd"}
    return results.style.map(lambda v: colours.get(v, ""), subset=["status"])


__all__ = ["CHECKS", "mandatory_failures", "run", "styled", "summary"]
