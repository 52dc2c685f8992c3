#!/usr/bin/env bash
# Runs every test: formatting, lints, unit tests and the end-to-end tests against a real
# kube-apiserver and etcd (built from their Go modules on first use) and the authentik
# simulator. Installs what it needs on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v go >/dev/null || need_apt+=(golang-go)
command -v lua5.4 >/dev/null || need_apt+=(lua5.4)
command -v curl >/dev/null || need_apt+=(curl) # deploy/demo.sh talks to the simulator
# The node tier (tests/node): a container runtime, image tools, the pod network, a pause binary.
command -v containerd >/dev/null || need_apt+=(containerd)
command -v runc >/dev/null || need_apt+=(runc)
command -v umoci >/dev/null || need_apt+=(umoci)
command -v busybox >/dev/null || need_apt+=(busybox-static)
command -v iptables >/dev/null || need_apt+=(iptables)
command -v nft >/dev/null || need_apt+=(nftables)
[ -x /usr/lib/cni/bridge ] || need_apt+=(containernetworking-plugins)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing ${need_apt[*]}" >&2
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
# Go fetches the toolchain go.mod asks for when the installed one is older.
export GOTOOLCHAIN=${GOTOOLCHAIN:-auto}

# Build (or reuse) the control plane with the node tier, helm, Prometheus (promtool and the
# server, for tests/monitoring), prometheus-operator's CRDs (for tests/packaging) and the
# operator's image first, so their cost shows on its own line.
tests/controlplane/build.sh --node >/dev/null
tests/helm/build.sh >/dev/null
tests/prometheus/build.sh >/dev/null
tests/prometheus-crds/build.sh >/dev/null
start=$(date +%s)
tests/node/operator-image.sh "${CARGO_TARGET_DIR:-target}/operator-image.tar" >/dev/null
echo "operator image (release build) ready in $(( $(date +%s) - start ))s" >&2

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace --no-fail-fast -- --test-threads="${TEST_THREADS:-4}"
