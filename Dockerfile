# The service image. Node 24 runs the TypeScript sources directly (type stripping), so there is no
# build step; dev dependencies (the pinned node binary, vitest, biome) stay out of the image.
# The analysts' console is bundled in a build stage (esbuild and uPlot are dev dependencies); the
# image takes only the built files, served at /console.
FROM node:24-bookworm-slim AS console
WORKDIR /build
COPY package.json package-lock.json tsconfig.json ./
RUN npm install --ignore-scripts --no-audit --no-fund
COPY config ./config
COPY lib ./lib
COPY schemas ./schemas
COPY store ./store
COPY rules ./rules
COPY dashboard-api ./dashboard-api
COPY console ./console
RUN node console/build.ts

FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm install --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY app ./app
COPY config ./config
COPY ingest ./ingest
COPY lib ./lib
COPY metrics ./metrics
COPY schemas ./schemas
COPY simulator ./simulator
COPY store ./store
COPY kafka-local ./kafka-local
COPY rules ./rules
COPY scoring ./scoring
COPY dashboard-api ./dashboard-api
COPY --from=console /build/console/dist ./console/dist
USER node
# The dashboard API, the console and /metrics (API_PORT).
EXPOSE 8080
CMD ["node", "app/main.ts"]
