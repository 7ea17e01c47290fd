#!/usr/bin/env python3
"""Measures what CAF 0.17's transport does with a BASP header announcing a
huge payload (the length-prefix issue): starts a tracker, opens CONNS
connections that each send only a 32-byte BASP header with payload_len =
PAYLOAD, and reports the tracker's resident memory, how long the
connections stay open and how fast the tracker answers `ctl actors`
meanwhile. Loopback only; everything it starts is stopped at the end.

usage: simulations/basp_flood.py [--conns N] [--payload BYTES] [--hold S]
"""
import argparse, os, socket, struct, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "build", "actorrent")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def ctl_ms(control):
    t0 = time.monotonic()
    r = subprocess.run([BIN, "ctl", "--node", f"127.0.0.1:{control}", "actors"],
                       capture_output=True, timeout=60)
    return (time.monotonic() - t0) * 1000, r.returncode


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--conns", type=int, default=4)
    ap.add_argument("--payload", type=int, default=256 * 1024 * 1024)
    ap.add_argument("--hold", type=float, default=10.0)
    a = ap.parse_args()
    d = tempfile.mkdtemp(prefix="actorrent-basp-")
    port, control = free_port(), free_port()
    log = open(os.path.join(d, "tracker.log"), "w")
    tracker = subprocess.Popen(
        [BIN, "tracker", "--config", os.path.join(ROOT, "config/tracker.ini"),
         f"--tracker.port={port}", f"--tracker.control-port={control}",
         f"--tracker.db={d}/tracker.db"], stdout=log, stderr=log)
    socks = []
    try:
        for _ in range(100):
            if ctl_ms(control)[1] == 0:
                break
            time.sleep(0.1)
        base = rss_mib(tracker.pid)
        print(f"tracker RSS before: {base:.0f} MiB")
        # operation 0 (server handshake), flags, payload_len, BASP version 3,
        # source and destination actor ids: 32 bytes, network byte order.
        header = struct.pack("!BBBBIQQQ", 0, 0, 0, 0, a.payload, 3, 0, 0)
        for _ in range(a.conns):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(header)
            socks.append(s)
        t0 = time.monotonic()
        peak, slowest = base, 0.0
        while time.monotonic() - t0 < a.hold:
            peak = max(peak, rss_mib(tracker.pid))
            ms, rc = ctl_ms(control)
            slowest = max(slowest, ms if rc == 0 else float("inf"))
            time.sleep(0.2)
        still_open = 0
        for s in socks:
            s.setblocking(False)
            try:
                still_open += 1 if s.recv(1) != b"" else 0
            except BlockingIOError:
                still_open += 1
            except OSError:
                pass
        print(f"{a.conns} connections announcing {a.payload} bytes each: "
              f"peak RSS {peak:.0f} MiB (+{peak - base:.0f} MiB), "
              f"slowest ctl answer {slowest:.0f} ms, "
              f"{still_open} still open after {a.hold:.0f} s, "
              f"tracker {'alive' if tracker.poll() is None else 'dead'}")
    finally:
        for s in socks:
            s.close()
        tracker.kill()
        tracker.wait()
        subprocess.run(["rm", "-rf", d])


if __name__ == "__main__":
    sys.exit(main())
