"""Where hainfra keeps its local files: ``$HAINFRA_HOME`` or ``./.hainfra``, and the user's config folder."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    return Path(os.environ.get("HAINFRA_HOME") or Path.cwd() / ".hainfra")


def stack_dir(stack: str) -> Path:
    path = home() / "stacks" / stack
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
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
