"""The ``hainfra`` papermill engine: plain papermill gets the full ``hainfra run`` behaviour.

``papermill --engine hainfra notebooks/02-deploy.ipynb out.ipynb -p stack s`` (and Airflow's
papermill operator with ``engine_name="hainfra"``) runs the stage through
:func:`hainfra.runbook.runner.run_stage`: strict parameters before any cell runs, secrets kept out
of the parameters cell, the write-ahead archive under ``$HAINFRA_ARCHIVE`` (default ``./archive``).
papermill then writes the archived (redacted) notebook to its output path and fails as usual when a
cell failed. Registered through the ``papermill.engine`` entry point in ``pyproject.toml``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hainfra.audit.archive import run_folder
from hainfra.errors import ConfigError, RunbookError
from hainfra.runbook.runner import STAGES, run_stage

log = logging.getLogger(__name__)

ARCHIVE_ENV = "HAINFRA_ARCHIVE"


def stage_of(metadata: Mapping[str, Any], input_path: str | None) -> str:
    """The runbook stage of a notebook: its ``hainfra.stage`` metadata, else its file name."""
    stage = (metadata.get("hainfra") or {}).get("stage")
    if stage in STAGES:
        return stage
    name = Path(input_path or "").name
    for known, notebook in STAGES.items():
        if name == notebook:
            return known
    raise ConfigError.one("notebook", input_path, "the hainfra engine runs the runbook notebooks "
                          f"({', '.join(STAGES.values())}); use the default engine for other notebooks")


def stage_arguments(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """papermill's parameters as :func:`run_stage` takes them (``params`` flattened, file separate)."""
    given = dict(parameters)
    params = given.pop("params", {}) or {}
    if not isinstance(params, Mapping):
        raise ConfigError.one("params", params, "pass a mapping of parameter names to values")
    return {"stack": given.pop("stack", "dev"), "params_file": given.pop("config_file", "") or None,
            "params": {**params, **given}}


class HainfraEngine:
    """A papermill engine (papermill calls the class methods; see ``papermill.engines.Engine``)."""

    @classmethod
    def execute_notebook(cls, nb: Any, kernel_name: str, input_path: str | None = None,
                         log_output: bool = False, archive: str | None = None, **kwargs: Any) -> Any:
        """Run the stage with ``hainfra run``'s checks and archive; return the executed notebook."""
        import nbformat  # function-local: start-up time

        from hainfra.runbook.runner import describe

        stage = stage_of(nb.metadata, input_path)
        args = stage_arguments(nb.metadata.get("papermill", {}).get("parameters", {}))
        root = Path(archive or os.environ.get(ARCHIVE_ENV) or "archive")
        record = run_stage(stage, archive_root=root, notebook=input_path, cell_timeout=kwargs.get("execution_timeout"),
                           progress=log.info if log_output else None, **args)
        name = next(n for n in record["files"] if n.endswith(".ipynb"))
        executed = nbformat.read(run_folder(root, record) / name, as_version=4)
        has_error = any(o.get("output_type") == "error" for c in executed.cells for o in c.get("outputs", []))
        if record["outcome"] != "success" and not has_error:  # a timeout or a dead kernel left no error cell
            raise RunbookError(describe(record))
        return executed

    @classmethod
    def nb_kernel_name(cls, nb: Any, name: str | None = None) -> str:
        from papermill.utils import nb_kernel_name

        return nb_kernel_name(nb, name)

    @classmethod
    def nb_language(cls, nb: Any, language: str | None = None) -> str:
        from papermill.utils import nb_language

        return nb_language(nb, language)
