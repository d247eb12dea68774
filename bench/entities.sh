#!/usr/bin/env bash
# Entity lists at scale (issue 3): the US Treasury SDN list from ../shared/corpus/entities.
# Prints a Markdown table: load cold (compile) and warm (cache), database size, peak memory,
# and scan throughput over Reuters-21578 with every SDN name, next to the shipped pack alone and
# to GNU grep -F with the same names, all in this one run. Each figure is the median of RUNS runs.
#
#   bench/entities.sh            (after ./scripts/setup; RUNS=5 by default)
#
# Needs: build/lodestone, /usr/bin/time, python3 (for grep's name file), ../shared/corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${LODESTONE_BIN:-build/lodestone}
CORPUS=$(realpath "${LODESTONE_CORPUS:-../shared/corpus}")
RUNS=${RUNS:-5}
POSTS="$CORPUS/reuters21578.jsonl"
if [ ! -f "$CORPUS/entities/ofac_sdn.csv" ]; then
  echo "bench/entities.sh: $CORPUS/entities/ofac_sdn.csv is absent" >&2
  exit 1
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# The rule file of bench/rules/ofac.toml, with the corpus wherever it is.
sed "s|../../../shared/corpus|$CORPUS|g" bench/rules/ofac.toml >"$TMP/ofac.toml"

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# "KEY VALUE" lines of one run: wall seconds and peak KiB from /usr/bin/time, figures from --stats.
run() {
  /usr/bin/time -f "wall %e
rss_kb %M" "$@" 2>"$TMP/err" >/dev/null || true
  grep -E '^(wall|rss_kb) ' "$TMP/err"
  local pattern
  for pattern in 's/.*database ([0-9.]+) MiB.*/db_mib \1/p' \
    's/.*compiled in ([0-9.]+) s.*/compile_s \1/p' \
    's/.*compiler peak ([0-9.]+) MiB.*/compiler_mib \1/p' \
    's/.*loaded from the cache in ([0-9.]+) s.*/cache_load_s \1/p' \
    's/^stats: load ([0-9.]+) s.*/load_s \1/p' \
    's/^stats: scanned .* in ([0-9.]+) s: .*/scan_s \1/p' \
    's/^stats: scanned .*: ([0-9.]+) MB\/s.*/scan_mbs \1/p'; do
    sed -nE "$pattern" "$TMP/err"
  done
}
# The median of KEY over RUNS runs of a command.
measure() {
  local name=$1
  shift
  for i in $(seq "$RUNS"); do
    [ "$name" = cold ] && rm -rf "$TMP/cache"
    run "$@"
  done >"$TMP/$name.txt"
}
get() { grep "^$2 " "$TMP/$1.txt" | cut -d' ' -f2 | median; }

measure cold "$BIN" check --stats --cache-dir "$TMP/cache" "$TMP/ofac.toml"
"$BIN" check --cache-dir "$TMP/cache" "$TMP/ofac.toml" >"$TMP/check.txt" 2>/dev/null
measure warm "$BIN" check --stats --cache-dir "$TMP/cache" "$TMP/ofac.toml"
measure scan_sdn "$BIN" scan --stats --cache-dir "$TMP/cache" -r "$TMP/ofac.toml" "$POSTS"
measure scan_pack "$BIN" scan --stats --cache-dir "$TMP/cache" -r rules/packs "$POSTS"
alerts=$("$BIN" scan --cache-dir "$TMP/cache" -r "$TMP/ofac.toml" "$POSTS" 2>/dev/null | wc -l)

# grep -F: the same names (and "First LAST" orders) as fixed strings, case folded, whole words.
python3 - "$CORPUS/entities" >"$TMP/names.txt" <<'PY'
import csv, sys
d = sys.argv[1]
rows = [r for r in csv.reader(open(d + "/ofac_sdn.csv", encoding="utf-8")) if len(r) > 2]
ids = {r[0]: r[2].strip() for r in rows}
names = [(r[0], r[1]) for r in rows] + [(r[0], r[3]) for r in csv.reader(open(d + "/ofac_alt.csv", encoding="utf-8")) if len(r) > 3 and r[0] in ids]
out = set()
for i, n in names:
    n = n.strip()
    if len(n.replace(" ", "")) < 4: continue
    out.add(n)
    if ids[i] == "individual" and n.count(",") == 1:
        last, first = (p.strip() for p in n.split(","))
        if last and first: out.add(first + " " + last)
