#!/usr/bin/env bash
# Set up, then run the whole test suite (unit, policy, sandbox, notebooks, airflow) on 2 workers.
# Airflow gets its own virtualenv outside the repo (its pins conflict with ours), created once and
# re-installed only when pyproject.toml changes; tests/airflow runs the DAGs with its Python.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# checkov (optional scanner, many pinned packages) in its own cached virtualenv outside the repository;
# re-installed only when the wanted version changes. Its tests skip with the reason if this fails.
checkov_spec='checkov>=3.2,<4'
checkov_venv="${XDG_CACHE_HOME:-$HOME/.cache}/hainfra/checkov-venv"
if [ -z "${HAINFRA_CHECKOV:-}" ] && ! command -v checkov >/dev/null 2>&1; then
  if [ "$(cat "$checkov_venv/.hainfra-spec" 2>/dev/null)" != "$checkov_spec" ]; then
    rm -rf "$checkov_venv"
    if "${PYTHON:-python3}" -m venv "$checkov_venv" \
        && "$checkov_venv/bin/python" -m pip install --quiet "$checkov_spec"; then
      echo "$checkov_spec" > "$checkov_venv/.hainfra-spec"
    else
      echo "warning: checkov could not be installed in $checkov_venv; its tests will skip" >&2
    fi
  fi
  if [ -x "$checkov_venv/bin/checkov" ]; then export HAINFRA_CHECKOV="$checkov_venv/bin/checkov"; fi
fi
# Airflow (its pins conflict with ours) in its own cached virtualenv outside the repository, with
# hainfra installed from this checkout (non-editable: a real install); re-installed only when
# pyproject.toml changes. tests/airflow runs the DAGs with its Python and skips, saying why, without it.
airflow_venv="${HAINFRA_AIRFLOW_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/hainfra/airflow-venv}"
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$airflow_venv/.hainfra-installed" 2>/dev/null)" != "$want" ]; then
  echo "test: installing Airflow into its own virtualenv $airflow_venv (a few minutes the first time)"
  rm -f "$airflow_venv/.hainfra-installed"
  if { [ -x "$airflow_venv/bin/python" ] || "${PYTHON:-python3}" -m venv "$airflow_venv"; } \
      && "$airflow_venv/bin/python" -m pip install --quiet '.[airflow]'; then
    echo "$want" > "$airflow_venv/.hainfra-installed"
  else
    echo "warning: Airflow could not be installed in $airflow_venv; tests/airflow will skip" >&2
  fi
fi
export HAINFRA_AIRFLOW_VENV="$airflow_venv"
.venv/bin/python -m pytest -n 2 "$@"
