#!/usr/bin/env python3
"""Mirror cluster benchmark, on loopback, in one run.

  python3 simulations/bench_mirrors.py [--size-mib 1024] [--repeat 3]
                                       [--no-reference] [--json FILE]

Starts a tracker and 50 mirrors in 5 processes through `actorrent cluster`,
publishes a random file with 5 replicas (`actorrent mirror-put`) and measures:
  - download: `actorrent fetch` of the file from the mirrors (every piece
    verified and written), best of --repeat; wall time, MB/s, peak RSS and
    CPU seconds of the fetch process;
  - reference: aria2c fetching the same file from 5 local nginx servers with
    --checksum=sha-256 (-x5 -s5 -k1M --enable-mmap=true --file-allocation=falloc),
    best of --repeat, same figures; our MB/s as a ratio of aria2c's;
    the two tools take turns (ours, aria2c, ours, ...), and before each
    timed download the file nginx serves and every part file of the
    mirrors are dropped from the page cache (POSIX_FADV_DONTNEED), so both
    read their source from the disk; --warm leaves the page cache alone
    (nginx then serves the file the script just wrote from memory);
  - failover: a mirror process SIGKILLed mid-download (os.kill from this
    script); the stall: the longest gap between two verified pieces in the
    fetch's log that spans the kill or ends within 1 s after it; for
    comparison the longest gap in the 5 s after the kill (and when it
    began) and in the 5 s before it (the download's own jitter on this
    machine); the time from the kill to the last source of that process
    dropped and how many pieces in flight there went to other sources;
  - re-replication: a mirror process lost for good; time until placement
    declares its mirrors dead and until every part is on 5 live mirrors
    again, and the copy throughput placement logs (bytes copied over the
    time since it found parts short);
  - resume: a downloading peer frozen (SIGSTOP) once an eighth is verified,
    then SIGKILLed and started again; pieces it resumed with, bytes it then
    received, and the bytes that were missing.
Every process it starts is stopped at the end, also on failure.
"""
import argparse
import datetime
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("ACTORRENT_BIN", os.path.join(ROOT, "build", "actorrent"))


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, **kw)


def timed(args, log=None):
    """Runs a command; wall seconds, peak RSS (KiB), CPU seconds, exit code."""
    out = open(log, "w") if log else subprocess.DEVNULL
    start = time.monotonic()
    p = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.monotonic() - start
    if log:
        out.close()
    return wall, usage.ru_maxrss, usage.ru_utime + usage.ru_stime, \
        os.waitstatus_to_exitcode(status)


class Cluster:
    def __init__(self, tmp):
        self.dir = os.path.join(tmp, "cluster")

    def cmd(self, *args):
        r = run([BIN, "cluster", args[0], "--dir", self.dir, *args[1:]])
        if r.returncode != 0:
            raise RuntimeError(f"cluster {' '.join(args)}: {r.stdout}{r.stderr}")
        return r.stdout

    def nodes(self):
        with open(os.path.join(self.dir, "cluster.json")) as f:
            return {n["name"]: n for n in json.load(f)["nodes"]}

    def ctl(self, node, *args):
        port = self.nodes()[node]["control_port"]
        r = run([BIN, "ctl", "--json", "--node", f"127.0.0.1:{port}", *args])
        return json.loads(r.stdout) if r.returncode == 0 and r.stdout.strip() else None


def busiest_mirror_process(log, nodes):
    """The name of the mirror node whose mirrors are most often active
    sources of the fetch logging to `log` (by each source's last state
    transition)."""
    state = {}
    with open(log) as f:
        for line in f:
            m = re.search(r"source mirror:(m\d+) \S+ -> (\w+)", line)
            if m:
                state[m[1]] = m[2]
    best, best_count = None, -1
    for name, node in sorted(nodes.items()):
        ids = node.get("mirror_ids")
        if not name.startswith("mirror") or not ids:
            continue
        count = sum(state.get(i) == "active" for i in ids)
        if count > best_count:
            best, best_count = name, count
    return best


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


PART_FILE = re.compile(r"[0-9a-f]{64}\.[0-9]+$")


def evict(paths):
    """Drops the page-cache pages of the given files; the number dropped."""
    n = 0
    for path in paths:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            n += 1
        finally:
            os.close(fd)
    return n


