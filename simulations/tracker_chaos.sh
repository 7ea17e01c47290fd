#!/usr/bin/env bash
# No acknowledged write lost, the long run: the e2e_no_lost_writes test with
# 100 SIGKILLs of a random tracker (ctest runs 12). Two trackers on a
# throwaway PostgreSQL server; a client drives announces, haves, group
# joins and shares; every acknowledged operation must be visible through
# both trackers at the end. Halfway through, the PostgreSQL primary is
# SIGKILLed and its synchronous standby promoted (the trackers reconnect by
# themselves). KILLS=N overrides the count.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh >/dev/null
ACTORRENT_KILLS="${KILLS:-100}" build/test_e2e_no_lost_writes --log_level=message
