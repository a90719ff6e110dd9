#!/usr/bin/env python3
"""Instructions per decision, counted by callgrind: a figure that does not move with the noise of
a shared VM (server CPU time spreads by ±15% between runs here, more than the 5% a refactoring
may cost), so two builds can be compared on one machine even while it does other work.

The server runs under `valgrind --tool=callgrind` with one worker on the 1k store of
scripts/bench_load.py (seeded the same way, into --work); wrk warms it up, the counters are
zeroed (`callgrind_control -z`), wrk sends the mix for --duration seconds, and the counters are
dumped. Instructions per decision = the dumped total over the requests wrk completed. No write
stream runs: the figure is the decision path alone.

    python3 scripts/bench_instructions.py --tollgate A --tollgate B [--mix repeating] [--runs 2]
"""
import argparse
import glob
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WRK_DIR = os.path.join(ROOT, "scripts/wrk")
DIMS = (50, 18, 5)  # scripts/bench_load.py's 1k store

ap = argparse.ArgumentParser()
ap.add_argument("--tollgate", action="append", required=True, help="a binary to measure (repeatable)")
ap.add_argument("--mix", default="repeating", help="a script of scripts/wrk without .lua")
ap.add_argument("--duration", type=int, default=15, help="seconds of counted load per run")
ap.add_argument("--runs", type=int, default=2, help="runs per binary, alternating")
ap.add_argument("--work", default=None, help="directory for the stores (default: a temp dir)")
ap.add_argument("--port", type=int, default=18191)
ap.add_argument("--no-decision-cache", action="store_true",
                help="serve with --no-decision-cache: every decision evaluated (the uncached path)")
ap.add_argument("--keep", action="store_true", help="keep the callgrind dumps (for callgrind_annotate) and print their paths")
args = ap.parse_args()

for tool in ["valgrind", "callgrind_control", "wrk"]:
    if not shutil.which(tool):
        sys.exit(f"{tool} is missing (apt-get install valgrind wrk)")
work = args.work or tempfile.mkdtemp(prefix="tollgate-instr-")
os.makedirs(work, exist_ok=True)


def seed(binary):
    # One store per binary: a newer build migrates the file, and an older one then refuses it.
    tag = hashlib.sha256(os.path.abspath(binary).encode()).hexdigest()[:8]
    db = os.path.join(work, f"instr-1k-{tag}.db")
    if not os.path.exists(db):
        data = os.path.join(work, "instr-1k.jsonl")
        with open(data, "w") as f:
            subprocess.run([sys.executable, os.path.join(ROOT, "scripts/gen_data.py"), "--orgs", str(DIMS[0]),
                            "--users", str(DIMS[1]), "--workspaces", str(DIMS[2])], stdout=f, check=True)
        subprocess.run([binary, "import", data, "--db", db], capture_output=True, check=True)
    return db


def wrk(seconds, connections, base):
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s",
                          os.path.join(WRK_DIR, f"{args.mix}.lua"), base, "--", *map(str, DIMS), "1", "0",
                          str(connections), "0", "0"], capture_output=True, text=True, check=True).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    # Forward auth answers a deny as a 403 and a 402 as a 402; /v1/authorize answers 200.
    if errors and args.mix != "forward":
        sys.exit(f"wrk saw {errors.group(1)} non-2xx answers")
    return int(re.search(r"(\d+) requests in", out).group(1))


def measure(binary):
    db = seed(binary)
    out = tempfile.mkdtemp(prefix="cg-", dir=work)
    base = f"http://127.0.0.1:{args.port}"
    env = dict(os.environ, TOLLGATE_ADMIN_TOKEN="bench-admin-token-0123456789", TOLLGATE_LOG="warn")
    # The forward-auth mix needs its route file.
    extra = ["--routes", os.path.join(ROOT, "scripts/wrk/routes.toml")] if args.mix == "forward" else []
    if args.no_decision_cache:
        extra.append("--no-decision-cache")
    proc = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}/cg.%p",
                             binary, "serve", "--listen", f"127.0.0.1:{args.port}", "--db", db, "--workers", "1",
                             *extra],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{base}/readyz", timeout=5) as r:
                    if r.status == 200:
                        break
            except Exception:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
        wrk(5, 4, base)
        subprocess.run(["callgrind_control", "-z", str(proc.pid)], capture_output=True, check=True)
        n = wrk(args.duration, 16, base)
        subprocess.run(["callgrind_control", "-d", str(proc.pid)], capture_output=True, check=True)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    # The dump after zeroing holds only the counted window; the final dump at exit holds only
    # what ran after it.
    dumps = sorted(glob.glob(f"{out}/cg.*.1"))
    if not dumps:
        sys.exit(f"no callgrind dump in {out}")
    total = 0
    with open(dumps[0]) as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                total = int(line.split()[1])
                break
    if args.keep:
        print(f"callgrind dump: {dumps[0]}", flush=True)
    else:
        shutil.rmtree(out, ignore_errors=True)
    return total / max(n, 1), n


results = {b: [] for b in args.tollgate}
for _ in range(args.runs):
    for b in args.tollgate:
        per, n = measure(b)
        results[b].append(per)
        print(f"{b}: {per:,.0f} instructions/decision over {n} decisions", flush=True)
first = sorted(results[args.tollgate[0]])[len(results[args.tollgate[0]]) // 2]
for b, runs in results.items():
    med = sorted(runs)[len(runs) // 2]
    print(f"{os.path.basename(b)} {args.mix}: " + " / ".join(f"{r:,.0f}" for r in runs)
          + f" instructions/decision (median {med:,.0f}, {100 * (med / first - 1):+.1f}% against the first)")
