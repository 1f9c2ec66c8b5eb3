#!/usr/bin/env bash
# Installs what `make up` and `make test` need and a fresh machine may lack: Debian packages
# (PostgreSQL server, iproute2, openssl, curl, jq) and uv. Each step is skipped when already present.
# `bootstrap.sh --images` adds what `make images` needs (buildah, podman, runc, skopeo,
# mmdebstrap); `make up` does not ask for them.
set -euo pipefail

log() { printf '[bootstrap] %s\n' "$*" >&2; }

missing=()
command -v ip >/dev/null || missing+=(iproute2)
command -v openssl >/dev/null || missing+=(openssl)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v curl >/dev/null || missing+=(curl)
command -v jq >/dev/null || missing+=(jq)  # the README's walk-through reads JSON with it
if [[ ${1:-} == --images ]]; then
  for tool in buildah podman runc skopeo mmdebstrap; do
    command -v "$tool" >/dev/null || missing+=("$tool")
  done
fi
if (( ${#missing[@]} )); then
  if [[ $(id -u) -ne 0 ]]; then
    log "missing Debian packages: ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}"
    exit 1
  fi
  log "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The Debian package starts its own cluster; the stack runs a throwaway one of its own.
  if command -v pg_lsclusters >/dev/null; then
    pg_lsclusters -h 2>/dev/null | awk '{print $1, $2}' | while read -r ver name; do
      pg_ctlcluster "$ver" "$name" stop 2>/dev/null || true
    done
  fi
fi

if ! command -v uv >/dev/null; then
  log "installing uv from PyPI"
  python3 -m pip install --quiet --user uv 2>/dev/null || python3 -m pip install --quiet --break-system-packages --user uv
fi
