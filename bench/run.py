#!/usr/bin/python3
"""Lodestone side by side with its peers, in one run (issue 5). Started by scripts/bench.

Workloads (posts from ../shared/corpus, rule sets shipped or generated here):
  W1       Reuters-21578 (20,841 stories) with the shipped critical-minerals pack
  W2       THUCNews (11,000 Simplified Chinese articles) with the same pack
  W3       Reuters with the OFAC SDN list (bench/rules/ofac.toml: one @list rule)
  W4-10k   Reuters with 10,000 generated terms (words and two-word phrases from wamerican)
  W4-100k  Reuters with 100,000 generated terms

For each: the rule set's cold compile, warm start, database size and peak memory; `lodestone scan`
end to end on 1 worker, on 2 and on every core; the ceiling (Hyperscan alone and a memchr pass over
the same normalized bytes, bench/core.cpp); the peers on the same terms and bytes (RE2::Set,
Hyperscan, naive find, pyahocorasick, grep -F -i, rg -F -i), and the hand-built peer that parses
and normalizes in its timed loop (simdjson, ICU, then RE2::Set or Hyperscan); a cross-check of the
posts found; a stage breakdown from callgrind; then `lodestone watch` latency
(bench/watch_latency.sh).

Options: --write puts the tables into bench/BENCHMARKS.md between its bench:begin/end markers.
Environment: RUNS (timed repeats, median; default 3), SMOKE=1 (a slice of everything, no figures
worth keeping: CI's check that the harness runs), LODESTONE_CORPUS.
"""
import math
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "build", "lodestone")
CORE = os.path.join(ROOT, "build", "bench", "bench_core")
AC = os.path.join(ROOT, "bench", "peers", "ahocorasick_peer.py")
CORPUS = os.path.realpath(os.environ.get("LODESTONE_CORPUS", os.path.join(ROOT, "..", "shared", "corpus")))
SMOKE = os.environ.get("SMOKE") == "1"
RUNS = 1 if SMOKE else int(os.environ.get("RUNS", "3"))
PEER_TIMEOUT = 20 if SMOKE else 120  # seconds a peer command may take before it is stopped
CORES = os.cpu_count() or 1
WORKER_COUNTS = sorted({1, 2, CORES})  # `scan -j N` runs: 2 workers always, for the scaling row


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


class Ran:
    def __init__(self, code, out, err, wall, rss_kib, timed_out=False):
        self.code, self.out, self.err, self.wall, self.rss_kib, self.timed_out = code, out, err, wall, rss_kib, timed_out


RSS_TAG = "lodestone-bench-peak-rss-kib"


