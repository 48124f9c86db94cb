#!/usr/bin/env bash
# Builds pjdfstest (the POSIX filesystem conformance suite) from its source into
# .build/pjdfstest/ (git-ignored), once: a copy of the source is configured and built there,
# because the source folder may be read-only. Source: $PJDFSTEST_SRC, default the copy in
# third_party/pjdfstest (upstream commit 85a8aea, the same as ../shared/tools/pjdfstest), so
# that a fresh clone anywhere can build it.
# Prints the build directory. Needs autoconf, automake and a C compiler (scripts/setup.sh).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="${PJDFSTEST_SRC:-$ROOT/third_party/pjdfstest}"
OUT="$ROOT/.build/pjdfstest"
if [ ! -f "$SRC/pjdfstest.c" ]; then
  echo "pjdfstest-build: no pjdfstest source at $SRC (set PJDFSTEST_SRC)" >&2
  exit 2
fi
SRC="$(cd "$SRC" && pwd -P)"
for tool in autoreconf cc make; do
  command -v "$tool" >/dev/null || { echo "pjdfstest-build: $tool is missing; run scripts/setup.sh as root (Debian: autoconf automake build-essential)" >&2; exit 2; }
done
if [ -x "$OUT/pjdfstest" ] && [ "$OUT/pjdfstest" -nt "$SRC/pjdfstest.c" ] && [ -f "$OUT/.source" ] && [ "$(cat "$OUT/.source")" = "$SRC" ]; then
  echo "$OUT"
  exit 0
fi
rm -rf "$OUT"
mkdir -p "$(dirname "$OUT")"
cp -r "$SRC" "$OUT"
chmod -R u+w "$OUT"
log="$OUT/build.log"
if ! (cd "$OUT" && autoreconf -ifs && ./configure && make pjdfstest) >"$log" 2>&1; then
  tail -20 "$log" >&2
  echo "pjdfstest-build: build failed; full log in $log" >&2
  exit 1
fi
echo "$SRC" > "$OUT/.source"
echo "$OUT"
