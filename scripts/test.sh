#!/usr/bin/env bash
# Set up, then run the whole test suite (unit, policy, sandbox, notebooks) on 2 workers.
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
.venv/bin/python -m pytest -n 2 "$@"
