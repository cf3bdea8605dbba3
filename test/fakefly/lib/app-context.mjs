// fakefly: the preamble every app-scoped command runs, in flyctl's order: which app (-a, FLY_APP,
// fly.toml), then a logged-in user, then the app itself, looked up the way that flyctl command does
// (GraphQL: "failed to get app: Could not find App …"; the machines API: flapsApp's message).
import { readState, withState } from './state.mjs';
import { requireAuth, resolveAppName, gqlApp, flapsApp } from './core.mjs';

const LOOKUPS = { graphql: gqlApp, machines: flapsApp };

/** For commands that only read: { appName, s, app } from a snapshot of the state. */
export function readApp(ctx, { api = 'graphql', prefix } = {}) {
  const appName = resolveAppName(ctx);
  const s = readState(ctx.dir);
  requireAuth(ctx, s);
  return { appName, s, app: LOOKUPS[api](s, appName, prefix) };
}

/** For commands that change state: fn(s, app, appName) under the state lock; returns what fn returns. */
export function updateApp(ctx, fn, { api = 'graphql', prefix } = {}) {
  const appName = resolveAppName(ctx);
  return withState(ctx.dir, (s) => {
    requireAuth(ctx, s);
    return fn(s, LOOKUPS[api](s, appName, prefix), appName);
  });
}
