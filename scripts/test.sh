#!/usr/bin/env bash
# Set up, then run the whole test suite (unit, policy, sandbox, notebooks) on 2 workers.
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
tool_venv prowler 'prowler>=5.46,<6' HAINFRA_PROWLER  # hainfra scan
.venv/bin/python -m pytest -n 2 "$@"