def run(cmd, timeout=None, stdin=None, env=None, keep_stdout=True):
    """Runs cmd; wall seconds, its peak RSS, stdout (unless keep_stdout is False: /dev/null) and
    stderr as text. The peak RSS is GNU time's: a child forked from this Python process would
    report this process's own size until it execs, which grows with the outputs kept here."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.monotonic()
        proc = subprocess.Popen(["/usr/bin/time", "-f", f"{RSS_TAG} %M"] + list(cmd),
                                stdout=out if keep_stdout else subprocess.DEVNULL, stderr=err, stdin=stdin, env=env,
                                start_new_session=True)
        timed_out = False
        deadline = None if timeout is None else start + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid != 0:
                break
            if deadline is not None and time.monotonic() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)  # time and the command it runs
                timed_out = True
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.002)
        wall = time.monotonic() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        err_text = err.read().decode("utf-8", "replace")
        rss = [int(l.split()[1]) for l in err_text.splitlines() if l.startswith(RSS_TAG + " ")]
        err_text = "\n".join(l for l in err_text.splitlines()
                             if not l.startswith(RSS_TAG + " ") and not l.startswith("Command exited with non-zero status"))
        return Ran(proc.returncode, out.read().decode("utf-8", "replace") if keep_stdout else "", err_text,
                   wall, rss[-1] if rss else 0, timed_out)


def median_run(cmd, runs=RUNS, **kw):
    """The run with the median wall time of `runs` runs (and the largest peak RSS seen)."""
    results = [run(cmd, **kw) for _ in range(runs)]
    results.sort(key=lambda r: r.wall)
    best = results[len(results) // 2]
    best.rss_kib = max(r.rss_kib for r in results)
    return best


def fields(line):
    return dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)


def results_of(text, tag="result"):
    return {f.get("name", tag): f for f in (fields(l) for l in text.splitlines() if l.startswith(tag + " "))}


def stat(text, pattern, cast=float):
    m = re.search(pattern, text)
    return cast(m.group(1)) if m else None


def input_bytes(path):
    return os.path.getsize(path)


def count_lines(path):
    with open(path, "rb") as f:
        return sum(1 for _ in f)


# ---- W4: generated terms -------------------------------------------------------------------------

def generate_terms(path, count, seed=20261129):
    """`count` distinct terms, half single words and half two-word phrases, from wamerican's
    lower-case alphabetic words of 4 letters or more (the shortest, the, and, for, are the ones
    no analyst alerts on); 10 terms a rule, OR'd. Deterministic."""
    with open("/usr/share/dict/american-english", encoding="utf-8") as f:
        words = sorted({w.strip() for w in f if re.fullmatch(r"[a-z]{4,}", w.strip())})
    rng = random.Random(seed)
    terms, seen = [], set()
    single = rng.sample(words, min(len(words), count // 2))
    for w in single:
        seen.add(w)
        terms.append(w)
    while len(terms) < count:
        t = f"{rng.choice(words)} {rng.choice(words)}"
        if t not in seen:
            seen.add(t)
            terms.append(t)
    rng.shuffle(terms)
    with open(path, "w", encoding="utf-8") as out:
        out.write(f"# {count} terms generated by bench/run.py from /usr/share/dict/american-english\n")
        for r in range(0, len(terms), 10):
            group = terms[r:r + 10]
            out.write(f'\n[[rule]]\nid = "w4-{r // 10}"\nmatch = \'{" OR ".join(chr(34) + t + chr(34) for t in group)}\'\n')
    return len(words)


# ---- one workload ---------------------------------------------------------------------------------

def workload(name, rules, posts, tmp, stage_profile):
    log(f"{name}: {os.path.basename(posts)} with {os.path.basename(rules.rstrip('/'))}")
    w = {"name": name, "posts_file": posts, "mb": input_bytes(posts) / 1e6}
    cache = os.path.join(tmp, f"cache-{name}")
    # Cold: an empty cache folder each run.
    colds = []
    for _ in range(RUNS):
        shutil.rmtree(cache, ignore_errors=True)
        colds.append(run([BIN, "check", "--stats", "--cache-dir", cache, rules]))
    colds.sort(key=lambda r: r.wall)
    cold = colds[len(colds) // 2]
    if cold.code != 0:
        raise SystemExit(f"bench: {name}: lodestone check failed:\n{cold.err}")
    w["cold_s"] = cold.wall
    w["compile_s"] = stat(cold.err, r"compiled in ([0-9.]+) s")
    w["compile_peak_mib"] = stat(cold.err, r"compiler peak ([0-9.]+) MiB")
    w["db_mib"] = stat(cold.err, r"database ([0-9.]+) MiB")
    w["rules"] = stat(cold.out + cold.err, r"(\d+) rules?", int)
    warm = median_run([BIN, "check", "--stats", "--cache-dir", cache, rules])
    w["warm_s"] = warm.wall
    w["warm_rss_mib"] = warm.rss_kib / 1024

    # lodestone scan end to end on 1 worker, 2 and every core; --stats times the scan after the load.
    for workers in WORKER_COUNTS:
        r = median_run([BIN, "scan", "--stats", "-j", str(workers), "--cache-dir", cache, "-r", rules, posts],
                       keep_stdout=False)
        if r.code not in (0, 1):
            raise SystemExit(f"bench: {name}: lodestone scan failed:\n{r.err[-2000:]}")
        w[f"scan{workers}_s"] = stat(r.err, r"scanned [0-9.]+ MB in ([0-9.]+) s")
        w[f"scan{workers}_wall"] = r.wall
        w[f"scan{workers}_rss_mib"] = r.rss_kib / 1024
        w["posts"] = stat(r.err, r"lodestone: (\d+) posts? read", int)
        w["alerts"] = stat(r.err, r"read, (\d+) alerts?", int)

    # The same scaling over a longer run: one of 50-500 ms is mostly its start and end (threads,
    # scratch, the first small chunks, the last chunk's drain), so the input is repeated until one
    # worker takes about a second (at most 30 times), and 1 and 2 workers scan that.
    repeat = min(30, max(1, math.ceil(1.0 / w["scan1_s"]))) if w["scan1_s"] and not SMOKE else 1
    w["long_repeat"] = repeat
    if repeat > 1:
        long_posts = os.path.join(tmp, f"{name}.x{repeat}.jsonl")
        with open(posts, "rb") as src:
            data = src.read()
        with open(long_posts, "wb") as dst:
            for _ in range(repeat):
                dst.write(data)
        for workers in (1, 2):
            r = median_run([BIN, "scan", "--stats", "-j", str(workers), "--cache-dir", cache, "-r", rules, long_posts],
                           keep_stdout=False)
            w[f"long{workers}_s"] = stat(r.err, r"scanned [0-9.]+ MB in ([0-9.]+) s")
        os.remove(long_posts)
    else:
        w["long1_s"], w["long2_s"] = w["scan1_s"], w.get("scan2_s")

    # The ceiling and the in-process peers, with the peers' inputs for the out-of-process ones.
    peer_text = os.path.join(tmp, f"{name}.text")
    peer_terms = os.path.join(tmp, f"{name}.terms")
    core = run([CORE, "--rules", rules, "--posts", posts, "--cache-dir", cache, "--repeat", str(max(RUNS, 3)),
                "--peer-text", peer_text, "--peer-terms", peer_terms, "--crosscheck"])
    if core.code != 0:
        raise SystemExit(f"bench: {name}: bench_core failed:\n{core.out[-3000:]}\n{core.err[-3000:]}")
    w["core"] = results_of(core.out)
    w["crosscheck"] = fields(next((l for l in core.out.splitlines() if l.startswith("crosscheck ")), "x"))
    w["core_log"] = core.out
    w["terms"] = count_lines(peer_terms)
    w["peer_mb"] = input_bytes(peer_text) / 1e6

    # Out-of-process peers on the peers' text: wall time of the whole command (their set-up included).
    # grep -c and rg -c count matching lines (posts); they may stop at a line's first match.
    peers = {}
    c_env = dict(os.environ, LC_ALL="C")
    for peer, cmd in (
        ("grep -F -i", ["grep", "-F", "-i", "-c", "-f", peer_terms, peer_text]),
        ("rg -F -i", ["rg", "-F", "-i", "-c", "--no-config", "-j1", "-f", peer_terms, peer_text]),
    ):
        r = median_run(cmd, timeout=PEER_TIMEOUT, env=c_env)
        note = ""
        if r.code == 2 and peer.startswith("rg") and "size limit" in r.err:
            # rg -i turns a large term list into a regex past its size limit (raising the limit
            # made it run for minutes). Both sides are already case-folded, so -i changes nothing.
            note = "without -i (-i: " + r.err.strip().splitlines()[-1][:60] + ")"
            r = median_run([a for a in cmd if a != "-i"], timeout=PEER_TIMEOUT, env=c_env)
        failed = r.timed_out or r.code not in (0, 1)
        peers[peer] = {"seconds": None if failed else r.wall, "posts": None if failed else int(r.out.strip() or 0),
                       "rss_mib": r.rss_kib / 1024, "timed_out": r.timed_out, "note": note,
                       "error": "" if not failed or r.timed_out else r.err.strip()[-80:]}
    r = run(["/usr/bin/python3", AC, peer_terms, peer_text, "--repeat", str(RUNS)], timeout=PEER_TIMEOUT * 3)
    ac = results_of(r.out).get("ahocorasick")
    if ac:
        peers["Aho-Corasick (pyahocorasick)"] = {"seconds": float(ac["seconds"]), "build": float(ac["build_seconds"]),
                                                 "posts": int(ac["posts_with_hit"])}
    else:
        peers["Aho-Corasick (pyahocorasick)"] = {"seconds": None, "posts": None, "error": (r.err or r.out)[-300:]}
    w["peers"] = peers
    if stage_profile:
        w["stages"] = stages(name, rules, posts, cache, tmp)
    return w


# ---- stage breakdown from callgrind --------------------------------------------------------------

STAGES = [  # (stage, regex on callgrind's "file:function [object]" of a function's self cost)
    ("hyperscan", r"libhs\.so"),
    ("hit callback", r"on_match|decode_utf8_(at|before)"),
    ("parse", r"simdjson|PostReader|Post::add_field|repair_utf8|Post::field"),
    ("normalize", r"Normalizer|libicu|fold_names_ascii|ascii_blocks|copy_han_run|compact_store|classify_half"),
    ("evaluate", r"Evaluator::(holds|eval_node|near|term_occurs|term_hit_ok|excluded|count_entities|collect|add_occ|new_entity|start_post)|ScannerState::scan|Scanner::scan"),
    ("describe (matches, snippets)", r"Evaluator::describe|PostHits::mapped|step_back|step_forward|append_flat|for_each_hit"),
    ("alert ids (SHA-256)", r"alert_id|sha256|Sha256|SHA256|libcrypto|to_hex"),
    ("match (set-up per post)", r"Matcher::match|hs_scan\b"),
    ("output (alert JSON, stdout)", r"to_json|to_text|JsonWriter|append_json|json_escape|json_field|nlohmann|fwrite|_IO_|__GI___libc_write|ScanRun::write|basic_string.*(push_back|append)"),
    ("read", r"ScanRun::jsonl|fread|__libc_read|Chunk|new_chunk"),
    ("memory (malloc, memcpy)", r"malloc|free|memcpy|memmove|memset|operator new|operator delete|cfree|_int_"),
]


def stages(name, rules, posts, cache, tmp):
    """Share of instructions per stage of `lodestone scan -j 1` after the rule load (callgrind counts
    instructions, which is repeatable on a shared machine; time shares follow them roughly)."""
    out = os.path.join(tmp, f"callgrind-{name}.out")
    sample = posts
    if SMOKE:
        sample = os.path.join(tmp, f"{name}-sample.jsonl")
        with open(posts, "rb") as src, open(sample, "wb") as dst:
            for i, line in enumerate(src):
                if i >= 300:
                    break
                dst.write(line)
    r = run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--collect-atstart=no",
             "--toggle-collect=lodestone::cli::run_scan*", "--toggle-collect=lodestone::cli::load_rules*",
             BIN, "scan", "-j", "1", "--cache-dir", cache, "-r", rules, sample])
    if r.code not in (0, 1):
        return {"error": r.err[-500:]}
    ann = run(["callgrind_annotate", "--threshold=100", out]).out
    shares, total = {}, 0
    for line in ann.splitlines():
        m = re.match(r"\s*([\d,]+) \([ \d.]+%\)\s+(.*)", line)
        if not m or "PROGRAM TOTALS" in line:
            continue
        ir = int(m.group(1).replace(",", ""))
        fn = m.group(2)
        stage = next((s for s, pat in STAGES if re.search(pat, fn)), "other")
        shares[stage] = shares.get(stage, 0) + ir
        total += ir
    return {"total_ir": total, "shares": {k: v / total for k, v in shares.items()} if total else {}}


# ---- tables --------------------------------------------------------------------------------------

def fmt(x, digits=1, unit=""):
    if x is None:
        return "–"
    if isinstance(x, str):
        return x
    return f"{x:,.{digits}f}{unit}"


def mbs(w, seconds):
    return None if not seconds else w["mb"] / seconds


def ratio(a, b):
    return None if not a or not b else a / b


def tables(ws, latency, started):
    L = []
    names = [w["name"] for w in ws]
    head = "| | " + " | ".join(names) + " |"
    sep = "|---|" + "---|" * len(ws)

    def row(label, values):
        L.append(f"| {label} | " + " | ".join(values) + " |")

    L.append(f"Machine: {CORES} cores, {platform_line()}; {RUNS} runs each, medians (bench_core: medians of "
             f"{max(RUNS, 3)}); {time.strftime('%Y-%m-%d')}; scripts/bench took {time.monotonic() - started:.0f} s.")
    L.append("All MB/s are over the JSONL input (its bytes / the seconds), so every ratio is a ratio of times.")
    L.append("")
    L.append("### Throughput and ceiling")
    L.append("")
    L.append(head)
    L.append(sep)
    row("input", [f"{w['mb']:.1f} MB, {w['posts']:,} posts" for w in ws])
    row("rule set", [f"{w['rules'] or '?'} rules, {w['terms']:,} literal terms" for w in ws])
    row("alerts", [f"{w['alerts']:,}" for w in ws])
    row("**lodestone scan, 1 worker** (MB/s)", [f"**{fmt(mbs(w, w['scan1_s']))}**" for w in ws])
    for n in WORKER_COUNTS[1:]:
        row(f"lodestone scan, {n} workers (MB/s)", [fmt(mbs(w, w[f'scan{n}_s'])) for w in ws])
        row(f"{n} workers / 1 worker", [fmt(ratio(w['scan1_s'], w[f'scan{n}_s']), 2, "×") for w in ws])
    row("2 workers / 1 worker, the input repeated until 1 worker takes ≥ 1 s", [
        fmt(ratio(w['long1_s'], w['long2_s']), 2, "×") + (f" (×{w['long_repeat']})" if w['long_repeat'] > 1 else "")
        for w in ws])
    row("posts/s, 1 worker", [fmt(w['posts'] / w['scan1_s'] if w['scan1_s'] else None, 0) for w in ws])
    row("Scanner in memory (normalize, match, evaluate; no I/O, no JSON)", [
        fmt(mbs(w, float(w['core']['scanner']['seconds'])) if 'scanner' in w['core'] else None) for w in ws])
    row("ceiling: Hyperscan alone on the normalized bytes", [fmt(mbs(w, float(w['core']['hs_alone']['seconds']))) for w in ws])
    row("ceiling: Hyperscan, the same bytes in one call per form", [
        fmt(mbs(w, float(w['core']['hs_one_call']['seconds'])) if 'hs_one_call' in w['core'] else None) for w in ws])
    row("ceiling: memchr over the same bytes", [fmt(mbs(w, float(w['core']['memchr']['seconds'])), 0) for w in ws])
    row("**1 worker / Hyperscan alone**", [f"**{fmt(ratio(float(w['core']['hs_alone']['seconds']), w['scan1_s']), 2, '×')}**" for w in ws])
    L.append("")
    L.append("### Peers (same terms, same posts; less work: see below)")
    L.append("")
    L.append(head)
    L.append(sep)
    # (label, short name for the posts row, the peer's (seconds, posts, why not)). Every peer is
    # here, so "fastest peer" is the fastest of them all: the hand-built ones included.
    peer_rows = [("RE2::Set (in process)", "RE2", lambda w: core_peer(w, "re2_set")),
                 ("Hyperscan on the peer text (in process)", "HS", lambda w: core_peer(w, "hs_peer")),
                 ("naive find per term (in process)", "naive", lambda w: core_peer(w, "naive")),
                 ("Aho-Corasick (pyahocorasick)", "AC", lambda w: ext_peer(w, "Aho-Corasick (pyahocorasick)")),
                 ("grep -F -i (LC_ALL=C, whole command)", "grep", lambda w: ext_peer(w, "grep -F -i")),
                 ("rg -F -i (whole command)", "rg", lambda w: ext_peer(w, "rg -F -i")),
                 ("hand-built: simdjson + ICU + RE2::Set (end to end, in process)", "ICU+RE2",
                  lambda w: core_peer(w, "re2_set_icu")),
                 ("hand-built: simdjson + ICU + Hyperscan (end to end, in process)", "ICU+HS",
                  lambda w: core_peer(w, "hs_icu"))]
    for label, _, get in peer_rows:
        key = label.split(" (")[0]
        row(f"{label} (MB/s)", [(fmt(mbs(w, get(w)[0])) + (f" ({w['peers'][key]['note']})" if w['peers'].get(key, {}).get('note') else ""))
                                if get(w)[0] else get(w)[2] for w in ws])
    row("hand-built, its parsing and ICU normalizing alone (MB/s)", [
        fmt(mbs(w, core_peer(w, "icu_prepare")[0])) if core_peer(w, "icu_prepare")[0] else "–" for w in ws])
    row("**lodestone 1 worker / fastest peer**", [f"**{fmt(ratio(fastest(w, peer_rows)[0], w['scan1_s']), 2, '×')}** ({fastest(w, peer_rows)[1]})" for w in ws])
    row("lodestone 1 worker / fastest hand-built peer (both parse and normalize)", [
        f"{fmt(ratio(fastest(w, peer_rows[-2:])[0], w['scan1_s']), 2, '×')} ({fastest(w, peer_rows[-2:])[1]})" for w in ws])
    row("posts with a term (substring): " + " / ".join(short for _, short, _ in peer_rows), [
        " / ".join(str(get(w)[1]) if get(w)[1] is not None else "–" for _, _, get in peer_rows) for w in ws])
    row("cross-check: literal-only rules compared, posts differing", [
        f"{w['crosscheck'].get('rules', '–')} rules, {w['crosscheck'].get('differ', '–')} differ" for w in ws])
    row("RE2::Set compile (s)", [fmt(float(w['core']['re2_compile']['seconds']), 2) if 're2_compile' in w['core'] else "–" for w in ws])
    row("Hyperscan compile of the peer terms (hs_compile_lit_multi, s)", [
        fmt(float(w['core']['hs_peer_compile']['seconds']), 2) if 'hs_peer_compile' in w['core'] else "–" for w in ws])
    L.append("")
    L.append("### Start-up and memory")
    L.append("")
    L.append(head)
    L.append(sep)
    row("compile, cold (`check`, wall s)", [fmt(w['cold_s'], 2) for w in ws])
    row("of which Hyperscan compile (s)", [fmt(w['compile_s'], 2) for w in ws])
    row("warm start from the cached database (`check`, wall s)", [fmt(w['warm_s'], 3) for w in ws])
    row("database size (MiB)", [fmt(w['db_mib'], 1) for w in ws])
    row("peak RSS, scan 1 worker (MiB)", [fmt(w['scan1_rss_mib'], 0) for w in ws])
    row(f"peak RSS, scan {CORES} workers (MiB)", [fmt(w[f'scan{CORES}_rss_mib'], 0) for w in ws])
    row("peak RSS ≤ 2 × database + 100 MiB?", [
        "yes" if w[f'scan{CORES}_rss_mib'] <= 2 * (w['db_mib'] or 0) + 100 else "**no**" for w in ws])
    row("compiler peak (MiB)", [fmt(w['compile_peak_mib'], 0) for w in ws])
    if any("stages" in w for w in ws):
        L.append("")
        L.append("### Where `lodestone scan -j 1` spends its instructions (callgrind, after the rule load)")
        L.append("")
        prof = [w for w in ws if "stages" in w and "shares" in w["stages"]]
        L.append("| stage | " + " | ".join(w["name"] for w in prof) + " |")
        L.append("|---|" + "---|" * len(prof))
        for stage in [s for s, _ in STAGES] + ["other"]:
            L.append(f"| {stage} | " + " | ".join(fmt(100 * w['stages']['shares'].get(stage, 0), 1, " %") for w in prof) + " |")
        L.append("| instructions in all | " + " | ".join(f"{w['stages']['total_ir'] / 1e6:,.0f} M" for w in prof) + " |")
    if latency:
        L.append("")
        L.append("### `lodestone watch`: POST to webhook, on loopback")
        L.append("")
        L.append(latency.strip())
    return "\n".join(L) + "\n"


def core_peer(w, key):
    r = w["core"].get(key)
    if not r:
        return (None, None, "skipped" if key == "naive" else "failed")
    return (float(r["seconds"]), int(r["hits"]), "")


def ext_peer(w, key):
    p = w["peers"].get(key, {})
    if p.get("timed_out"):
        return (None, None, f"over {PEER_TIMEOUT} s")
    if p.get("seconds") is None:
        return (None, None, f"failed: {p.get('error', '')}")
    return (p.get("seconds"), p.get("posts"), "")


def fastest(w, peer_rows):
    best = (None, "none")
    for label, _, get in peer_rows:
        s = get(w)[0]
        if s and (best[0] is None or s < best[0]):
            best = (s, label.split(" (")[0])
    return best


def platform_line():
    try:
        with open("/proc/cpuinfo") as f:
            model = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "?")
    except OSError:
        model = "?"
    return model


