#!/usr/bin/env bash
# Set up, then run the whole test suite (unit, policy, sandbox, notebooks, airflow) on 2 workers.
# Airflow gets its own virtualenv outside the repo (its pins conflict with ours), created once and
# re-installed only when pyproject.toml changes; tests/airflow runs the DAGs with its Python.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

# tool_venv NAME SPEC VAR: an optional scanner (many pinned packages) in its own cached virtualenv outside the
# repository, re-installed only when the wanted version changes, and exported as VAR for the tests. Skipped when
# VAR is already set or NAME is on PATH; when the install fails, the tool's tests skip with the reason.
tool_venv() {
  local name=$1 spec=$2 var=$3
  local venv="${XDG_CACHE_HOME:-$HOME/.cache}/hainfra/$name-venv"
  if [ -n "${!var:-}" ] || command -v "$name" >/dev/null 2>&1; then return 0; fi
  if [ "$(cat "$venv/.hainfra-spec" 2>/dev/null)" != "$spec" ]; then
    rm -rf "$venv"
    if "${PYTHON:-python3}" -m venv "$venv" && "$venv/bin/python" -m pip install --quiet "$spec"; then
      echo "$spec" > "$venv/.hainfra-spec"
    else
      echo "warning: $name could not be installed in $venv; its tests will skip" >&2
    fi
  fi
  if [ -x "$venv/bin/$name" ]; then export "$var=$venv/bin/$name"; fi
}
tool_venv checkov 'checkov>=3.2,<4' HAINFRA_CHECKOV   # hainfra policy --checkov
# Prowler (hainfra scan) is about 1.7 GB with its cloud SDKs and takes many minutes to install, so it is
# installed only when asked (HAINFRA_TEST_PROWLER=1) or kept up to date where it is already installed;
# without it the scan tests skip, saying why.
if [ -n "${HAINFRA_TEST_PROWLER:-}" ] || [ -x "${XDG_CACHE_HOME:-$HOME/.cache}/hainfra/prowler-venv/bin/prowler" ]; then
  tool_venv prowler 'prowler>=5.46,<6' HAINFRA_PROWLER
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
