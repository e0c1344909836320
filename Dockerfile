# syntax=docker/dockerfile:1
#
# acdstream container image: `docker build -t acdstream .` (deploy/compose/compose.yaml builds it).
#
# Stage 1 compiles exactly what the README builds, `cargo build --release --locked`. rdkafka is
# built with its vendored librdkafka (./configure + make), vendored OpenSSL (perl, make) and zstd
# (cc); zlib comes from the system (zlib1g-dev here, zlib1g at run time). No cmake is needed:
# the `cmake-build` feature of rdkafka is not enabled. protox compiles the .proto files in Rust,
# so no protoc either.
FROM rust:1.95-bookworm AS builder
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential perl pkg-config zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked \
 && install -D -m 0755 target/release/acdstream /out/acdstream

# Stage 2: Debian slim (the binary links glibc, libgcc_s and libz, which bookworm-slim has),
# CA certificates for TLS to brokers (set kafka.properties."ssl.ca.location" to
# /etc/ssl/certs/ca-certificates.crt: the vendored OpenSSL does not look there by itself),
# and a non-root user.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 acdstream \
 && useradd --system --uid 10001 --gid acdstream --no-create-home --shell /usr/sbin/nologin acdstream
COPY --from=builder /out/acdstream /usr/local/bin/acdstream
COPY acdstream.example.toml /usr/share/doc/acdstream/acdstream.example.toml
USER 10001:10001
# /metrics, /healthz, /readyz. In a container the server must listen on all interfaces, not
# the default 127.0.0.1. Environment overrides beat the config file, so this also replaces a
# file's http.listen: change the port by setting ACDSTREAM_HTTP__LISTEN.
ENV ACDSTREAM_HTTP__LISTEN=0.0.0.0:9898
EXPOSE 9898
# No HEALTHCHECK here: Kubernetes ignores it and uses the probes (deploy/k8s/deployment.yaml),
# and compose declares its own (deploy/compose/compose.yaml), both on /healthz and /readyz.
ENTRYPOINT ["acdstream"]
CMD ["run"]
