#!/usr/bin/python3
"""The pyahocorasick peer of bench_core (issue 5): every occurrence of every term, one post a line.

    bench/peers/ahocorasick_peer.py TERMS TEXT [--repeat N]

(/usr/bin/python3: the Debian package python3-ahocorasick installs the module for it.)
TERMS and TEXT are what `bench_core --peer-terms TERMS --peer-text TEXT` writes: one literal term
a line, and one post a line (its fields normalized and joined with " \\x1f "). Both are read as
UTF-8 and matched as str. The automaton reports every occurrence, overlapping ones included, as
Hyperscan does; a post counts when it holds at least one. Prints, for a script to parse:

    result name=ahocorasick build_seconds=.. seconds=<median scan> posts_with_hit=.. hits=..
"""
import argparse
import statistics
import sys
import time

import ahocorasick


def read_lines(path):
    # Split on "\n" only: str.splitlines() would also split on \x1c..\x1e, \x85, U+2028, ...
    with open(path, "rb") as f:
        data = f.read().decode("utf-8")
    lines = data.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def scan(automaton, lines):
    posts_with_hit = 0
    hits = 0
    for line in lines:
        n = 0
        for _ in automaton.iter(line):
            n += 1
        if n:
            posts_with_hit += 1
            hits += n
    return posts_with_hit, hits


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("terms")
    parser.add_argument("text")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    terms = [t for t in read_lines(args.terms) if t]
    lines = read_lines(args.text)

    start = time.perf_counter()
    automaton = ahocorasick.Automaton()
    for i, term in enumerate(terms):
        automaton.add_word(term, i)
    automaton.make_automaton()
    build_seconds = time.perf_counter() - start

    times = []
    result = (0, 0)
    for _ in range(max(1, args.repeat)):
        start = time.perf_counter()
        result = scan(automaton, lines)
        times.append(time.perf_counter() - start)
    print(f"ahocorasick: {len(terms)} terms, {len(lines)} posts", file=sys.stderr)
    print(f"result name=ahocorasick build_seconds={build_seconds:.6f} seconds={statistics.median(times):.6f} "
          f"posts_with_hit={result[0]} hits={result[1]}")


if __name__ == "__main__":
    main()
