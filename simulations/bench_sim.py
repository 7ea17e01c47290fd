#!/usr/bin/env python3
"""Scale benchmark of `actorrent sim` (deterministic mode).

Runs simulations/scenarios/large.ini (50 mirrors, one 64-piece file on the
mirrors, 100 faults on random mirrors and clients) at 1k, 10k and 100k
clients and prints, per size: wall time, events, events per second and peak
memory (VmHWM of the sim process), with the load average when it started.
The faults are spread over the arrivals: kill / kill-hard / restart / hang /
slow / corrupt of random targets, every 50 ms from +1s, healed at the end.

    simulations/bench_sim.py [--sizes 1000,10000,100000] [--timeout 900]
        [--faults 100] [--bin build/actorrent]
"""
import argparse
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def faults(n):
    kinds = ["kill random-mirror", "kill random-client", "restart random-client",
             "hang random-client", "slow random-client 0.2", "corrupt random-client",
             "kill-hard random-client", "kill random-mirror"]
    out = []
    for i in range(n):
        out.append('"+%dms %s"' % (1000 + 50 * i, kinds[i % len(kinds)]))
    out.append('"+%dms heal"' % (1000 + 50 * n + 5000))
    return "[" + ", ".join(out) + "]"


def run(binary, clients, nfaults, timeout):
    args = [binary, "sim", "--scenario",
            os.path.join(ROOT, "simulations/scenarios/large.ini"),
            "--set", "clients.count=%d" % (clients + 1),
            "--set", "faults.schedule=" + faults(nfaults)]
    load = os.getloadavg()[0]
    t0 = time.monotonic()
    try:
        p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout, text=True)
        out, code = p.stdout, p.returncode
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        code = "timeout"
    wall = time.monotonic() - t0
    m = re.search(r"virtual time (\d+) ms, (\d+) events, wall ([0-9.]+) s.*peak RSS (\d+) MiB", out)
    done = re.search(r"(\d+) of (\d+) downloading clients complete", out)
    return {
        "clients": clients, "code": code, "load": load, "wall": wall,
        "virtual_ms": int(m.group(1)) if m else None,
        "events": int(m.group(2)) if m else None,
        "rss_mib": int(m.group(4)) if m else None,
        "complete": "%s/%s" % (done.group(1), done.group(2)) if done else "-",
        "passed": "PASS" if out.rstrip().endswith("PASS") else "FAIL",
        "tail": "\n".join(out.strip().splitlines()[-12:]),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--faults", type=int, default=100)
    ap.add_argument("--timeout", type=int, default=900)
    ap.add_argument("--bin", default=os.environ.get(
        "ACTORRENT_BIN", os.path.join(ROOT, "build/actorrent")))
    a = ap.parse_args()
    rows = []
    for n in [int(x) for x in a.sizes.split(",")]:
        r = run(a.bin, n, a.faults, a.timeout)
        rows.append(r)
        eps = (r["events"] / r["wall"]) if r["events"] else 0
        print("%7d clients: wall %7.1f s, %s events, %s events/s, peak RSS %s MiB,"
              " virtual %s ms, complete %s, invariants %s, exit %s, load %.1f"
              % (n, r["wall"], r["events"], int(eps), r["rss_mib"], r["virtual_ms"],
                 r["complete"], r["passed"], r["code"], r["load"]), flush=True)
        if r["code"] not in (0, 1):
            print(r["tail"], flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
