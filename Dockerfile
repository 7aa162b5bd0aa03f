# Production image: compiled JavaScript, production dependencies only, non-root user.
# DATABASE_URL is required here: the embedded PostgreSQL (an optional dependency) is for
# development and is not installed in the image.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --omit=optional
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY scripts/build.js ./scripts/build.js
COPY migrations ./migrations
RUN npm run build

FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --omit=dev --omit=optional && npm cache clean --force

FROM node:20-bookworm-slim
# A fixed mmap threshold: glibc hands each argon2 hash's 19 MiB back to the system when it is
# freed, instead of keeping it in every thread's arena (up to 4 x 19 MiB of RSS; README, Production).
ENV NODE_ENV=production PORT=3000 HOST=0.0.0.0 MALLOC_MMAP_THRESHOLD_=1048576
WORKDIR /app
COPY --from=deps --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
COPY --chown=node:node package.json ./
USER node
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s CMD node -e "fetch('http://127.0.0.1:'+process.env.PORT+'/health/ready').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"
# --max-semi-space-size=32: as `npm start` (README, Production).
CMD ["node", "--max-semi-space-size=32", "dist/src/main.js"]
