#!/usr/bin/env bash
# `lodestone watch` latency under open-loop load (issue 5): for each rate, a fresh watcher (HTTP
# ingest source on 127.0.0.1, the shipped pack plus a rule `latency-probe`, SQLite state in a temp
# folder, a webhook notifier) and bench/watch_latency, which POSTs Reuters-21578 stories one a
# request at that rate, every 10th with the probe word, and times each probe from its scheduled
# send to its webhook. Then a search for the highest sustained rate (no 503, no error, every probe
# delivered, ≥ 95 % of the rate sent, no queue growth): doubling from the table's best, then
# three bisection steps. Prints a Markdown table and "highest sustained rate: N posts/s".
#
#   bench/watch_latency.sh                  (after ./scripts/setup; about 5 minutes)
#   SMOKE=1 bench/watch_latency.sh          (CI: 200 posts/s for 3 s, no search; exit 1 when a
#                                            post is refused or fails or a probe alert is lost)
#   RATES="500 2000" SECONDS_PER_RATE=20 SEARCH_SECONDS=10 bench/watch_latency.sh
#   LODESTONE_BIN=/path/lodestone LATENCY_BIN=/path/watch_latency   (another build)
#
# Needs: build/lodestone, build/bench/watch_latency, curl, python3, ../shared/corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${LODESTONE_BIN:-build/lodestone}
LAT=${LATENCY_BIN:-build/bench/watch_latency}
CORPUS=${LODESTONE_CORPUS:-../shared/corpus}
POSTS="$CORPUS/reuters21578.jsonl"
PACK="$PWD/rules/packs/critical-minerals.toml"
if [ "${SMOKE:-0}" = 1 ]; then
  RATES=${RATES:-200}
  SECONDS_PER_RATE=${SECONDS_PER_RATE:-3}
  SEARCH=0
else
  RATES=${RATES:-200 1000 5000}
  SECONDS_PER_RATE=${SECONDS_PER_RATE:-30}
  SEARCH=1
fi
SEARCH_SECONDS=${SEARCH_SECONDS:-15}
SEARCH_BUDGET=${SEARCH_BUDGET:-180}  # seconds for the whole search; a step that would overrun is not started

for f in "$BIN" "$LAT"; do
  [ -x "$f" ] || { echo "bench/watch_latency.sh: $f is not built (cmake --build build)" >&2; exit 1; }
done
[ -f "$POSTS" ] || {
  echo "bench/watch_latency.sh: the corpus is absent: $POSTS (set LODESTONE_CORPUS to the folder holding reuters21578.jsonl)" >&2
  exit 1
}
BIN=$(realpath "$BIN")
LAT=$(realpath "$LAT")
POSTS=$(realpath "$POSTS")

TMP=$(mktemp -d)
PID=
trap '[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; rm -rf "$TMP"' EXIT
export no_proxy=127.0.0.1

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# The value of key $2 in the key=value line $1.
kv() { tr ' ' '\n' <<<"$1" | awk -F= -v k="$2" '$1 == k { print $2 }'; }

mkdir -p "$TMP/rules"
cat >"$TMP/rules/probe.toml" <<'TOML'
# The probe: every 10th post carries this word, so exactly those posts alert through this rule.
[[rule]]
id = "latency-probe"
title = "Latency probe"
severity = "low"
match = "lodestoneprobe"
TOML

