# floe, every role from one image: `node bin/floe.js <role> …` (broker, controller) or
# `node --import tsx wal/main.ts …` (WAL node). See docker-compose.yml.
FROM node:20-bookworm-slim
WORKDIR /floe
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY bin ./bin
COPY src ./src
COPY wal ./wal
COPY objectstore ./objectstore
COPY controller ./controller
COPY tsconfig.json ./
ENV AWS_SDK_JS_SUPPRESS_NODE_DEPRECATION_WARNING=1
ENTRYPOINT ["node"]
