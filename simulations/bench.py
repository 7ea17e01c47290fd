#!/usr/bin/env python3
"""actorrent transfer benchmark, on loopback, every piece verified and written.

Scenarios:
  a  one peer downloads a SIZE_A file from one source (one-shot `fetch`)
  b  4 peers each start with a unique SIZE_B file until all 4 hold all 4
  c  one seeder and 8 peers joining at once for a SIZE_C file

For each scenario it prints wall time, MB/s (10^6 bytes delivered / wall),
peak RSS per process kind (the largest process of each kind, and the sum over
all processes), CPU seconds per GiB delivered (user + system of every process
of the run, counted from the start of the clock) and the load average when the
run started. With --reference it also runs simulations/reference/bench_reference.py
(libtorrent, and aria2c from nginx for (a)) in the same run and prints our
ratio to each tool.

The clock runs from the moment the downloads are asked for until the last
downloaded file appears under its final name (a download is renamed into
place only after every piece passed its SHA-256). Completion is seen by
polling the file system from this process; nothing is started per poll.

  simulations/bench.py [--scenario a|b|c|all] [--size-a 1G] [--size-b 500M]
                       [--size-c 256M] [--repeat N] [--reference] [--json OUT]
  ACTORRENT_BIN=path/to/actorrent overrides the binary (build/actorrent).
"""
import argparse, hashlib, json, os, re, shutil, signal, socket, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("ACTORRENT_BIN", os.path.join(ROOT, "build", "actorrent"))
EXTRA = []  # --extra: options for every node (tuning experiments)
PEER_EXTRA = []  # --peer-extra: options for peer nodes and the fetch only
PIECE = 1 << 20
TICK = os.sysconf("SC_CLK_TCK")
GIB = float(1 << 30)


