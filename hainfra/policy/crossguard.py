"""The same rules as a Pulumi CrossGuard policy pack (``pulumi preview --policy-pack``).

One StackValidationPolicy per rule. CrossGuard hands resources with their property
dependencies instead of resolved ids, so each resource's URN stands in for its id and
each dependent property is rewritten to the URN(s) it depends on — the rules then read
the same graph they read offline.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hainfra.config import StackConfig
from hainfra.policy.graph import Graph, Resource
from hainfra.policy.rules import RULES, Rule


def graph_from_policy_resources(resources: Iterable[Any]) -> Graph:
    """Graph of CrossGuard ``PolicyResource`` objects (resource_type, name, urn, props, property_dependencies)."""
    converted = []
    for r in resources:
        props = dict(r.props)
        for key, deps in (getattr(r, "property_dependencies", None) or {}).items():
            urns = [d.urn for d in deps]
            if len(urns) == 1 and not isinstance(props.get(key), list):
                props[key] = urns[0]
            elif urns and isinstance(props.get(key), list) and len(props[key]) == len(urns):
                props[key] = urns
        converted.append(Resource(r.resource_type, r.name, r.urn, props, id=r.urn,
                                  outputs={"arn": r.urn, "name": props.get("name")}))
    return Graph(converted)


def _validator(rule: Rule, config: StackConfig | None):  # type: ignore[no-untyped-def]
    def validate(args: Any, report_violation: Any) -> None:
        graph = graph_from_policy_resources(args.resources)
        by_name = {r.name: r for r in args.resources}
        for resource, message in rule.check(graph, config):
            original = by_name.get(resource.name)
            report_violation(f"{message}. Fix: {rule.fix}", original.urn if original else None)

    return validate


def policies(config: StackConfig | None = None) -> list[Any]:
    """One StackValidationPolicy per rule, enforced exactly as the offline gate enforces it for ``config``.

    Without a config, prod-only rules (``nat-per-az``) are advisory, and rules that check nothing
    without one (``naming-convention``) are left out rather than shown as enforced no-ops.
    """
    from pulumi_policy import EnforcementLevel, StackValidationPolicy  # function-local: start-up time

    return [
        StackValidationPolicy(
            name=f"hainfra-{rule.id}",
            description=f"{rule.fix} ({rule.controls})" if rule.controls else rule.fix,
            validate=_validator(rule, config),
            enforcement_level=EnforcementLevel.MANDATORY if rule.is_mandatory(config) else EnforcementLevel.ADVISORY,
        )
        for rule in RULES.values() if config is not None or not rule.needs_config
    ]
