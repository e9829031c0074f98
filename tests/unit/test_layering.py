"""Imports flow one way: cli → runbook/audit → policy/verify/drill → engines → stack → components → config → pure.

Every module under ``hainfra/`` is parsed with ``ast`` (nothing is imported); each import of a
hainfra module is mapped to its layer. A module may import its own layer or a lower one, never a
higher one; and only ``hainfra.engines`` (the engine registry) may reach into the sandbox engine
from outside it. Imports under ``if TYPE_CHECKING:`` are type-only and do not count.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "hainfra"

# Longest prefix wins. A new module must be given a layer here (the test says so).
LAYERS: dict[str, int] = {
    "hainfra.__version__": 0, "hainfra.errors": 0, "hainfra.cidr": 0, "hainfra.naming": 0,
    "hainfra.documents": 0, "hainfra.home": 0, "hainfra.aws": 0, "hainfra.redact": 0, "hainfra.data": 0,
    "hainfra.regions": 0, "hainfra.lambdas": 0,
    "hainfra.config": 1, "hainfra.remembered": 1,
    "hainfra.components": 2,
    "hainfra.stack": 3,
    "hainfra.engines": 4, "hainfra.plan": 4,
    "hainfra.policy": 5, "hainfra.verify": 5, "hainfra.drill": 5, "hainfra.scan": 5,
    "hainfra.runbook": 6, "hainfra.audit": 6,
    "hainfra.cli": 7, "hainfra.airflow": 7, "hainfra": 7,  # the package root is the public facade (hainfra.plan(config))
}
NAMES = {0: "pure", 1: "config", 2: "components", 3: "stack", 4: "engines", 5: "policy/verify/drill",
         6: "runbook/audit", 7: "cli"}
SANDBOX = "hainfra.engines.sandbox"
SANDBOX_REGISTRY = "hainfra.engines"  # engines/__init__.py: the one door into the sandbox


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> int | None:
    """The layer of ``module`` (longest matching prefix; the package root matches only itself)."""
    best = max((p for p in LAYERS if module == p or (p != "hainfra" and module.startswith(p + "."))),
               key=len, default=None)
    return LAYERS[best] if best else None


def _type_checking_only(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def imports_of(path: Path, module: str, known: set[str]) -> list[tuple[int, str]]:
    """(line, imported hainfra module) for every runtime import in ``path``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known or a.name == "__version__" else base
                       for a in node.names]
        else:
            continue
        if _type_checking_only(node, parents):
            continue
        found += [(node.lineno, t) for t in targets if t == "hainfra" or t.startswith("hainfra.")]
    return found


def violations(root: Path = PACKAGE) -> list[str]:
    files = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    problems = [f"{m}: no layer; add it to LAYERS in tests/unit/test_layering.py" for m in files if layer_of(m) is None]
    for module, path in files.items():
        own = layer_of(module)
        for line, target in imports_of(path, module, set(files)):
            where = f"{path.relative_to(root.parent)}:{line} ({module}) imports {target}"
            theirs = layer_of(target)
            if own is not None and theirs is not None and theirs > own:
                problems.append(f"{where}: layer {NAMES[own]} must not import the higher layer {NAMES[theirs]}")
            inside = module == SANDBOX or module.startswith(SANDBOX + ".")
            if (target == SANDBOX or target.startswith(SANDBOX + ".")) and not inside and module != SANDBOX_REGISTRY:
                problems.append(f"{where}: only hainfra.engines (the registry) may import the sandbox; "
                                "use hainfra.aws, hainfra.engines or the Engine interface")
    return problems


def test_imports_flow_one_way() -> None:
    assert violations() == []


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "hainfra"
    for name, text in {"__init__.py": "", "engines/__init__.py": "", "engines/sandbox/__init__.py": "",
                       "policy/__init__.py": "", **files}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_an_upward_import_is_named_with_module_and_line(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"engines/base.py": "import os\n\n\ndef up():\n    from hainfra.policy import gate\n"})
    assert violations(root) == ["hainfra/engines/base.py:5 (hainfra.engines.base) imports hainfra.policy: "
                                "layer engines must not import the higher layer policy/verify/drill"]


def test_reaching_into_the_sandbox_from_outside_is_refused(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"engines/sandbox/handlers.py": "", "verify.py": "from .engines.sandbox import handlers\n",
                            "engines/pulumi.py": "from hainfra.engines.sandbox.handlers import Ctx\n",
                            "engines/sandbox/engine.py": "from hainfra.engines.sandbox import handlers\n"})
    problems = violations(root)
    assert len(problems) == 2, problems
    assert problems[0].startswith("hainfra/engines/pulumi.py:1 (hainfra.engines.pulumi) imports "
                                  "hainfra.engines.sandbox.handlers: only hainfra.engines")
    assert problems[1].startswith("hainfra/verify.py:1 (hainfra.verify) imports hainfra.engines.sandbox.handlers")


def test_type_checking_imports_and_unknown_modules(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"naming.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                         "    from hainfra.config import StackConfig\n",
                            "newthing.py": ""})
    assert violations(root) == ["hainfra.newthing: no layer; add it to LAYERS in tests/unit/test_layering.py"]
