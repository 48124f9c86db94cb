#!/usr/bin/env bash
# Runs node (the provisioned one when present) with the given arguments.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
exec node "$@"
