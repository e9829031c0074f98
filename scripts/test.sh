#!/usr/bin/env bash
# Set up, then run the whole test suite (unit, policy, sandbox, notebooks, airflow) on 2 workers.
# Airflow gets its own virtualenv outside the repo (its pins conflict with ours), created once and
# re-installed only when pyproject.toml changes; tests/airflow runs the DAGs with its Python.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
airflow_venv="${HAINFRA_AIRFLOW_VENV:-$HOME/.cache/hainfra/airflow-venv}"
stamp="$airflow_venv/.hainfra-installed"
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "test: installing Airflow into its own virtualenv $airflow_venv (a few minutes the first time)"
  mkdir -p "$(dirname "$airflow_venv")"
  [ -x "$airflow_venv/bin/python" ] || "${PYTHON:-python3}" -m venv "$airflow_venv"
  "$airflow_venv/bin/python" -m pip install --quiet --upgrade pip
  "$airflow_venv/bin/python" -m pip install --quiet '.[airflow]'
  echo "$want" > "$stamp"
fi
export HAINFRA_AIRFLOW_VENV="$airflow_venv"
.venv/bin/python -m pytest -n 2 "$@"
