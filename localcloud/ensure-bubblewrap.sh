#!/usr/bin/env bash
# Local jobs run inside a bubblewrap sandbox; install it when missing and we are allowed to.
set -euo pipefail
command -v bwrap >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing bubblewrap (needed to run local SageMaker jobs)..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null
else
  echo "warning: bubblewrap (bwrap) is not installed; local jobs cannot run." >&2
  echo "         Install it with 'sudo apt-get install bubblewrap' (Debian/Ubuntu) or your package manager." >&2
fi