# One run: a fresh watcher (fresh state) at `rate` posts/s for `seconds`; appends the
# watch_latency line to $TMP/lines and returns 0 when it says sustained=yes.
RUN=0
run_rate() {
  local rate=$1 seconds=$2
  RUN=$((RUN + 1))
  local dir="$TMP/run$RUN" ingest admin hook
  ingest=$(free_port)
  admin=$(free_port)
  hook=$(free_port)
  mkdir -p "$dir"
  cat >"$dir/lodestone.toml" <<TOML
[lodestone]
rules = ["$PACK", "$TMP/rules/probe.toml"]
state = "state/lodestone.db"
workers = 2
admin = "127.0.0.1:$admin"
cache_dir = "$TMP/cache"
watch_rules = false
log_level = "info"

[[source]]
name = "push"
type = "http"
listen = "127.0.0.1:$ingest"

[[notifier]]
name = "hook"
type = "webhook"
url = "http://127.0.0.1:$hook/hook"
timeout = "2s"
TOML
  "$BIN" watch -c "$dir/lodestone.toml" 2>"$dir/watch.log" &
  PID=$!
  local i
  for i in $(seq 600); do
    curl -sf "http://127.0.0.1:$admin/readyz" >/dev/null 2>&1 && break
    if ! kill -0 "$PID" 2>/dev/null || [ "$i" = 600 ]; then
      echo "bench/watch_latency.sh: the watcher did not become ready; its log:" >&2
      tail -20 "$dir/watch.log" >&2
      exit 1
    fi
    sleep 0.1
  done
  local line status=0
  line=$("$LAT" --ingest "http://127.0.0.1:$ingest/v1/posts" --receiver-port "$hook" \
    --metrics "http://127.0.0.1:$admin/metrics" --posts "$POSTS" --rate "$rate" --seconds "$seconds" \
    --probe-every 10 --connections 8 --run-id "run$RUN") || status=$?
  kill -TERM "$PID"
  wait "$PID" || echo "bench/watch_latency.sh: the watcher exited with status $? (log: $dir/watch.log)" >&2
  PID=
  if [ "$status" != 0 ] || [ -z "$line" ]; then
    echo "bench/watch_latency.sh: watch_latency failed (status $status) at $rate posts/s" >&2
    exit 1
  fi
  echo "$seconds $line" >>"$TMP/lines"
  echo "  $line" >&2
  [ "$(kv "$line" sustained)" = yes ]
}

echo "table: ${RATES// /, } posts/s, ${SECONDS_PER_RATE} s each" >&2
best=0       # the highest sustained rate so far
failed=      # the lowest rate above $best that was not sustained
for rate in $RATES; do
  if run_rate "$rate" "$SECONDS_PER_RATE"; then
    [ "$rate" -gt "$best" ] && best=$rate
  elif [ -z "$failed" ] || [ "$rate" -lt "$failed" ]; then
    failed=$rate
  fi
done
# A failure below the best (a hiccup at a low rate) says nothing of the rates above it.
[ -n "$failed" ] && [ "$failed" -le "$best" ] && failed=

if [ "$SEARCH" = 1 ]; then
  echo "search: ${SEARCH_SECONDS} s a step, at most ${SEARCH_BUDGET} s" >&2
  search_start=$SECONDS
  # A step costs its load, the watcher's start and stop, and the wait for late probes.
  fits() { [ $((SECONDS - search_start + SEARCH_SECONDS + 15)) -le "$SEARCH_BUDGET" ]; }
  while [ -z "$failed" ] && fits; do
    next=$((best > 0 ? best * 2 : 5000))
    if run_rate "$next" "$SEARCH_SECONDS"; then best=$next; else failed=$next; fi
  done
  for _ in 1 2 3; do
    [ -n "$failed" ] && fits || break
    # Steps of 50 posts/s at least: finer than that is noise on a shared machine.
    mid=$(((best + failed) / 2 / 50 * 50))
    [ "$mid" -le "$best" ] && break
    if run_rate "$mid" "$SEARCH_SECONDS"; then best=$mid; else failed=$mid; fi
  done
fi

printf '\n| rate (posts/s) | s | achieved | p50 ms | p99 ms | max ms | probes received/expected | refused | errors | queue max | sustained |\n'
printf '|---|---|---|---|---|---|---|---|---|---|---|\n'
smoke_ok=1
while read -r seconds line; do
  printf '| %s | %s | %s | %s | %s | %s | %s/%s | %s | %s | %s | %s |\n' \
    "$(kv "$line" rate)" "$seconds" "$(kv "$line" achieved_rate)" "$(kv "$line" p50_ms)" "$(kv "$line" p99_ms)" \
    "$(kv "$line" max_ms)" "$(kv "$line" received)" "$(kv "$line" probes)" "$(kv "$line" refused)" \
    "$(kv "$line" errors)" "$(kv "$line" queue_max)" "$(kv "$line" sustained)"
  if [ "$(kv "$line" refused)" != 0 ] || [ "$(kv "$line" errors)" != 0 ] ||
    [ "$(kv "$line" received)" != "$(kv "$line" probes)" ]; then
    smoke_ok=0
  fi
done <"$TMP/lines"
echo
if [ "$best" -gt 0 ]; then
  echo "highest sustained rate: $best posts/s"
else
  echo "highest sustained rate: none (not even ${failed:-the lowest rate tried} posts/s)"
fi
if [ "${SMOKE:-0}" = 1 ] && [ "$smoke_ok" = 0 ]; then
  echo "bench/watch_latency.sh: a post was refused or failed, or a probe alert was lost" >&2
  exit 1
fi
