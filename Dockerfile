# wsbit container image. Build: docker build -t wsbit .
# Run:   docker run --rm -p 2020:2020 -e WSBIT_WS_HOST=receiver.example -e WSBIT_WS_PORT=8080 \
#          -v /var/log:/var/log:ro -v wsbit-data:/var/lib/wsbit wsbit
# The default command runs deploy/wsbit.conf: it tails /var/log/containers/*.log, buffers chunks and
# tail offsets in /var/lib/wsbit (a volume, so they survive a new container), ships to
# ws://$WSBIT_WS_HOST:$WSBIT_WS_PORT/ingest, and serves health and metrics on port 2020.

# Build stage: compile the TypeScript with the dev dependencies.
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json tsconfig.json ./
RUN npm ci --ignore-scripts
COPY src ./src
COPY bin ./bin
COPY scripts ./scripts
COPY test ./test
COPY bench ./bench
RUN npm run build

# Runtime stage: production dependencies and the compiled code only.
FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /opt/wsbit
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /src/dist/src ./dist/src
COPY bin ./bin
COPY conf ./conf
COPY deploy/wsbit.conf deploy/parsers.conf /etc/wsbit/
# storage.path and the tail offsets live here; the image runs as `node`, which must own it.
RUN mkdir -p /var/lib/wsbit && chown node:node /var/lib/wsbit
VOLUME ["/var/lib/wsbit"]
# The monitoring server (HTTP_Server on) listens here.
EXPOSE 2020
USER node
ENTRYPOINT ["node", "/opt/wsbit/bin/wsbit"]
CMD ["-c", "/etc/wsbit/wsbit.conf"]
