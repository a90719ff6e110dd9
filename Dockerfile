# Build: docker build -t tollgate .
# Run:   docker run -p 8181:8181 -v tollgate-data:/data \
#          -e TOLLGATE_ADMIN_TOKEN=... -e TOLLGATE_DECISION_TOKEN=... tollgate
# Inside a container the daemon listens on all interfaces, so decisions need a decision
# token (without one they are open to loopback peers only).
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock clippy.toml ./
COPY src src
COPY policies policies
COPY schema schema
COPY benches benches
COPY tests tests
RUN cargo build --release --locked --bin tollgate

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 tollgate && mkdir /data && chown tollgate /data
COPY --from=build /src/target/release/tollgate /usr/local/bin/tollgate
USER tollgate
WORKDIR /data
ENV TOLLGATE_LISTEN=0.0.0.0:8181 \
    TOLLGATE_DB=/data/tollgate.db
EXPOSE 8181
ENTRYPOINT ["tollgate"]
CMD ["serve"]
