# syntax=docker/dockerfile:1
# The Weft sidecar image: `weft proxy` beside every workload, and `weft init` (traffic
# interception, run as the injected init container). Build from the repository root:
#   docker build -f deploy/docker/proxy.Dockerfile -t weft/proxy:0.1.0 .
# Node runs the TypeScript sources directly, so there is no compile step: the first stage
# installs production dependencies only, the second copies them beside the sources.
ARG NODE_IMAGE=node:24-slim

FROM ${NODE_IMAGE} AS deps
# python3, make and g++ build the original-destination addon (original-dst/: Node-API, so the
# build loads in any Node version), against the headers the Node image ships.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
ENV npm_config_nodedir=/usr/local
WORKDIR /weft
COPY package.json package-lock.json ./
COPY proto/package.json proto/
COPY certs/package.json certs/
COPY original-dst/package.json original-dst/binding.gyp original-dst/
COPY original-dst/src original-dst/src
COPY proxy/package.json proxy/
COPY control-plane/package.json control-plane/
COPY cli/package.json cli/
COPY test/package.json test/
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm run install --workspace @weft/original-dst \
 && test -f original-dst/build/Release/original_dst.node

FROM ${NODE_IMAGE}
# iptables (nft backend) for `weft init`. The proxy's uid is fixed: interception rules
# exclude the traffic of this user, and the injector runs the proxy as it.
RUN apt-get update \
 && apt-get install -y --no-install-recommends iptables \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 2102 weft-proxy \
 && useradd --system --uid 2102 --gid weft-proxy --no-create-home --shell /usr/sbin/nologin weft-proxy
ENV NODE_ENV=production
WORKDIR /weft
COPY --from=deps /weft/node_modules node_modules
COPY package.json ./
COPY proto/package.json proto/
COPY proto/src proto/src
COPY certs/package.json certs/
COPY certs/src certs/src
COPY original-dst/package.json original-dst/
COPY original-dst/src original-dst/src
COPY --from=deps /weft/original-dst/build/Release/original_dst.node original-dst/build/Release/
COPY proxy/package.json proxy/
COPY proxy/src proxy/src
# The CLI reads the injector's defaults for its flags; the control plane itself stays unused here.
COPY control-plane/package.json control-plane/
COPY control-plane/src control-plane/src
COPY cli/package.json cli/
COPY cli/bin cli/bin
COPY cli/src cli/src
USER 2102:2102
# inbound (mTLS from other sidecars), outbound (the app's calls), admin (/ready, /live)
EXPOSE 15006 15001 15020
HEALTHCHECK --interval=5s --timeout=2s --start-period=5s CMD ["node", "/weft/cli/bin/weft.js", "ready"]
ENTRYPOINT ["node", "/weft/cli/bin/weft.js"]
CMD ["proxy", "--help"]
