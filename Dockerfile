# syntax=docker/dockerfile:1
# authentik-operator: a release build in a Rust image, run from a distroless image as a
# non-root user. Build it from the repository root:
#   docker build -t <registry>/authentik-operator:<tag> .

# --- build -------------------------------------------------------------------------------
FROM docker.io/library/rust:1-bookworm AS build
# aws-lc-sys (the TLS crypto) compiles C code; CMake is its fallback build system.
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The whole workspace (its other members, sim/ and tests/harness/, must be present for Cargo to
# load the workspace, though only the operator is built). .dockerignore keeps target/ out.
COPY . .
# Cache mounts keep the crate registry and the build folder between builds; the binary is
# copied out of the cached target/ because cache mounts are not part of the image.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p authentik-operator \
 && install -D -m 0755 target/release/authentik-operator /out/authentik-operator

# --- run ---------------------------------------------------------------------------------
# glibc, libgcc and CA certificates, nothing else: no shell, no package manager. The
# "nonroot" variant runs as uid/gid 65532. Same Debian release as the build stage (glibc).
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/authentik-operator /authentik-operator
USER 65532:65532
# /metrics, /livez and /readyz.
EXPOSE 8080
ENTRYPOINT ["/authentik-operator", "run"]
