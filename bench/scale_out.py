#!/usr/bin/python3
"""Scale-out on Redis Streams (issue 13), on this machine, against a redis-server of its own.

Throughput: Reuters-21578 (20,841 posts) and the shipped pack, end to end to the file notifier:
  - one watcher reading the posts from a file (a directory source; workers = 2): the baseline;
  - a collector (directory source, forward = redis) XADDing them, and 1, 2 and 3 matchers in one
    group (workers = 1 each), each with its own state and file notifier.
Each run starts its processes on an empty state, waits until they are ready, drops the JSONL file
into the inbox, and times until every post is committed (the sum of lodestone_posts_total over
the matchers) and every alert `lodestone scan` gives is in the alert files.

Latency: posts XADDed straight to the stream at 1,000 posts/s for 10 s (every 10th carries the
probe word of a rule of its own), 1 and 3 matchers, a webhook receiver in this process: XADD to
webhook arrival, p50 and p99.

  bench/scale_out.py            (after ./scripts/setup; about 2 minutes)
  SMOKE=1 bench/scale_out.py    (CI: 2,000 posts, 2 s of latency; checks only that it works)

Prints a Markdown table. Needs build/lodestone, redis-server, python3-redis, ../shared/corpus.
"""
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import redis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("LODESTONE_BIN", os.path.join(ROOT, "build", "lodestone"))
CORPUS = os.environ.get("LODESTONE_CORPUS", os.path.join(ROOT, "..", "shared", "corpus"))
SMOKE = os.environ.get("SMOKE") == "1"
PACK = os.path.join(ROOT, "rules", "packs", "critical-minerals.toml")
PROBE_RULE = '[[rule]]\nid = "latency-probe"\ntitle = "Latency probe"\nmatch = "lodestoneprobe"\n'


