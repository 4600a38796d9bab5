# One image, two programs: /app/epilogue-store and /app/epilogue-gateway.
# docker-compose.yml and docker-stack.yml pick which one a container runs; the default CMD starts
# the store.
#
# Two ways to build it, one runtime stage:
#   docker build -t epilogue:local .
#       the default (last) target, `runtime`: compiles in the Swift image, ships in Debian slim.
#   docker build --target prebuilt -t epilogue:local CONTEXT
#       binaries already built on a bookworm host (`swift build -c release --static-swift-stdlib`),
#       put in CONTEXT/prebuilt/ (both executables and Epilogue_EpilogueStorage.resources/); no Swift
#       image needed. CI does this (scripts/compose-e2e.sh, scripts/swarm-e2e.sh), because it cannot
#       pull swift:6.3.1-bookworm.
# `prebuilt` comes before the Swift stage on purpose: the classic (non-BuildKit) builder builds
# every stage up to its target in file order, so --target prebuilt never touches the Swift image.
#
# CI lints this file (hadolint, scripts/check-deploy.sh) and builds and runs the prebuilt target
# in real containers (scripts/compose-e2e.sh, scripts/swarm-e2e.sh).

# ---- runtime base: everything of the shipped image except the binaries ------------------------
FROM debian:bookworm-slim AS runtime-base

# Runtime libraries of the statically-linked-Swift binaries (already in bookworm-slim, listed so
# the dependency is explicit). Not version-pinned on purpose: Debian point releases replace the
# exact versions, which would break the build; the base image tag already pins the distribution.
# hadolint ignore=DL3008
RUN export DEBIAN_FRONTEND=noninteractive \
    && apt-get update \
    && apt-get install -y --no-install-recommends zlib1g libstdc++6 libgcc-s1 \
    && rm -rf /var/lib/apt/lists/*

# An unprivileged user; /data is the store's data directory (a named volume in compose and in the
# stack, which Docker fills from this directory on first use, ownership included).
RUN groupadd --system --gid 10001 epilogue \
    && useradd --system --no-log-init --uid 10001 --gid epilogue \
    --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin epilogue \
    && mkdir -p /data \
    && chown epilogue:epilogue /data \
    && chmod 0750 /data

WORKDIR /app

# No VOLUME instruction: it would give every container of the image, gateways included, an
# anonymous volume that outlives it (swarm leaves one behind for each replaced task). Mount a
# named volume at /data for the store (`docker run -v epilogue-data:/data …`; compose and the
# stack do); without one, its data lives and dies with the container.
ENV EPILOGUE_DATA_DIR=/data

# 7700 gateway (text protocol), 7701 store (binary protocol v1),
# 9700 / 9701 Prometheus /metrics of the gateway / the store.
EXPOSE 7700 7701 9700 9701

# Numeric (= epilogue:epilogue) so runtimes that check runAsNonRoot can verify it.
USER 10001:10001

CMD ["/app/epilogue-store", "--host", "0.0.0.0", "--data-dir", "/data"]

# ---- prebuilt: the runtime image around binaries built outside Docker --------------------------
FROM runtime-base AS prebuilt
# Binaries stay owned by root: the service user can run them but not replace them.
COPY prebuilt/ /app/

# ---- build -------------------------------------------------------------------------------------
# Pinned to the toolchain CI builds and tests with (Swift 6.3.1 on Debian 12 "bookworm"),
# so the image compiles exactly what CI compiled.
FROM swift:6.3.1-bookworm AS build

# zlib headers for the CZlib system-library target (Package.swift: providers .apt(["libz-dev"])).
# Not version-pinned, for the same reason as above.
# hadolint ignore=DL3008
RUN export DEBIAN_FRONTEND=noninteractive \
    && apt-get update \
    && apt-get install -y --no-install-recommends zlib1g-dev \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /build

# Dependencies first, on their own layer: it is rebuilt only when the manifest changes.
# (Package.resolved is not copied: it is git-ignored, resolution follows Package.swift.)
COPY Package.swift ./
RUN swift package resolve

# SwiftPM validates every target's folder when it loads the manifest, the test target's included,
# so Tests/ must be present even though only the executables are built.
COPY Sources ./Sources
COPY Tests ./Tests

# --static-swift-stdlib: the Swift runtime and Foundation are linked in, so the runtime image
# needs only libc, libstdc++/libgcc and zlib.
RUN swift build -c release --static-swift-stdlib

# Stage what the runtime image needs: both binaries and the store's resource bundle (the bundled
# dataset), which Bundle.module looks for next to the executable.
RUN bin="$(swift build -c release --static-swift-stdlib --show-bin-path)" \
    && mkdir -p /staging \
    && cp "$bin/epilogue-store" "$bin/epilogue-gateway" /staging/ \
    && cp -R "$bin/Epilogue_EpilogueStorage.resources" /staging/ \
    && test -f /staging/Epilogue_EpilogueStorage.resources/dataset.json

# ---- runtime (the default target) --------------------------------------------------------------
FROM runtime-base AS runtime
# Binaries stay owned by root: the service user can run them but not replace them.
COPY --from=build /staging/ /app/
