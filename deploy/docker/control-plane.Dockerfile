# syntax=docker/dockerfile:1
# The Weft control plane image: config store, discovery (gRPC), admin API and the sidecar
# injection webhook. Build from the repository root:
#   docker build -f deploy/docker/control-plane.Dockerfile -t weft/control-plane:0.1.0 .
# Node runs the TypeScript sources directly, so there is no compile step: the first stage
# installs production dependencies only, the second copies them beside the sources.
ARG NODE_IMAGE=node:24-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /weft
COPY package.json package-lock.json ./
COPY proto/package.json proto/
COPY certs/package.json certs/
COPY original-dst/package.json original-dst/
COPY proxy/package.json proxy/
COPY control-plane/package.json control-plane/
COPY cli/package.json cli/
COPY test/package.json test/
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM ${NODE_IMAGE}
RUN groupadd --system --gid 2103 weft \
 && useradd --system --uid 2103 --gid weft --no-create-home --shell /usr/sbin/nologin weft \
 && mkdir -p /var/lib/weft \
 && chown 2103:2103 /var/lib/weft \
 && chmod 0700 /var/lib/weft
ENV NODE_ENV=production
WORKDIR /weft
COPY --from=deps /weft/node_modules node_modules
COPY package.json ./
COPY proto/package.json proto/
COPY proto/src proto/src
COPY certs/package.json certs/
COPY certs/src certs/src
COPY control-plane/package.json control-plane/
COPY control-plane/src control-plane/src
# `weft up` and `weft proxy` are not used here, but the CLI imports the proxy package lazily
# (without its native addon, which only interception needs).
COPY original-dst/package.json original-dst/
COPY original-dst/src original-dst/src
COPY proxy/package.json proxy/
COPY proxy/src proxy/src
COPY cli/package.json cli/
COPY cli/bin cli/bin
COPY cli/src cli/src
USER 2103:2103
VOLUME ["/var/lib/weft"]
# discovery (sidecars), admin API (weft apply/status), webhook (HTTPS, from the API server)
EXPOSE 15010 15000 8443
ENTRYPOINT ["node", "/weft/cli/bin/weft.js"]
CMD ["control-plane", "--host", "0.0.0.0", "--admin-host", "127.0.0.1", "--config", "/etc/weft/mesh.yaml", "--data-dir", "/var/lib/weft"]
