#!/usr/bin/env bash
# `make all`, for a machine with Docker, kind and helm: a kind cluster, the project's images
# built with Docker from a public Python base and loaded into it, Traefik, the chart installed
# with generated credentials, then the URLs. Rerunning it upgrades in place.
#
# Settings: CLUSTER (inference-service), NAMESPACE (inference-system), RELEASE (inference),
# BASE_IMAGE (python:3.11-slim-bookworm), HTTP_PORT (8088, Traefik on the host).
set -euo pipefail
cd "$(dirname "$0")/.."
CLUSTER=${CLUSTER:-inference-service}
NAMESPACE=${NAMESPACE:-inference-system}
RELEASE=${RELEASE:-inference}
BASE_IMAGE=${BASE_IMAGE:-python:3.11-slim-bookworm}
HTTP_PORT=${HTTP_PORT:-8088}
REGISTRY=localhost/inference-service
VERSION=$(sed -n 's/^appVersion: "\(.*\)"/\1/p' charts/inference-service/Chart.yaml)

log() { printf '[all] %s\n' "$*" >&2; }
for tool in docker kind helm kubectl openssl; do
  command -v "$tool" >/dev/null || { log "$tool is required"; exit 1; }
done

if ! kind get clusters | grep -qx "$CLUSTER"; then
  log "creating kind cluster $CLUSTER (Traefik on http://127.0.0.1:$HTTP_PORT)"
  kind create cluster --name "$CLUSTER" --config - <<KIND
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
  - role: control-plane
    extraPortMappings:
      - {containerPort: 30080, hostPort: $HTTP_PORT, listenAddress: "127.0.0.1"}
KIND
fi
kubectl config use-context "kind-$CLUSTER" >/dev/null
# values-cpu-dev.yaml caches models in a hostPath the model pods (UID 65532) write
for node in $(kind get nodes --name "$CLUSTER"); do
  docker exec "$node" install -d -o 65532 -g 65532 -m 0750 /var/lib/inference-service/models
done

images=()
for member in services/api services/gateway services/contract services/download operator; do
  [[ -f $member/pyproject.toml ]] || continue
  package=$(sed -n 's/^name = "\(.*\)"/\1/p' "$member/pyproject.toml" | head -1)
  log "building $REGISTRY/$package:$VERSION"
  docker build -q -f images/python/Dockerfile --build-arg "BASE_IMAGE=$BASE_IMAGE" \
    --build-arg "PACKAGE=$package" --build-arg "VERSION=$VERSION" \
    -t "$REGISTRY/$package:$VERSION" . >/dev/null
  images+=("$REGISTRY/$package:$VERSION")
done
frontend=false
if [[ -f frontend/package.json ]]; then
  log "building the UI (npm run build) and $REGISTRY/inference-frontend:$VERSION"
  (cd frontend && npm ci --no-audit --no-fund && npm run build) >&2
  docker build -q -f images/frontend/Dockerfile --build-arg "BASE_IMAGE=$BASE_IMAGE" \
    -t "$REGISTRY/inference-frontend:$VERSION" . >/dev/null
  images+=("$REGISTRY/inference-frontend:$VERSION")
  frontend=true
fi
log "loading ${#images[@]} images into kind"
kind load docker-image --name "$CLUSTER" "${images[@]}"

log "installing Traefik"
helm repo add traefik https://traefik.github.io/charts >/dev/null 2>&1 || true
helm upgrade --install traefik traefik/traefik --namespace traefik --create-namespace --wait \
  --set service.type=NodePort --set ports.web.nodePort=30080 >/dev/null

kubectl create namespace "$NAMESPACE" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
secret() { # name, key=value...: created once with random values, kept on reruns
  kubectl -n "$NAMESPACE" get secret "$1" >/dev/null 2>&1 && return
  local name=$1; shift
  kubectl -n "$NAMESPACE" create secret generic "$name" "${@/#/--from-literal=}" >/dev/null
}
rand() { openssl rand -hex "$1"; }
secret inference-auth "jwt-secret=$(rand 32)" "admin-password=$(rand 12)" "server-uuid-key=$(rand 32)"
secret inference-postgres "password=$(rand 16)"
secret inference-minio "root-user=inference" "root-password=$(rand 16)"

log "installing the chart (release $RELEASE in $NAMESPACE)"
helm upgrade --install "$RELEASE" charts/inference-service --namespace "$NAMESPACE" \
  -f charts/inference-service/values-cpu-dev.yaml \
  --set auth.existingSecret=inference-auth \
  --set postgresql.existingSecret=inference-postgres \
  --set minio.existingSecret=inference-minio \
  --set image.pullPolicy=Never \
  --set "frontend.enabled=$frontend" \
  --set contract.enabled="$([[ -f services/contract/pyproject.toml ]] && echo true || echo false)" \
  --set download.enabled="$([[ -f services/download/pyproject.toml ]] && echo true || echo false)" \
  --wait --timeout 10m

cat <<URLS
Web UI:   http://127.0.0.1:$HTTP_PORT/
API:      http://127.0.0.1:$HTTP_PORT/control/
Gateway:  http://127.0.0.1:$HTTP_PORT/gateway/v1
Admin password:
  kubectl -n $NAMESPACE get secret inference-auth -o jsonpath='{.data.admin-password}' | base64 -d; echo
URLS
