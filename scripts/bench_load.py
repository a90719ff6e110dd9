#!/usr/bin/env python3
"""Load benchmark: Tollgate against the HTTP floor, at 1k and 1M entities, two request mixes.

Run through scripts/bench-load.sh (which builds the release binaries). The server gets core 0
and one worker, wrk gets core 1; a writer streams data writes during every Tollgate run so
caches are exercised. Prints one table and writes it to BENCHMARKS.md.
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOLLGATE = os.path.join(ROOT, "target/release/tollgate")
BASELINE = os.path.join(ROOT, "target/release/examples/baseline")
LOADGEN = os.path.join(ROOT, "target/release/examples/loadgen")
WRK_DIR = os.path.join(ROOT, "scripts/wrk")
ADMIN = "bench-admin-token-0123456789"
CLK = os.sysconf("SC_CLK_TCK")

ap = argparse.ArgumentParser()
ap.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
ap.add_argument("--connections", type=int, default=16)
ap.add_argument("--big-orgs", type=int, default=50_000)
ap.add_argument("--big-users", type=int, default=900_000)
ap.add_argument("--big-workspaces", type=int, default=50_000)
ap.add_argument("--writes-per-sec", type=int, default=50)
ap.add_argument("--out", default=os.path.join(ROOT, "BENCHMARKS.md"))
ap.add_argument("--work", default=None, help="directory for the stores (default: a temp dir)")
ap.add_argument("--tail-rate", type=float, default=0,
                help="only measure the tail: the distinct mix open loop at this rate, --tail-runs times "
                     "(prints p99 per run; BENCHMARKS.md is left alone)")
ap.add_argument("--tail-runs", type=int, default=3)
ap.add_argument("--tail-size", choices=["1k", "1M"], default="1k")
ap.add_argument("--tail-pool", default="0,0", help="org_pool,users_per_org (0,0 = the whole store)")
ap.add_argument("--repeating-only", action="store_true",
                help="only measure the repeating mix (1k and 1M) three times each and print the median server "
                     "CPU per decision (BENCHMARKS.md is left alone): the check after a decision-path change")
ap.add_argument("--mixes", default="repeating",
                help="with --repeating-only: the mixes to measure, comma-separated (repeating, distinct, forward)")
ap.add_argument("--tollgate", default=None, help="the tollgate binary to measure (default: target/release/tollgate)")
args = ap.parse_args()
if args.tollgate:
    TOLLGATE = os.path.abspath(args.tollgate)

work = args.work or tempfile.mkdtemp(prefix="tollgate-bench-")
os.makedirs(work, exist_ok=True)
SIZES = {
    "1k": (50, 900, 50),
    "1M": (args.big_orgs, args.big_users, args.big_workspaces),
}


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def seed(name, dims):
    db = os.path.join(work, f"{name}.db")
    if os.path.exists(db):
        return db
    data = os.path.join(work, f"{name}.jsonl")
    with open(data, "w") as f:
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts/gen_data.py"),
                        "--orgs", str(dims[0]), "--users", str(dims[1]), "--workspaces", str(dims[2])],
                       stdout=f, check=True)
    out = subprocess.run([TOLLGATE, "import", data, "--db", db], capture_output=True, text=True, check=True)
    log(f"seeded {name}: {out.stdout.strip()}")
    return db


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def wait_ready(url, timeout=30.0):
    start = time.time()
    while time.time() - start < timeout:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return time.time() - start
        except Exception:
            time.sleep(0.005)
    raise RuntimeError(f"{url} not ready")


class Server:
    def __init__(self, kind, db=None, port=18181, extra=()):
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        env = dict(os.environ, TOLLGATE_ADMIN_TOKEN=ADMIN, TOLLGATE_LOG="warn")
        if kind == "baseline":
            cmd = ["taskset", "-c", "0", BASELINE, f"127.0.0.1:{port}"]
            ready = f"{self.base}/v1/authorize"
        else:
            cmd = ["taskset", "-c", "0", TOLLGATE, "serve", "--listen", f"127.0.0.1:{port}", "--db", db, "--workers", "1", *extra]
            ready = f"{self.base}/readyz"
        t0 = time.time()
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if kind == "baseline":
            while True:
                try:
                    urllib.request.urlopen(urllib.request.Request(ready, data=b"{}", headers={"Content-Type": "application/json"}), timeout=1)
                except urllib.error.HTTPError:
                    break
                except Exception:
                    time.sleep(0.005)
            self.startup = time.time() - t0
        else:
            self.startup = wait_ready(ready) + 0.0

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Writer(threading.Thread):
    """Streams data writes (app usage counters) during a run, over one keep-alive connection
    as an app's client pool would."""

    def __init__(self, base, orgs, per_sec):
        super().__init__(daemon=True)
        self.base, self.orgs, self.per_sec = base, orgs, per_sec
        self.stop_flag = threading.Event()
        self.count = 0

    def run(self):
        import http.client
        import random
        rnd = random.Random(3)
        host, port = self.base.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=2)
        while not self.stop_flag.is_set():
            o = rnd.randrange(self.orgs)
            body = json.dumps({"current": rnd.randrange(0, 5)})
            try:
                conn.request("PUT", f"/v1/orgs/o{o}/usage/quota:project", body=body,
                             headers={"Content-Type": "application/json", "Authorization": f"Bearer {ADMIN}"})
                r = conn.getresponse()
                r.read()
                if r.status == 200:
                    self.count += 1
                else:
                    log("write answered", r.status)
            except Exception as e:
                log("write failed:", e)
                conn.close()
                conn = http.client.HTTPConnection(host, int(port), timeout=2)
            self.stop_flag.wait(1.0 / self.per_sec)


