#!/usr/bin/env bash
# Builds the local stack's real binaries from their upstream Go modules, pinned by
# versions.env, into a cache outside the repo keyed by name and version. A part whose
# binaries are cached is skipped, so a second run takes seconds.
#
#   infra/local/toolchain.sh            build what is missing, print the bin folder
#   infra/local/toolchain.sh --bin-dir  only print the bin folder
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"

cache_root=${INFERENCE_TOOLCHAIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/inference-service/toolchain}
bin_dir="$cache_root/bin"

if [[ "${1:-}" == "--bin-dir" ]]; then
  echo "$bin_dir"
  exit 0
fi

log() { printf '[toolchain] %s\n' "$*" >&2; }
die() { printf '[toolchain] error: %s\n' "$*" >&2; exit 1; }

command -v go >/dev/null || die "Go is not installed. Install Go 1.25 or newer (Debian: apt-get install golang-go, or the machine's own Go) and run again."
go_minor=$(go env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')
(( go_minor >= 25 )) || die "Go $(go env GOVERSION) is too old: Kubernetes $KUBERNETES_VERSION needs Go 1.25 or newer."

export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false CGO_ENABLED=0
mkdir -p "$bin_dir"

# part_dir NAME VERSION: where one part's binaries live; a "done" stamp marks it complete.
part_dir() { echo "$cache_root/$1-$2"; }
is_built() { [[ -f "$(part_dir "$1" "$2")/done" ]]; }
mark_built() {
  local dir; dir=$(part_dir "$1" "$2")
  touch "$dir/done"
  for b in "$dir"/bin/*; do ln -sfn "$b" "$bin_dir/$(basename "$b")"; done
}

# go_install_pinned NAME VERSION PACKAGE...: plain `go install pkg@version`.
go_install_pinned() {
  local name=$1 version=$2; shift 2
  is_built "$name" "$version" && { mark_built "$name" "$version"; return; }
  local dir; dir=$(part_dir "$name" "$version")
  log "building $name $version (go install)"
  mkdir -p "$dir/bin"
  for pkg in "$@"; do
    GOBIN="$dir/bin" go install -trimpath -ldflags="-s -w" "$pkg@$version"
  done
  mark_built "$name" "$version"
}

# wrapper_module DIR MODULE VERSION: a throwaway main module that requires MODULE@VERSION;
# modules whose go.mod carries replace lines cannot be `go install`ed directly.
wrapper_module() {
  local dir=$1 module=$2 version=$3
  rm -rf "$dir" && mkdir -p "$dir"
  ( cd "$dir" && go mod init "localbuild/$(basename "$dir")" >/dev/null 2>&1 && go mod edit -require="$module@$version" )
}

build_kubernetes() {
  local v=$KUBERNETES_VERSION
  is_built kubernetes "$v" && { mark_built kubernetes "$v"; return; }
  local dir work staging_v
  dir=$(part_dir kubernetes "$v"); work="$cache_root/work/kubernetes-$v"
  staging_v="v0.${v#v1.}"
  log "building Kubernetes $v (kube-apiserver, kube-controller-manager, kube-scheduler, kubectl): several minutes on 2 cores"
  wrapper_module "$work" k8s.io/kubernetes "$v"
  local gomod
  gomod=$(cd "$work" && go mod download -json "k8s.io/kubernetes@$v" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
  # Each staging module k8s.io/X => ./staging/src/k8s.io/X becomes k8s.io/X => k8s.io/X v0.N.P.
  local staged
  staged=$(grep -oE '^\s*k8s\.io/[a-z0-9-]+ => \./staging/src/k8s\.io/[a-z0-9-]+' "$gomod" | awk '{print $1}')
  [[ -n "$staged" ]] || die "found no staging modules in $gomod"
  local args=()
  for m in $staged; do args+=("-replace=$m=$m@$staging_v"); done
  (
    cd "$work"
    go mod edit "${args[@]}"
    cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
    go mod tidy -e >/dev/null 2>&1 || true
    local pkg=k8s.io/component-base/version
    local ldflags="-s -w -X $pkg.gitVersion=$v -X $pkg.gitMajor=1 -X $pkg.gitMinor=$(echo "$v" | cut -d. -f2) -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
    ldflags+=" -X k8s.io/client-go/pkg/version.gitVersion=$v"
    mkdir -p "$dir/bin"
    for cmd in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
      log "  go build $cmd"
      go build -trimpath -tags tools -ldflags="$ldflags" -o "$dir/bin/$cmd" "k8s.io/kubernetes/cmd/$cmd"
    done
  )
  mark_built kubernetes "$v"
}

build_etcd() {
  local v=$ETCD_VERSION
  is_built etcd "$v" && { mark_built etcd "$v"; return; }
  local dir work
  dir=$(part_dir etcd "$v"); work="$cache_root/work/etcd-$v"
  log "building etcd $v"
  wrapper_module "$work" go.etcd.io/etcd/server/v3 "$v"
  (
    cd "$work"
    go mod edit -require="go.etcd.io/etcd/api/v3@$v" -require="go.etcd.io/etcd/client/pkg/v3@$v" \
      -require="go.etcd.io/etcd/client/v3@$v" -require="go.etcd.io/etcd/pkg/v3@$v"
    printf '//go:build tools\n\npackage tools\n\nimport _ "go.etcd.io/etcd/server/v3"\n' > tools.go
    go mod tidy -e >/dev/null 2>&1 || true
    mkdir -p "$dir/bin"
    go build -trimpath -tags tools -ldflags="-s -w" -o "$dir/bin/etcd" go.etcd.io/etcd/server/v3
  )
  mark_built etcd "$v"
}

build_traefik() {
  local v=$TRAEFIK_VERSION
  is_built traefik "$v" && { mark_built traefik "$v"; return; }
  local dir work
  dir=$(part_dir traefik "$v"); work="$cache_root/work/traefik-$v"
  log "building Traefik $v"
  wrapper_module "$work" github.com/traefik/traefik/v3 "$v"
  (
    cd "$work"
    local gomod src
    gomod=$(go mod download -json "github.com/traefik/traefik/v3@$v" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["GoMod"]); print(d["Dir"])')
    src=$(echo "$gomod" | sed -n 2p); gomod=$(echo "$gomod" | sed -n 1p)
    # Traefik's own go.mod swaps a few modules for its forks; the wrapper must do the same.
    local line args=()
    while read -r line; do
      args+=("-replace=$(echo "$line" | awk '{print $1"="$3"@"$4}')")
    done < <(grep -E '^\s*[^ /]+\.[a-z]+/[^ ]+ => [^ ]+ v[^ ]+' "$gomod" | sed -E 's/^\s*(replace\s+)?//')
    (( ${#args[@]} )) && go mod edit "${args[@]}"
    grep -E '^exclude ' "$gomod" | while read -r _ mod ver; do go mod edit -exclude="$mod@$ver"; done
    printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/traefik/traefik/v3/cmd/traefik"\n' > tools.go
    go mod tidy -e >/dev/null 2>&1 || true
    mkdir -p "$dir/bin" "$dir/share"
    go build -trimpath -tags tools -ldflags="-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=$v" \
      -o "$dir/bin/traefik" github.com/traefik/traefik/v3/cmd/traefik
    local crd="$src/docs/content/reference/dynamic-configuration/kubernetes-crd-definition-v1.yml"
    local rbac="$src/docs/content/reference/dynamic-configuration/kubernetes-crd-rbac.yml"
    [[ -f "$crd" ]] || die "Traefik's CRD definitions are not in the module at $crd"
    cp "$crd" "$dir/share/traefik-crds.yaml"
    [[ -f "$rbac" ]] && cp "$rbac" "$dir/share/traefik-rbac.yaml"
    chmod u+w "$dir/share"/*
  )
  mark_built traefik "$v"
}

# kwok_stages: kwok's own lifecycle stages (node and pod "fast", node heartbeat), copied from
# its module; `kwok --config` reads them.
kwok_stages() {
  local share; share="$(part_dir kwok "$KWOK_VERSION")/share"
  [[ -f "$share/stages.yaml" ]] && return
  local src
  src=$(cd "$cache_root" && go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  mkdir -p "$share"
  local out="$share/stages.yaml.tmp"
  : > "$out"
  for f in node/fast/node-initialize.yaml node/heartbeat/node-heartbeat.yaml \
           pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    [[ -f "$src/kustomize/stage/$f" ]] || die "kwok stage $f is not in the module at $src"
    printf -- '---\n' >> "$out"
    cat "$src/kustomize/stage/$f" >> "$out"
  done
  mv "$out" "$share/stages.yaml"
}

# build_prometheus_part NAME VERSION SEMVER PACKAGE...: `go install` with the version stamped the way
# upstream's release builds stamp it (`prometheus --version`, the build_info metric).
build_prometheus_part() {
  local name=$1 version=$2 semver=$3; shift 3
  is_built "$name" "$version" && { mark_built "$name" "$version"; return; }
  local dir; dir=$(part_dir "$name" "$version")
  log "building $name $version (go install)"
  mkdir -p "$dir/bin"
  local pkg=github.com/prometheus/common/version
  for mod in "$@"; do
    GOBIN="$dir/bin" go install -trimpath \
      -ldflags="-s -w -X $pkg.Version=$semver -X $pkg.Branch=release -X $pkg.BuildUser=toolchain -X $pkg.BuildDate=19700101-00:00:00" \
      "$mod@$version"
  done
  mark_built "$name" "$version"
}

# build_alertmanager: its module ships without the web UI's built assets (ui/app/dist, made by
# npm in a release build), which package ui embeds; it is built from a copy of the module with
# a one-page placeholder there. The API (/api/v2), the webhook delivery and amtool are whole.
build_alertmanager() {
  local v=$ALERTMANAGER_VERSION
  is_built alertmanager "$v" && { mark_built alertmanager "$v"; return; }
  local dir work src
  dir=$(part_dir alertmanager "$v"); work="$cache_root/work/alertmanager-$v"
  log "building alertmanager $v (module copy, UI placeholder)"
  src=$(cd "$cache_root" && go mod download -json "github.com/prometheus/alertmanager@$v" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  rm -rf "$work" && mkdir -p "$(dirname "$work")" && cp -r "$src" "$work" && chmod -R u+w "$work"
  local page='<!doctype html><title>Alertmanager</title><p>This build has no web UI: use /api/v2 or amtool.'
  for ui in elm mantine; do
    mkdir -p "$work/ui/app/dist/$ui" && printf '%s\n' "$page" > "$work/ui/app/dist/$ui/index.html"
  done
  local pkg=github.com/prometheus/common/version
  mkdir -p "$dir/bin"
  (
    cd "$work"
    for cmd in alertmanager amtool; do
      go build -trimpath \
        -ldflags="-s -w -X $pkg.Version=${v#v} -X $pkg.Branch=release -X $pkg.BuildUser=toolchain -X $pkg.BuildDate=19700101-00:00:00" \
        -o "$dir/bin/$cmd" "./cmd/$cmd"
    done
  )
  mark_built alertmanager "$v"
}

# prometheus_semver v0.316.0 -> 3.16.0 (Prometheus 3.x is published to Go as v0.3MM.P).
prometheus_semver() {
  local minor patch; minor=$(echo "$1" | cut -d. -f2); patch=$(echo "$1" | cut -d. -f3)
  echo "${minor:0:1}.$((10#${minor:1})).$patch"
}

build_kubernetes
build_etcd
go_install_pinned kwok "$KWOK_VERSION" sigs.k8s.io/kwok/cmd/kwok
kwok_stages
build_traefik
go_install_pinned minio "$MINIO_VERSION" github.com/minio/minio
go_install_pinned helm "$HELM_VERSION" helm.sh/helm/v3/cmd/helm
build_prometheus_part prometheus "$PROMETHEUS_VERSION" "$(prometheus_semver "$PROMETHEUS_VERSION")" \
  github.com/prometheus/prometheus/cmd/prometheus github.com/prometheus/prometheus/cmd/promtool
build_alertmanager
log "all binaries ready in $bin_dir"
echo "$bin_dir"
