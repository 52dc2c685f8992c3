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
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing ${need_apt[*]}" >&2
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
# Go fetches the toolchain go.mod asks for when the installed one is older.
export GOTOOLCHAIN=${GOTOOLCHAIN:-auto}

# Build (or reuse) the control plane and helm first, so their cost shows on its own line.
tests/controlplane/build.sh >/dev/null
tests/helm/build.sh >/dev/null

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace --no-fail-fast -- --test-threads="${TEST_THREADS:-4}"
