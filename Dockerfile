# syntax=docker/dockerfile:1
# timecamp-scim: every program on PATH, run as a non-root user.
#   docker build -t timecamp-scim:0.1.0 .
#   docker run --rm --env-file .env -v "$PWD/var:/app/var" timecamp-scim:0.1.0 sync-users --dry-run
#
# The image holds one binary, timecamp-scim, and a link to it named after each
# program (sync-users, fetch-ldap, ...): it runs the program it is called as.
# scripts/deploy-check builds the runtime stage below with binaries built on
# the host, so keep the build stage's output to /out/timecamp-scim.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p timecamp-scim --bin timecamp-scim \
 && mkdir /out \
 && cp target/release/timecamp-scim /out/

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates tini \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log \
 && groupadd --gid 1000 scim \
 && useradd --uid 1000 --gid scim --home-dir /app --no-create-home --shell /usr/sbin/nologin scim \
 && mkdir -p /app/var/logs \
 && chown -R scim:scim /app
COPY --from=build /out/timecamp-scim /usr/local/bin/timecamp-scim
RUN for program in $(timecamp-scim --list); do \
      ln -s timecamp-scim "/usr/local/bin/$program"; \
    done
WORKDIR /app
USER 1000:1000
VOLUME ["/app/var"]
EXPOSE 8181 8282
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["sync-users", "--help"]
