#!/usr/bin/env python3
"""Reference throughput benchmark on loopback: libtorrent (python3-libtorrent) and aria2c+nginx.

Scenarios (every piece verified, written to disk):
  a: 1 seeder -> 1 downloader, one file of --size-a bytes (also aria2c <- nginx, sha-256 checked)
  b: 4 peers, each starts with a unique --size-b file, until all 4 hold all 4 files
  c: 1 seeder + 8 peers joining at once, one file of --size-c bytes
Wall time = from "go" (downloaders start connecting) until all downloaders are complete.
MB/s = bytes delivered to downloaders / wall / 1e6.  Peak RSS = sum over the processes involved of
their VmHWM (MiB); note libtorrent 2.0 and aria2c --enable-mmap map the files, so touched file pages count.
Usage: bench_reference.py [--scenario a|b|c|all] [--size-a 1G] [--json out.json]  (see --help)
Sizes take binary suffixes: 64M, 1G, 500MiB.  Exit: 0 ok, 1 scenario failed, 2 usage error.
"""
import argparse, atexit, hashlib, json, os, queue, random, re, resource, shutil, signal, socket
import subprocess, sys, tempfile, threading, time

try:
    import libtorrent as lt
except ImportError:  # e.g. a pyenv python without Debian's binding: re-exec with the system python
    if os.path.realpath(sys.executable) != os.path.realpath('/usr/bin/python3'):
        os.execv('/usr/bin/python3', ['/usr/bin/python3'] + sys.argv)
    raise

MIB = 1 << 20
CHILDREN = []          # every Popen we start; killed in cleanup()


def cleanup():
    for p in CHILDREN:
        if p.poll() is None:
            p.kill()
            p.wait()


def spawn(argv, **kw):
    CHILDREN.append(subprocess.Popen(argv, **kw))
    return CHILDREN[-1]


def hwm(p):
    """Sample a live child's peak VmHWM / RssAnon (KiB). (wait4 ru_maxrss is useless: Linux carries this
    Python's high-water mark across fork+exec.)"""
    p.hwm, p.anon = getattr(p, 'hwm', 0), getattr(p, 'anon', 0)
    try:
        with open(f'/proc/{p.pid}/status') as f:
            st = dict(l.split(':', 1) for l in f)
        p.hwm, p.anon = max(p.hwm, int(st['VmHWM'].split()[0])), max(p.anon, int(st['RssAnon'].split()[0]))
    except (OSError, ValueError, KeyError):
        pass
    return p.hwm, p.anon


def cpu_s(pid):
    """User + system CPU seconds of a live process (all its threads)."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            fields = f.read().rsplit(')', 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')
    except (OSError, IndexError, ValueError):
        return 0.0


def children_cpu_s():
    """CPU seconds of the terminated, waited-for children so far."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def reap(p, deadline):
    """Wait (bounded) for p, polling its peak RSS; kill it if it overstays. Returns peak RSS KiB."""
    while True:
        hwm(p)
        if p.poll() is not None:
            return p.hwm, p.anon
        if time.monotonic() > deadline:
            p.kill()
            deadline = time.monotonic() + 5
        time.sleep(0.005)


def parse_size(s):
    m = re.fullmatch(r'\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)(?:i?B)?\s*', s)
    if not m:
        raise argparse.ArgumentTypeError(f'bad size {s!r}')
    return int(float(m[1]) * 1024 ** ' KMGT'.index((m[2] or ' ').upper()))


def free_port():
    with socket.create_server(('127.0.0.1', 0)) as s:
        return s.getsockname()[1]


def sha256_file(path):
    with open(path, 'rb') as f:
        return hashlib.file_digest(f, 'sha256').hexdigest()


def make_file(path, size, seed):
    """Pseudo-random content (fast PRNG), returns sha256 hex."""
    rnd, h = random.Random(seed), hashlib.sha256()
    with open(path, 'wb') as f:
        for off in range(0, size, 4 * MIB):
            b = rnd.randbytes(min(4 * MIB, size - off))
            h.update(b)
            f.write(b)
    return h.hexdigest()


def make_torrent(path, piece_size):
    fs = lt.file_storage()
    lt.add_files(fs, path)
    ct = lt.create_torrent(fs, piece_size, lt.create_torrent.v1_only)
    lt.set_piece_hashes(ct, os.path.dirname(path))
    with open(path + '.torrent', 'wb') as f:
        f.write(lt.bencode(ct.generate()))
    return path + '.torrent'