print("\n".join(sorted(out)))
PY
# In the C locale and without -w: in a UTF-8 locale GNU grep -F -i with these names ran past
# 6 minutes and 19 GB here before it was stopped, and -w (word boundaries, as lodestone checks
# them) is tried once below with a time limit.
for i in $(seq "$RUNS"); do
  LC_ALL=C /usr/bin/time -f "wall %e
rss_kb %M" grep -F -i -c -f "$TMP/names.txt" "$POSTS" 2>&1 >"$TMP/grep.out" | grep -E '^(wall|rss_kb) '
done >"$TMP/grep.txt"
grep_lines=$(LC_ALL=C grep -F -i -c -f "$TMP/names.txt" "$POSTS" || true)
GREP_W_LIMIT=${GREP_W_LIMIT:-60}
start=$(date +%s.%N)
# (Never to /dev/null: GNU grep notices it and stops at the first match.)
if LC_ALL=C timeout "$GREP_W_LIMIT" grep -F -i -w -c -f "$TMP/names.txt" "$POSTS" >"$TMP/grep.out"; then
  grep_w=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f s", b - a }')
else
  grep_w="over $GREP_W_LIMIT s (stopped)"
fi

mb=$(awk -v b="$(stat -c %s "$POSTS")" 'BEGIN { printf "%.1f", b / 1e6 }')
mbs() { awk -v mb="$mb" -v s="$1" 'BEGIN { printf "%.0f", mb / s }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
sdn_wall=$(get scan_sdn wall); pack_wall=$(get scan_pack wall); grep_wall=$(get grep wall)

echo "Entity list: $(grep '^list ' "$TMP/check.txt")"
echo "Machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'); $RUNS runs each, medians; $(date -u +%F)"
echo
echo "| what | figure |"
echo "|---|---|"
echo "| load, cold (read lists, resolve, compile) | $(get cold load_s) s (Hyperscan compile $(get cold compile_s) s, compiler peak +$(get cold compiler_mib) MiB) |"
echo "| load, warm (database from the cache) | $(get warm load_s) s (cache read $(get warm cache_load_s) s) |"
echo "| cold / warm load | $(ratio "$(get cold load_s)" "$(get warm load_s)")× |"
echo "| database size | $(get cold db_mib) MiB |"
echo "| \`check\` peak memory, cold / warm | $(( $(get cold rss_kb) / 1024 )) / $(( $(get warm rss_kb) / 1024 )) MiB |"
echo "| scan Reuters ($mb MB) with the SDN list, warm, wall | $sdn_wall s ($(mbs "$sdn_wall") MB/s end to end; scan alone $(get scan_sdn scan_mbs) MB/s), peak $(( $(get scan_sdn rss_kb) / 1024 )) MiB, $alerts alerts |"
echo "| scan Reuters with the shipped pack only, wall | $pack_wall s ($(mbs "$pack_wall") MB/s; scan alone $(get scan_pack scan_mbs) MB/s), peak $(( $(get scan_pack rss_kb) / 1024 )) MiB |"
echo "| LC_ALL=C grep -F -i -c, $(wc -l <"$TMP/names.txt") names, no word boundaries, same file, wall | $grep_wall s ($(mbs "$grep_wall") MB/s), peak $(( $(get grep rss_kb) / 1024 )) MiB, $grep_lines matching lines |"
echo "| LC_ALL=C grep -F -i -w -c (word boundaries), one run | $grep_w |"
echo "| lodestone SDN / grep -F -i wall | $(ratio "$sdn_wall" "$grep_wall") |"
