#!/usr/bin/env bash
# Builds the local control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
# kubectl, kwok, helm) from their Go modules into a cache outside the repo, keyed by version.
# A component whose cached binary already reports the wanted version is not rebuilt.
#
# Prints the bin directory on the last line of stdout. Progress goes to stderr.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.36.3}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
KWOK_VERSION="${KWOK_VERSION:-v0.8.0}"
HELM_VERSION="${HELM_VERSION:-v3.22.0}"

CACHE_ROOT="${QUARANTINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/quarantine}"
BIN_DIR="$CACHE_ROOT/controlplane/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION-helm-$HELM_VERSION/bin"
WORK_DIR="$CACHE_ROOT/controlplane/work"
mkdir -p "$BIN_DIR" "$WORK_DIR"

export CGO_ENABLED=0 GOFLAGS=-buildvcs=false
START=$SECONDS

log() { printf '[build-controlplane +%4ss] %s\n' "$((SECONDS - START))" "$*" >&2; }

# cached <binary> <version-substring> <version-args...>: true when the binary reports the version.
cached() {
  local bin="$BIN_DIR/$1" want="$2"
  shift 2
  local reported
  [ -x "$bin" ] || return 1
  # Read the whole output first: `grep -q` closing the pipe early fails the pipeline (pipefail).
  reported="$("$bin" "$@" 2>/dev/null)" || return 1
  [[ "$reported" == *"$want"* ]]
}

build_etcd() {
  if cached etcd "${ETCD_VERSION#v}" --version; then log "etcd $ETCD_VERSION cached"; return; fi
  log "building etcd $ETCD_VERSION"
  local dir="$WORK_DIR/etcd-$ETCD_VERSION"
  rm -rf "$dir" && mkdir -p "$dir" && cd "$dir"
  go mod init local/etcdbin >/dev/null 2>&1
  go get -tool "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >&2
  go mod tidy >&2
  go build -trimpath -ldflags "-s -w" -o "$BIN_DIR/etcd" go.etcd.io/etcd/server/v3
  log "etcd built: $("$BIN_DIR/etcd" --version | head -1)"
}

build_kwok() {
  if cached kwok "${KWOK_VERSION#v}" --version && [ -x "$BIN_DIR/kwokctl" ]; then
    log "kwok $KWOK_VERSION cached"; return
  fi
  log "building kwok and kwokctl $KWOK_VERSION"
  GOBIN="$BIN_DIR" go install -trimpath -ldflags "-s -w" \
    "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwokctl@$KWOK_VERSION"
  # The stage definitions ship in the module; keep the ones the launcher needs beside the binary.
  local mod
  mod="$(go env GOMODCACHE)/sigs.k8s.io/kwok@$KWOK_VERSION/kustomize/stage"
  mkdir -p "$BIN_DIR/../kwok-stages"
  cp "$mod/node/fast/node-initialize.yaml" \
     "$mod/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml" \
     "$mod/pod/fast/pod-complete.yaml" "$mod/pod/fast/pod-delete.yaml" "$BIN_DIR/../kwok-stages/"
  chmod -R u+w "$BIN_DIR/../kwok-stages"
  log "kwok built"
}

build_helm() {
  local major="${HELM_VERSION%%.*}" stamp="$BIN_DIR/helm.kube-defaults"
  if cached helm "$HELM_VERSION" version --short && [ -f "$stamp" ]; then
    log "helm $HELM_VERSION cached"; return
  fi
  log "building helm $HELM_VERSION"
  # As helm's own Makefile does: the Kubernetes version `helm template` and `helm lint` assume
  # without --kube-version is that of the client-go helm is built with (else v1.20, which a
  # chart's kubeVersion constraint refuses).
  local gomod client ld p
  gomod="$(go mod download -json "helm.sh/helm/$major@$HELM_VERSION" | python3 -c 'import sys,json;print(json.load(sys.stdin)["GoMod"])')"
  client="$(sed -n 's#^\s*k8s.io/client-go v0\.\([0-9]*\)\..*#\1#p' "$gomod" | head -1)"
  ld="-s -w -X helm.sh/helm/$major/internal/version.version=$HELM_VERSION"
  for p in pkg/chartutil pkg/lint/rules; do
    ld="$ld -X helm.sh/helm/$major/$p.k8sVersionMajor=1 -X helm.sh/helm/$major/$p.k8sVersionMinor=$client"
  done
  GOBIN="$BIN_DIR" go install -trimpath -ldflags "$ld" "helm.sh/helm/$major/cmd/helm@$HELM_VERSION"
  echo "v1.$client" >"$stamp"
  log "helm built: $("$BIN_DIR/helm" version --short), assuming Kubernetes v1.$client by default"
}

build_kubernetes() {
  local all=1 c
  for c in kube-apiserver kube-controller-manager kube-scheduler; do
    cached "$c" "$K8S_VERSION" --version || all=0
  done
  cached kubectl "$K8S_VERSION" version --client || all=0
  if [ "$all" = 1 ]; then log "kubernetes $K8S_VERSION cached"; return; fi
  log "building kubernetes $K8S_VERSION (kube-apiserver, kube-controller-manager, kube-scheduler, kubectl); the slow part"
  local dir="$WORK_DIR/k8s-$K8S_VERSION" staging minor gomod godebug
  minor="$(echo "$K8S_VERSION" | cut -d. -f2)"
  staging="v0.$minor.$(echo "$K8S_VERSION" | cut -d. -f3)"
  rm -rf "$dir" && mkdir -p "$dir" && cd "$dir"
  go mod init local/k8sbins >/dev/null 2>&1
  gomod="$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | python3 -c 'import sys,json;print(json.load(sys.stdin)["GoMod"])')"
  # k8s requires its staging modules at v0.0.0 via ./staging replaces; point them at real versions.
  for m in $(sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => \./staging/.*#\1#p' "$gomod"); do
    go mod edit -replace="$m=$m@$staging"
  done
  godebug="$(sed -n 's/^godebug \(.*\)$/\1/p' "$gomod")"
  [ -n "$godebug" ] && go mod edit -godebug="$godebug"
  go get -tool "k8s.io/kubernetes/cmd/kube-apiserver@$K8S_VERSION" "k8s.io/kubernetes/cmd/kube-controller-manager@$K8S_VERSION" \
    "k8s.io/kubernetes/cmd/kube-scheduler@$K8S_VERSION" "k8s.io/kubernetes/cmd/kubectl@$K8S_VERSION" >&2
  go mod tidy >&2
  local ld="-s -w" p
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
    ld="$ld -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  for c in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    log "  go build $c"
    go build -trimpath -ldflags "$ld" -o "$BIN_DIR/$c" "k8s.io/kubernetes/cmd/$c"
  done
  log "kubernetes built: $("$BIN_DIR/kube-apiserver" --version)"
}

build_etcd
build_kwok
build_helm
build_kubernetes
log "control plane ready in $BIN_DIR ($((SECONDS - START))s)"
echo "$BIN_DIR"