# On top of high_performance_seed(). NB: libtorrent only starts outgoing connections on its once-a-second
# session tick, so 0-1 s of connect latency (reported as connect_s) is in every wall time;
# tick_interval=100 doesn't remove it and made scenario b ~25% slower.
TUNED = dict(aio_threads=4, max_queued_disk_bytes=32 * MIB)


def lt_settings(port, profile, extra):
    s = lt.default_settings() if profile == 'default' else lt.high_performance_seed()
    s.update(dict(
        listen_interfaces=f'127.0.0.1:{port}', outgoing_interfaces='',
        enable_dht=False, enable_lsd=False, enable_upnp=False, enable_natpmp=False,
        enable_outgoing_utp=False, enable_incoming_utp=False,
        allow_multiple_connections_per_ip=True, upload_rate_limit=0, download_rate_limit=0,
        alert_mask=lt.alert.category_t.error_notification | lt.alert.category_t.status_notification))
    s.update({**(TUNED if profile == 'tuned' else {}), **extra})
    return s


def worker_main():
    """Runs one or more libtorrent sessions. stdin: spec JSON, 'go', 'stop'. stdout: ready / done JSON."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C hits the whole group; the parent kills us
    spec = json.loads(sys.stdin.readline())
    sessions, connects = [], []
    for peer in spec['peers']:
        sessions.append(ses := lt.session(lt_settings(peer['port'], spec['profile'], spec['settings'])))
        for t in peer['torrents']:
            atp = lt.load_torrent_file(t['tfile'])
            atp.save_path = t['save']
            atp.flags &= ~lt.torrent_flags.auto_managed & ~lt.torrent_flags.paused
            if t['seed'] and spec['seed_mode']:
                atp.flags |= lt.torrent_flags.seed_mode
            h = ses.add_torrent(atp)
            if not t['seed']:
                connects.append((h, t['connect']))
    handles, pending = [h for s in sessions for h in s.get_torrents()], [h for h, _ in connects]
    deadline = time.monotonic() + spec['timeout']
    ok_states = (lt.torrent_status.downloading, lt.torrent_status.seeding, lt.torrent_status.finished)
    while time.monotonic() < deadline and not (   # wait until listening and every torrent is checked
            all(h.status().state in ok_states for h in handles) and all(s.is_listening() for s in sessions)):
        time.sleep(0.01)
    print('ready', flush=True)
    if not sys.stdin.readline():          # 'go' (EOF: parent is gone)
        os._exit(1)
    deadline = (t0 := time.monotonic()) + spec['timeout']
    [h.connect_peer(('127.0.0.1', port)) for h, ports in connects for port in ports]
    errors, unconnected, t_conn, next_poll = [], list(pending), None, 0
    while pending and time.monotonic() < deadline:   # status() is a sync call into the network thread:
        time.sleep(0.005)                             # poll it only on torrent_finished alerts / at 2 Hz
        if unconnected:
            unconnected = [h for h in unconnected if h.status().num_peers == 0]
            t_conn = None if unconnected else time.monotonic() - t0
        alerts = [a for s in sessions for a in s.pop_alerts()]
        errors += [a.message() for a in alerts if isinstance(a, (lt.hash_failed_alert, lt.file_error_alert))]
        if any(isinstance(a, lt.torrent_finished_alert) for a in alerts) or time.monotonic() > next_poll:
            pending, next_poll = [h for h in pending if not h.status().is_finished], time.monotonic() + 0.5
    print(json.dumps({'ok': not pending, 'connect_s': t_conn, 'errors': errors[:10]}), flush=True)
    sys.stdin.readline()                  # 'stop' (seeders must stay up until everyone is done)
    os._exit(0)


def run_libtorrent(args, torrents, npeers, seeds, dldir, extra):
    """torrents: list of (tfile, src_dir); seeds: {torrent_idx: peer_idx}. Every peer joins every
    torrent; downloaders connect to the seeder and to downloaders with lower index (full mesh)."""
    ports = [free_port() for _ in range(npeers)]
    peers = []
    for i in range(npeers):
        ts = []
        for ti, (tfile, srcdir) in enumerate(torrents):
            seed = seeds[ti] == i
            conn = [] if seed else [ports[seeds[ti]]] + [ports[j] for j in range(i) if j != seeds[ti]]
            save = srcdir if seed else os.path.join(dldir, f'peer{i}')
            ts.append(dict(tfile=tfile, save=save, seed=seed, connect=conn))
        peers.append(dict(port=ports[i], torrents=ts))
    groups = [peers] if args.lt_procs == 'one' else [[p] for p in peers]
    q, procs = queue.Queue(), []
    for g in groups:
        p = spawn([sys.executable, os.path.abspath(__file__), '--_worker'], stdin=subprocess.PIPE,
                  stdout=subprocess.PIPE, text=True, bufsize=1)
        procs.append(p)
        threading.Thread(target=lambda p=p: [q.put(l) for l in p.stdout] + [q.put(None)], daemon=True).start()
        p.stdin.write(json.dumps(dict(peers=g, settings=extra, profile=args.lt_profile,
                                      seed_mode=args.lt_seed_mode, timeout=args.timeout)) + '\n')
        p.stdin.flush()

    def collect(n, deadline):     # n lines from the workers, sampling their memory meanwhile
        out = []
        while len(out) < n:
            try:
                out.append(q.get(timeout=0.05))
            except queue.Empty:
                if time.monotonic() > deadline:
                    raise
            [hwm(p) for p in procs]
        if None in out:
            raise RuntimeError('libtorrent worker died')
        return out

    collect(len(procs), time.monotonic() + args.timeout)     # all 'ready'
    os.sync()             # don't let writeback of earlier data disturb the timed window
    cpu0 = sum(cpu_s(p.pid) for p in procs)
    t0 = time.monotonic()
    for p in procs:
        p.stdin.write('go\n')
        p.stdin.flush()
    results = [json.loads(l) for l in collect(len(procs), t0 + args.timeout + 5)]
    wall = time.monotonic() - t0
    cpu = sum(cpu_s(p.pid) for p in procs) - cpu0
    for p in procs:
        hwm(p)
        p.stdin.write('stop\n')
        p.stdin.flush()
    rss = [sum(m) / 1024 for m in zip(*[reap(p, time.monotonic() + 30) for p in procs])]
    errs = [e for r in results for e in r['errors']]
    print(*['  libtorrent alert: ' + e for e in errs[:5]], sep='\n', end='\n' if errs else '')
    return all(r['ok'] for r in results), wall, rss, max(r['connect_s'] or 0 for r in results), cpu


def start_nginx(root, tmp):
    port = free_port()
    os.makedirs(tmp, exist_ok=True)
    user = 'user root;' if os.geteuid() == 0 else ''
    temps = ' '.join(f'{k}_temp_path {tmp}/{k};' for k in ('client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'))
    with open(f'{tmp}/nginx.conf', 'w') as f:
        f.write(f"""{user} daemon off; master_process off; worker_processes 1; pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn; events {{ worker_connections 256; }}
