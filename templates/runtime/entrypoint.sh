#!/bin/sh
# clawdfly entrypoint: prepare the state volume, clear stale gateway locks, then become the
# supervisor, which runs the gateway as its child (supervisor.mjs: Fly's stop signal is passed on,
# the gateway's exit code is the machine's, and a frozen gateway is restarted).
set -e
node /app/prepare-data.mjs "$$" || echo "[clawdfly] volume preparation failed; starting the gateway anyway" >&2
{{#compileCacheEnv}}
# The gateway turns its {{compileCacheName}} on only when its launcher starts it: turn it on here
# (after prepare-data.mjs, which must not write into it), pointing at the cache the image build
# prewarmed. Every boot, the first included, reads it from the image: nothing is copied onto the
# volume, and a cache written by another image or Node version can never be picked up.
export {{compileCacheEnv}}="{{imageCompileCacheDir}}"
{{/compileCacheEnv}}
# fly.toml's command is relative to the gateway package (`node dist/index.js gateway …`).
cd {{packageDir}}
# Off-site copies (clawdfly backup schedule): with fly.toml [env] CLAWDFLY_OFFSITE_EVERY set, the
# supervisor also runs the uploader (offsite.mjs), niced, restarted if it ever exits. Its settings
# and credentials come from the environment, never from this command line.
case "${CLAWDFLY_OFFSITE_EVERY:-off}" in
  off|"") set -- -- "$@" ;;
  *) set -- --sidecar "offsite=node --max-old-space-size=96 /app/offsite.mjs run" -- "$@" ;;
esac
# The watchdog: once the gateway answered, {{watchdogFailures}} failed checks of {{livenessWhat}} in a row
# ({{watchdogIntervalText}} apart) restart it; fly.toml [env] CLAWDFLY_WATCHDOG* set it, "off" turns it off (README
# "Watchdog"). A backup or restore that holds the gateway stopped writes {{watchdogHoldFile}}.
# A small heap: the supervisor only waits and asks.
exec node --max-old-space-size=64 /app/supervisor.mjs \
  --health-path {{livenessPath}} --health-accept {{livenessAccept}} \
  --port-env {{gatewayPortEnv}} --default-port {{defaultGatewayPort}} \
  --config "${{{configPathEnv}}:-${{{stateDirEnv}}:-{{stateDir}}}/{{configFileName}}}" \
  --hold-file {{watchdogHoldFile}} \
  "$@"
