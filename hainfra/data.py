"""Parameters are data: a YAML loader and a recursive type check that admit nothing else.

papermill writes parameter values into a notebook's first cell as Python source. Only str, int, float,
bool, None, list and dict become literals there; anything else (bytes, sets, dates, objects) is written
as its repr, and a repr can close its quotes and run code in the kernel (issue 11: sixteen ``!!binary``
bytes pass as a packed IPv6 address in ``avoid_cidrs``). So every value from every source — ``-p``,
``-f``, ``--config``, ``HAINFRA_*``, a notebook's ``params`` — passes :func:`check_data`, and YAML is
read by :func:`load_yaml`, which refuses every tag beyond those seven types before constructing anything.
"""

from __future__ import annotations

import math
import re
from typing import Any

import yaml

from hainfra.errors import ConfigError

# papermill writes parameter values into a notebook's first cell as Python source. Only these types
# become literals there; anything else (bytes, sets, dates, objects) is written as its repr, and a repr
# can close its quotes and run code. So every value from every source is checked against this list.
_PLAIN_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("null", "bool", "int", "float", "str", "seq", "map")}
MAX_NESTING = 32
_MAX_NODES = 10_000  # a parameter file is small; more nodes means alias expansion ("billion laughs")


class DataLoader(yaml.SafeLoader):
    """YAML that knows only null, bool, int, float, str, list and map.

    ``yaml.safe_load`` still builds bytes (``!!binary``), sets, dates and timestamps; those are refused
    here by :func:`load_yaml`, and a plain ``2024-01-01`` or ``12:30`` stays a string (YAML 1.1 would
    make a date and the sexagesimal 750 of them).
    """


DataLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag in _PLAIN_TAGS - {"tag:yaml.org,2002:int", "tag:yaml.org,2002:float"}]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
DataLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"))
DataLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(
        r"^(?:[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"), list("-+0123456789."))
DataLoader.yaml_constructors = {tag: fn for tag, fn in yaml.SafeLoader.yaml_constructors.items() if tag in _PLAIN_TAGS}


def _node_problems(node: yaml.Node, path: str, depth: int = 0, seen: list[int] | None = None) -> list[tuple[str, object, str]]:
    """Tags outside :data:`_PLAIN_TAGS`, by path, before anything is constructed from them."""
    seen = seen if seen is not None else [0]
    seen[0] += 1
    where = path or "(document)"
    if depth > MAX_NESTING or seen[0] > _MAX_NODES:
        return [(where, "...", f"nested deeper than {MAX_NESTING} levels or larger than {_MAX_NODES} values "
                               "(a recursive or expanding YAML alias?); write the value out plainly")]
    if node.tag not in _PLAIN_TAGS:
        return [(where, node.tag, f"YAML tag {node.tag.replace('tag:yaml.org,2002:', '!!')} is not allowed: parameters "
                                  "are plain data (str, int, float, bool, null, list, map)")]
    problems: list[tuple[str, object, str]] = []
    if isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            problems += _node_problems(item, f"{path}[{i}]", depth + 1, seen)
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else "?"
            problems += _node_problems(key, f"{path}.{name}" if path else str(name), depth + 1, seen)
            problems += _node_problems(value, f"{path}.{name}" if path else str(name), depth + 1, seen)
    return problems


def load_yaml(text: str, source: str, path: str = "") -> Any:
    """Parse YAML that may hold only plain data; a ConfigError names the path of anything else.

    Args:
        text: The YAML document.
        source: What it is, for messages ("file params.yaml", "parameter avoid_cidrs").
        path: The field the document is the value of ("" for a whole parameter file).
    """
    loader = DataLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        problems = _node_problems(node, path)
        if problems:
            raise ConfigError([(p, v, f"{fix} (from {source})") for p, v, fix in problems])
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise ConfigError.one(path or source, text if len(text) < 80 else text[:77] + "...",
                              f"not valid YAML: {exc}") from exc
    finally:
        loader.dispose()


def check_data(path: str, value: Any, depth: int = 0) -> list[tuple[str, object, str]]:
    """Problems (path, type, fix) for anything in ``value`` that is not str, int, float, bool, None, list or dict."""
    if depth > MAX_NESTING:
        return [(path, "...", f"nested deeper than {MAX_NESTING} levels (a recursive value?)")]
    if value is None or isinstance(value, (str, bool, int)):
        return []
    if isinstance(value, float):
        return [] if math.isfinite(value) else [(path, value, f"{value} (nan/inf) is not a usable number")]
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in check_data(f"{path}[{i}]", item, depth + 1)]
    if isinstance(value, dict):
        problems = []
        for key, item in value.items():
            if not isinstance(key, str):
                problems.append((f"{path}.{key!r}", f"<{type(key).__name__}>",
                                 f"{type(key).__name__} key: mapping keys must be strings"))
            problems += check_data(f"{path}.{key}", item, depth + 1)
        return problems
    return [(path, f"<{type(value).__name__}>", f"{type(value).__name__} is not allowed: parameters are plain data "
                                                 "(str, int, float, bool, None, list, dict)")]
