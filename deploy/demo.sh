#!/usr/bin/env bash
# The operator's main job, end to end, on this machine: a real kube-apiserver and etcd, the
# authentik simulator, the operator, and the example manifests of deploy/examples. Once every
# resource is Ready it shows what the operator is for, in two short steps: a change made in
# authentik behind its back is put back, and a bad manifest is refused at `kubectl apply`.
# Then it cleans up after itself; with --keep it leaves everything running to play with,
# until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=${GOTOOLCHAIN:-auto}

keep=false
case "${1:-}" in
  --keep) keep=true ;;
  "") ;;
  *) echo "usage: $0 [--keep]" >&2; exit 2 ;;
esac

command -v curl >/dev/null || { echo "the demo needs curl (e.g. apt-get install curl)" >&2; exit 1; }

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
say() { printf '\n--- %s\n' "$*"; }
wait_for_line() { # file pattern seconds
  for _ in $(seq 1 $(( $3 * 10 ))); do
    grep -Eo "$2" "$1" 2>/dev/null | head -n1 && return 0
    sleep 0.1
  done
  echo "timed out waiting for '$2' in $1:" >&2; tail -n 20 "$1" >&2; return 1
}
# Runs a long, otherwise silent command with a line of progress every 15 seconds.
with_progress() { # what command...
  local what=$1; shift
  "$@" &
  local pid=$! started=$SECONDS
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    if (( (SECONDS - started) % 15 == 0 )); then
      printf '    ... still %s (%ss)\n' "$what" $(( SECONDS - started )) >&2
    fi
  done
  wait "$pid"
}

step "building the control plane (kube-apiserver, etcd, kubectl; first run only, cached after)"
with_progress "building the control plane" tests/controlplane/build.sh >"$work/bin"
bin=$(cat "$work/bin")
step "building the operator, the simulator and the test harness"
with_progress "compiling" cargo build --quiet -p authentik-operator -p authentik-sim -p testenv
kubectl="$bin/kubectl"
# Where cargo put them: CARGO_TARGET_DIR when set (relative to here), else ./target.
built="${CARGO_TARGET_DIR:-target}/debug"

step "starting etcd and kube-apiserver on loopback"
"$built/testenv" up --dir "$work" --exit-with-parent >"$work/testenv.out" 2>"$work/testenv.log" &
pids+=($!)
export KUBECONFIG=$(wait_for_line "$work/testenv.out" 'KUBECONFIG=.*' 120 | cut -d= -f2-)

step "starting the authentik simulator"
token="demo-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
AUTHENTIK_SIM_TOKEN="$token" "$built/authentik-sim" --listen 127.0.0.1:0 --seed >"$work/sim.log" 2>&1 &
pids+=($!)
url=$(wait_for_line "$work/sim.log" 'http://127\.0\.0\.1:[0-9]+' 30)

step "installing the CRDs"
"$kubectl" apply -f crds/ >/dev/null
"$kubectl" wait --for=condition=Established crd --all --timeout=60s >/dev/null

step "running the operator against $url"
printf '%s' "$token" >"$work/token"
"$built/authentik-operator" run --authentik-url "$url" --authentik-token-file "$work/token" \
  --metrics-addr 127.0.0.1:0 --resync-interval 5s >"$work/operator.log" 2>&1 &
pids+=($!)

step "applying deploy/examples"
"$kubectl" create namespace demo >/dev/null
"$kubectl" apply -n demo -f deploy/examples/
# `authentik` is the category every kind of the operator is in.
if ! "$kubectl" wait -n demo --for=condition=Ready authentik --all --timeout=90s >/dev/null; then
  echo "not every resource became Ready; operator log:" >&2
  tail -n 30 "$work/operator.log" >&2
  "$kubectl" get authentik -n demo -o wide >&2
  exit 1
fi
echo
"$kubectl" get authentik -n demo

pk=$("$kubectl" get passwordstage login-password -n demo -o jsonpath='{.status.pk}')
api="$url/api/v3/stages/password/$pk/"
attempts() { curl -sf -H "Authorization: Bearer $token" "$api" | grep -Eo '"failed_attempts_before_cancel": ?[0-9]+' | grep -Eo '[0-9]+$'; }

say "1. Drift: someone changes the password stage in authentik (its UI; here, its API)"
echo "spec.failedAttemptsBeforeCancel is $("$kubectl" get passwordstage login-password -n demo -o jsonpath='{.spec.failedAttemptsBeforeCancel}'); setting it to 99 in authentik:"
curl -sf -X PATCH -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d '{"failed_attempts_before_cancel": 99}' "$api" >/dev/null
echo "authentik now says $(attempts)"
echo "the operator's next drift sweep (every 5s here) puts it back:"
for _ in $(seq 1 300); do
  [ "$(attempts)" = 5 ] && break
  sleep 0.1
done
echo "authentik says $(attempts) again"
echo '$ kubectl describe passwordstage login-password -n demo   # the events'
for _ in $(seq 1 50); do
  "$kubectl" describe passwordstage login-password -n demo | grep -q DriftCorrected && break
  sleep 0.2
done
"$kubectl" describe passwordstage login-password -n demo | sed -n '/^Events:/,$p'

say "2. A bad manifest is refused at kubectl apply, naming the field"
bad='apiVersion: authentik-operator.io/v1alpha1
kind: PasswordStage
metadata: {name: typo}
spec:
  backends: [authentik.core.auth.InbuiltBackends]'
printf '%s\n' "$bad"
echo '$ kubectl apply -f -'
if printf '%s\n' "$bad" | "$kubectl" apply -n demo -f - 2>&1; then
  echo "the API server accepted a bad manifest" >&2
  exit 1
fi
echo "(nothing was created: $("$kubectl" get passwordstage typo -n demo 2>&1 | head -n1))"

if $keep; then
  say "Everything keeps running until Ctrl-C. In another shell:"
  cat <<EOT
export KUBECONFIG=$KUBECONFIG
kubectl get authentik -n demo                                   # the resources
kubectl edit passwordstage login-password -n demo               # change a field; watch it reach authentik
curl -s -H "Authorization: Bearer $token" $url/api/v3/stages/password/ | head -c 600; echo
curl -s -X PATCH -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \\
  -d '{"failed_attempts_before_cancel": 42}' $api   # drift, put back within 5s
kubectl delete passwordstage login-password -n demo             # waits while login-identification and a binding refer to it
tail -f $work/operator.log                                      # what the operator did

The simulator (authentik's API) is at $url, token $token.
EOT
  step "running; Ctrl-C stops everything"
  wait "${pids[@]}" || true
fi
echo
step "done; stopping everything"
