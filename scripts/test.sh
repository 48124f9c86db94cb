#!/usr/bin/env bash
# Sets up if needed, then runs every test with Node's test runner. Arguments narrow the run
# (files or folders under test/).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
source scripts/env.sh
if [ $# -gt 0 ]; then
  targets=("$@")
else
  targets=(test)
  bash scripts/check.sh
fi
files=$(find "${targets[@]}" -name '*.test.ts' | sort)
# One file at a time: multi-node and FUSE tests use namespaces, mounts and both cores.
exec node --test --test-concurrency=1 --test-reporter=spec $files
