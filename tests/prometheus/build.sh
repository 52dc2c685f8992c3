#!/usr/bin/env bash
# Builds Prometheus' promtool and server from their Go module (pinned in go.mod) into a
# per-version cache folder, once. Prints the folder that holds the binaries.
# Service discovery is left out (`remove_all_sd`): the tests scrape a static target, and
# promtool checks rules, which need none; the build is a good deal smaller for it.
# Rebuilds what is missing; set PROMETHEUS_REBUILD=1 to force it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
module_version=$(cd "$here" && GOFLAGS=-mod=mod go list -m -f "{{.Version}}" github.com/prometheus/prometheus)
cache=${AO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/authentik-operator}
bin="$cache/prometheus/$module_version/bin"
tools=(promtool prometheus)

complete() {
  local t
  [ -z "${PROMETHEUS_REBUILD:-}" ] || return 1
  for t in "${tools[@]}"; do [ -x "$bin/$t" ] || return 1; done
}
if complete; then
  echo "$bin"
  exit 0
fi
# One build at a time on this machine (parallel test binaries, several checkouts): wait for a
# running build, then look again. The lock is on this script, never on go.mod: `go build`
# takes its own lock on go.mod and would wait for ours for ever.
exec 9<"$here/build.sh"
flock 9
if complete; then
  echo "$bin"
  exit 0
fi

command -v go >/dev/null || { echo "go is required to build promtool (apt-get install golang-go, or a Go toolchain)" >&2; exit 1; }
mkdir -p "$bin"
# The Go module v0.3MM.P is Prometheus 3.MM.P; stamp it so `promtool --version` tells the truth.
release=${module_version#v0.}
minor=${release%%.*}
release="$((minor / 100)).$((minor % 100)).${release#*.}"
ldflags="-s -w -X github.com/prometheus/common/version.Version=$release"
ldflags+=" -X github.com/prometheus/common/version.Revision=$module_version"
ldflags+=" -X github.com/prometheus/common/version.Branch=module"
start=$(date +%s)
cd "$here"
export CGO_ENABLED=0 GOFLAGS=-mod=mod
echo "building promtool and prometheus $release into $bin (cold: a few minutes on 2 cores)" >&2
for t in "${tools[@]}"; do
  go build -trimpath -tags remove_all_sd -ldflags "$ldflags" -o "$bin/$t.tmp" \
    "github.com/prometheus/prometheus/cmd/$t"
done
# Rename only after every build succeeded, so an interrupted build never looks complete.
for t in "${tools[@]}"; do mv "$bin/$t.tmp" "$bin/$t"; done
echo "promtool and prometheus built in $(( $(date +%s) - start ))s" >&2
echo "$bin"