def size_arg(text):
    m = re.fullmatch(r"(\d+)([KMG]?)", text.upper())
    if not m:
        raise argparse.ArgumentTypeError("size like 64M or 1G: " + text)
    return int(m.group(1)) * {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[m.group(2)]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_file(path, size):
    """Incompressible content, every 1 MiB piece different: slices of a
    64 MiB random pool, each piece starting with its own random tag (several
    times faster than os.urandom for the whole file)."""
    pool = os.urandom(64 << 20)
    with open(path, "wb") as f:
        for off in range(0, size, PIECE):
            n = min(PIECE, size - off)
            start = (off * 7919) % (len(pool) - PIECE)
            f.write((os.urandom(32) + pool[start + 32:start + PIECE])[:n])


def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def peak_rss_mib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_s(pid):
    """User + system CPU seconds of a live process (all its threads)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, IndexError, ValueError):
        return 0.0


def thread_cpu(pid):
    """CPU seconds per thread name of a live process (threads of one name
    summed), largest first: since the process started."""
    out = {}
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                text = f.read()
            name = text[text.index("(") + 1:text.rindex(")")]
            fields = text.rsplit(")", 1)[1].split()
            out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, ValueError):
        pass
    return sorted(out.items(), key=lambda kv: -kv[1])


class Swarm:
    """A tracker and peers, each a process; `kind` groups them for the report."""

    def __init__(self, work):
        self.work = work
        self.procs = []  # (kind, Popen)
        self.cpu0 = {}
        self.tport, self.tctl = free_port(), free_port()
        self.proc(["tracker", "--config", f"{ROOT}/config/tracker.ini",
                   f"--tracker.port={self.tport}", f"--tracker.control-port={self.tctl}",
                   f"--tracker.db={work}/tracker.db", "--log.level=warn"], "tracker", "tracker")
        self.wait(lambda: self.ctl(self.tctl, "actors")[0] == 0, "tracker")

    def proc(self, args, name, kind):
        log = open(os.path.join(self.work, name + ".log"), "w")
        p = subprocess.Popen([BIN] + args + EXTRA, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        self.procs.append((kind, p))
        return p

    def ctl(self, port, *args):
        r = subprocess.run([BIN, "ctl", "--node", f"127.0.0.1:{port}"] + list(args),
                           capture_output=True, text=True, timeout=60)
        return r.returncode, r.stdout

    def wait(self, pred, what, timeout=60, every=0.1):
        end = time.time() + timeout
        while time.time() < end:
            if pred():
                return
            for kind, p in self.procs:
                if p.poll() is not None:
                    raise RuntimeError(f"a {kind} process exited ({p.returncode}) "
                                       f"while waiting for {what}")
            time.sleep(every)
        raise RuntimeError("timed out waiting for " + what)

    def peer(self, name, kind):
        d = os.path.join(self.work, name)
        os.makedirs(d + "/share", exist_ok=True)
        port, ctl = free_port(), free_port()
        p = self.proc(["peer", "--config", f"{ROOT}/config/peer.ini",
                       f"--peer.tracker=127.0.0.1:{self.tport}", f"--peer.port={port}",
                       f"--peer.control-port={ctl}", f"--peer.share-dir={d}/share",
                       f"--peer.download-dir={d}/downloads", f"--peer.state-db={d}/state.db",
                       f"--peer.piece-size={PIECE}", "--log.level=warn"] + PEER_EXTRA,
                      name, kind)
        # Setup only (before the clock starts): the peer hashed its share.
        self.wait(lambda: '"tracker":"online"' in self.ctl(ctl, "--json", "status")[1],
                  name + " online", 600)
        return {"name": name, "dir": d, "ctl": ctl, "proc": p}

    def start_clock(self):
        """Marks the CPU each process has used so far (setup is not counted)."""
        self.cpu0 = {p.pid: cpu_s(p.pid) for _, p in self.procs}
        return time.time()

    def detail(self, peers):
        """With BENCH_DETAIL set: CPU seconds of each process since the clock
        started and the bytes each peer served (to see where a run's time
        goes); printed to stderr, not part of the result."""
        if not os.environ.get("BENCH_DETAIL"):
            return
        for kind, p in self.procs:
            threads = ", ".join(f"{n} {c:.2f}" for n, c in thread_cpu(p.pid)[:5])
            print(f"  detail: {kind} pid {p.pid} CPU {cpu_s(p.pid) - self.cpu0.get(p.pid, 0.0):.2f} s"
                  f" peak RSS {peak_rss_mib(p.pid):.0f} MiB; threads since start: {threads}",
                  file=sys.stderr)
        for q in peers:
            out = self.ctl(q["ctl"], "--json", "status")[1]
            m = re.search(r'"bytes_served":"?(\d+)', out)
            print(f"  detail: {q['name']} served {int(m.group(1)) / 2**20 if m else -1:.0f} MiB",
                  file=sys.stderr)

    def usage(self):
        """Peak RSS (MiB) per kind (largest process) and in total; CPU seconds
        since start_clock. Read from the live processes."""
        rss, total, cpu = {}, 0.0, 0.0
        for kind, p in self.procs:
            r = peak_rss_mib(p.pid)
            rss[kind] = max(rss.get(kind, 0.0), r)
            total += r
            cpu += cpu_s(p.pid) - self.cpu0.get(p.pid, 0.0)
        return rss, total, cpu

    def close(self):
        for _, p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
        for _, p in self.procs:
            p.wait()


def fetch_all(sw, peers_files):
    """Asks every peer for its files at once (one `ctl fetch` each, in parallel)."""
    ps = [subprocess.Popen([BIN, "ctl", "--node", f"127.0.0.1:{p['ctl']}", "fetch"] + names,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
          for p, names in peers_files]
    for p in ps:
        if p.wait(timeout=60) != 0:
            raise RuntimeError("ctl fetch failed: " + p.stderr.read().decode()[-500:])


def wait_files(sw, paths, t0, timeout=1800):
    """Polls for the final files (stat only); raises when a process died.
    With BENCH_DETAIL set, prints when each file appeared (s after t0)."""
    left = set(paths)
    seen = {}

    def done():
        for path in list(left):
            if os.path.exists(path):
                left.discard(path)
                seen[path] = time.time() - t0
        return not left

    sw.wait(done, f"{len(left)} downloads", timeout, every=0.01)
    if os.environ.get("BENCH_DETAIL"):
        print("  detail: complete after " + ", ".join(
            f"{seen[p]:.2f}" for p in sorted(seen, key=seen.get)) + " s", file=sys.stderr)


def check_copies(pairs):
    """Outside the clock: each downloaded copy is the source's bytes."""
    for src, dst in pairs:
        if os.path.getsize(src) != os.path.getsize(dst) or sha256_file(src) != sha256_file(dst):
            raise RuntimeError(f"{dst} differs from {src}")


def result(wall, nbytes, rss, total, cpu, load):
    return {"wall_s": wall, "bytes": nbytes, "mbps": nbytes / 1e6 / wall,
            "rss_mib": {k: round(v, 1) for k, v in rss.items()}, "peak_rss_mib": round(total, 1),
            "cpu_s": round(cpu, 2), "cpu_s_per_gib": round(cpu / (nbytes / GIB), 2),
            "load": load}


def scenario_a(work, size):
    sw = Swarm(work)
    try:
        src = sw.peer("src", "source")
        make_file(src["dir"] + "/share/a.bin", size)
        if sw.ctl(src["ctl"], "publish", src["dir"] + "/share/a.bin")[0] != 0:
            raise RuntimeError("publish failed")
        os.sync()  # no writeback of the generated file during the run
        load = os.getloadavg()[0]
        t0 = sw.start_clock()
        log = open(work + "/fetch.log", "w")
        p = subprocess.Popen([BIN, "fetch", "--tracker", f"127.0.0.1:{sw.tport}", "a.bin",
                              "--to", work + "/dl", "--peer.window=16"] + EXTRA + PEER_EXTRA,
                             stdout=log, stderr=log)
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.time() - t0
        if status != 0:
            raise RuntimeError("fetch exited with status %d: %s" % (
                status, open(work + "/fetch.log").read()[-2000:]))
        rss, total, cpu = sw.usage()
        rss["fetch"] = usage.ru_maxrss / 1024
        total += rss["fetch"]
        cpu += usage.ru_utime + usage.ru_stime
        sw.close()
        check_copies([(src["dir"] + "/share/a.bin", work + "/dl/a.bin")])
        return result(wall, size, rss, total, cpu, load)
    finally:
        sw.close()


def scenario_b(work, size):
    sw = Swarm(work)
    try:
        for i in range(4):
            d = os.path.join(work, f"p{i}", "share")
            os.makedirs(d, exist_ok=True)
            make_file(f"{d}/b{i}.bin", size)
        peers = [sw.peer(f"p{i}", "peer") for i in range(4)]
        os.sync()
        want = [[f"b{j}.bin" for j in range(4) if j != i] for i in range(4)]
        paths = [f"{p['dir']}/downloads/{n}" for p, names in zip(peers, want) for n in names]
        load = os.getloadavg()[0]
        t0 = sw.start_clock()
        fetch_all(sw, list(zip(peers, want)))
        wait_files(sw, paths, t0)
        wall = time.time() - t0
        rss, total, cpu = sw.usage()
        sw.close()
        check_copies([(f"{peers[(i + 1) % 4]['dir']}/share/b{(i + 1) % 4}.bin",
                       f"{p['dir']}/downloads/b{(i + 1) % 4}.bin") for i, p in enumerate(peers)])
        return result(wall, 12 * size, rss, total, cpu, load)
    finally:
        sw.close()


def scenario_c(work, size):
    sw = Swarm(work)
    try:
        d = os.path.join(work, "seed", "share")
        os.makedirs(d, exist_ok=True)
        make_file(d + "/c.bin", size)
        seed = sw.peer("seed", "seeder")
        peers = [sw.peer(f"q{i}", "peer") for i in range(8)]
        os.sync()
        paths = [f"{p['dir']}/downloads/c.bin" for p in peers]
        load = os.getloadavg()[0]
        t0 = sw.start_clock()
        fetch_all(sw, [(p, ["c.bin"]) for p in peers])
        wait_files(sw, paths, t0)
        wall = time.time() - t0
        rss, total, cpu = sw.usage()
        sw.detail([seed] + peers)
        sw.close()
        check_copies([(d + "/c.bin", path) for path in paths])
        return result(wall, 8 * size, rss, total, cpu, load)
    finally:
        sw.close()


def describe(tag, r):
    kinds = "  ".join(f"{k} {v:.0f}" for k, v in sorted(r["rss_mib"].items()))
    return (f"({tag}) actorrent   wall {r['wall_s']:7.2f} s  {r['mbps']:8.1f} MB/s"
            f"  CPU {r['cpu_s_per_gib']:5.2f} s/GiB  peak RSS {r['peak_rss_mib']:7.1f} MiB"
            f" [largest per kind, MiB: {kinds}]  load {r['load']:.1f}  runs {r['runs_s']}")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default="all", choices=["a", "b", "c", "all"])
    ap.add_argument("--size-a", type=size_arg, default=1 << 30)
    ap.add_argument("--size-b", type=size_arg, default=500 << 20)
    ap.add_argument("--size-c", type=size_arg, default=256 << 20)
    ap.add_argument("--reference", action="store_true",
                    help="also run libtorrent / aria2c and print ratios")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run each scenario N times, report the best (all runs listed)")
    ap.add_argument("--json")
    ap.add_argument("--extra", action="append", default=[], metavar="OPTION",
                    help="an option for every node, e.g. --extra=--scheduler.policy=sharing")
    ap.add_argument("--peer-extra", action="append", default=[], metavar="OPTION",
                    help="an option for peer nodes and fetches only, e.g. --peer-extra=--peer.window=32")
    args = ap.parse_args()
    EXTRA.extend(args.extra)
    PEER_EXTRA.extend(args.peer_extra)
    if not os.access(BIN, os.X_OK):
        print("build first: scripts/build.sh", file=sys.stderr)
        return 2
    runs = {"a": (scenario_a, args.size_a), "b": (scenario_b, args.size_b),
            "c": (scenario_c, args.size_c)}
    chosen = "abc" if args.scenario == "all" else args.scenario
    results = {}
    rc = 0
    print(f"machine: {os.cpu_count()} CPUs, load average at start "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    for s in chosen:
        fn, size = runs[s]
        best = None
        walls = []
        for _ in range(max(1, args.repeat)):
            work = tempfile.mkdtemp(prefix=f"actorrent-bench-{s}-")
            try:
                r = fn(work, size)
                walls.append(round(r["wall_s"], 2))
                if best is None or r["wall_s"] < best["wall_s"]:
                    best = r
            except Exception as e:
                print(f"({s}) actorrent   FAILED: {e}", flush=True)
                rc = 1
            finally:
                shutil.rmtree(work, ignore_errors=True)
        if best:
            best["runs_s"] = walls
            results[s] = {"actorrent": best}
            print(describe(s, best), flush=True)
    if args.reference:
        ref_json = tempfile.mktemp(suffix=".json")
        ref = subprocess.run([sys.executable, os.path.join(ROOT, "simulations/reference/bench_reference.py"),
                              "--scenario", args.scenario, "--size-a", str(args.size_a),
                              "--size-b", str(args.size_b), "--size-c", str(args.size_c),
                              "--repeat", str(max(1, args.repeat)), "--json", ref_json])
        if ref.returncode != 0:
            print("reference run failed (in part: see above)", file=sys.stderr)
            rc = 1
        if os.path.exists(ref_json):
            with open(ref_json) as f:
                theirs = json.load(f)
            os.unlink(ref_json)
            print("\nsummary (best of each; ratio = actorrent / tool: time < 1, MB/s > 1 is better)")
            for s in chosen:
                ours = results.get(s, {}).get("actorrent")
                if ours:
                    print(describe(s, ours))
                for tool, r in theirs.get(s, {}).items():
                    if not (ours and r.get("wall_s") and r.get("ok", True)):
                        continue
                    results[s][tool] = r
                    cpu = r.get("cpu_s_per_gib")
                    print(f"({s}) {tool:10s}  wall {r['wall_s']:7.2f} s  {r['mbps']:8.1f} MB/s"
                          f"  CPU {cpu if cpu is not None else float('nan'):5.2f} s/GiB"
                          f"  peak RSS {r['peak_rss_mib']:7.1f} MiB")
                    print(f"({s})   ratio to {tool:10s}: time {ours['wall_s'] / r['wall_s']:5.2f}"
                          f"  MB/s {ours['mbps'] / r['mbps']:5.2f}"
                          f"  peak RSS {ours['peak_rss_mib'] / r['peak_rss_mib']:5.2f}"
                          + (f"  CPU/GiB {ours['cpu_s_per_gib'] / cpu:5.2f}" if cpu else ""))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return rc


if __name__ == "__main__":
    sys.exit(main())
