#!/usr/bin/env bash
# Builds the operator's container image without a registry or Docker, as an OCI archive for
# `ctr images import`: the release binary (`cargo build --release --locked -p
# authentik-operator`, as in the Dockerfile) on a root file system that gives what the
# Dockerfile's distroless base gives — glibc and libgcc (this machine's Debian 12, the base's
# release), CA certificates, the `nonroot` user — and nothing else: no shell, no package
# manager. User, entrypoint and port are the Dockerfile's; tests/node/image.rs checks that the
# two stay in step.
#   tests/node/operator-image.sh OUT.tar [TAG]      (TAG defaults to "node-test")
# Prints OUT.tar. The release build uses its own target folder (a cargo test may hold the
# lock of the usual one).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$(realpath -m "$1") tag=${2:-node-test}
target=${CARGO_TARGET_DIR:-$root/target}/node-image
(cd "$root" && CARGO_TARGET_DIR=$target cargo build --release --locked -q -p authentik-operator)
bin=$target/release/authentik-operator

rootfs=$(mktemp -d "${TMPDIR:-/tmp}/operator-rootfs.XXXXXX")
trap 'rm -rf "$rootfs"' EXIT
install -m 0755 "$bin" "$rootfs/authentik-operator"
# The shared libraries the binary links, at the paths the dynamic loader looks for them.
for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do
  mkdir -p "$rootfs$(dirname "$lib")"
  cp -L "$lib" "$rootfs$lib"
done
install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
mkdir -p "$rootfs/etc" "$rootfs/home/nonroot"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$rootfs/etc/group"
chown 65532:65532 "$rootfs/home/nonroot"
install -d -m 1777 "$rootfs/tmp"

"$root/tests/harness/oci-image.sh" "$rootfs" "$out" "$tag" \
  --config.user 65532:65532 \
  --config.entrypoint /authentik-operator --config.entrypoint run \
  --config.exposedports 8080/tcp \
  --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --config.env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
  --config.workingdir /
echo "$out"
