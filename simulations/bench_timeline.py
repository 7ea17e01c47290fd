#!/usr/bin/env python3
"""Runs one scenario of bench.py once and shows where its time goes, every
50 ms from the start of its clock: busy cores (/proc/stat), bytes the disk
wrote (/proc/diskstats), and how many threads of actorrent's processes are
running (R) or waiting for the disk (D); at the end, the kernel functions
the waiting threads were in (wchan), most frequent first.

    ACTORRENT_BIN=build/actorrent simulations/bench_timeline.py --scenario c \
        [--peer-extra=--peer.serve-cache-mib=256]

Walking /proc every 50 ms costs CPU: a run under it is slower than in
bench.py. Compare runs under it with each other only.
"""
import argparse, os, shutil, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

PERIOD = 0.05
SIZES = {"a": 1 << 30, "b": 500 << 20, "c": 256 << 20}
# Whole block devices backed by hardware (not partitions, loop or zram).
DISKS = {d for d in os.listdir("/sys/block")
         if os.path.exists(f"/sys/block/{d}/device") and not d.startswith(("loop", "zram"))}
RUNS = {"a": bench.scenario_a, "b": bench.scenario_b, "c": bench.scenario_c}


def cpu_and_disk():
    with open("/proc/stat") as f:
        v = list(map(int, f.readline().split()[1:9]))
    sectors = 0
    with open("/proc/diskstats") as f:
        for line in f:
            x = line.split()
            if x[2] in DISKS:
                sectors += int(x[9])
    return sum(v), v[3] + v[4], sectors


def thread_states(wchans):
    running = waiting = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if not f.read().split(b"\0")[0].endswith(b"actorrent"):
                    continue
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/stat") as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
                running += state == "R"
                if state == "D":
                    waiting += 1
                    with open(f"/proc/{pid}/task/{tid}/wchan") as f:
                        w = f.read() or "?"
                    wchans[w] = wchans.get(w, 0) + 1
        except OSError:
            pass  # a process or thread ended meanwhile
    return running, waiting


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", choices="abc", default="c")
    ap.add_argument("--peer-extra", action="append", default=[],
                    help="options for peer nodes and the fetch (as in bench.py)")
    args = ap.parse_args()
    bench.PEER_EXTRA = args.peer_extra
    samples, wchans, start, stop = [], {}, [None], threading.Event()
    clock = bench.Swarm.start_clock

    def start_clock(self):
        start[0] = clock(self)
        return start[0]

    bench.Swarm.start_clock = start_clock

    def sample():
        prev, prev_t = cpu_and_disk(), time.time()
        while not stop.wait(PERIOD):
            cur, t = cpu_and_disk(), time.time()
            total = max(cur[0] - prev[0], 1)
            busy = (total - (cur[1] - prev[1])) / total * os.cpu_count()
            disk = (cur[2] - prev[2]) * 512 / (t - prev_t) / 1e6
            samples.append((t, busy, disk) + thread_states(wchans))
            prev, prev_t = cur, t

    sampler = threading.Thread(target=sample)
    sampler.start()
    work = tempfile.mkdtemp(prefix="actorrent-timeline-", dir="/var/tmp")
    try:
        r = RUNS[args.scenario](work, SIZES[args.scenario])
    finally:
        stop.set()
        sampler.join()
        shutil.rmtree(work, ignore_errors=True)
    print(f"({args.scenario}) wall {r['wall_s']:.2f} s, CPU {r['cpu_s']:.2f} s")
    print("     s  cores  disk MB/s  threads R  D")
    for t, busy, disk, running, waiting in samples:
        rel = t - start[0]
        if -PERIOD < rel < r["wall_s"] + PERIOD:
            print(f"{rel:6.2f}  {busy:5.2f}  {disk:9.0f}  {running:9d} {waiting:2d}")
    print("waiting in:", ", ".join(f"{w} {n}" for w, n in
                                   sorted(wchans.items(), key=lambda kv: -kv[1])[:8]))


if __name__ == "__main__":
    main()
