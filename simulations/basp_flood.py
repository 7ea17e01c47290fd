#!/usr/bin/env python3
"""Measures what CAF 0.17's transport does with a BASP header announcing a
huge payload (the length-prefix issue): starts a tracker, opens CONNS
connections that each send only a 32-byte BASP header with payload_len =
PAYLOAD, and reports the tracker's resident memory, how long the
connections stay open and how fast the tracker answers `ctl actors`
meanwhile. Loopback only; everything it starts is stopped at the end.

--after-handshake sends the header after a real handshake instead: each
connection relays a real `ctl` client's handshake to the tracker's control
port, then announces the payload in a message of its own.
--extra passes an option to the tracker (e.g. --extra=--guard.enabled=false
to measure without the guard in front of its ports).

usage: simulations/basp_flood.py [--conns N] [--payload BYTES] [--hold S]
                                 [--after-handshake] [--extra OPTION]
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


def recv_exact(s, n):
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            raise ConnectionError("closed after %d of %d bytes" % (len(out), n))
        out += chunk
    return out


def handshaken(control, header, clients):
    """A connection to the control port that has relayed a real ctl client's
    handshake, then sent `header`. The ctl process is kept in `clients`."""
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(1)
    ctl = subprocess.Popen([BIN, "ctl", "--node", f"127.0.0.1:{lst.getsockname()[1]}",
                            "actors"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    clients.append(ctl)
    lst.settimeout(10)
    c, _ = lst.accept()
    lst.close()
    s = socket.create_connection(("127.0.0.1", control))
    s.settimeout(10)
    c.settimeout(10)
    hdr = recv_exact(s, 32)  # server handshake: header and payload
    c.sendall(hdr + recv_exact(s, struct.unpack("!I", hdr[4:8])[0]))
    hdr = recv_exact(c, 32)  # client handshake
    s.sendall(hdr + recv_exact(c, struct.unpack("!I", hdr[4:8])[0]))
    s.sendall(header)
    clients.append(c)
    return s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--conns", type=int, default=4)
    ap.add_argument("--payload", type=int, default=256 * 1024 * 1024)
    ap.add_argument("--hold", type=float, default=10.0)
    ap.add_argument("--after-handshake", action="store_true")
    ap.add_argument("--extra", action="append", default=[])
    a = ap.parse_args()
    d = tempfile.mkdtemp(prefix="actorrent-basp-")
    port, control = free_port(), free_port()
    log = open(os.path.join(d, "tracker.log"), "w")
    tracker = subprocess.Popen(
        [BIN, "tracker", "--config", os.path.join(ROOT, "config/tracker.ini"),
         f"--tracker.port={port}", f"--tracker.control-port={control}",
         f"--tracker.db={d}/tracker.db"] + a.extra, stdout=log, stderr=log)
    socks, clients = [], []
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
        if a.after_handshake:  # a direct message to actor 1
            header = struct.pack("!BBBBIQQQ", 2, 0, 0, 0, a.payload, 0, 0, 1)
        for _ in range(a.conns):
            try:
                if a.after_handshake:
                    s = handshaken(control, header, clients)
                else:
                    s = socket.create_connection(("127.0.0.1", port))
                    s.sendall(header)
                socks.append(s)
            except OSError as e:
                print(f"connection {len(socks) + 1}: {e}")
        t0 = time.monotonic()
        peak, slowest = base, 0.0
        while time.monotonic() - t0 < a.hold:
            peak = max(peak, rss_mib(tracker.pid))
            ms, rc = ctl_ms(control)
            slowest = max(slowest, ms if rc == 0 else float("inf"))
            time.sleep(0.2)
        still_open = 0
        for s in socks:  # what the node sent is read and dropped
            s.setblocking(False)
            try:
                while s.recv(65536) != b"":
                    pass
            except BlockingIOError:
                still_open += 1
            except OSError:
                pass
        print(f"{len(socks)} of {a.conns} connections"
              f"{' after a handshake' if a.after_handshake else ''}"
              f" announcing {a.payload} bytes each: "
              f"peak RSS {peak:.0f} MiB (+{peak - base:.0f} MiB), "
              f"slowest ctl answer {slowest:.0f} ms, "
              f"{still_open} still open after {a.hold:.0f} s, "
              f"tracker {'alive' if tracker.poll() is None else 'dead'}")
    finally:
        for s in socks:
            s.close()
        for c in clients:
            if isinstance(c, socket.socket):
                c.close()
            else:
                c.kill()
                c.wait()
        tracker.kill()
        tracker.wait()
        subprocess.run(["rm", "-rf", d])


if __name__ == "__main__":
    sys.exit(main())
