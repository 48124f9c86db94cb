#!/usr/bin/env bash
# npm start: set up if needed, then a demo filesystem "demo" in .demo/home (its own data dir
# and key), mounted at .demo/mnt in the background. Re-runnable: an existing key and
# filesystem are kept, a running demo node is restarted, a stale mount is detached. Without
# FUSE (or with BASEFS_NO_FUSE=1) the node runs without a mount (basefs run) and the CLI is
# the way in.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
source scripts/env.sh

export BASEFS_HOME="$ROOT/.demo/home"
unset BASEFS_KEY
MNT="$ROOT/.demo/mnt"
B="$ROOT/bin/basefs"
mkdir -p "$BASEFS_HOME" "$MNT"

if [ ! -f "$BASEFS_HOME/id_ed25519" ]; then
  "$B" genkey >/dev/null
  echo "start: created a key in $BASEFS_HOME/id_ed25519"
fi
if [ ! -d "$BASEFS_HOME/fs/demo/log" ]; then
  "$B" bootstrap demo >/dev/null
  echo "start: created the filesystem demo"
fi

# a demo node from an earlier run: stop it (or detach its stale mount)
"$B" unmount demo >/dev/null 2>&1 || true
if grep -qs " $MNT " /proc/self/mountinfo; then
  fusermount -uz "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true
fi

if ! "$B" cat demo:/README >/dev/null 2>&1; then
  "$B" write demo:/README >/dev/null <<EOF
Welcome to basefs.

This directory is a view of the filesystem "demo": every change you make here becomes a
signed entry in its log (see: bin/basefs show demo). Try:

  echo hi > x                    then  bin/basefs log demo:/x
  mkdir .snap/first              a read-only snapshot at .snap/first/
  ls .conflicts                  losers of concurrent writes, per path

Other nodes that mount "demo" on your LAN see these files within a second.
EOF
fi

mode=mounted
note=""
if [ -z "${BASEFS_NO_FUSE:-}" ] && [ -e /dev/fuse ] && command -v fusermount >/dev/null; then
  if ! out=$("$B" mount demo "$MNT" 2>&1); then
    echo "start: mounting with networking failed ($out); retrying without networking" >&2
    if out=$("$B" mount demo "$MNT" --local 2>&1); then
      note=" (local only: networking could not start)"
    else
      echo "start: mounting failed: $out" >&2
      mode=run
    fi
  fi
else
  echo "start: FUSE is not available here (no /dev/fuse or fusermount); running the node without a mount" >&2
  mode=run
fi

rel() { realpath --relative-to="$PWD" "$1" 2>/dev/null || echo "$1"; }
m=$(rel "$MNT")
if [ "$mode" = run ]; then
  "$B" run demo >/dev/null
  cat <<EOF

basefs demo node is running WITHOUT a mount (FUSE unavailable); use the CLI:

  export BASEFS_HOME="\$PWD/$(rel "$BASEFS_HOME")"
  bin/basefs ls demo:/                  bin/basefs cat demo:/README
  echo hi | bin/basefs write demo:/x    bin/basefs log demo:/x
  bin/basefs snapshot demo first        bin/basefs status demo
  bin/basefs unmount demo               (stops the node)
EOF
  exit 0
fi

row() { printf '  %-44s %s\n' "$1" "$2"; }
echo
echo "basefs demo is mounted at $m$note"
echo
row "export BASEFS_HOME=\"\$PWD/$(rel "$BASEFS_HOME")\"" "so bin/basefs finds the demo data dir"
row "ls -la $m" "cat $m/README"
row "echo hi > $m/x" "then: bin/basefs log demo:/x"
row "mkdir $m/.snap/first" "a snapshot; read it in $m/.snap/first/"
row "bin/basefs snapshot demo second" "the same from the CLI"
row "ls $m/.conflicts" "losers of concurrent writes (none yet)"
row "bin/basefs show demo" "the log as a tree"
row "bin/basefs status demo" "heads, entries, members"
row "bin/basefs unmount demo" "clean stop (npm start again remounts)"
