# Capillary -> AEP relay. Build: `docker build -t capillary-aep-relay .`
# Run:   `docker-compose up relay` (docker-compose.yml), or
#        `docker run -e CAPILLARY_AUTH_SECRETS=... -p 8080:8080 -v relay-data:/data capillary-aep-relay`
#        (an --env-file copied from .env.example must not override STORE_URL and DRY_RUN_FILE below).
#
# One Node LTS image for both stages, pinned to an exact release in one place, so what was installed
# and checked in the build stage runs on the same Node. Node 24 is the major that package.json's
# engines asks for (test/ops/node-flags.test.ts keeps them in step), and .ci/run tests on this release.
ARG NODE_VERSION=24.22.3
# ---------------------------------------------------------------- build
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
# Dependencies first, so a source-only change reuses the npm ci layer. better-sqlite3 13 ships
# prebuilt Node-API binaries for linux x64 and arm64 and compiles nothing (so no python3, make, g++
# here); opening a database proves the binary loads on this platform, or the build stops.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund \
 && node -e "new (require('better-sqlite3'))(':memory:').close()"
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# Compile, then drop dev dependencies (TypeScript, vitest, ...) so only production ones are copied on.
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && npm cache clean --force

# ---------------------------------------------------------------- runtime
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
# tini as PID 1: it forwards SIGTERM to node (so the relay's graceful shutdown runs) and reaps
# zombies. Without it, run the image with `docker run --init`.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /data \
 && chown node:node /data
WORKDIR /app
# Code and dependencies stay owned by root: the relay's user can read them but write only /data.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist

# The SQLite store and the dry-run output live on the volume; every other setting comes from the
# environment (see .env.example). Secrets: CAPILLARY_AUTH_SECRETS_FILE, ADOBE_CLIENT_SECRET_FILE,
# ADMIN_TOKEN_FILE read Docker/Kubernetes secrets mounted as files.
# MALLOC_ARENA_MAX: what package.json's start script sets (docs/performance.md, "Memory").
ENV MALLOC_ARENA_MAX=1 \
    PORT=8080 \
    HOST=0.0.0.0 \
    STORE_URL=sqlite:/data/relay.db \
    DRY_RUN_FILE=/data/dry-run.ndjson
VOLUME ["/data"]
# 8080: webhooks (public); 9464: /metrics and /admin (operations, keep it internal).
EXPOSE 8080 9464

# The image's unprivileged `node` user (uid 1000).
USER node

# Liveness with node itself (the slim image has no curl): 200 from /healthz within 4 s. The relay
# listens within a second or two, well before the first check at 30 s, so no start period is set.
HEALTHCHECK --interval=30s --timeout=5s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# SIGTERM (docker stop) drains in-flight requests for SHUTDOWN_GRACE_MS (default 10 s): give the
# container a stop timeout above that (`docker stop -t 20`, compose `stop_grace_period: 20s`).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "--max-semi-space-size=8", "--max-old-space-size=256", "dist/src/server.js"]
