# wsbit container image. Build: docker build -t wsbit:0.1.0 .   (the tag is package.json's version;
# deploy/kubernetes-daemonset.yaml runs wsbit:0.1.0)
#
# Both configs ship to the aggregator of conf/aggregator.conf (port 8090, path /ingest): set
# WSBIT_WS_HOST to its address and WSBIT_TOKEN to its token. Reading the host's container logs needs
# root (--user 0); the buffer and tail offsets go in the /var/lib/wsbit volume either way.
#
# On a plain Docker host, deploy/docker-host.conf tails every container's json-file log:
#   docker run -d --name wsbit --user 0 -p 2020:2020 -e WSBIT_WS_HOST=receiver.example -e WSBIT_TOKEN=choose-a-secret \
#     -v /var/lib/docker/containers:/var/lib/docker/containers:ro -v wsbit-data:/var/lib/wsbit wsbit:0.1.0 -c /etc/wsbit/docker-host.conf
# On a Kubernetes node (deploy/kubernetes-daemonset.yaml runs this on every node), the default
# command runs deploy/wsbit.conf, which tails /var/log/containers/*.log (symlinks into /var/log/pods):
#   docker run -d --name wsbit --user 0 -p 2020:2020 -e WSBIT_WS_HOST=receiver.example -e WSBIT_TOKEN=choose-a-secret \
#     -v /var/log:/var/log:ro -v wsbit-data:/var/lib/wsbit wsbit:0.1.0
# Both serve health and metrics on port 2020; HEALTHCHECK below asks /api/v1/health.

# The base image is pinned to a full Node version, the one the tests run on. A digest would pin the
# exact bytes, but it can only be read from a registry: to pin one, `docker pull
# node:20.20.2-bookworm-slim`, read `docker inspect --format '{{index .RepoDigests 0}}'` and append
# @sha256:... to both FROM lines.

# Build stage: compile src/ only (tsconfig.build.json; no tests or benchmarks) with the dev
# dependencies, then check the live page's script, copy its files and bundle the agent that
# bin/wsbit runs (dist/bundle), as `npm run build` does.
FROM node:20.20.2-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
RUN npm ci --ignore-scripts
COPY src ./src
COPY scripts/copy-assets.mjs scripts/bundle.mjs ./scripts/
RUN node_modules/.bin/tsc -p tsconfig.build.json && node_modules/.bin/tsc -p src/plugins/outputs/websocket-server/live-page/tsconfig.json && node scripts/copy-assets.mjs && node scripts/bundle.mjs

# Runtime stage: production dependencies and the compiled code only.
FROM node:20.20.2-bookworm-slim
ENV NODE_ENV=production
WORKDIR /opt/wsbit
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /src/dist/bundle ./dist/bundle
COPY bin ./bin
COPY conf ./conf
COPY deploy/wsbit.conf deploy/kubernetes.conf deploy/docker-host.conf deploy/parsers.conf /etc/wsbit/
# storage.path and the tail offsets live here; the image runs as `node`, which must own it.
RUN mkdir -p /var/lib/wsbit && chown node:node /var/lib/wsbit
VOLUME ["/var/lib/wsbit"]
# The monitoring server (HTTP_Server on) listens here.
EXPOSE 2020
# The image has node but no curl or wget: the check is a node one-liner. It follows WSBIT_HTTP_PORT.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 CMD ["node", "-e", "require('node:http').get('http://127.0.0.1:' + (process.env.WSBIT_HTTP_PORT || 2020) + '/api/v1/health', (r) => process.exit(r.statusCode === 200 ? 0 : 1)).on('error', () => process.exit(1))"]
USER node
# TurboFan compiles on the main thread: compiling on a helper thread left its zone memory in that thread's
# malloc arena, 2-4 MB of peak RSS on every node of the fleet (1M records of tcp json into the websocket
# output, medians of 3-4 alternating runs: 100 B 75 -> 73 MB, 1 KB 76 -> 72 MB), for no more CPU in the
# same runs. V8 decides this when it starts, so it is a node flag, not something bin/wsbit can set.
ENTRYPOINT ["node", "--no-concurrent-recompilation", "/opt/wsbit/bin/wsbit"]
CMD ["-c", "/etc/wsbit/wsbit.conf"]
