"""Day-2 changes as pure functions: what changes and why, in which order, and what may not change.

A change to a live stack is planned the way Pulumi plans it:

- **diff** (:func:`diff`): an input whose value differs is *changed*; a changed input the AWS
  provider marks ``ForceNew`` replaces the resource, any other changed input updates it in place.
  An input computed from a resource that is created or replaced is *unknown* until that resource
  exists, so it counts as changed: replacement propagates (a new VPC's id is unknown, so every
  subnet's replace-forcing ``vpcId`` forces a new subnet).
- **create-before-delete** is the default; when the inputs AWS keeps unique (a name) are unchanged
  the replacement cannot exist beside the old resource, so the old one is deleted first, and with it
  every dependent whose inputs come from it (Pulumi's delete-before-replace).
- **order** (:func:`order_steps`): delete-first replacements (dependents first) → creates, updates
  and replacements in dependency order → deletes of replaced and removed resources (dependents
  first), each after everything that used it has moved.

No I/O here: the sandbox engine feeds these functions and executes the steps.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hainfra.config import StackConfig
from hainfra.errors import ConfigError, ProtectedResourceError

UNKNOWN = "<unknown>"
PENDING_ID = "<new:"  # preview's id of a resource that does not exist yet: "<new:NAME>"

# Parameters that name what a stack *is*: changing one on a live stack would rebuild it under
# another identity (every name, the region's AZs, the data). The way is a new stack.
IMMUTABLE: dict[str, str] = {
    "region": "resources cannot move between regions",
    "project": "the project is the first part of every name, the SSM path and the secret's name",
    "environment": "the environment is part of every name and decides the prod-only protections",
}

# Resource types whose replacement loses data (protect's anchor): allow_replace key -> (type, what is lost).
PROTECTED: dict[str, tuple[str, str]] = {
    "backup_bucket": ("aws:s3/bucket:Bucket", "every backup object and its noncurrent versions in the bucket"),
    "kms_key": ("aws:kms/key:Key", "the key that encrypts the backups, the secret, the SecureString parameters "
                                   "and the log groups: all of it becomes unreadable once the old key is deleted"),
    "secret": ("aws:secretsmanager/secret:Secret", "the application credential stored in the secret "
                                                   "(a new value is generated)"),
}


def normalise(value: Any) -> Any:
    """Inputs as compared and stored: Pulumi's ``Unknown`` placeholder becomes :data:`UNKNOWN`."""
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    if type(value).__name__ == "Unknown":  # pulumi.output.Unknown, without importing the SDK here
        return UNKNOWN
    return value


