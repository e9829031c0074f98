"""Where hainfra keeps its local files: ``$HAINFRA_HOME`` or ``./.hainfra``."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    return Path(os.environ.get("HAINFRA_HOME") or Path.cwd() / ".hainfra")


def stack_dir(stack: str) -> Path:
    path = home() / "stacks" / stack
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path
