#!/usr/bin/env bash
# The watcher end to end (issue 4): Reuters-21578 (20,841 posts) dropped into a directory source,
# matched with the shipped pack, stored in SQLite (WAL, synchronous=FULL) and appended by the
# file notifier. Prints posts/s from start to the last post committed, to the last alert
# delivered, and the peak memory, next to `lodestone scan` over the same file (no store, no
# delivery) in the same run. Each figure is the median of RUNS runs.
#
#   bench/watch.sh            (after ./scripts/setup; RUNS=3 by default)
#
# Needs: build/lodestone, curl, bc, python3, ../shared/corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(realpath "${LODESTONE_BIN:-build/lodestone}")
CORPUS=$(realpath "${LODESTONE_CORPUS:-../shared/corpus}")
RUNS=${RUNS:-3}
POSTS="$CORPUS/reuters21578.jsonl"
[ -f "$POSTS" ] || { echo "bench/watch.sh: $POSTS is absent" >&2; exit 1; }
TMP=$(mktemp -d)
PID=
trap '[ -n "$PID" ] && kill -9 $PID 2>/dev/null; rm -rf "$TMP"' EXIT
N=$(grep -c . "$POSTS")
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
metric() { { curl -s "http://127.0.0.1:$PORT/metrics" || true; } | awk -v s="$1" '$1 == s { print $2 }'; }
now() { date +%s.%N; }

for run in $(seq "$RUNS"); do
  rm -rf "$TMP/w" && mkdir -p "$TMP/w/inbox"
  cp "$POSTS" "$TMP/w/inbox/posts.jsonl"
  cat >"$TMP/w/lodestone.toml" <<TOML
[lodestone]
rules = ["$PWD/rules/packs/*.toml"]
state = "state.db"
admin = "127.0.0.1:$PORT"
log_level = "warn"
cache_dir = "$TMP/cache"
[[source]]
name = "inbox"
type = "directory"
path = "inbox"
[[notifier]]
name = "out"
type = "file"
path = "alerts.jsonl"
TOML
  start=$(now)
  "$BIN" watch -c "$TMP/w/lodestone.toml" 2>"$TMP/w/log" &
  PID=$!
  committed=
  while :; do
    posts=$(metric 'lodestone_posts_total{source="reuters21578",outcome="new"}')
    if [ -z "$committed" ] && [ "${posts:-0}" = "$N" ]; then committed=$(now); fi
    if [ -n "$committed" ]; then
      pending=$(metric 'lodestone_deliveries{notifier="out",state="pending"}')
      [ -z "$pending" ] && break
    fi
    sleep 0.05
  done
  delivered=$(now)
  rss=$(awk '/VmHWM/ { print $2 }' /proc/$PID/status)
  alerts=$(wc -l <"$TMP/w/alerts.jsonl")
  kill -TERM $PID && wait $PID && PID=
  echo "commit $(echo "$N / ($committed - $start)" | bc -l)" >>"$TMP/commit"
  echo "deliver $(echo "$N / ($delivered - $start)" | bc -l)" >>"$TMP/deliver"
  echo "$rss" >>"$TMP/rss"
  s0=$(now)
  "$BIN" scan --cache-dir "$TMP/cache" -r rules/packs "$POSTS" >/dev/null 2>&1 || true
  echo "$(echo "$N / ($(now) - $s0)" | bc -l)" >>"$TMP/scan"
done
c=$(awk '{print $2}' "$TMP/commit" | median)
d=$(awk '{print $2}' "$TMP/deliver" | median)
s=$(median <"$TMP/scan")
r=$(median <"$TMP/rss")
printf '| run | posts/s | ratio to scan |\n|---|---|---|\n'
printf '| `lodestone scan` (no store, no delivery) | %.0f | 1.00 |\n' "$s"
printf '| `watch`: every post committed to the store | %.0f | %.2f |\n' "$c" "$(echo "$c / $s" | bc -l)"
printf '| `watch`: every alert appended by the file notifier | %.0f | %.2f |\n' "$d" "$(echo "$d / $s" | bc -l)"
printf '\n%s posts, %s alerts; watcher peak memory %.0f MiB; median of %s runs\n' "$N" "$alerts" "$(echo "$r / 1024" | bc -l)" "$RUNS"
