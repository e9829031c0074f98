"""Where hainfra keeps its local files (state, emulator record, log): the ``.hainfra`` folder;
and the user's config folder (``config_home``: the audit key, pinned keys, witnesses).

Found the way git finds ``.git``: ``$HAINFRA_HOME`` when set (like ``GIT_DIR``, an explicit
choice wins — schedulers and tests pin it), else the nearest ``.hainfra`` from the current
folder upwards, stopping at the project root (the first folder holding ``.git`` or
``pyproject.toml``), else a new one at that project root (the current folder outside a
project). So a Jupyter kernel running in ``notebooks/`` shares the CLI's state and emulator.
"""

from __future__ import annotations

import os
from pathlib import Path

from hainfra.errors import ConfigError, StateError

FOLDER = ".hainfra"
PROJECT_MARKERS = (".git", "pyproject.toml")


def owned(path: Path) -> bool:
    """Whether the current user owns ``path``: what a walk upwards may trust.

    Like git since CVE-2022-24765: in a shared folder (``/tmp``) another user could plant a
    ``.hainfra`` or ``.checkov.yaml`` above where we work.
    """
    try:
        return path.stat().st_uid == os.geteuid()
    except OSError:
        return False


def find_home(start: Path) -> Path:
    """The ``.hainfra`` folder for a process working in ``start`` (pure lookup, creates nothing).

    Another user's ``.hainfra`` on the way up is passed over (see :func:`owned`).
    """
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / FOLDER).is_dir() and owned(folder / FOLDER):
            return folder / FOLDER
        if any((folder / marker).exists() for marker in PROJECT_MARKERS):
            return folder / FOLDER
    return start / FOLDER


def home() -> Path:
    explicit = os.environ.get("HAINFRA_HOME")
    return Path(explicit) if explicit else find_home(Path.cwd())


def stack_dir(stack: str) -> Path:
    """The stack's state folder, made on first use (owner-only)."""
    path = home() / "stacks" / stack
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise StateError(f"cannot create the state folder {path}: {exc.strerror or exc}. Fix: make {home()} "
                         "writable or point HAINFRA_HOME at a folder you own") from exc
    return path


def config_home() -> Path:
    """The user's config folder: ``$HAINFRA_CONFIG_HOME``, else ``$XDG_CONFIG_HOME/hainfra`` or ``~/.config/hainfra``.

    It holds what must live outside any archive (the audit signing key, pinned public keys, witnesses),
    so it is deliberately not under ``home()``, which may sit next to the archive in a project folder.
    """
    explicit = os.environ.get("HAINFRA_CONFIG_HOME")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CONFIG_HOME")
    return (Path(xdg) if xdg else Path.home() / ".config") / "hainfra"


def tool_venv(name: str) -> Path:
    """Where ``scripts/test.sh`` installs an optional scanner (its own virtualenv, outside the repository)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "hainfra" / f"{name}-venv"


def find_tool(name: str, env_var: str) -> Path | None:
    """An optional tool's executable: ``$env_var`` (script or virtualenv), then ``PATH``, then its cached venv.

    Raises:
        ConfigError: ``$env_var`` is set but names no executable (a typo must not silently skip).
    """
    import shutil  # function-local: only the optional scanners need it

    configured = os.environ.get(env_var)
    if configured:
        path = Path(configured).expanduser()
        path = path / "bin" / name if path.is_dir() else path
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise ConfigError.one(env_var, configured, f"point it at the {name} script (e.g. <venv>/bin/{name}) "
                                  "or its virtualenv, or unset it")
        return path
    on_path = shutil.which(name)
    path = Path(on_path) if on_path else tool_venv(name) / "bin" / name
    return path if path.is_file() and os.access(path, os.X_OK) else None
