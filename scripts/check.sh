#!/usr/bin/env bash
# Static checks, run by `npm test` before the tests (and alone by `npm run check`): types
# (tsc), the folder dependency rules of docs/ARCHITECTURE.md (dependency-cruiser,
# .dependency-cruiser.cjs), lint (typescript-eslint, eslint.config.js). Any failure stops the run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/env.sh
echo "check: types (tsc --noEmit)" >&2
node node_modules/typescript/bin/tsc --noEmit -p .
echo "check: dependency rules (dependency-cruiser)" >&2
node node_modules/dependency-cruiser/bin/dependency-cruiser.mjs --config .dependency-cruiser.cjs --output-type err src bench harness test >&2
echo "check: lint (eslint)" >&2
node node_modules/eslint/bin/eslint.js --max-warnings 0 .
