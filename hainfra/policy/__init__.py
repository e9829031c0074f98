"""Preflight policy gate: evaluate any Pulumi program offline and refuse insecure or non-HA stacks.

``check(program)`` returns a DataFrame of findings; ``gate(config)`` raises
:class:`~hainfra.errors.PolicyViolation` on a mandatory one unless overridden (and the
override is recorded). ``gated_up(engine)`` is the one way to deploy: gate, then ``engine.up()``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from hainfra import naming
from hainfra.config import StackConfig
from hainfra.engines.base import Engine, OperationResult
from hainfra.engines.runtime import Evaluation, evaluate, unwrap_secrets
from hainfra.errors import PolicyViolation
from hainfra.plan import OfflineRealiser, evaluate_offline
from hainfra.policy.graph import Graph, Resource
from hainfra.policy.rules import RULES

log = logging.getLogger(__name__)
COLUMNS = ["rule", "severity", "mandatory", "status", "resource", "message", "fix", "controls", "reason"]


@dataclass(frozen=True)
class Suppression:
    """An explicit, reasoned exception for one rule on one resource (by logical name)."""

    rule: str
    resource: str
    reason: str


def hainfra_suppressions(config: StackConfig) -> list[Suppression]:
    """The stack's own intended exposures, each with its reason."""
    return [Suppression("world-ingress", naming.name(config, "alb-sg"),
                        "internet-facing ALB: HTTP/HTTPS from anywhere is the product; nothing else is open")]


def graph_of(evaluation: Evaluation) -> Graph:
    return Graph(Resource(r.type, r.name, r.urn, unwrap_secrets(r.inputs), r.id, r.outputs) for r in evaluation.custom)


def evaluate_graph(graph: Graph, config: StackConfig | None = None,
                   suppressions: list[Suppression] | None = None) -> pd.DataFrame:
    """Run every rule over ``graph``; one row per finding."""
    by_key = {(s.rule, s.resource): s for s in suppressions or []}
    rows = []
    for rule in RULES.values():
        for resource, message in rule.check(graph, config):
            suppressed = by_key.get((rule.id, resource.name))
            rows.append({
                "rule": rule.id, "severity": rule.severity, "mandatory": rule.is_mandatory(config),
                "status": "suppressed" if suppressed else "violation", "resource": resource.label,
                "message": message, "fix": rule.fix, "controls": rule.controls,
                "reason": suppressed.reason if suppressed else "",
            })
    return pd.DataFrame(rows, columns=COLUMNS)


def check(program: Callable[[], Any], config: StackConfig | None = None, *, project: str = "policy",
          stack: str = "policy", suppressions: list[Suppression] | None = None) -> pd.DataFrame:
    """Evaluate any Pulumi Python program offline and return its findings.

    Args:
        program: a callable that declares resources (e.g. ``lambda: my_stack()``).
        config: hainfra config, if the program is hainfra's (enables prod-only and naming rules).
    """
    region = config.region if config else "us-east-1"
    evaluation = evaluate(program, OfflineRealiser(region), project=project, stack=stack)
    return evaluate_graph(graph_of(evaluation), config, suppressions)


def check_stack(config: StackConfig) -> pd.DataFrame:
    """Findings for hainfra's own stack under ``config``."""
    evaluation, _ = evaluate_offline(config)  # shared with plan and the sandbox's type check
    return evaluate_graph(graph_of(evaluation), config, hainfra_suppressions(config))


def mandatory(findings: pd.DataFrame) -> pd.DataFrame:
    return findings[(findings["mandatory"]) & (findings["status"] == "violation")]


def gate(config: StackConfig, override: str | None = None) -> pd.DataFrame:
    """Refuse to deploy on a mandatory violation, before any resource is created.

    Args:
        override: a reason to deploy anyway; logged and returned in ``attrs['override']``
            so the runbook records it in the audit record.
    """
    findings = check_stack(config)
    blocking = mandatory(findings)
    findings.attrs["override"] = override or ""
    if len(blocking) and not override:
        lines = "\n  ".join(f"[{r.rule}] {r.resource}: {r.message} — fix: {r.fix}" for r in blocking.itertuples())
        raise PolicyViolation(f"policy gate refused stack {config.stack!r} ({len(blocking)} mandatory "
                              f"finding(s)); nothing was created:\n  {lines}\n"
                              "Override with --skip-policy REASON (recorded in the audit record).")
    if len(blocking):
        log.warning("policy gate overridden for stack %s: %s (%d mandatory findings)", config.stack, override,
                    len(blocking))
    return findings


def gated_up(engine: Engine, override: str | None = None) -> OperationResult:
    """Deploy through the gate: refuse on a mandatory finding before any resource is created.

    Args:
        override: reason to deploy despite mandatory findings; recorded in the result
            (and so in the audit record).
    """
    gate(engine.config, override=override)
    result = engine.up()
    result.policy_override = override or ""
    return result
