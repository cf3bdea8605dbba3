#!/bin/sh
# clawdfly entrypoint: prepare the state volume, clear stale gateway locks, then become the gateway.
# `exec` keeps one process: the gateway gets this PID and Fly's stop signal directly.
set -e
# The gateway turns its Node compile cache on only when its launcher starts it: turn it on here,
# in TMPDIR (on the volume), where prepare-data.mjs seeded it from the image.
export NODE_COMPILE_CACHE="${TMPDIR:-/tmp}/node-compile-cache"
node /app/prepare-data.mjs "$$" || echo "[clawdfly] volume preparation failed; starting the gateway anyway" >&2
# fly.toml's command is relative to the gateway package (`node dist/index.js gateway …`).
cd /app/node_modules/openclaw
exec "$@"
