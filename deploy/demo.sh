#!/usr/bin/env bash
# The operator's main job, end to end, on this machine: a real kube-apiserver and etcd, the
# authentik simulator, the operator, and the example manifests of deploy/examples. Prints
# `kubectl get authentik` once every resource is Ready, then cleans up after itself.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=${GOTOOLCHAIN:-auto}

work=$(mktemp -d -t authentik-operator-demo.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '==> %s\n' "$*" >&2; }
wait_for_line() { # file pattern seconds
  for _ in $(seq 1 $(( $3 * 10 ))); do
    grep -Eo "$2" "$1" 2>/dev/null | head -n1 && return 0
    sleep 0.1
  done
  echo "timed out waiting for '$2' in $1:" >&2; tail -n 20 "$1" >&2; return 1
}

step "building the control plane (first run only) and the binaries"
bin=$(tests/controlplane/build.sh)
cargo build --quiet -p authentik-operator -p authentik-sim -p testenv
kubectl="$bin/kubectl"

step "starting etcd and kube-apiserver on loopback"
target/debug/testenv up --dir "$work" --exit-with-parent >"$work/testenv.out" 2>"$work/testenv.log" &
pids+=($!)
export KUBECONFIG=$(wait_for_line "$work/testenv.out" 'KUBECONFIG=.*' 120 | cut -d= -f2-)

step "starting the authentik simulator"
token="demo-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
AUTHENTIK_SIM_TOKEN="$token" target/debug/authentik-sim --listen 127.0.0.1:0 --seed >"$work/sim.log" 2>&1 &
pids+=($!)
url=$(wait_for_line "$work/sim.log" 'http://127\.0\.0\.1:[0-9]+' 30)

step "installing the CRDs"
"$kubectl" apply -f crds/ >/dev/null
"$kubectl" wait --for=condition=Established crd --all --timeout=60s >/dev/null

step "running the operator against $url"
printf '%s' "$token" >"$work/token"
target/debug/authentik-operator run --authentik-url "$url" --authentik-token-file "$work/token" \
  --metrics-addr 127.0.0.1:0 --resync-interval 10s >"$work/operator.log" 2>&1 &
pids+=($!)

step "applying deploy/examples"
"$kubectl" create namespace demo >/dev/null
"$kubectl" apply -n demo -f deploy/examples/
if ! "$kubectl" wait -n demo --for=condition=Ready passwordstages,identificationstages,userloginstages --all --timeout=90s >/dev/null; then
  echo "not every resource became Ready; operator log:" >&2
  tail -n 30 "$work/operator.log" >&2
  "$kubectl" get authentik -n demo -o wide >&2
  exit 1
fi
echo
"$kubectl" get authentik -n demo
echo
step "done; stopping everything"