def log(msg):
    print(f"scale_out: {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check, seconds, what):
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        if check():
            return
        time.sleep(0.02)
    raise SystemExit(f"scale_out: timed out waiting for {what}")


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status, r.read().decode()
    except Exception:  # not up yet, or 503
        return 0, ""


def metric_sum(admin, family, **labels):
    _, text = get(f"http://127.0.0.1:{admin}/metrics")
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(family + "{"):
            continue
        series, value = line.rsplit(" ", 1)
        if all(f'{k}="{v}"' in series for k, v in labels.items()):
            total += float(value)
    return total


class Redis:
    """A redis-server on a free loopback port, no persistence, in `tmp`."""

    def __init__(self, tmp):
        self.port = free_port()
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", tmp, "--logfile", os.path.join(tmp, "redis.log")])
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.client = redis.Redis(port=self.port)
        wait_for(self._ping, 10, "redis-server")

    def _ping(self):
        try:
            return self.client.ping()
        except redis.exceptions.ConnectionError:
            return False

    def stop(self):
        self.proc.kill()
        self.proc.wait()


class Watcher:
    def __init__(self, folder, config):
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, "lodestone.toml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(config)
        self.log = open(os.path.join(folder, "watch.log"), "wb")
        self.proc = subprocess.Popen([BIN, "watch", "-c", path], stdout=subprocess.DEVNULL, stderr=self.log)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def head(admin, rules, cache):
    rules_line = "" if rules is None else f"rules = {json.dumps(rules)}\n"
    return (f"[lodestone]\n{rules_line}state = \"state.db\"\nadmin = \"127.0.0.1:{admin}\"\n"
            f"cache_dir = {json.dumps(cache)}\nwatch_rules = false\nlog_level = \"warn\"\n")


def file_notifier():
    return '[[notifier]]\nname = "out"\ntype = "file"\npath = "alerts.jsonl"\nfsync = false\n'


def matcher_config(admin, url, consumer, rules, cache, extra=""):
    return (head(admin, rules, cache) + "workers = 1\n"
            f"[[source]]\nname = \"posts\"\ntype = \"redis\"\nurl = {json.dumps(url)}\nstream = \"posts\"\n"
            f"group = \"matchers\"\nconsumer = \"{consumer}\"\nblock = \"0.1s\"\n" + extra)


def alert_ids(folders):
    ids = set()
    for folder in folders:
        path = os.path.join(folder, "alerts.jsonl")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                for line in f:
                    if line.endswith("\n"):
                        ids.add(json.loads(line)["id"])
    return ids


def throughput(tmp, posts, expected, n_posts, matchers, cache, drain=False):
    """Seconds from the file dropped into the inbox to every post committed and every alert written,
    and to the collector's last XADD (None without one). `drain`: no collector; every post is XADDed
    at once (one MULTI ... EXEC) once the matchers are ready, and timed from the EXEC."""
    run = tempfile.mkdtemp(dir=tmp)
    procs, admins, folders = [], [], []
    red = None
    try:
        if matchers == 0:
            admin = free_port()
            folder = os.path.join(run, "watcher")
            os.makedirs(os.path.join(folder, "inbox"))
            procs.append(Watcher(folder, head(admin, [PACK], cache) + "workers = 2\n"
                                 "[[source]]\nname = \"inbox\"\ntype = \"directory\"\npath = \"inbox\"\n"
                                 + file_notifier()))
            admins.append(admin)
            folders.append(folder)
            inbox = os.path.join(folder, "inbox")
        else:
            red = Redis(run)
            for m in range(matchers):
                admin = free_port()
                folder = os.path.join(run, f"m{m}")
                procs.append(Watcher(folder, matcher_config(admin, red.url, f"m{m}", [PACK], cache) + file_notifier()))
                admins.append(admin)
                folders.append(folder)
        if matchers and drain:
            for admin in admins:
                wait_for(lambda: get(f"http://127.0.0.1:{admin}/readyz")[0] == 200, 120, "a matcher")
            with open(posts, encoding="utf-8") as f:
                entries = [line.strip() for line in f if line.strip()]
            pipe = red.client.pipeline(transaction=True)
            for e in entries:
                pipe.xadd("posts", {"post": e})
            pipe.execute()
            start = time.monotonic()
        elif matchers:
            c_admin = free_port()
            collector = os.path.join(run, "collector")
            os.makedirs(os.path.join(collector, "inbox"))
            procs.append(Watcher(collector, head(c_admin, None, cache) + f"forward = {json.dumps(red.url)}\n"
                                 "forward_stream = \"posts\"\n"
                                 "[[source]]\nname = \"inbox\"\ntype = \"directory\"\npath = \"inbox\"\n"))
            inbox = os.path.join(collector, "inbox")
            wait_for(lambda: get(f"http://127.0.0.1:{c_admin}/readyz")[0] == 200, 60, "the collector")
        if not drain:
            for admin in admins:
                wait_for(lambda: get(f"http://127.0.0.1:{admin}/readyz")[0] == 200, 120, "a watcher")
            start = time.monotonic()
            shutil.copy(posts, os.path.join(inbox, ".posts.jsonl.tmp"))
            os.rename(os.path.join(inbox, ".posts.jsonl.tmp"), os.path.join(inbox, "posts.jsonl"))

        forwarded = []

        def done():
            if red and not drain and not forwarded and red.client.xlen("posts") >= n_posts:
                forwarded.append(time.monotonic() - start)
            committed = sum(metric_sum(a, "lodestone_posts_total", outcome="new") for a in admins)
            return committed >= n_posts and alert_ids(folders) >= expected

        wait_for(done, 600, "every post and alert")
        seconds = time.monotonic() - start
        if alert_ids(folders) != expected:
            raise SystemExit("scale_out: the alerts differ from lodestone scan's")
        return seconds, (forwarded[0] if forwarded else None)
    finally:
        for p in procs:
            p.stop()
        if red:
            red.stop()


class Receiver(http.server.BaseHTTPRequestHandler):
    arrivals = {}
    lock = threading.Lock()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        now = time.monotonic()
        post_id = json.loads(body)["data"]["post"]["id"]
        with Receiver.lock:
            Receiver.arrivals.setdefault(post_id, now)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def latency(tmp, lines, matchers, cache, rate=1000, seconds=10):
    """p50 and p99 in ms from XADD to the webhook, for the probe posts, at `rate` posts/s."""
    run = tempfile.mkdtemp(dir=tmp)
    red = Redis(run)
    hook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    Receiver.arrivals = {}
    probe = os.path.join(run, "probe.toml")
    with open(probe, "w", encoding="utf-8") as f:
        f.write(PROBE_RULE)
    procs, admins = [], []
    try:
        for m in range(matchers):
            admin = free_port()
            procs.append(Watcher(os.path.join(run, f"m{m}"), matcher_config(
                admin, red.url, f"m{m}", [PACK, probe], cache,
                f"[[notifier]]\nname = \"hook\"\ntype = \"webhook\"\n"
                f"url = \"http://127.0.0.1:{hook.server_address[1]}/hook\"\n")))
            admins.append(admin)
        for admin in admins:
            wait_for(lambda: get(f"http://127.0.0.1:{admin}/readyz")[0] == 200, 120, "a matcher")
        sent = {}
        total = int(rate * seconds)
        t0 = time.monotonic()
        for i in range(total):
            due = t0 + i / rate
            while time.monotonic() < due:
                time.sleep(max(0.0, min(0.001, due - time.monotonic())))
            post = json.loads(lines[i % len(lines)])
            post["id"] = f"lat-{i}"
            if i % 10 == 0:
                post["body"] = post.get("body", "") + " lodestoneprobe"
                sent[post["id"]] = time.monotonic()
            red.client.xadd("posts", {"post": json.dumps(post)})
        achieved = total / (time.monotonic() - t0)
        wait_for(lambda: len(Receiver.arrivals) >= len(sent), 60, "the probe alerts")
        lat = sorted((Receiver.arrivals[k] - sent[k]) * 1000 for k in sent)
        return lat[len(lat) // 2], lat[min(len(lat) - 1, int(len(lat) * 0.99))], achieved
    finally:
        for p in procs:
            p.stop()
        hook.shutdown()
        red.stop()


def main():
    reuters = os.path.join(CORPUS, "reuters21578.jsonl")
    if not os.path.isfile(reuters):
        raise SystemExit(f"scale_out: the corpus is not at {CORPUS} (set LODESTONE_CORPUS)")
    if not shutil.which("redis-server"):
        raise SystemExit("scale_out: redis-server is not installed (scripts/setup installs it)")
    tmp = tempfile.mkdtemp(prefix="lodestone-scale-")
    try:
        with open(reuters, encoding="utf-8") as f:
            lines = [line for line in f if line.strip()]
        if SMOKE:
            lines = lines[:2000]
        posts = os.path.join(tmp, "posts.jsonl")
        with open(posts, "w", encoding="utf-8") as f:
            f.writelines(lines)
        scan = subprocess.run([BIN, "scan", "-r", PACK, posts], capture_output=True, text=True)
        expected = {json.loads(line)["id"] for line in scan.stdout.splitlines()}
        cache = os.path.join(tmp, "cache")
        rows = []
        for matchers in (0, 1, 2, 3):
            seconds, forwarded = throughput(tmp, posts, expected, len(lines), matchers, cache)
            rows.append((matchers, seconds, forwarded, False))
            log(f"{matchers or 'file'}: {len(lines) / seconds:.0f} posts/s ({seconds:.2f} s)")
        for matchers in (1, 2, 3):
            seconds, _ = throughput(tmp, posts, expected, len(lines), matchers, cache, drain=True)
            rows.append((matchers, seconds, None, True))
            log(f"{matchers} draining: {len(lines) / seconds:.0f} posts/s ({seconds:.2f} s)")
        lat = []
        for matchers in (1, 3):
            p50, p99, achieved = latency(tmp, lines, matchers, cache, seconds=2 if SMOKE else 10)
            lat.append((matchers, p50, p99, achieved))
            log(f"latency, {matchers} matchers: p50 {p50:.1f} ms, p99 {p99:.1f} ms at {achieved:.0f} posts/s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    base = rows[0][1]
    out = [f"Reuters-21578 ({len(lines):,} posts) and the shipped pack, {len(expected)} alerts, on "
           f"{os.cpu_count()} cores; one run of `bench/scale_out.py`.", "",
           "| | seconds | posts/s end to end | / one watcher from a file | collector's last XADD at |",
           "|---|---|---|---|---|"]
    for matchers, seconds, forwarded, drained in rows:
        plural = "s" if matchers > 1 else ""
        label = "one watcher, directory source, 2 workers" if matchers == 0 else \
            f"{matchers} matcher{plural} draining the stream (1 worker each)" if drained else \
            f"collector + {matchers} matcher{plural} (1 worker each)"
        at = "" if forwarded is None else f"{forwarded:.2f} s"
        out.append(f"| {label} | {seconds:.2f} | {len(lines) / seconds:,.0f} | {base / seconds:.2f}× | {at} |")
    out += ["", "| matchers | XADD rate (posts/s) | XADD → webhook p50 ms | p99 ms |", "|---|---|---|---|"]
    for matchers, p50, p99, achieved in lat:
        out.append(f"| {matchers} | {achieved:,.0f} | {p50:.1f} | {p99:.1f} |")
    print("\n".join(out))


if __name__ == "__main__":
    main()
