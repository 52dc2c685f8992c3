#!/usr/bin/env bash
# Packs a folder as a one-layer OCI image archive, without a registry or a container engine
# (umoci writes the layout; `ctr images import` reads the archive).
#   oci-image.sh ROOTFS OUT.tar TAG [umoci config flags...]
# Files keep their owners and modes. The archive's one image is named TAG.
set -euo pipefail
rootfs=$1 out=$2 tag=$3
shift 3
command -v umoci >/dev/null || { echo "umoci is required (apt-get install umoci)" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/oci-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
layout="$work/layout"
umoci init --layout "$layout"
umoci new --image "$layout:$tag"
umoci unpack --image "$layout:$tag" "$work/bundle" >/dev/null
cp -a "$rootfs/." "$work/bundle/rootfs/"
umoci repack --image "$layout:$tag" --history.created 1970-01-01T00:00:00Z \
  --history.created_by "$(basename "$0")" "$work/bundle"
# umoci stamps the creation time; a fixed one keeps the image's digest a function of its files.
umoci config --no-history --image "$layout:$tag" --created 1970-01-01T00:00:00Z "$@"
umoci gc --layout "$layout"
tar -C "$layout" -cf "$out.tmp" .
mv "$out.tmp" "$out"
