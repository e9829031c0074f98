"""The notebooks' self-check: what a run injected is validated in the kernel, before any work.

Plain papermill (a scheduler's papermill operator, ``papermill in.ipynb out.ipynb -p …``) only
warns about unknown names and never checks types. So each notebook's first code cell hands its
namespace to :func:`checked_config`, which finds the names papermill injected and validates them
with the same function ``hainfra run`` uses — same rules, same message, before any resource exists.
StackConfig fields are accepted as top-level parameters (``-p az_count 4``).
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hainfra.config import StackConfig, read_yaml
from hainfra.errors import ConfigError
from hainfra.runbook.runner import COMMON_PARAMETERS, notebook_parameters, split_parameters

# papermill's Python translator opens the cell it injects with this comment line.
INJECTED_HEADER = "# Parameters"


def injected_names(history: list[str]) -> list[str]:
    """Names assigned by the last cell papermill injected (IPython's ``In`` history); [] when none.

    Only injected names are checked, so an interactive operator's own scratch variables never count.
    """
    for source in reversed(history):
        if source.lstrip().startswith(INJECTED_HEADER):
            try:
                tree = ast.parse(source)
            except SyntaxError:
                return []
            return [t.id for node in tree.body if isinstance(node, ast.Assign)
                    for t in node.targets if isinstance(t, ast.Name)]
    return []


def run_parameters(stage: str, namespace: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """(stack, parameters as ``hainfra run`` would receive them) from a notebook's namespace.

    ``params`` (a mapping) and ``config_file`` are flattened; top-level names win over ``params``.
    """
    names = set(notebook_parameters(stage)) | set(injected_names(list(namespace.get("In") or [])))
    given = {name: namespace[name] for name in names if name in namespace}
    stack = given.pop("stack", "dev")
    params = given.pop("params", {})
    if not isinstance(params, Mapping):
        raise ConfigError.one("params", params, "pass a mapping of parameter names to values")
    config_file = given.pop("config_file", "")
    from_file = read_yaml(Path(config_file)) if config_file else {}
    return stack, {**from_file, **params, **{k: v for k, v in given.items() if k not in COMMON_PARAMETERS}}


def checked_config(stage: str, namespace: Mapping[str, Any]) -> StackConfig:
    """The validated config of a notebook run; ConfigError (the `hainfra run` message) for a bad injection."""
    stack, params = run_parameters(stage, namespace)
    _, config = split_parameters(stage, stack, params)
    return config
