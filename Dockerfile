# syntax=docker/dockerfile:1
# timecamp-scim: every stage binary on PATH, run as a non-root user.
#   docker build -t timecamp-scim .
#   docker run --rm --env-file .env -v "$PWD/var:/app/var" timecamp-scim sync-users --dry-run

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p timecamp-scim --bins \
 && mkdir /out \
 && for bin in fetch-bamboohr fetch-azuread fetch-ldap fetch-factorial fetch-hibob fetch-okta \
               fetch-csv fetch-netsuite fetch-google fetch-personio \
               prepare-timecamp \
               sync-users sync-time-off display-tree remove-empty-groups http-service; do \
      cp "target/release/$bin" /out/; \
    done

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 1000 scim \
 && useradd --uid 1000 --gid scim --home-dir /app --no-create-home --shell /usr/sbin/nologin scim \
 && mkdir -p /app/var/logs \
 && chown -R scim:scim /app
COPY --from=build /out/ /usr/local/bin/
WORKDIR /app
USER 1000:1000
VOLUME ["/app/var"]
EXPOSE 8181
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["sync-users", "--help"]
