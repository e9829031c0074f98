#!/usr/bin/env bash
# The main job: set up, then run the whole runbook (configure, deploy, verify, teardown)
# on the sandbox, archive included, and verify the archive's hash chain.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
stack="${HAINFRA_STACK:-demo}"
echo "main: running the runbook for stack $stack on the sandbox (starts a local AWS emulator; about a minute)"
.venv/bin/hainfra runbook --stack "$stack" --archive archive "$@"
echo "main: checking the archive's hash chain"
.venv/bin/hainfra audit verify --archive archive
