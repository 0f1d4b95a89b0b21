# Outpost: a Postgres read replica in a SQLite file, plus a wire-protocol proxy.
# Build:  docker build -t outpost .
# Run:    docker run -v outpost-data:/data -p 5433:5433 -e OUTPOST_UPSTREAM=postgres://... outpost

# --- build stage: compiles TypeScript and better-sqlite3's native addon -------
FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

# --- runtime stage: Node, the compiled code and production dependencies ------
FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    OUTPOST_LISTEN=0.0.0.0:5433 \
    OUTPOST_HTTP=0.0.0.0:9433 \
    OUTPOST_REPLICA=/data/outpost.db
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 5433 9433
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:9433/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "dist/cli.js"]
