# One image for both processes: the API (the default command) and the worker (`node dist/worker/main.js`; see
# docker-compose.yml). The base is the current Node LTS; the code also runs on Node 20.

# Build: the whole dependency tree (TypeScript, tsx, the workflow bundler), then `npm run build` writes dist/: the
# compiled service, the files it reads beside itself, and the prebuilt Temporal workflow bundle.
FROM node:24-bookworm-slim AS build
ENV CHECKPOINT_DISABLE=1
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

# Run: the runtime dependencies and dist/ only; no sources, no TypeScript loader, no test tools.
FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    CHECKPOINT_DISABLE=1
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist

USER node
EXPOSE 3000
CMD ["node", "dist/api/main.js"]