def is_unknown(value: Any) -> bool:
    """True when ``value`` (or anything inside it) is known only after a create or replacement."""
    if isinstance(value, dict):
        return any(is_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(is_unknown(v) for v in value)
    return value == UNKNOWN or (isinstance(value, str) and value.startswith(PENDING_ID))


def changed_keys(old: Mapping[str, Any], new: Mapping[str, Any], ignore: Iterable[str] = ()) -> list[str]:
    """Input keys whose value differs (an unknown value always differs)."""
    keys = (set(old) | set(new)) - set(ignore)
    return sorted(k for k in keys if is_unknown(new.get(k)) or
                  json.dumps(old.get(k), sort_keys=True) != json.dumps(new.get(k), sort_keys=True))


@dataclass(frozen=True)
class Diff:
    """One resource's planned change: ``same``/``update``/``replace`` and the inputs that caused it."""

    action: str
    changed: tuple[str, ...] = ()
    causes: tuple[str, ...] = ()  # the inputs behind the action, each with its reason
    delete_first: bool = False


def diff(old: Mapping[str, Any], new: Mapping[str, Any], *, force_new: frozenset[str], unique: tuple[str, ...] = (),
         ignore: Iterable[str] = (), property_deps: Mapping[str, Iterable[str]] | None = None,
         deleted_first: Mapping[str, str] | None = None) -> Diff:
    """Classify one resource's change (Pulumi's diff with the provider's ForceNew inputs).

    Args:
        old: the inputs recorded when it was last created or updated.
        new: the inputs the program declares now (unknown values as :data:`UNKNOWN` or a pending id).
        force_new: inputs whose change replaces the resource.
        unique: inputs AWS keeps unique; all unchanged means the old one must go first.
        property_deps: input key -> URNs of the resources it was computed from.
        deleted_first: URN -> name of resources replaced delete-first in this change: a dependent
            whose changed or replace-forcing input comes from one is deleted (and recreated) before it.
    """
    changed = changed_keys(old, new, ignore)
    deps = property_deps or {}
    first = deleted_first or {}
    dragged = {k: sorted(first[u] for u in deps.get(k, ()) if u in first) for k in (set(old) | set(new))}
    dragged = {k: names for k, names in dragged.items() if names and (k in changed or k in force_new)}
    forcing = [k for k in changed if k in force_new]
    if not forcing and not dragged:
        return Diff("update", tuple(changed), tuple(changed)) if changed else Diff("same")
    causes = [f"{k} (from {', '.join(dragged[k])}, replaced first)" if k in dragged else _why(k, new.get(k))
              for k in sorted(set(forcing) | set(dragged))]
    clash = bool(unique) and not any(k in changed for k in unique)
    return Diff("replace", tuple(changed), tuple(causes), delete_first=bool(dragged) or clash)


def _why(key: str, value: Any) -> str:
    return f"{key} (known after a dependency is replaced)" if is_unknown(value) else key


# --- ordering --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Planned:
    """One resource in a change: its action, how it is replaced, and what it depends on."""

    urn: str
    action: str  # create | update | replace | delete | same
    delete_first: bool = False
    deps: tuple[str, ...] = ()  # URNs in the new program (creates, updates, replacements)
    old_order: int = 0  # creation order in the state (deletes, replacements)


@dataclass(frozen=True)
class Step:
    """One operation of an ordered change."""

    op: str  # delete-replaced | delete | create | update | create-replacement
    urn: str


@dataclass
class _Graph:
    nodes: list[Planned]
    index: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        self.index = {p.urn: i for i, p in enumerate(self.nodes)}

    def topological(self, members: list[Planned]) -> list[Planned]:
        """Dependencies before dependents; among independent ones, program order (Kahn)."""
        inside = {p.urn for p in members}
        pending = {p.urn: {d for d in p.deps if d in inside and d != p.urn} for p in members}
        done: list[Planned] = []
        by_urn = {p.urn: p for p in members}
        while pending:
            ready = sorted((u for u, d in pending.items() if not d), key=lambda u: self.index.get(u, 0))
            if not ready:
                raise ValueError(f"dependency cycle among {sorted(pending)}")
            for urn in ready:
                done.append(by_urn[urn])
                del pending[urn]
            for deps in pending.values():
                deps.difference_update(ready)
        return done


def order_steps(planned: list[Planned]) -> list[Step]:
    """The order of a change (Pulumi's): see the module docstring.

    Delete phases run in reverse creation order, which is a valid dependents-first order of the
    old graph (every resource was created after what it depends on).
    """
    newest_first = lambda p: -p.old_order  # noqa: E731
    first = sorted((p for p in planned if p.action == "replace" and p.delete_first), key=newest_first)
    steps = [Step("delete-replaced", p.urn) for p in first]
    ops = {"create": "create", "update": "update", "replace": "create-replacement"}
    build = _Graph(planned).topological([p for p in planned if p.action in ops])
    steps += [Step("create" if p.action == "replace" and p.delete_first else ops[p.action], p.urn) for p in build]
    last = sorted((p for p in planned if p.action == "delete" or (p.action == "replace" and not p.delete_first)),
                  key=newest_first)
    steps += [Step("delete" if p.action == "delete" else "delete-replaced", p.urn) for p in last]
    return steps


# --- what may not change ----------------------------------------------------------------------------
def refuse_immutable(recorded: Mapping[str, Any], config: StackConfig) -> None:
    """Refuse a change to a parameter that cannot change on a live stack, naming the way to do it.

    Args:
        recorded: the parameters the live stack was deployed with (empty when nothing is deployed).
    """
    problems = [(key, getattr(config, key),
                 f"cannot change on the live stack {config.stack!r} (deployed with {recorded[key]!r}): {why}. "
                 f"Deploy a new stack with it (--stack NEW), move what you need, then destroy {config.stack!r}")
                for key, why in IMMUTABLE.items() if key in recorded and recorded[key] != getattr(config, key)]
    if problems:
        raise ConfigError(problems)


def refuse_data_loss(replaced: Iterable[tuple[str, str]], allow: Iterable[str], stack: str) -> None:
    """Refuse replacing (or deleting) a resource that holds data unless ``allow_replace`` names its kind.

    Args:
        replaced: (type token, resource name) of every resource the change replaces or deletes.
        allow: the ``allow_replace`` parameter.
    """
    by_type = {token: (key, lost) for key, (token, lost) in PROTECTED.items()}
    allowed = set(allow)
    lost = [(by_type[t][0], name, by_type[t][1]) for t, name in dict.fromkeys(replaced)
            if t in by_type and by_type[t][0] not in allowed]
    if lost:
        what = "; ".join(f"{name} ({key}): {loss}" for key, name, loss in lost)
        keys = sorted({key for key, _, _ in lost})
        raise ProtectedResourceError(
            f"refusing to change stack {stack!r}: it would replace or delete {what}. Nothing was changed. To accept the loss, "
            f"pass -p allow_replace '{json.dumps(keys)}'; to keep the data, revert the parameter that causes it")
