# syntax=docker/dockerfile:1
# Build: the SQLite and PostgreSQL client libraries are compiled from their bundled sources,
# so the runtime image needs no database packages.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY .cargo ./.cargo
COPY Cargo.toml Cargo.lock build.rs ./
COPY src ./src
COPY migrations ./migrations
RUN cargo build --release --locked && strip target/release/coop-registry

FROM debian:bookworm-slim
# curl only serves the HEALTHCHECK. Left unpinned on purpose so that rebuilding picks up
# Debian's security fixes.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data --create-home registry
COPY --from=build /src/target/release/coop-registry /usr/local/bin/coop-registry
USER 10001
WORKDIR /data
ENV BIND=0.0.0.0:8080 \
    DATABASE_URL=/data/coop-registry.db \
    RUST_LOG=info
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD ["curl", "-fsS", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["coop-registry"]
CMD ["serve"]