http {{ access_log off; sendfile on; tcp_nopush on; sendfile_max_chunk 0; {temps}
  server {{ listen 127.0.0.1:{port}; root {root}; location / {{ }} }} }}\n""")
    p = spawn(['nginx', '-p', tmp, '-e', f'{tmp}/error.log', '-c', f'{tmp}/nginx.conf'],
              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(500):                        # bounded wait until it accepts
        try:
            socket.create_connection(('127.0.0.1', port), 0.2).close()
            return p, port
        except OSError:
            time.sleep(0.01)
    raise RuntimeError('nginx did not start: ' + open(f'{tmp}/error.log').read()[-500:])


def run_aria2(url, outdir, name, sha, conns, mmap, timeout):
    os.makedirs(outdir, exist_ok=True)
    argv = ['aria2c', '--no-conf', '-q', '-d', outdir, '-o', name, f'--checksum=sha-256={sha}',
            '--allow-overwrite=true', '--auto-file-renaming=false', f'--enable-mmap={str(mmap).lower()}',
            '--file-allocation=' + ('falloc' if mmap else 'none'), '--disk-cache=0', f'-x{conns}',
            f'-s{conns}', '--min-split-size=1M', '--summary-interval=0', '--console-log-level=error', url]
    os.sync()
    cpu0 = children_cpu_s()
    t0 = time.monotonic()
    p = spawn(argv)
    rss = reap(p, t0 + timeout)
    return p.returncode == 0, time.monotonic() - t0, [m / 1024 for m in rss], children_cpu_s() - cpu0


# name: (size attribute, number of files, number of peers); file i is initially held (seeded) by peer i
SCEN = {'a': ('size_a', 1, 2), 'b': ('size_b', 4, 4), 'c': ('size_c', 1, 9)}


def scenario(name, args, work):
    attr, nfiles, npeers = SCEN[name]
    size, seeds = getattr(args, attr), {i: i for i in range(nfiles)}
    src, dl = os.path.join(work, f'src_{name}'), os.path.join(work, f'dl_{name}')
    os.makedirs(src, exist_ok=True)
    t, paths = time.monotonic(), [os.path.join(src, f'{name}{i}.bin') for i in range(nfiles)]
    shas = [make_file(p, size, f'{os.path.basename(p)}:{size}') for p in paths]
    tfiles = [make_torrent(p, args.piece_size) for p in paths]
    print(f'[{name}] generated {nfiles} x {size} B in {time.monotonic() - t:.1f}s', flush=True)
    nbytes = sum(size for ti in range(nfiles) for p in range(npeers) if seeds[ti] != p)
    res, nan = {}, float('nan')

    def measure(fn, *a):   # --repeat runs of fn -> (ok, best wall, max rss, errors, all walls, all infos)
        runs = []
        for _ in range(args.repeat):
            try:
                runs.append(fn(*a))
            except (queue.Empty, OSError, RuntimeError, ValueError) as e:
                runs.append((False, nan, [nan, nan], [repr(e)], None))
            shutil.rmtree(dl, ignore_errors=True)
            if not runs[-1][0]:
                break
        ok = all(r[0] for r in runs)
        return (ok, min(r[1] for r in runs) if ok else nan, [max(m) for m in zip(*[r[2] for r in runs])],
                [e for r in runs for e in r[3]], [round(r[1], 3) for r in runs], [r[4] for r in runs])

    def lt_run():
        try:
            ok, wall, rss, conn, cpu = run_libtorrent(args, [(t, src) for t in tfiles], npeers, seeds, dl,
                                                      args.lt_set)
        finally:
            cleanup()     # kill leftover workers of a failed run
        bad = ['incomplete'] if not ok else [
            (p, os.path.basename(f)) for p in range(npeers) for ti, f in enumerate(paths)
            if seeds[ti] != p and sha256_file(os.path.join(dl, f'peer{p}', os.path.basename(f))) != shas[ti]]
        return ok and not bad, wall, rss, bad, (round(conn, 3), cpu)

    def cpu_of_best(walls, infos):   # CPU s per GiB delivered in the fastest run
        ok = [i for i in range(len(walls)) if infos[i] and walls[i] == walls[i]]
        return round(infos[min(ok, key=lambda i: walls[i])][1] / (nbytes / (1 << 30)), 2) if ok else None

    ok_all, wall, rss, bad, walls, infos = measure(lt_run)
    report(res, name, 'libtorrent', ok_all, wall, rss, nbytes, bad, dict(
        runs_s=walls, connect_s=[i and i[0] for i in infos], cpu_s_per_gib=cpu_of_best(walls, infos)))
    if name == 'a' and not args.no_aria2:
        fn, ng, nrss, best = os.path.basename(paths[0]), None, [nan, nan], None

        def aria_run(x):
            ng0 = cpu_s(ng.pid)
            ok, wall, rss, cpu = run_aria2(f'http://127.0.0.1:{port}/{fn}', dl, fn, shas[0], x,
                                           not args.aria2_no_mmap, args.timeout)
            cpu += cpu_s(ng.pid) - ng0   # aria2c and nginx
            ok = ok and sha256_file(os.path.join(dl, fn)) == shas[0]
            shutil.rmtree(dl, ignore_errors=True)
            return ok, wall, rss, [] if ok else ['aria2c failed or sha-256 mismatch'], (None, cpu)
        try:
            ng, port = start_nginx(src, os.path.join(work, 'nginx'))
            aria_run(args.aria2_x[0])  # untimed warm-up: the 1st download after start was ~2 s slower
            for x in args.aria2_x:
                ok, wall, rss, bad, walls, infos = measure(aria_run, x)
                print(f'  aria2c -x{x}: ok={ok} best {wall:.2f}s of {walls} {size / wall / 1e6:.0f} MB/s '
                      f'rss={rss[0]:.1f} MiB', flush=True)
                ok_all &= ok
                if ok and (best is None or wall < best[1]):
                    best = (x, wall, rss, walls, cpu_of_best(walls, infos))
        except (OSError, RuntimeError) as e:
            print('  aria2c/nginx error:', e)
            ok_all = False
        finally:
            if ng:
                hwm(ng)
                ng.send_signal(signal.SIGQUIT)
                nrss = [m / 1024 for m in reap(ng, time.monotonic() + 10)]
        if best:
            report(res, name, 'aria2c', True, best[1], [a + b for a, b in zip(best[2], nrss)], size, [], dict(
                runs_s=best[3], connections=best[0], cpu_s_per_gib=best[4], aria2c_rss_mib=round(best[2][0], 1),
                nginx_rss_mib=round(nrss[0], 1)))
        else:
            report(res, name, 'aria2c', False, nan, [nan, nan], size, ['all runs failed'])
    if not args.keep:
        shutil.rmtree(src, ignore_errors=True)
    return res, ok_all


def report(res, scen, tool, ok, wall, rss, nbytes, bad, extra=None):
    mbps = nbytes / wall / 1e6 if ok else float('nan')
    print(f'scenario {scen} {tool:<10} {"OK  " if ok else "FAIL"} wall {wall:8.2f} s  {mbps:8.1f} MB/s  '
          f'peak RSS {rss[0]:7.1f} MiB (anon {rss[1]:6.1f} MiB)  {nbytes} B delivered'
          + (f'  bad: {bad[:4]}' if bad else ''), flush=True)
    res[tool] = {k: None if v != v else v for k, v in dict(  # NaN -> null
        ok=ok, wall_s=round(wall, 3), mbps=round(mbps, 1), peak_rss_mib=round(rss[0], 1),
        peak_anon_mib=round(rss[1], 1), bytes=nbytes, **(extra or {})).items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--scenario', choices=['a', 'b', 'c', 'all'], default='all')
    ap.add_argument('--size-a', type=parse_size, default=1 << 30)
    ap.add_argument('--size-b', type=parse_size, default=500 * MIB)
    ap.add_argument('--size-c', type=parse_size, default=256 * MIB)
    ap.add_argument('--piece-size', type=parse_size, default=MIB)
    ap.add_argument('--workdir', help='default: fresh dir under /tmp')
    ap.add_argument('--json', help='write results JSON here')
    ap.add_argument('--timeout', type=float, default=600, help='per scenario/tool run, seconds')
    ap.add_argument('--repeat', type=int, default=1, help='runs per (scenario, tool); best wall is reported')
    ap.add_argument('--keep', action='store_true', help='keep generated/downloaded files')
    ap.add_argument('--lt-procs', choices=['one', 'per-peer'], default='one', help='libtorrent worker processes')
    ap.add_argument('--lt-seed-mode', action='store_true', help='seeders use seed_mode (lazy hashing in the '
                    'timed window); default: seeders hash-check fully before the clock starts')
    ap.add_argument('--lt-profile', choices=['tuned', 'hps', 'default'], default='tuned',
                    help='libtorrent base settings: default_settings, high_performance_seed, or hps+TUNED')
    ap.add_argument('--lt-set', action='append', default=[], metavar='KEY=VAL', help='libtorrent setting override')
    ap.add_argument('--aria2-x', default='1,4', help='aria2c connection counts to try; best is reported')
    ap.add_argument('--aria2-no-mmap', action='store_true', help='aria2c without --enable-mmap (slower)')
    ap.add_argument('--no-aria2', action='store_true')
    ap.add_argument('--_worker', action='store_true', help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._worker:
        return worker_main()
    if args.repeat < 1 or args.timeout <= 0:
        ap.error('--repeat must be >= 1 and --timeout > 0')
    try:
        args.aria2_x = [int(x) for x in args.aria2_x.split(',')]
        args.lt_set = {k: (v == 'true' if v in ('true', 'false') else int(v) if re.fullmatch(r'-?\d+', v) else v)
                       for k, v in (kv.split('=', 1) for kv in args.lt_set)}
        assert not set(args.lt_set) - set(lt.default_settings()), 'unknown libtorrent setting'
    except (ValueError, AssertionError) as e:
        ap.error(f'bad --aria2-x / --lt-set: {e}')
    atexit.register(cleanup)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    os.makedirs(args.workdir or tempfile.gettempdir(), exist_ok=True)
    work = tempfile.mkdtemp(prefix='bench_ref_', dir=args.workdir)
    results, ok = {}, True
    try:
        for s in (['a', 'b', 'c'] if args.scenario == 'all' else [args.scenario]):
            results[s], sok = scenario(s, args, work)
            ok &= sok
    except KeyboardInterrupt:
        print('interrupted', file=sys.stderr)
        ok = False
    finally:
        cleanup()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(results, f, indent=2)
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
