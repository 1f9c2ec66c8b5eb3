#!/usr/bin/env bash
# `make images`: builds the project's images as OCI archives into $IMAGES_CACHE
# (default ~/.cache/inference-service/images): the base image, one image per Python member
# that exists (api, gateway, operator, contract, download) and the UI when frontend/dist exists.
# An image whose inputs did not change is skipped: each archive has a `.key` file next to it
# holding the SHA-256 of its inputs (recipe, sources, uv.lock, the base image's key).
#
# usage: images/build.sh [NAME...]   NAME: base api gateway operator contract download frontend
# Prints one line per image: NAME REF ARCHIVE built|cached|absent.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${IMAGES_CACHE:-$HOME/.cache/inference-service/images}
BUILDAH=(buildah --storage-driver vfs)
REGISTRY=localhost/inference-service
BASE_REF=$REGISTRY/python-base:bookworm
CA_BUNDLE=${BUILD_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
ALL=(base api gateway operator contract download frontend)
mkdir -p "$CACHE"

log() { printf '[images] %s\n' "$*" >&2; }

member_dir() {
  case $1 in
    operator) echo operator ;;
    frontend) echo frontend ;;
    *) echo "services/$1" ;;
  esac
}

# SHA-256 over the paths and contents of the files (tracked or new, not ignored) under $@.
inputs_hash() {
  { git ls-files -co --exclude-standard -- "$@" | LC_ALL=C sort | while read -r f; do
      [[ -f $f ]] && printf '%s %s\n' "$f" "$(sha256sum <"$f" | cut -d' ' -f1)"
    done
    [[ ${#extra_key[@]} -eq 0 ]] || printf '%s\n' "${extra_key[@]}"
  } | sha256sum | cut -d' ' -f1
}

dist_hash() { (cd frontend/dist && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) | sha256sum | cut -d' ' -f1; }

# The image REF must be in buildah's storage (a FROM or a test may need it).
ensure_loaded() {
  "${BUILDAH[@]}" inspect --type image "$1" >/dev/null 2>&1 && return
  local id
  id=$("${BUILDAH[@]}" pull --quiet "oci-archive:$2")
  "${BUILDAH[@]}" tag "$id" "$1"
}

up_to_date() { [[ -f $1 && -f $1.key && $(cat "$1.key") == "$2" ]]; }

base_key() { extra_key=(); inputs_hash images/base; }

build_base() {
  local key archive=$CACHE/python-base.oci.tar
  key=$(base_key)
  if up_to_date "$archive" "$key"; then
    ensure_loaded "$BASE_REF" "$archive"
    echo "base $BASE_REF $archive cached"; return
  fi
  log "building $BASE_REF"
  images/base/build.sh "$BASE_REF" "$archive"
  echo "$key" >"$archive.key"
  echo "base $BASE_REF $archive built"
}

build_one() {
  local name=$1 dir key archive ref package version
  dir=$(member_dir "$name")
  local -a args=(--build-arg "REVISION=$(git rev-parse --short HEAD)" --build-arg "CREATED=$(date -u +%FT%TZ)")
  extra_key=("base=$(base_key)")
  if [[ $name == frontend ]]; then
    [[ -f frontend/dist/index.html ]] || { echo "frontend - - absent"; return; }
    package=inference-frontend version=0.1.0
    extra_key+=("dist=$(dist_hash)")
    key=$(inputs_hash images/frontend .dockerignore)
    args+=(-f images/frontend/Dockerfile)
  else
    [[ -f $dir/pyproject.toml ]] || { echo "$name - - absent"; return; }
    local -a inputs
    mapfile -t inputs < <(python3 images/member_inputs.py "$dir")
    read -r package version <<<"${inputs[0]}"
    local -a paths=()
    for d in "${inputs[@]:1}"; do paths+=("$d/pyproject.toml" "$d/src"); done
    key=$(inputs_hash images/python images/member_inputs.py .dockerignore pyproject.toml uv.lock "${paths[@]}")
    args+=(-f images/python/Dockerfile --build-arg "PACKAGE=$package")
  fi
  ref=$REGISTRY/$package:$version
  archive=$CACHE/$package.oci.tar
  if up_to_date "$archive" "$key"; then
    echo "$name $ref $archive cached"; return
  fi
  build_base >/dev/null
  log "building $ref"
  # RUN steps see this machine's CA bundle (a proxy's CA included); the image does not keep it.
  [[ -f $CA_BUNDLE ]] && args+=(--volume "$CA_BUNDLE:/etc/ssl/certs/ca-certificates.crt:ro")
  local previous
  previous=$("${BUILDAH[@]}" images --quiet --no-trunc "$ref" 2>/dev/null || true)
  "${BUILDAH[@]}" bud --quiet --isolation chroot --build-arg "VERSION=$version" \
    "${args[@]}" -t "$ref" . >/dev/null
  # the image this ref named before is ours and now untagged: remove it (the vfs storage
  # keeps every layer whole, a few GB per rebuilt image), unless something still uses it
  if [[ -n $previous && $previous != $("${BUILDAH[@]}" images --quiet --no-trunc "$ref") ]]; then
    "${BUILDAH[@]}" rmi "$previous" >/dev/null 2>&1 || true
  fi
  rm -f "$archive"
  "${BUILDAH[@]}" push --quiet "$ref" "oci-archive:$archive:$ref"
  echo "$key" >"$archive.key"
  echo "$name $ref $archive built"
}

for cmd in buildah mmdebstrap; do
  command -v "$cmd" >/dev/null || { log "$cmd is missing: run infra/local/bootstrap.sh --images"; exit 1; }
done
names=("$@")
[[ ${#names[@]} -gt 0 ]] || names=("${ALL[@]}")
for name in "${names[@]}"; do
  case $name in
    base) build_base ;;
    api | gateway | operator | contract | download | frontend) build_one "$name" ;;
    *) log "unknown image $name (one of: ${ALL[*]})"; exit 64 ;;
  esac
done