def to_ms(v):
    m = re.match(r"([\d.]+)(us|ms|s)", v)
    n, u = float(m.group(1)), m.group(2)
    return n / 1000 if u == "us" else n * 1000 if u == "s" else n


def wrk(server, script, dims, pool=(0, 0)):
    cmd = ["taskset", "-c", "1", "wrk", "-t1", f"-c{args.connections}", f"-d{args.duration}s", "--latency",
           "-s", os.path.join(WRK_DIR, script), server.base,
           "--", str(dims[0]), str(dims[1]), str(dims[2]), "1", "0", str(args.connections), str(pool[0]), str(pool[1])]
    t0 = cpu_ticks(server.proc.pid)
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    ticks = cpu_ticks(server.proc.pid) - t0
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rps,
        "p50": to_ms(lat["50"]),
        "p99": to_ms(lat["99"]),
        "cpu_us": ticks / CLK * 1e6 / max(total, 1),
        "non2xx": int(errors.group(1)) if errors else 0,
    }


def loadgen(server, mix, dims, rate, pool=(0, 0)):
    """Open-loop fixed rate (examples/loadgen.rs): latency counted from each request's intended
    send time, so a stalled server is not hidden by the load generator waiting for it."""
    cmd = ["taskset", "-c", "1", LOADGEN, "--addr", server.base.removeprefix("http://"), "--rate", str(int(rate)),
           "--connections", str(args.connections), "--duration", str(args.duration), "--mix", mix,
           "--orgs", str(dims[0]), "--users", str(dims[1]), "--workspaces", str(dims[2]),
           "--org-pool", str(pool[0]), "--users-per-org", str(pool[1])]
    t0 = cpu_ticks(server.proc.pid)
    out = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])
    ticks = cpu_ticks(server.proc.pid) - t0
    return {
        "rps": out["achieved_rate"],
        "p50": out["p50_ms"],
        "p99": out["p99_ms"],
        "cpu_us": ticks / CLK * 1e6 / max(out["completed"], 1),
        "non2xx": out["non_2xx"] + out["errors"],
    }


