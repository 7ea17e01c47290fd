#!/usr/bin/env bash
# Installs what actorrent needs to build and test, from Debian 12 packages,
# when it is missing. Needs root (or sudo) only when something is missing.
set -euo pipefail
packages=(g++ cmake make ccache libcaf-dev protobuf-compiler libprotobuf-dev
          libsqlite3-dev libboost-test-dev libssl-dev libsodium-dev
          libpq-dev postgresql libgoogle-perftools-dev)
if [[ "${1:-}" == "--bench" ]]; then
  packages+=(python3 python3-libtorrent aria2 nginx-light)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
