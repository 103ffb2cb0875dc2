#!/usr/bin/env bash
# Local jobs run inside a bubblewrap sandbox; install it when missing and we are allowed to.
# slirp4netns is optional: with it a sandbox reaches the outside network (as a SageMaker job does)
# but not the host's loopback; without it a sandbox reaches only the local cloud's API.
set -euo pipefail
missing=()
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
command -v slirp4netns >/dev/null 2>&1 || missing+=(slirp4netns)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing ${missing[*]} (the sandbox of local SageMaker jobs)..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
elif ! command -v bwrap >/dev/null 2>&1; then
  echo "warning: bubblewrap (bwrap) is not installed; local jobs cannot run." >&2
  echo "         Install it with 'sudo apt-get install bubblewrap' (Debian/Ubuntu) or your package manager." >&2
else
  echo "note: slirp4netns is not installed; sandboxed jobs reach only the local cloud's API, no outside network." >&2
fi