def run_case(kind, script, size=None, rate=0, writes=True, pool=(0, 0), extra=()):
    dims = SIZES[size or "1k"]
    db = seed(size, dims) if kind == "tollgate" else None
    s = Server(kind, db, extra=extra)
    writer = None
    try:
        # Warm up, then measure.
        subprocess.run(["taskset", "-c", "1", "wrk", "-t1", "-c4", "-d2s", "-s", os.path.join(WRK_DIR, script), s.base,
                        "--", str(dims[0]), str(dims[1]), str(dims[2]), "2", "0", "4", str(pool[0]), str(pool[1])],
                       capture_output=True, check=True)
        if kind == "tollgate" and writes:
            writer = Writer(s.base, pool[0] or dims[0], args.writes_per_sec)
            writer.start()
        if rate:
            r = loadgen(s, script.removesuffix(".lua"), dims, rate, pool)
        else:
            r = wrk(s, script, dims, pool)
        r["rss_mib"] = rss_kib(s.proc.pid) / 1024
        r["startup_ms"] = s.startup * 1000
        r["writes"] = writer.count if writer else 0
        return r
    finally:
        if writer:
            writer.stop_flag.set()
            writer.join()
        s.stop()


# The 1k store's working set (its 50 orgs and 18 members of each) drawn from the 1M store: the
# same requests on a store a thousand times bigger, which is what "stays flat" compares.
SAME_SET = (50, 18)
# Ten times more principals (500 orgs, 9,000 users) on the 1M store: about as many distinct
# requests as one run sends, so most are new to every cache; the ramp between the two.
WIDER_SET = (500, 18)
BEGIN, END = "<!-- bench-load:begin -->", "<!-- bench-load:end -->"
# The forward-auth mix's route file (scripts/wrk/forward.lua sends the repeating mix through it).
FORWARD_ROUTES = ("--routes", os.path.join(ROOT, "scripts/wrk/routes.toml"))


def tail_only():
    """The p99 experiments of BENCHMARKS.md: one case, open loop, several runs."""
    pool = tuple(int(x) for x in args.tail_pool.split(","))
    for _ in range(args.tail_runs):
        r = run_case("tollgate", "distinct.lua", args.tail_size, rate=args.tail_rate,
                     writes=args.writes_per_sec > 0, pool=pool)
        print(f"p50 {r['p50']:.3f} ms  p99 {r['p99']:.3f} ms  server CPU {r['cpu_us']:.1f} µs/decision  "
              f"{r['rps']:.0f} rps  {r['writes']} writes", flush=True)


def repeating_only():
    """Server CPU per decision on the chosen mixes (--mixes), median of three runs per store size."""
    for mix in args.mixes.split(","):
        for size in ["1k", "1M"]:
            quick_case(mix, size)


def quick_case(mix, size):
    """Three runs of one mix on one store size; prints the server CPU per decision."""
    if mix not in ("repeating", "distinct", "forward"):
        sys.exit(f"unknown mix `{mix}`")
    extra = FORWARD_ROUTES if mix == "forward" else ()
    runs = sorted((run_case("tollgate", f"{mix}.lua", size, extra=extra) for _ in range(3)), key=lambda r: r["cpu_us"])
    print(f"tollgate {size} {mix}: server CPU " + " / ".join(f"{r['cpu_us']:.1f}" for r in runs)
          + f" µs/decision (median {runs[1]['cpu_us']:.1f}), {runs[1]['rps']:.0f} rps, "
          f"{sum(r['writes'] for r in runs)} writes", flush=True)


