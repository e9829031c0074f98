"""Editable copies of the runbook notebooks for an operator's Jupyter (``hainfra notebooks copy DIR``).

The packaged notebooks live inside the installed package (site-packages); an operator works on
copies. Copies keep their ``hainfra.stage`` metadata, so the papermill engine still knows their stage.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from hainfra.errors import ConfigError
from hainfra.runbook.runner import NOTEBOOKS


def packaged() -> list[Path]:
    """The notebooks shipped with hainfra, in stage order."""
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def copy(dest: str | Path, force: bool = False) -> list[Path]:
    """Copy every packaged notebook into ``dest``; refuses to overwrite an existing file unless ``force``."""
    folder = Path(dest)
    targets = [folder / src.name for src in packaged()]
    existing = [str(t) for t in targets if t.exists()]
    if existing and not force:
        raise ConfigError.one("DIR", str(folder), f"already holds {', '.join(existing)}; "
                              "choose an empty folder or pass --force to overwrite")
    folder.mkdir(parents=True, exist_ok=True)
    for src, target in zip(packaged(), targets, strict=True):
        shutil.copyfile(src, target)
    return targets
