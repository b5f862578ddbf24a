# syntax=docker/dockerfile:1
# The worker image: the compiled worker runtime and the entries of the commands that run as tasks on AWS, with
# production dependencies (including tfjs-node's native TensorFlow). No operator commands, local stack or tests:
# tsconfig.build.json compiles only what the entries import, and .dockerignore keeps the rest out of the context.
# The model is not in the image: the worker loads the version named by models/current.json in the bucket.
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Compiling needs the type packages only: skip the optional native TensorFlow download and install scripts.
RUN npm ci --omit=optional --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY shared ./shared
COPY model ./model
COPY worker/runtime ./worker/runtime
COPY worker/tasks ./worker/tasks
COPY worker/commands ./worker/commands
RUN npx tsc -p tsconfig.build.json && test -f dist/worker/commands/worker.js && test -f dist/worker/commands/reconcile-task.js && test ! -e dist/worker/local

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# @tensorflow/tfjs-node is optional, so npm would carry on without it: fail the build instead.
RUN npm ci --omit=dev --no-audit --no-fund \
 && node -e "require('@tensorflow/tfjs-node')" \
 && npm cache clean --force

FROM ${NODE_IMAGE}
# The commit the image is built from (infra/image.ts passes it): its OCI label and what every manifest records.
ARG GIT_COMMIT=unknown
LABEL org.opencontainers.image.revision=${GIT_COMMIT}
ENV NODE_ENV=production CODE_COMMIT=${GIT_COMMIT}
WORKDIR /app
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER node
# Exec form: node itself receives SIGTERM (npm start would not forward it).
CMD ["node", "dist/worker/commands/worker.js"]