def part_files(root):
    """Every stored part file under a cluster directory."""
    out = []
    for d, _, names in os.walk(root):
        out += [os.path.join(d, n) for n in names if PART_FILE.match(n)]
    return out


def wait_for(pred, timeout, step=0.2):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


def log_time(line):
    """The wall-clock time of a log line (HH:MM:SS.mmm, today, local)."""
    m = re.match(r"(\d\d):(\d\d):(\d\d)\.(\d\d\d)", line)
    if not m:
        return None
    now = datetime.datetime.now()
    t = now.replace(hour=int(m[1]), minute=int(m[2]), second=int(m[3]),
                    microsecond=int(m[4]) * 1000)
    return t.timestamp()


def start_nginx(tmp, data_dir, n):
    """n nginx servers on free ports serving data_dir; their pids and URLs."""
    procs, urls = [], []
    for k in range(n):
        prefix = os.path.join(tmp, f"nginx-{k}")
        os.makedirs(os.path.join(prefix, "logs"), exist_ok=True)
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        conf = os.path.join(prefix, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""user root; worker_processes 1; daemon off;
pid {prefix}/nginx.pid; error_log {prefix}/logs/error.log warn;
events {{ worker_connections 256; }}
http {{ access_log off; sendfile on; tcp_nopush on;
  client_body_temp_path {prefix}; proxy_temp_path {prefix};
  fastcgi_temp_path {prefix}; uwsgi_temp_path {prefix}; scgi_temp_path {prefix};
  server {{ listen 127.0.0.1:{port}; root {data_dir}; }} }}
""")
        procs.append(subprocess.Popen(["nginx", "-c", conf, "-p", prefix],
                                      stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))
        urls.append(f"http://127.0.0.1:{port}/data.bin")
    time.sleep(0.5)
    return procs, urls


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-reference", action="store_true")
    ap.add_argument("--warm", action="store_true",
                    help="do not drop the sources from the page cache before each download")
    ap.add_argument("--json")
    ap.add_argument("--keep-logs", metavar="DIR",
                    help="copy every node's log and the fetch logs to DIR")
    a = ap.parse_args()
    size = a.size_mib << 20
    tmp = tempfile.mkdtemp(prefix="actorrent-mbench-")
    os.chmod(tmp, 0o755)
    cluster = Cluster(tmp)
    nginx = []
    results = {"size_bytes": size, "machine": os.uname().nodename,
               "load_before": os.getloadavg()}
    try:
        src_dir = os.path.join(tmp, "src")
        os.makedirs(src_dir)
        src = os.path.join(src_dir, "data.bin")
        with open(src, "wb") as f:
            for _ in range(a.size_mib):
                f.write(os.urandom(1 << 20))
        digest = sha256_of(src)
        cluster.cmd("up", "--mirrors", "50", "--mirror-processes", "5",
                    "--peers", "1", "--replicas", "5", "--log-level", "info")
        tracker = f"127.0.0.1:{cluster.nodes()['tracker']['port']}"
        wall, _, _, rc = timed([BIN, "mirror-put", "--tracker", tracker, src])
        if rc != 0:
            raise RuntimeError("mirror-put failed")
        results["publish_s"] = wall
        results["publish_mbps"] = 5 * size / wall / 1e6

        # -- download from the mirrors, and aria2c from nginx ------------------
        def cold():
            # Both tools read their source from the disk: the file nginx
            # serves and the mirrors' part files leave the page cache.
            if not a.warm:
                evict([src] + part_files(cluster.dir))

        def ours(k):
            cold()
            to = os.path.join(tmp, f"dl-{k}")
            r = timed([BIN, "fetch", "--tracker", tracker, "data.bin", "--to", to])
            ok = r[3] == 0 and sha256_of(os.path.join(to, "data.bin")) == digest
            shutil.rmtree(to, ignore_errors=True)
            return r, ok

        def aria(k, urls):
            cold()
            to = os.path.join(tmp, f"aria-{k}")
            r = timed(["aria2c", "-x5", "-s5", "-k1M", "--min-split-size=1M",
                       "--enable-mmap=true", "--file-allocation=falloc",
                       f"--checksum=sha-256={digest}", "--allow-overwrite=true",
                       "--console-log-level=warn", "--summary-interval=0",
                       "-d", to, "-o", "data.bin", *urls])
            ok = r[3] == 0 and sha256_of(os.path.join(to, "data.bin")) == digest
            shutil.rmtree(to, ignore_errors=True)
            return r, ok

        urls = []
        if not a.no_reference:
            nginx, urls = start_nginx(tmp, src_dir, 5)
        tools = [("actorrent", ours)] + ([] if a.no_reference else
                                         [("aria2c", lambda k: aria(k, urls))])
        results["page_cache"] = "warm" if a.warm else "dropped before each download"
        best, walls = {}, {}
        for k in range(a.repeat):  # the tools take turns
            for name, fn in tools:
                (wall, rss, cpu, rc), ok = fn(k)
                if not ok:
                    raise RuntimeError(f"{name}: download {k} failed or differs")
                walls.setdefault(name, []).append(round(wall, 2))
                if name not in best or wall < best[name][0]:
                    best[name] = (wall, rss, cpu)
        for name, b in best.items():
            results[name] = {"wall_s": b[0], "mbps": size / b[0] / 1e6,
                             "peak_rss_mib": b[1] / 1024,
                             "cpu_s_per_gib": b[2] / (size / (1 << 30)),
                             "walls_s": walls[name]}
        if "aria2c" in results:
            results["mbps_ratio_to_aria2c"] = \
                results["actorrent"]["mbps"] / results["aria2c"]["mbps"]

        # -- failover: a mirror process SIGKILLed mid-download ----------------
        # The fetch logs every verified piece (debug level, ms timestamps):
        # the stall is the longest gap between two verified pieces that spans
        # the kill or ends within 1 s after it. A later gap is the download's
        # own (other tenants of the machine, the end game): the longest gaps
        # in the 5 s after and in the 5 s before the kill are shown beside it.
        to = os.path.join(tmp, "dl-failover")
        log = os.path.join(tmp, "failover.log")
        nodes = cluster.nodes()
        with open(log, "w") as out:
            p = subprocess.Popen([BIN, "fetch", "--tracker", tracker, "data.bin",
                                  "--to", to, "--log.level=debug"],
                                 stdout=out, stderr=subprocess.STDOUT)
            # Killed once a quarter of the pieces is verified.
            quarter = ((size + (1 << 20) - 1) >> 20) // 4

            def verified_lines():
                with open(log) as f:
                    return f.read().count(" verified from ")

            wait_for(lambda: verified_lines() >= quarter, 60, 0.005)
            # The victim: the mirror process holding most of the fetch's
            # active sources (a fetch connects only as many sources as its
            # window needs, so some processes may serve it nothing).
            victim_name = busiest_mirror_process(log, nodes)
            victim = nodes[victim_name]
            killed_at = time.time()
            os.kill(victim["pid"], signal.SIGKILL)
            p.wait(timeout=300)
        ids = victim.get("mirror_ids") or []
        dropped, verified, moved = [], [], 0
        with open(log) as f:
            for line in f:
                t = log_time(line)
                if t is None:
                    continue
                if " verified from " in line:
                    verified.append(t)
                m = re.search(r"source mirror:(m\d+) \S+ -> lost", line)
                if m and (not ids or m[1] in ids) and t >= killed_at - 0.001:
                    dropped.append(t)
                m = re.search(r"(\d+) pieces in flight at mirror:(m\d+) go to", line)
                if m and (not ids or m[2] in ids) and t >= killed_at - 0.001:
                    moved += int(m[1])
        pairs = list(zip(verified, verified[1:]))
        stall = [b - a for a, b in pairs if killed_at < b <= killed_at + 1]
        after = [(b - a, a - killed_at) for a, b in pairs
                 if b > killed_at and a < killed_at + 5]
        before = [b - a for a, b in pairs if killed_at - 5 <= a and b <= killed_at]
        results["failover_ms"] = (max(dropped) - killed_at) * 1000 if dropped else None
        results["failover_victim"] = victim_name
        results["failover_sources_dropped"] = len(dropped)
        results["failover_pieces_moved"] = moved
        results["stall_ms"] = max(stall) * 1000 if stall else None
        results["longest_gap_5s_after_ms"] = max(after)[0] * 1000 if after else None
        results["longest_gap_5s_after_at_ms"] = max(after)[1] * 1000 if after else None
        results["jitter_before_kill_ms"] = max(before) * 1000 if before else None
        results["pieces_verified_before_kill"] = sum(t <= killed_at for t in verified)
        results["failover_download_ok"] = \
            p.returncode == 0 and sha256_of(os.path.join(to, "data.bin")) == digest
        shutil.rmtree(to, ignore_errors=True)
        cluster.cmd("start", victim_name)

        def settled():
            # Back to exactly R replicas of every part: nothing short, no copy
            # in flight, the repair copies made while the victim was away
            # trimmed again. Only then is the next loss measured alone.
            s = cluster.ctl("tracker", "placement") or {}
            held = sum(m["parts"] for m in s.get("mirrors", []) if m["state"] == "alive")
            return (s.get("under_replicated") == [] and s.get("copies") == []
                    and held == s.get("parts", -1) * s.get("replicas", 0))

        if not wait_for(settled, 120):
            raise RuntimeError("placement did not settle back to exactly R replicas "
                               f"of every part: {cluster.ctl('tracker', 'placement')}")

        # -- re-replication after a mirror process is lost for good -----------
        # Placement logs when every part has its replicas again, with the
        # bytes it copied and the time since it found parts short.
        t0 = time.monotonic()
        lost_at = time.time()
        cluster.cmd("kill", "mirror-4")

        def dead():
            s = cluster.ctl("tracker", "placement") or {}
            return sum(m["state"] == "dead" for m in s.get("mirrors", [])) >= 10

        def repaired():
            s = cluster.ctl("tracker", "placement") or {}
            return dead() and s.get("under_replicated") == [] and s.get("copies") == []

        wait_for(dead, 60)
        results["dead_detected_s"] = time.monotonic() - t0
        wait_for(repaired, 600)
        results["re_replicated_s"] = time.monotonic() - t0
        results["re_replication_mbps"] = None

        def repair_logged():
            # Logged at placement's next check after the last copy.
            with open(os.path.join(cluster.dir, "tracker.log")) as f:
                for line in f:
                    m = re.search(r"live replicas again \((\d+) bytes in (\d+) ms\)", line)
                    t = log_time(line)
                    # No repair of this loss ends within 1 s of it: the
                    # mirrors are declared dead after seconds of silence.
                    if m and t and t >= lost_at + 1 and int(m[2]) > 0:
                        results["re_replication_bytes"] = int(m[1])
                        results["re_replication_ms"] = int(m[2])
                        results["re_replication_mbps"] = int(m[1]) / int(m[2]) / 1e3
            return results["re_replication_mbps"] is not None

        wait_for(repair_logged, 10)

        # -- resume after a downloader SIGKILL --------------------------------
        # Frozen (SIGSTOP) as soon as an eighth is verified, then SIGKILLed:
        # the download cannot finish in between.
        to = os.path.join(tmp, "dl-resume")
        cluster.ctl("peer-0", "fetch", "data.bin", "--to", to)
        peer_pid = cluster.nodes()["peer-0"]["pid"]
        done = [0]

        def eighth():
            done[0] = ((cluster.ctl("peer-0", "downloads") or [{}])[0]
                       .get("bytes_done", 0))
            return done[0] >= size // 8

        wait_for(eighth, 120, 0.01)
        os.kill(peer_pid, signal.SIGSTOP)
        cluster.cmd("kill", "peer-0")
        results["resume_done_at_kill"] = done[0]
        cluster.cmd("start", "peer-0")
        wait_for(lambda: ((cluster.ctl("peer-0", "downloads") or [{}])[0]
                          .get("state")) == "complete", 300)
        with open(os.path.join(cluster.dir, "peer-0.log")) as f:
            resumed = [int(m) for m in re.findall(r"resuming with (\d+) verified", f.read())]
        pieces = (size + (1 << 20) - 1) >> 20
        status = cluster.ctl("peer-0", "status") or {}
        results["resume_verified_pieces"] = resumed[-1] if resumed else None
        results["resume_missing_bytes"] = (pieces - resumed[-1]) << 20 if resumed else None
        results["resume_received_bytes"] = status.get("bytes_received")
        results["resume_ok"] = sha256_of(os.path.join(to, "data.bin")) == digest
        results["load_after"] = os.getloadavg()
    finally:
        try:
            cluster.cmd("down")
        except Exception as e:  # noqa: BLE001 - report and go on cleaning up
            print(f"cluster down: {e}", file=sys.stderr)
        for p in nginx:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
        if a.keep_logs:
            os.makedirs(a.keep_logs, exist_ok=True)
            for root, _, files in os.walk(tmp):
                for name in files:
                    if name.endswith(".log"):
                        rel = os.path.relpath(os.path.join(root, name), tmp)
                        shutil.copy(os.path.join(root, name),
                                    os.path.join(a.keep_logs, rel.replace(os.sep, "_")))
        shutil.rmtree(tmp, ignore_errors=True)

    r = results
    print(f"mirror cluster benchmark: {a.size_mib} MiB, 50 mirrors in 5 processes, "
          f"5 replicas; load {r['load_before'][0]:.1f} -> {r['load_after'][0]:.1f}")
    print(f"publish (5 copies of every part): {r['publish_s']:.2f} s, "
          f"{r['publish_mbps']:.0f} MB/s stored")
    print(f"page cache: {r['page_cache']}")
    print("| tool | wall s (best) | MB/s | peak RSS MiB | CPU s/GiB | every run, s |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name in ("actorrent", "aria2c"):
        if name in r:
            x = r[name]
            print(f"| {name} | {x['wall_s']:.2f} | {x['mbps']:.0f} | "
                  f"{x['peak_rss_mib']:.0f} | {x['cpu_s_per_gib']:.2f} | "
                  f"{' '.join(str(w) for w in x['walls_s'])} |")
    if "mbps_ratio_to_aria2c" in r:
        print(f"actorrent / aria2c MB/s: {r['mbps_ratio_to_aria2c']:.2f}")
    fo, st, jb = r["failover_ms"], r["stall_ms"], r["jitter_before_kill_ms"]
    la, lat = r["longest_gap_5s_after_ms"], r["longest_gap_5s_after_at_ms"]
    ms = lambda x: "%.0f ms" % x if x is not None else "?"  # noqa: E731
    print(f"mirror process SIGKILL mid-download ({r['failover_victim']}, "
          f"{r['pieces_verified_before_kill']} "
          f"pieces verified before): stall {ms(st)} (longest gap between verified "
          f"pieces spanning the kill or ending within 1 s after it); longest gap "
          f"in the 5 s after the kill {ms(la)} (began {ms(lat)} after it), in the "
          f"5 s before {ms(jb)}; its {r['failover_sources_dropped']} sources dropped "
          f"{ms(fo)} after the kill, {r['failover_pieces_moved']} pieces in flight "
          f"there went to other sources; download "
          f"{'identical' if r['failover_download_ok'] else 'FAILED'}")
    rm = r["re_replication_mbps"]
    print(f"mirror process lost: dead after {r['dead_detected_s']:.1f} s, every part "
          f"on 5 live mirrors after {r['re_replicated_s']:.1f} s; re-replication "
          + (f"{r['re_replication_bytes']} bytes in {r['re_replication_ms']} ms, "
             f"{rm:.0f} MB/s" if rm else "rate not logged"))
    if r["resume_done_at_kill"] >= size or r["resume_verified_pieces"] is None:
        print("resume after SIGKILL: the download finished before the kill "
              "(use a larger --size-mib)")
    else:
        extra = r["resume_received_bytes"] - r["resume_missing_bytes"]
        print(f"resume after SIGSTOP+SIGKILL at {r['resume_done_at_kill'] >> 20} MiB "
              f"verified: {r['resume_verified_pieces']} pieces kept, "
              f"{r['resume_received_bytes']} bytes received for "
              f"{r['resume_missing_bytes']} missing ({extra} extra), file "
              f"{'identical' if r['resume_ok'] else 'DIFFERS'}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(r, f, indent=2)


if __name__ == "__main__":
    main()
