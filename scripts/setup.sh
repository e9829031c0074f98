#!/usr/bin/env bash
# Idempotent setup: a virtualenv in .venv with hainfra and its test tools installed.
# Re-installs only when pyproject.toml changed since the last install. Says what it is doing.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating the virtualenv .venv"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.hainfra-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing hainfra and its dependencies into .venv (a few minutes the first time)"
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e '.[test]'
  echo "$want" > "$stamp"
else
  echo "setup: .venv is up to date"
fi
