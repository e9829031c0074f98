"""hainfra on Airflow: a runbook per stack, a rollout over stacks and a nightly drift check.

Put this file in Airflow's DAGs folder on a machine with ``pip install 'hainfra[airflow]'``. Every task
runs one runbook notebook through the hainfra papermill engine and archives it under HAINFRA_ARCHIVE.
The same file runs unchanged on the Local, Celery or Kubernetes executor: workers need hainfra
installed, AWS credentials for ``engine: pulumi`` (or HAINFRA_AWS_ENDPOINT_URL for an emulator), and
HAINFRA_ARCHIVE on shared storage.

Settings come from the environment so one file serves every deployment:
HAINFRA_AIRFLOW_STACKS (comma-separated, default "blue,green"), HAINFRA_ARCHIVE, HAINFRA_AIRFLOW_PARALLEL.
Stack parameters (engine, region, az_count, ...) come from HAINFRA_<NAME> variables or the dicts below.
"""

from __future__ import annotations

import os

from hainfra.airflow import drift_dag, fanout_dag, runbook_dag

ARCHIVE = os.environ.get("HAINFRA_ARCHIVE", "archive")
PARALLEL = int(os.environ.get("HAINFRA_AIRFLOW_PARALLEL", "2"))
COMMON = {"asg_min": 2, "asg_desired": 2}
# Stacks sharing an account and environment need distinct resource names: the suffix keeps them apart.
STACKS = {name: {"environment_suffix": name}
          for name in os.environ.get("HAINFRA_AIRFLOW_STACKS", "blue,green").split(",") if name}

# Triggered by hand (or by CI): walk one stack through the runbook and tear it down again.
runbook_ci = runbook_dag("ci", {**COMMON, "environment_suffix": "ci"}, teardown=True, dag_id="hainfra_runbook_ci",
                         archive=ARCHIVE)

# Roll every stack out (configure → deploy → verify), at most PARALLEL tasks at a time.
rollout = fanout_dag(STACKS, COMMON, max_active_tasks=PARALLEL, dag_id="hainfra_rollout", archive=ARCHIVE)

# Every night at 03:00 UTC: verify every stack; a mandatory failure (drift) fails that stack's task.
nightly_drift = drift_dag(STACKS, COMMON, schedule="0 3 * * *", max_active_tasks=PARALLEL,
                          dag_id="hainfra_nightly_drift", archive=ARCHIVE)
