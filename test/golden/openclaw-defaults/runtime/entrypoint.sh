#!/bin/sh
# clawdfly entrypoint: prepare the state volume, clear stale gateway locks, then become the
# supervisor, which runs the gateway as its child (supervisor.mjs: Fly's stop signal is passed on,
# the gateway's exit code is the machine's, and a frozen gateway is restarted).
set -e
node /app/prepare-data.mjs "$$" || echo "[clawdfly] volume preparation failed; starting the gateway anyway" >&2
# The gateway turns its Node compile cache on only when its launcher starts it: turn it on here
# (after prepare-data.mjs, which must not write into it), pointing at the cache the image build
# prewarmed. Every boot, the first included, reads it from the image: nothing is copied onto the
# volume, and a cache written by another image or Node version can never be picked up.
export NODE_COMPILE_CACHE="/app/.jiti-cache"
# fly.toml's command is relative to the gateway package (`node dist/index.js gateway …`).
cd /app/node_modules/openclaw
# Off-site copies (clawdfly backup schedule): with fly.toml [env] CLAWDFLY_OFFSITE_EVERY set, the
# supervisor also runs the uploader (offsite.mjs), niced, restarted if it ever exits. Its settings
# and credentials come from the environment, never from this command line.
case "${CLAWDFLY_OFFSITE_EVERY:-off}" in
  off|"") set -- -- "$@" ;;
  *) set -- --sidecar "offsite=node --max-old-space-size=96 /app/offsite.mjs run" -- "$@" ;;
esac
# The watchdog: once the gateway answered, 3 failed checks of GET /healthz in a row
# (20 s apart) restart it; fly.toml [env] CLAWDFLY_WATCHDOG* set it, "off" turns it off (README
# "Watchdog"). A backup or restore that holds the gateway stopped writes /data/tmp/clawdfly-watchdog.hold.
# A small heap: the supervisor only waits and asks.
exec node --max-old-space-size=64 /app/supervisor.mjs \
  --health-path /healthz --health-accept ok \
  --port-env OPENCLAW_GATEWAY_PORT --default-port 18789 \
  --config "${OPENCLAW_CONFIG_PATH:-${OPENCLAW_STATE_DIR:-/data}/openclaw.json}" \
  --hold-file /data/tmp/clawdfly-watchdog.hold \
  "$@"
