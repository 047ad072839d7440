#!/usr/bin/env bash
# Runs a real SOCKS5 server (microsocks, from Debian) for the transport tests, installing it first
# when it is missing. Arguments go to microsocks: -i ADDRESS -p PORT [-u USER -P PASSWORD].
set -euo pipefail
"$(dirname "$0")/apt_need.sh" microsocks microsocks
exec microsocks "$@"
