"""Runs inside Airflow's own virtualenv (never imported by pytest): loads the example DAG file and
either describes its DAGs or runs one with Airflow's ``dag.test()``; prints one JSON line last.

    python dag_driver.py describe
    python dag_driver.py test DAG_ID
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys


def load() -> dict:
    path = os.path.join(os.environ["AIRFLOW__CORE__DAGS_FOLDER"], "hainfra_dags.py")
    spec = importlib.util.spec_from_file_location("hainfra_dags", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    from airflow.sdk import DAG

    return {v.dag_id: v for v in vars(module).values() if isinstance(v, DAG)}


def describe(dag) -> dict:
    return {"max_active_tasks": dag.max_active_tasks, "schedule": str(dag.schedule),
            "tasks": {t.task_id: {"upstream": sorted(t.upstream_task_ids), "type": type(t).__name__,
                                  "bases": [b.__name__ for b in type(t).__mro__]} for t in dag.tasks}}


if __name__ == "__main__":
    dags = load()
    if sys.argv[1] == "describe":
        print(json.dumps({dag_id: describe(dag) for dag_id, dag in dags.items()}))
    else:
        run = dags[sys.argv[2]].test()
        print(json.dumps({"state": str(run.state),
                          "tasks": {ti.task_id: str(ti.state) for ti in run.get_task_instances()}}))
