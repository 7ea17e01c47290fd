#!/usr/bin/env python3
"""Tracker benchmark, on loopback, in one run.

  python3 simulations/bench_trackers.py [--peers 1000] [--seconds 10]
                                        [--threads 16] [--json FILE]

Starts a throwaway PostgreSQL server (initdb as the postgres account in a
temporary directory, Unix socket only, a direct child of this script) and
tracker processes, and drives them with build/tracker_load (simulated peers
speaking the tracker protocol: a signed announce of one file of 64 pieces
each, then haves of one piece each, `threads` requests in flight; the
trackers run with offline-ms 60 s since the simulated peers send no
heartbeats besides their haves). Measures:
  - announce and have throughput and p50/p99 latency of one tracker on
    SQLite, one on PostgreSQL, two on PostgreSQL (peers split over both);
  - reference: pgbench on the same server, `threads` clients running the
    same shape of write as a have (read a row, write it back, in one
    SERIALIZABLE transaction), transactions per second: the have rate as
    a ratio of it;
  - failover: two trackers on PostgreSQL, every peer on the first; it is
    SIGKILLed, and the time from the kill to the last peer announced to
    the second one.
Every process it starts is stopped at the end, also on failure.
"""
import argparse
import ctypes
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("ACTORRENT_BIN", os.path.join(ROOT, "build", "actorrent"))
LOAD = os.path.join(ROOT, "build", "tracker_load")
procs = []


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def pg_bin():
    base = "/usr/lib/postgresql"
    versions = sorted((d for d in os.listdir(base)
                       if os.path.exists(os.path.join(base, d, "bin", "postgres"))),
                      key=lambda v: int(v))
    if not versions:
        sys.exit("error: no PostgreSQL under /usr/lib/postgresql"
                 " (scripts/install-deps.sh)")
    return os.path.join(base, versions[-1], "bin")


def as_postgres():
    """preexec_fn: become the postgres account; die with this script."""
    pw = pwd.getpwnam("postgres")

    def become():
        if os.geteuid() == 0:
            os.setgroups([])
            os.setgid(pw.pw_gid)
            os.setuid(pw.pw_uid)
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    return become


class Postgres:
    def __init__(self, top):
        self.dir = os.path.join(top, "pg")
        os.mkdir(self.dir, 0o700)
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        b = pg_bin()
        self.bin = b
        subprocess.run([os.path.join(b, "initdb"), "-D", self.dir + "/data",
                        "-U", "postgres", "--auth=trust", "--no-sync",
                        "--no-instructions"], check=True,
                       stdout=subprocess.DEVNULL, preexec_fn=as_postgres())
        # Durable commits (fsync on) as a deployment would have them.
        self.proc = subprocess.Popen(
            [os.path.join(b, "postgres"), "-D", self.dir + "/data", "-k",
             self.dir, "-c", "listen_addresses=", "-c", "max_connections=200"],
            stdout=open(self.dir + "/../pg.log", "w"), stderr=subprocess.STDOUT,
            preexec_fn=as_postgres())
        procs.append(self.proc)
        for _ in range(200):
            if subprocess.run([os.path.join(b, "pg_isready"), "-h", self.dir],
                              stdout=subprocess.DEVNULL).returncode == 0:
                return
            time.sleep(0.05)
        sys.exit("error: PostgreSQL did not start")

    def psql(self, sql, db="postgres"):
        subprocess.run([os.path.join(self.bin, "psql"), "-h", self.dir, "-U",
                        "postgres", "-d", db, "-qc", sql], check=True,
                       stdout=subprocess.DEVNULL)

    def database(self, name):
        self.psql("CREATE DATABASE " + name)
        return "postgresql:///%s?host=%s&user=postgres" % (name, self.dir)


