#!/usr/bin/env bash
# Makes sure COMMAND exists, installing Debian PACKAGE with apt-get when it does not (CI runs as
# root on a clean machine). Usage: scripts/apt_need.sh COMMAND PACKAGE
set -euo pipefail
command="$1"
package="$2"
if command -v "$command" >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "apt_need.sh: $command is missing and installing $package needs root (apt-get)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq "$package" >/dev/null 2>&1 ||
  { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq "$package" >/dev/null; }
command -v "$command" >/dev/null
