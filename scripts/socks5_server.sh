#!/usr/bin/env bash
# Runs a real SOCKS5 server (microsocks, from Debian) for the transport tests, installing it first
# when it is missing. Arguments go to microsocks: -i ADDRESS -p PORT [-u USER -P PASSWORD].
set -euo pipefail
if ! command -v microsocks >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "socks5_server.sh: microsocks is missing and installing it needs root (apt-get)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq microsocks >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq microsocks >/dev/null; }
fi
exec microsocks "$@"
