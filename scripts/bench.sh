#!/usr/bin/env bash
# npm run bench [-- --peers] [-- SECTION...]: sets up, then runs bench/all.ts (writes BENCHMARKS.md).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
source scripts/env.sh
exec node bench/all.ts "$@"
