# basefs node image: `basefs run` (no FUSE needed) with the data directory on /data.
#   docker build -t basefs .
#   docker run --rm -v basefs-data:/data basefs genkey
FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production BASEFS_HOME=/data PATH=/app/bin:$PATH
COPY package.json package-lock.json ./
# Native modules ship prebuilt binaries; install scripts (FUSE build) are not needed for `run`.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && mkdir -p /data && chmod 700 /data
COPY bin ./bin
COPY src ./src
COPY scripts/env.sh ./scripts/env.sh
VOLUME /data
# the port is derived from the filesystem name (basefs bootstrap prints it); demo uses 4001
EXPOSE 4001
ENTRYPOINT ["basefs"]
CMD ["--help"]
