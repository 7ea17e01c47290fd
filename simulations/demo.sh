#!/usr/bin/env bash
# The demo: a tracker and three peers, each its own process on loopback. Two
# peers share a generated file; the third downloads it from both at once;
# SHA-256 is checked; a summary is printed; every process is stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
bin=$PWD/build/actorrent
size_mib=${DEMO_SIZE_MIB:-256}
work=$(mktemp -d /tmp/actorrent-demo.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

base=$((20000 + RANDOM % 20000))
tport=$base; tctl=$((base + 1))
echo "== tracker on 127.0.0.1:$tport"
"$bin" tracker --config config/tracker.ini --tracker.port=$tport \
  --tracker.control-port=$tctl --tracker.db="$work/tracker.db" \
  --log.level=warn 2> "$work/tracker.log" &
pids+=($!)

echo "== generating a ${size_mib} MiB file"
mkdir -p "$work/seed1/share" "$work/seed2/share" "$work/leech/share"
head -c $((size_mib * 1024 * 1024)) /dev/urandom > "$work/seed1/share/demo.bin"
cp "$work/seed1/share/demo.bin" "$work/seed2/share/demo.bin"

start_peer() { # name index
  local name=$1 i=$2
  "$bin" peer --config config/peer.ini --peer.tracker=127.0.0.1:$tport \
    --peer.port=$((base + 10 + i)) --peer.control-port=$((base + 20 + i)) \
    --peer.share-dir="$work/$name/share" \
    --peer.download-dir="$work/$name/downloads" \
    --peer.state-db="$work/$name/state.db" --log.level=warn \
    2> "$work/$name.log" &
  pids+=($!)
}
ctl() { "$bin" ctl --node "127.0.0.1:$1" "${@:2}"; }
wait_online() { # control port
  for _ in $(seq 300); do # hashing the shared file comes first
    ctl "$1" --json status 2>/dev/null | grep -q '"tracker":"online"' && return 0
    sleep 0.1
  done
  echo "peer on control port $1 did not come online" >&2; return 1
}
start_peer seed1 1; start_peer seed2 2; start_peer leech 3
for i in 1 2 3; do wait_online $((base + 20 + i)); done
echo "== peers online; the tracker knows:"
ctl $((base + 23)) list

echo "== leech downloads demo.bin from both seeds"
t0=$(date +%s.%N)
ctl $((base + 23)) fetch demo.bin
for _ in $(seq 1200); do
  state=$(ctl $((base + 23)) --json downloads | grep -o '"state":"[a-z_]*"' | head -1)
  [[ $state == '"state":"complete"' || $state == '"state":"failed"' ]] && break
  sleep 0.1
done
t1=$(date +%s.%N)
ctl $((base + 23)) downloads

want=$(sha256sum < "$work/seed1/share/demo.bin" | cut -d' ' -f1)
got=$(sha256sum < "$work/leech/downloads/demo.bin" | cut -d' ' -f1)
s1=$(ctl $((base + 21)) --json status | grep -o '"bytes_served":[0-9]*' | cut -d: -f2)
s2=$(ctl $((base + 22)) --json status | grep -o '"bytes_served":[0-9]*' | cut -d: -f2)
secs=$(awk "BEGIN { print $t1 - $t0 }")
echo
echo "== summary"
printf "file:           demo.bin, %d MiB\n" "$size_mib"
printf "time:           %.2f s (%.0f MB/s, verified and written)\n" "$secs" \
  "$(awk "BEGIN { print $size_mib * 1.048576 / $secs }")"
printf "served by seed1: %d MiB\nserved by seed2: %d MiB\n" $((s1 / 1048576)) $((s2 / 1048576))
echo "sha256 source:  $want"
echo "sha256 copy:    $got"
if [[ "$want" == "$got" && $s1 -gt 0 && $s2 -gt 0 ]]; then
  echo "OK: identical, downloaded from both seeds in parallel"
else
  echo "FAILED"; exit 1
fi