def main():
    started = time.monotonic()
    if not os.path.isfile(os.path.join(CORPUS, "reuters21578.jsonl")):
        raise SystemExit(f"bench: the corpus is not at {CORPUS} (set LODESTONE_CORPUS); nothing to measure")
    for path in (BIN, CORE):
        if not os.access(path, os.X_OK):
            raise SystemExit(f"bench: {path} is missing: run ./scripts/setup")
    tmp = tempfile.mkdtemp(prefix="lodestone-bench-")
    try:
        reuters = os.path.join(CORPUS, "reuters21578.jsonl")
        thuc = os.path.join(CORPUS, "thucnews.jsonl")
        if SMOKE:  # a slice of each corpus
            for src in (reuters, thuc):
                dst = os.path.join(tmp, os.path.basename(src))
                with open(src, "rb") as a, open(dst, "wb") as b:
                    for i, line in enumerate(a):
                        if i >= 2000:
                            break
                        b.write(line)
            reuters, thuc = os.path.join(tmp, "reuters21578.jsonl"), os.path.join(tmp, "thucnews.jsonl")
        ofac = os.path.join(tmp, "ofac.toml")
        with open(os.path.join(ROOT, "bench", "rules", "ofac.toml"), encoding="utf-8") as f:
            text = f.read().replace("../../../shared/corpus", CORPUS)
        with open(ofac, "w", encoding="utf-8") as f:
            f.write(text)
        w4 = {}
        for n in ((1000,) if SMOKE else (10000, 100000)):
            w4[n] = os.path.join(tmp, f"w4-{n}.toml")
            generate_terms(w4[n], n)
        pack = os.path.join(ROOT, "rules", "packs")
        plan = [("W1", pack, reuters, True), ("W2", pack, thuc, True), ("W3", ofac, reuters, True)]
        for n, path in w4.items():
            plan.append((f"W4-{n // 1000}k", path, reuters, n == 10000 or SMOKE))
        ws = [workload(name, rules, posts, tmp, prof) for name, rules, posts, prof in plan]
        log("watch latency")
        env = dict(os.environ)
        if SMOKE:
            env["SMOKE"] = "1"
        lat = run(["bash", os.path.join(ROOT, "bench", "watch_latency.sh")], env=env)
        if lat.code != 0:
            raise SystemExit(f"bench: bench/watch_latency.sh failed:\n{lat.out[-2000:]}\n{lat.err[-2000:]}")
        report = tables(ws, lat.out, started)
        print(report)
        for w in ws:  # anything a peer or the cross-check disagreed on
            for line in w["core_log"].splitlines():
                if "MISMATCH" in line or "differ" in line and "differ=0" not in line and "crosscheck" in line:
                    print(f"{w['name']}: {line}", file=sys.stderr)
        if "--write" in sys.argv[1:]:
            write_benchmarks(report)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_benchmarks(report):
    path = os.path.join(ROOT, "bench", "BENCHMARKS.md")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    begin, end = "<!-- bench:begin (scripts/bench --write) -->", "<!-- bench:end -->"
    if begin not in text or end not in text:
        raise SystemExit(f"bench: {path} has no {begin} ... {end} markers")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    with open(path, "w", encoding="utf-8") as f:
        f.write(head + begin + "\n" + report + end + tail)
    log(f"wrote {path}")


if __name__ == "__main__":
    main()
