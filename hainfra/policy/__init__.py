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
COLUMNS = ["rule", "severity", "mandatory", "status", "resource", "message", "fix", "controls", "reason", "source"]


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
                "reason": suppressed.reason if suppressed else "", "source": "hainfra",
            })
    return pd.DataFrame(rows, columns=COLUMNS)


def check(program: Callable[[], Any], config: StackConfig | None = None, *, project: str = "policy",
          stack: str = "policy", suppressions: list[Suppression] | None = None,
          checkov: bool = False) -> pd.DataFrame:
    """Evaluate any Pulumi Python program offline and return its findings.

    Args:
        program: a callable that declares resources (e.g. ``lambda: my_stack()``).
        config: hainfra config, if the program is hainfra's (enables prod-only and naming rules).
        checkov: also run an installed checkov on the program's Terraform plan export and add its
            findings (``source="checkov"``); see :mod:`hainfra.policy.checkov`.
    """
    region = config.region if config else "us-east-1"
    evaluation = evaluate(program, OfflineRealiser(region), project=project, stack=stack)
    findings = evaluate_graph(graph_of(evaluation), config, suppressions)
    return _with_checkov(findings, evaluation, region, suppressions or [], {}) if checkov else findings


def check_stack(config: StackConfig, checkov: bool = False) -> pd.DataFrame:
    """Findings for hainfra's own stack under ``config`` (with checkov's when ``checkov``)."""
    evaluation, _ = evaluate_offline(config)  # shared with plan and the sandbox's type check
    findings = evaluate_graph(graph_of(evaluation), config, hainfra_suppressions(config))
    if not checkov:
        return findings
    from hainfra.policy import checkov as scanner

    return _with_checkov(findings, evaluation, config.region,
                         hainfra_suppressions(config) + scanner.stack_suppressions(config), scanner.OPEN_WORK)


def _with_checkov(findings: pd.DataFrame, evaluation: Evaluation, region: str, suppressions: list[Suppression],
                  open_work: dict[str, str]) -> pd.DataFrame:
    from hainfra.policy import checkov as scanner

    found = scanner.scan(_export(evaluation, region, skip_unmapped=True), suppressions, open_work)
    merged = pd.concat([findings, found], ignore_index=True) if len(findings) else found
    merged.attrs = {**findings.attrs, "checkov_passed": found.attrs["passed"], "checkov_failed": found.attrs["failed"]}
    return merged


def _export(evaluation: Evaluation, region: str, skip_unmapped: bool) -> Any:
    from hainfra.policy import tfplan

    resources = [Resource(r.type, r.name, r.urn, tfplan.redact_secrets(r.inputs), r.id, r.outputs)
                 for r in evaluation.custom]
    deps = {r.urn: r.dependencies for r in evaluation.custom}
    return tfplan.export(resources, deps, region=region, skip_unmapped=skip_unmapped)


def export_tfplan(program: Callable[[], Any], path: str | None = None, config: StackConfig | None = None, *,
                  project: str = "policy", stack: str = "policy", skip_unmapped: bool = False) -> Any:
    """Any Pulumi Python program as a Terraform plan JSON (what checkov's ``terraform_plan`` reads).

    Returns the :class:`~hainfra.policy.tfplan.Export` (plan document, address → resource, skipped
    types); writes it to ``path`` when given. See :mod:`hainfra.policy.tfplan`.
    """
    region = config.region if config else "us-east-1"
    exported = _export(evaluate(program, OfflineRealiser(region), project=project, stack=stack), region,
                       skip_unmapped)
    if path:
        exported.write(path)
    return exported


def export_stack_tfplan(config: StackConfig, path: str | None = None, skip_unmapped: bool = False) -> Any:
    """hainfra's own stack under ``config`` as a Terraform plan JSON (shares the offline evaluation)."""
    evaluation, _ = evaluate_offline(config)
    exported = _export(evaluation, config.region, skip_unmapped)
    if path:
        exported.write(path)
    return exported


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
