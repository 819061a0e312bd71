# The service image. Node 24 runs the TypeScript sources directly (type stripping), so there is no
# build step; dev dependencies (the pinned node binary, vitest, biome) stay out of the image.
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
USER node
# The dashboard API and /metrics (API_PORT).
EXPOSE 8080
CMD ["node", "app/main.ts"]
