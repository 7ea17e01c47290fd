#!/usr/bin/env bash
# A longer chaos run: random peers and the tracker SIGKILLed and restarted
# during paced downloads for SECONDS (default 600), then every download must
# complete with 0 corrupt files. Usage: simulations/chaos.sh [SECONDS [SEED]]
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --build build -j2 --target actorrent test_e2e_crash >/dev/null
export ACTORRENT_CHAOS_SECONDS="${1:-600}"
[ -n "${2:-}" ] && export ACTORRENT_CHAOS_SEED="$2"
exec build/test_e2e_crash --log_level=message \
  --run_test=chaos_kills_during_paced_downloads_corrupt_nothing
