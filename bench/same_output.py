#!/usr/bin/env python3
"""Whether two lodestone binaries give the same output, byte for byte, on every workload.

A change meant to keep output (a move, a speed-up) is checked with this before it lands:

  bench/same_output.py OLD_BINARY NEW_BINARY      # e.g. a copy of build/lodestone made before

For each workload of bench/BENCHMARKS.md (W1 Reuters + pack, W2 THUCNews + pack, W3 Reuters + SDN,
W4-10k Reuters + generated terms) and the examples it runs `lodestone scan` with a fixed
`--now` on one worker and on two, as JSON and as text, plus `check` on the example config and a
broken rule file, and compares stdout, stderr and the exit code of the two binaries. Prints one line a
case and exits 1 when any differs. Needs ../shared/corpus (LODESTONE_CORPUS overrides) and
wamerican for W4; without them those cases are skipped, and said to be.
"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as bench  # noqa: E402  (bench/run.py: its corpus path and W4's term generator)

NOW = "2026-01-01T00:00:00Z"


def cases(tmp):
    root, corpus = bench.ROOT, bench.CORPUS
    reuters = os.path.join(corpus, "reuters21578.jsonl")
    thuc = os.path.join(corpus, "thucnews.jsonl")
    pack = os.path.join(root, "rules", "packs")
    ofac = os.path.join(root, "bench", "rules", "ofac.toml")
    out = [
        ("examples: the config on the inbox", ["scan", "--now", NOW, "-c", "examples/lodestone.toml",
                                               "examples/inbox/posts.jsonl"]),
        ("examples: text", ["scan", "--now", NOW, "--format", "text", "--color", "always", "-r", pack,
                            "examples/inbox/posts.jsonl"]),
        ("check: the example config", ["check", "--no-cache", "-c", "examples/lodestone.toml"]),
        ("check: a broken rule file", ["check", "--no-cache", pack, "tests/data/rules/broken.toml"]),
    ]
    if not os.path.exists(reuters):
        print(f"skipped: the corpus workloads (no corpus at {corpus}; set LODESTONE_CORPUS)")
        return out
    workloads = [("W1", pack, reuters), ("W2", pack, thuc), ("W3", ofac, reuters), ("W3-zh", ofac, thuc)]
    if os.path.exists("/usr/share/dict/american-english"):
        w4 = os.path.join(tmp, "w4-10k.toml")
        bench.generate_terms(w4, 10000)
        workloads.append(("W4-10k", w4, reuters))
    else:
        print("skipped: W4 (no /usr/share/dict/american-english; apt-get install wamerican)")
    for name, rules, posts in workloads:
        for workers in ("1", "2"):
            out.append((f"{name} -j{workers}", ["scan", "--now", NOW, "-j", workers, "-r", rules, posts]))
        out.append((f"{name} text", ["scan", "--now", NOW, "--format", "text", "--color", "never", "-r", rules,
                                     posts]))
    return out


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    old, new = (os.path.abspath(b) for b in sys.argv[1:])
    differ = 0
    with tempfile.TemporaryDirectory(prefix="lodestone-same-") as tmp:
        for name, args in cases(tmp):
            got = []
            for binary in (old, new):
                cache = os.path.join(tmp, "cache-" + ("old" if binary == old else "new"))
                env = dict(os.environ, LODESTONE_CACHE_DIR=cache)
                p = subprocess.run([binary] + args, cwd=bench.ROOT, env=env, capture_output=True)
                got.append((p.returncode, p.stdout, p.stderr))
            same = got[0] == got[1]
            differ += not same
            lines = [g[1].count(b"\n") for g in got]
            what = "same" if same else "DIFFERENT"
            detail = f"{lines[0]} lines, exit {got[0][0]}"
            if not same:
                part = "stdout" if got[0][1] != got[1][1] else "stderr" if got[0][2] != got[1][2] else "exit code"
                detail += f" / {lines[1]} lines, exit {got[1][0]} ({part} differs)"
            print(f"{what}  {name}: {detail}")
    print(f"{differ} of the cases differ" if differ else "every case is the same")
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
