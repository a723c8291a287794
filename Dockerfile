# syntax=docker/dockerfile:1
#
# One build of the whole workspace, then one small runtime image per binary:
#   docker build --target gateway -t tracing-suite/gateway .
# docker-compose.yml builds every target from this file; BuildKit runs the
# shared `build` stage once for all of them, and the storefront's (web/)
# beside it.

ARG RUST_VERSION=1.95
ARG DEBIAN=bookworm
# The Node.js release web/package-lock.json was made with. It only builds
# the storefront's files; no image runs it.
ARG NODE_VERSION=20.20.2

# cargo-chef splits the build in two so dependencies get their own layer:
# it is rebuilt only when a Cargo.toml or Cargo.lock changes, not on every
# source edit.
FROM rust:${RUST_VERSION}-slim-${DEBIAN} AS chef
RUN cargo install cargo-chef --locked --version 0.1.78
WORKDIR /src

# web/ is the storefront's, built in a stage of its own: an edit there
# changes neither the recipe nor the workspace build.
FROM chef AS planner
COPY --exclude=web . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS build
# The same packages for both steps: cargo resolves features over the
# packages it is asked for, and a cook of the whole workspace would build
# other dependencies than the final build uses, so nothing would cache.
ARG PACKAGES="-p gateway -p users -p orders -p payments -p notifications -p card-processor -p loadgen"
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json ${PACKAGES}
COPY --exclude=web . .
RUN cargo build --release --locked ${PACKAGES} \
 && mkdir -p /out \
 && cp target/release/gateway target/release/users target/release/orders \
       target/release/payments target/release/notifications target/release/card-processor \
       target/release/loadgen /out/

# The storefront the gateway serves: `index.html` and `assets/`, built into
# /web/dist. The dependencies get their own layer, rebuilt only when
# package.json or the lock file changes; .dockerignore keeps the host's
# node_modules and dist out, so the image installs and builds its own.
FROM node:${NODE_VERSION}-${DEBIAN}-slim AS storefront
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/ ./
# World-readable whatever the umask: the gateway reads them as user 10001.
RUN npm run build && chmod -R a+rX dist

# What every service image shares: a slim Debian (the same glibc as the
# build) and an unprivileged user. bash stays for the compose health checks,
# which probe /readyz through /dev/tcp with no curl in the image.
FROM debian:${DEBIAN}-slim AS runtime
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin app
USER 10001:10001
# MALLOC_ARENA_MAX: glibc gives each thread that allocates an arena of its
# own, up to 8 per core, each keeping what was freed in it; two for all
# the threads held 3 MiB less across the five services at the
# benchmark's peak, for no CPU it could see (docs/benchmarks.md).
ENV LOG_FORMAT=json RUST_LOG=info MALLOC_ARENA_MAX=2

FROM runtime AS gateway
COPY --from=build /out/gateway /usr/local/bin/gateway
# Owned by root: the gateway reads the page and its assets, and cannot
# change them.
COPY --from=storefront /web/dist /usr/share/storefront
ENV STOREFRONT_DIR=/usr/share/storefront
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/gateway"]

FROM runtime AS users
COPY --from=build /out/users /usr/local/bin/users
EXPOSE 8081
ENTRYPOINT ["/usr/local/bin/users"]

FROM runtime AS orders
COPY --from=build /out/orders /usr/local/bin/orders
EXPOSE 8082
ENTRYPOINT ["/usr/local/bin/orders"]

FROM runtime AS payments
COPY --from=build /out/payments /usr/local/bin/payments
EXPOSE 8083
ENTRYPOINT ["/usr/local/bin/payments"]

FROM runtime AS notifications
COPY --from=build /out/notifications /usr/local/bin/notifications
EXPOSE 8084
ENTRYPOINT ["/usr/local/bin/notifications"]

FROM runtime AS card-processor
COPY --from=build /out/card-processor /usr/local/bin/card-processor
EXPOSE 8085
ENTRYPOINT ["/usr/local/bin/card-processor"]

# Synthetic checkouts for the dashboards: a client, it listens on nothing.
FROM runtime AS loadgen
COPY --from=build /out/loadgen /usr/local/bin/loadgen
ENTRYPOINT ["/usr/local/bin/loadgen"]
