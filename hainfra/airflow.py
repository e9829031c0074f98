"""Airflow DAG factories over the runbook: Airflow schedules, fans out and retries; hainfra runs stages.

Every task is a papermill execution of a runbook notebook through the ``hainfra`` papermill engine
(a subclass of the papermill provider's ``PapermillOperator`` that names the engine), so a task gets
exactly what ``hainfra run`` gives: strict parameters, secrets kept out of the parameters cell, the
write-ahead archive, and a failed task when a stage fails (a mandatory verify failure included).
Airflow is imported only when a factory is called (optional extra: ``pip install 'hainfra[airflow]'``).
The DAGs hold no executor-specific code: the same DAG runs on the Local, Celery or Kubernetes executor
(each worker needs hainfra installed and the archive path mounted).
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from hainfra.errors import ConfigError
from hainfra.runbook.runner import NOTEBOOKS, STAGES

RUNBOOK = ("configure", "deploy", "verify")
DEFAULT_START = "2026-01-01"


@functools.cache
def operator_class() -> type:
    """``HainfraStageOperator``: the papermill provider's operator, run through the hainfra engine."""
    import papermill
    from airflow.providers.papermill.operators.papermill import PapermillOperator
    from papermill.engines import papermill_engines

    from hainfra.runbook.engine import HainfraEngine

    class HainfraStageOperator(PapermillOperator):
        """One runbook stage of one stack; fails when the stage fails."""

        template_fields = (*PapermillOperator.template_fields, "archive")

        def __init__(self, *, archive: str, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.archive = archive

        def execute(self, context: Any) -> str:
            # The entry point registers the engine when hainfra is installed; a source checkout may not be.
            papermill_engines.register("hainfra", HainfraEngine)
            Path(self.output_nb).parent.mkdir(parents=True, exist_ok=True)
            papermill.execute_notebook(self.input_nb, self.output_nb, parameters=self.parameters, engine_name="hainfra",
                                       progress_bar=False, log_output=self.log_output, archive=self.archive)
            return self.output_nb

    return HainfraStageOperator


def stage_task(stage: str, stack: str, params: Mapping[str, Any] | None = None, *, archive: str = "archive",
               output_dir: str | None = None, task_id: str | None = None) -> Any:
    """A task running ``stage`` for ``stack`` (call inside a ``with DAG(...)`` block)."""
    if stage not in STAGES:
        raise ConfigError.one("stage", stage, f"use one of {', '.join(STAGES)}")
    out = output_dir or str(Path(tempfile.gettempdir()) / "hainfra-airflow")
    return operator_class()(
        task_id=task_id or f"{stack}.{stage}", input_nb=str(NOTEBOOKS / STAGES[stage]),
        output_nb=f"{out}/{{{{ dag.dag_id }}}}/{{{{ run_id }}}}/{stack}-{STAGES[stage]}",
        parameters={"stack": stack, "params": dict(params or {})}, archive=archive, log_output=True)


def _dag(dag_id: str, schedule: str | None, max_active_tasks: int, **dag_kwargs: Any) -> Any:
    import pendulum
    from airflow.sdk import DAG

    dag_kwargs.setdefault("start_date", pendulum.parse(DEFAULT_START))
    dag_kwargs.setdefault("catchup", False)
    dag_kwargs.setdefault("max_active_runs", 1)  # two runs of one DAG would fight over the same stacks
    dag_kwargs.setdefault("tags", ["hainfra"])
    return DAG(dag_id, schedule=schedule, max_active_tasks=max_active_tasks, **dag_kwargs)


def _chain(stages: Iterable[str], stack: str, params: Mapping[str, Any] | None, **task_kwargs: Any) -> list[Any]:
    tasks = [stage_task(stage, stack, params, **task_kwargs) for stage in stages]
    for upstream, downstream in zip(tasks, tasks[1:], strict=False):
        upstream >> downstream
    return tasks


def runbook_dag(stack: str, params: Mapping[str, Any] | None = None, *, teardown: bool = False,
                dag_id: str | None = None, schedule: str | None = None, archive: str = "archive",
                output_dir: str | None = None, **dag_kwargs: Any) -> Any:
    """configure → deploy → verify (→ teardown) for one stack; each stage waits for the previous one."""
    stages = (*RUNBOOK, "teardown") if teardown else RUNBOOK
    with _dag(dag_id or f"hainfra_runbook_{stack}", schedule, 1, **dag_kwargs) as dag:
        _chain(stages, stack, params, archive=archive, output_dir=output_dir)
    return dag


def _stacks(stacks: Iterable[str] | Mapping[str, Mapping[str, Any]],
            params: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """stack -> its parameters: shared ``params`` overridden by per-stack ones."""
    per_stack = stacks if isinstance(stacks, Mapping) else {name: {} for name in stacks}
    if not per_stack:
        raise ConfigError.one("stacks", list(per_stack), "name at least one stack")
    return {name: {**(params or {}), **(own or {})} for name, own in per_stack.items()}


def fanout_dag(stacks: Iterable[str] | Mapping[str, Mapping[str, Any]], params: Mapping[str, Any] | None = None, *,
               stages: Iterable[str] = RUNBOOK, max_active_tasks: int = 4, dag_id: str = "hainfra_fanout",
               schedule: str | None = None, archive: str = "archive", output_dir: str | None = None,
               **dag_kwargs: Any) -> Any:
    """The same stages for many stacks: one chain per stack, at most ``max_active_tasks`` tasks at once."""
    with _dag(dag_id, schedule, max_active_tasks, **dag_kwargs) as dag:
        for stack, own in _stacks(stacks, params).items():
            _chain(tuple(stages), stack, own, archive=archive, output_dir=output_dir)
    return dag


def drift_dag(stacks: Iterable[str] | Mapping[str, Mapping[str, Any]], params: Mapping[str, Any] | None = None, *,
              schedule: str | None = "@daily", max_active_tasks: int = 4, dag_id: str = "hainfra_drift",
              archive: str = "archive", output_dir: str | None = None, **dag_kwargs: Any) -> Any:
    """Nightly drift: verify only, one task per stack; a mandatory failure fails that stack's task."""
    return fanout_dag(stacks, params, stages=("verify",), max_active_tasks=max_active_tasks, dag_id=dag_id,
                      schedule=schedule, archive=archive, output_dir=output_dir, **dag_kwargs)
