# One image for both processes: `npm run api` and `npm run worker` (see docker-compose.yml).
# The base is the current Node LTS; the code also runs on Node 20.
FROM node:24-bookworm-slim

ENV NODE_ENV=production \
    CHECKPOINT_DISABLE=1
WORKDIR /app

COPY package.json package-lock.json ./
# tsx runs the TypeScript sources directly, so the runtime needs the full dependency tree minus test tools.
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

COPY . .

USER node
EXPOSE 3000
CMD ["npm", "run", "api"]