def start_tracker(top, name, db):
    port, control = free_port(), free_port()
    p = subprocess.Popen(
        [BIN, "tracker", "--config", os.path.join(ROOT, "config/tracker.ini"),
         "--tracker.port=%d" % port, "--tracker.control-port=%d" % control,
         "--tracker.db=" + db, "--log.level=warn",
         # The simulated peers send no heartbeats (only haves, round robin):
         # sessions must not expire between two haves of a peer.
         "--tracker.offline-ms=60000"],
        stdout=open(os.path.join(top, name + ".log"), "w"),
        stderr=subprocess.STDOUT, start_new_session=True)
    procs.append(p)
    for _ in range(100):
        r = subprocess.run([BIN, "ctl", "--node", "127.0.0.1:%d" % control,
                            "actors"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        if r.returncode == 0:
            return p, "127.0.0.1:%d" % port
        time.sleep(0.1)
    sys.exit("error: tracker %s did not start (see %s.log)" % (name, name))


def drive(trackers, args, kill_pid=None):
    cmd = [LOAD, "--trackers", ",".join(trackers), "--peers", str(args.peers),
           "--threads", str(args.threads), "--seconds", str(args.seconds)]
    if kill_pid:
        cmd += ["--kill-pid", str(kill_pid)]
    out = subprocess.run(cmd, stdout=subprocess.PIPE, check=True,
                         timeout=args.seconds + 120).stdout
    return json.loads(out)


def stop(p):
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def pgbench(pg, args):
    """The database's own rate for a have-shaped write transaction."""
    url = pg.database("reference")
    db = "reference"
    pg.psql("CREATE TABLE h (k INTEGER PRIMARY KEY, bits BYTEA NOT NULL);"
            " INSERT INTO h SELECT g, '\\x00' FROM generate_series(1, %d) g"
            % args.peers, db)
    script = os.path.join(pg.dir, "..", "have.sql")
    with open(script, "w") as f:
        f.write("\\set k random(1, %d)\n"
                "BEGIN ISOLATION LEVEL SERIALIZABLE;\n"
                "SELECT bits FROM h WHERE k = :k;\n"
                "UPDATE h SET bits = '\\x01' WHERE k = :k;\n"
                "COMMIT;\n" % args.peers)
    os.chmod(script, 0o644)
    out = subprocess.run([os.path.join(pg.bin, "pgbench"), "-h", pg.dir, "-U",
                          "postgres", "-n", "-c", str(args.threads), "-j", "2",
                          "-T", str(int(args.seconds)), "-f", script, db],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, preexec_fn=as_postgres()).stdout
    for line in out.splitlines():
        if line.startswith("tps ="):
            return float(line.split()[2])
    return 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--peers", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--threads", type=int, default=16)
    ap.add_argument("--json")
    args = ap.parse_args()
    for b in (BIN, LOAD):
        if not os.path.exists(b):
            sys.exit("error: %s missing (cmake --build build --target"
                     " actorrent tracker_load)" % b)
    top = tempfile.mkdtemp(prefix="actorrent-bench-trackers-")
    os.chmod(top, 0o755)
    results = {"load_before": os.getloadavg()}
    try:
        pg = Postgres(top)
        rows = []
        for name, db, count in (("sqlite", os.path.join(top, "tracker.db"), 1),
                                ("postgres x1", None, 1),
                                ("postgres x2", None, 2)):
            url = db or pg.database("bench_" + str(len(rows)))
            ts = [start_tracker(top, "t%d_%d" % (len(rows), i), url)
                  for i in range(count)]
            r = drive([addr for _, addr in ts], args)
            for p, _ in ts:
                stop(p)
            r["name"] = name
            rows.append(r)
        results["runs"] = rows
        results["pgbench_tps"] = pgbench(pg, args)
        url = pg.database("failover")
        ts = [start_tracker(top, "f%d" % i, url) for i in range(2)]
        args_f = argparse.Namespace(**vars(args))
        args_f.seconds = 3
        f = drive([addr for _, addr in ts], args_f, kill_pid=ts[0][0].pid)
        for p, _ in ts:
            stop(p)
        results["failover"] = f["failover"]
        results["load_after"] = os.getloadavg()
        print("%-12s %10s %9s %9s %10s %9s %9s" % (
            "tracker", "announce/s", "p50 ms", "p99 ms", "have/s", "p50 ms",
            "p99 ms"))
        for r in rows:
            a, h = r["announce"], r["have"]
            print("%-12s %10.0f %9.2f %9.2f %10.0f %9.2f %9.2f" % (
                r["name"], a["per_second"], a["p50_ms"], a["p99_ms"],
                h["per_second"], h["p50_ms"], h["p99_ms"]))
        tps = results["pgbench_tps"]
        print("pgbench, have-shaped transaction: %.0f tps; have/s of one"
              " PostgreSQL tracker: %.2fx of it" % (
                  tps, rows[1]["have"]["per_second"] / tps if tps else 0))
        fo = results["failover"]
        print("failover: %d of %d peers announced to the second tracker,"
              " the last %.0f ms after the SIGKILL" % (
                  fo["reannounced"], fo["peers"], fo["last_reannounced_ms"]))
        print("load average before %s, after %s" % (
            " ".join("%.2f" % x for x in results["load_before"]),
            " ".join("%.2f" % x for x in results["load_after"])))
        if args.json:
            with open(args.json, "w") as out:
                json.dump(results, out, indent=1)
    finally:
        for p in reversed(procs):
            stop(p)
        shutil.rmtree(top, ignore_errors=True)


if __name__ == "__main__":
    main()
