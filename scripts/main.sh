#!/usr/bin/env bash
# The main job: set up, then run the whole runbook (configure, deploy, verify, teardown)
# on the sandbox, archive included, and verify the archive's hash chain.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
stack="${HAINFRA_STACK:-demo}"
.venv/bin/hainfra runbook --stack "$stack" --archive archive "$@"
.venv/bin/hainfra audit verify --archive archive
