#!/usr/bin/env bash
# Installs what `make up` and `make test` need and a fresh machine may lack: Debian packages
# (PostgreSQL server, iproute2, openssl, curl, jq) and uv. Each step is skipped when already present.
# `--browser` adds what the UI's browser tests need: Debian's chromium (and node/npm when
# missing; Playwright never downloads a browser here). `--images` adds what `make images`
# needs (buildah, podman, runc, skopeo, mmdebstrap). `make test` asks for both; `make up` for
# neither.
set -euo pipefail

log() { printf '[bootstrap] %s\n' "$*" >&2; }

install_debian() {
  if [[ $(id -u) -ne 0 ]]; then
    log "missing Debian packages: $*; run as root or: sudo apt-get install $*"
    exit 1
  fi
  log "installing Debian packages: $*"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

want_browser=false
want_images=false
for arg in "$@"; do
  case $arg in
    --browser) want_browser=true ;;
    --images) want_images=true ;;
    *) log "unknown argument: $arg (expected --browser or --images)"; exit 2 ;;
  esac
done

missing=()
command -v ip >/dev/null || missing+=(iproute2)
command -v openssl >/dev/null || missing+=(openssl)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v curl >/dev/null || missing+=(curl)
command -v jq >/dev/null || missing+=(jq)  # the README's walk-through reads JSON with it
if $want_browser; then
  command -v chromium >/dev/null || missing+=(chromium)
  command -v npm >/dev/null || missing+=(nodejs npm)
fi
if $want_images; then
  for tool in buildah podman runc skopeo mmdebstrap; do
    command -v "$tool" >/dev/null || missing+=("$tool")
  done
fi
if (( ${#missing[@]} )); then
  install_debian "${missing[@]}"
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