def main():
    # This script's own threads (the write stream) are clients too: they run on the load
    # generator's core, not on the server's.
    os.sched_setaffinity(0, {1})
    for tool in ["wrk", "taskset"]:
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing (apt-get install wrk util-linux)")
    if args.tail_rate:
        return tail_only()
    if args.repeating_only:
        return repeating_only()
    results = {}
    for mix, script in [("distinct", "distinct.lua"), ("repeating", "repeating.lua")]:
        log(f"baseline {mix}")
        results[("baseline", mix)] = run_case("baseline", script)
        for size in ["1k", "1M"]:
            log(f"tollgate {size} {mix}")
            results[(size, mix)] = run_case("tollgate", script, size)
    for size in ["1k", "1M"]:
        log(f"tollgate {size} forward auth (the repeating mix through /v1/forward-auth)")
        results[(size, "forward")] = run_case("tollgate", "forward.lua", size, extra=FORWARD_ROUTES)
    log("tollgate 1M distinct, the 1k working set")
    results[("1M", "same")] = run_case("tollgate", "distinct.lua", "1M", pool=SAME_SET)
    log("tollgate 1M distinct, 9k principals")
    results[("1M", "wider")] = run_case("tollgate", "distinct.lua", "1M", pool=WIDER_SET)
    log("tollgate distinct without the decision cache")
    results[("1k", "nocache")] = run_case("tollgate", "distinct.lua", "1k", extra=["--no-decision-cache"])
    results[("1M", "nocache")] = run_case("tollgate", "distinct.lua", "1M", pool=SAME_SET, extra=["--no-decision-cache"])
    log("tollgate batch of 50")
    results[("1k", "batch")] = run_case("tollgate", "batch.lua", "1k")
    results[("1M", "batch")] = run_case("tollgate", "batch.lua", "1M")
    results[("baseline", "batch")] = run_case("baseline", "batch.lua")
    # p99 at half of Tollgate's peak: open loop, fixed rate; three runs each, the median kept
    # (this VM's tail is noisy: the floor's own p99 ranges 0.4-2.8 ms between runs), and the
    # floor at the same rate as a control.
    tails = {}

    def median_of_3(key, *a, **kw):
        runs = sorted((run_case(*a, **kw) for _ in range(3)), key=lambda r: r["p99"])
        tails[key] = [r["p99"] for r in runs]
        results[key] = runs[1]

    for size in ["1k", "1M"]:
        peak = results[(size, "distinct")]["rps"]
        log(f"tollgate {size} distinct at half peak ({peak / 2:.0f} rps)")
        median_of_3((size, "half"), "tollgate", "distinct.lua", size, rate=peak / 2)
    peak = results[("1M", "same")]["rps"]
    log(f"tollgate 1M distinct (1k working set) at half peak ({peak / 2:.0f} rps)")
    median_of_3(("1M", "half-same"), "tollgate", "distinct.lua", "1M", rate=peak / 2, pool=SAME_SET)
    rate = results[("1k", "distinct")]["rps"] / 2
    log(f"baseline distinct at tollgate 1k's half peak ({rate:.0f} rps)")
    median_of_3(("baseline", "half"), "baseline", "distinct.lua", rate=rate)

    def row(name, r, per=1):
        return f"| {name} | {r['rps'] * per:,.0f} | {r['p50']:.3f} | {r['p99']:.3f} | {r['cpu_us'] / per:.1f} | {r['non2xx']} |"

    lines = []
    lines.append("| run | decisions/s | p50 ms | p99 ms | server CPU µs/decision | non-2xx |")
    lines.append("|---|---|---|---|---|---|")
    for mix in ["distinct", "repeating"]:
        lines.append(row(f"baseline, {mix}", results[("baseline", mix)]))
        for size in ["1k", "1M"]:
            what = f"tollgate {size}, {mix}" + (" (whole store: 900k principals)" if (size, mix) == ("1M", "distinct") else "")
            lines.append(row(what, results[(size, mix)]))
        if mix == "distinct":
            lines.append(row("tollgate 1M, distinct, the 1k working set", results[("1M", "same")]))
            lines.append(row("tollgate 1M, distinct, 9k principals (500 orgs)", results[("1M", "wider")]))
    for size in ["1k", "1M"]:
        lines.append(row(f"tollgate {size}, forward auth (the repeating mix through /v1/forward-auth)", results[(size, "forward")]))
    lines.append(row("tollgate 1k, distinct, no decision cache", results[("1k", "nocache")]))
    lines.append(row("tollgate 1M, distinct, the 1k working set, no decision cache", results[("1M", "nocache")]))
    lines.append(row("baseline, batch of 50", results[("baseline", "batch")], 50))
    for size in ["1k", "1M"]:
        lines.append(row(f"tollgate {size}, batch of 50", results[(size, "batch")], 50))
    for size in ["1k", "1M"]:
        lines.append(row(f"tollgate {size}, distinct at half peak (open loop, fixed rate)", results[(size, "half")]))
    lines.append(row("tollgate 1M, distinct, the 1k working set, at half peak (open loop)", results[("1M", "half-same")]))
    lines.append(row("baseline, distinct, at tollgate 1k's half-peak rate (open loop)", results[("baseline", "half")]))

    def cpu_ratio(a, b):
        return results[a]["cpu_us"] / results[b]["cpu_us"]

    ratios = []
    for mix in ["distinct", "repeating"]:
        b = results[("baseline", mix)]["rps"]
        for size in ["1k", "1M"]:
            ratios.append(f"- Tollgate {size} / baseline, {mix}: {results[(size, mix)]['rps'] / b:.2f}")
        if mix == "distinct":
            ratios.append(f"- Tollgate 1M (1k working set) / baseline, distinct: {results[('1M', 'same')]['rps'] / b:.2f}")
            ratios.append(f"- Tollgate 1M (9k principals) / baseline, distinct: {results[('1M', 'wider')]['rps'] / b:.2f}")
    ratios.append(f"- per-decision CPU 1M / 1k, distinct, same requests: {cpu_ratio(('1M', 'same'), ('1k', 'distinct')):.2f}")
    ratios.append(f"- per-decision CPU 1M / 1k, distinct, same requests, no decision cache: {cpu_ratio(('1M', 'nocache'), ('1k', 'nocache')):.2f}")
    ratios.append(f"- per-decision CPU 1M / 1k, repeating: {cpu_ratio(('1M', 'repeating'), ('1k', 'repeating')):.2f}")
    for size in ["1k", "1M"]:
        ratios.append(f"- per-decision CPU forward auth / /v1/authorize, same requests, {size}: "
                      f"{cpu_ratio((size, 'forward'), (size, 'repeating')):.2f}")
    ratios.append(f"- per-decision CPU 1M (whole store) / 1k, distinct: {cpu_ratio(('1M', 'distinct'), ('1k', 'distinct')):.2f}")
    for key, name in [(("1k", "half"), "tollgate 1k"), (("1M", "half"), "tollgate 1M"),
                      (("1M", "half-same"), "tollgate 1M, 1k working set"), (("baseline", "half"), "baseline")]:
        ratios.append(f"- p99 at half peak, three runs, {name}: " + " / ".join(f"{p:.2f}" for p in tails[key]) + " ms")
    ratios.append(f"- resident memory serving the 1M store: {max(r['rss_mib'] for k, r in results.items() if k[0] == '1M'):.0f} MiB (largest of the 1M runs)")
    ratios.append(f"- start-up to ready with the 1M store: {max(r['startup_ms'] for k, r in results.items() if k[0] == '1M'):.0f} ms (slowest of the 1M runs)")
    writes = sum(r.get("writes", 0) for r in results.values())
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), cpu)
    except OSError:
        pass
    header = (f"Measured {datetime.date.today().isoformat()} on {os.cpu_count()} cores ({cpu}), "
              f"{platform.system()} {platform.release()}; server pinned to core 0 with one worker, load generator on "
              f"core 1, {args.connections} connections, {args.duration} s per run, {args.writes_per_sec} data writes/s "
              f"during every Tollgate run ({writes} in all). Stores: 1k = {sum(SIZES['1k'])} entities, "
              f"1M = {sum(SIZES['1M'])} entities (scripts/gen_data.py).")
    table = "\n".join(lines)
    block = header + "\n\n" + table + "\n\n" + "\n".join(ratios) + "\n"
    print(block)
    # The generated block replaces the previous one; the analysis around it is kept.
    old = open(args.out).read() if os.path.exists(args.out) else ""
    if BEGIN in old and END in old:
        text = old[:old.index(BEGIN) + len(BEGIN)] + "\n" + block + old[old.index(END):]
    else:
        text = f"# Benchmarks\n\nProduced by `scripts/bench-load.sh`.\n\n{BEGIN}\n{block}{END}\n" + old
    with open(args.out, "w") as f:
        f.write(text)
    json.dump({f"{k[0]}/{k[1]}": v for k, v in results.items()}, open(os.path.join(work, "results.json"), "w"), indent=1)


main()
