#!/usr/bin/env bash
# The embedding test: `cmake --install` of BUILD_DIR into a temporary prefix, the project of
# this folder configured and built against it, its alert checked, and its ldd checked for the
# libraries the scan core must not bring (SQLite, libcurl, libxml2, cpp-httplib).
# Usage: run.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmake --install "$build" --prefix "$work/prefix" >/dev/null
cmake -S "$here" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/build" >/dev/null

out=$("$work/build/embed")
echo "embed printed: $out"
grep -q '"rule":{"id":"rare-earths"' <<<"$out" || { echo "FAIL: no alert of rule rare-earths"; exit 1; }
grep -q '"text":"稀土"' <<<"$out" || { echo "FAIL: the alert does not show the match 稀土"; exit 1; }

libs=$(ldd "$work/build/embed")
echo "$libs"
if grep -E 'libsqlite3|libcurl|libxml2|httplib' <<<"$libs"; then
  echo "FAIL: the scan core brought an I/O library (above)"
  exit 1
fi
# The installed headers are the public API alone: nothing of the source tree came along.
if [ -n "$(find "$work/prefix/include" -type f ! -path '*/lodestone/*')" ]; then
  echo "FAIL: headers outside include/lodestone/ were installed"
  exit 1
fi
echo "ok: an installed lodestone::engine compiles rules and scans a post without SQLite, curl, libxml2 or httplib"
