/**
 * Which row `--to` names, and what a config looks like in the new row's shape — without Fly.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RUNTIMES } from '../../src/gateway/runtime.js';
import { resolveUpgradeTarget } from '../../src/release/target.js';
import { buildGatewayConfig, controlUiOrigins, migrateGatewayConfig, withControlUiOrigins } from '../../src/project/gateway-config.js';
import { renameGatewayToken } from '../../src/project/secrets.js';
import { DEFAULTS, type Answers } from '../../src/project/answers.js';

const clawdbot = RUNTIMES['clawdbot@2026.1.24-3']!;
const openclaw = RUNTIMES['openclaw@2026.9.6']!;

afterEach(() => {
  delete RUNTIMES['clawdbot@2026.2.0'];
});

function answers(extra: Partial<Answers> = {}): Answers {
  return { app: 'a-claw', region: 'iad', vmSize: 'shared-cpu-2x', memoryMb: 2048, volume: 'clawdbot_data', volumeSizeGb: 1, port: 3000, model: { ...DEFAULTS.model, fallbacks: [...DEFAULTS.model.fallbacks] }, maxConcurrent: 4, runtime: clawdbot.id, ...extra };
}

describe('upgrade --to', () => {
  it('defaults to the newest openclaw row; a package name or a full row id work', () => {
    expect(resolveUpgradeTarget(undefined, clawdbot)).toEqual({ kind: 'upgrade', runtime: openclaw });
    expect(resolveUpgradeTarget('openclaw', clawdbot)).toEqual({ kind: 'upgrade', runtime: openclaw });
    expect(resolveUpgradeTarget('openclaw@2026.9.6', clawdbot)).toEqual({ kind: 'upgrade', runtime: openclaw });
    expect(resolveUpgradeTarget('openclaw', openclaw).kind).toBe('same');
  });

  it('a newer row of the same package goes through the same path; an older one is refused', () => {
    RUNTIMES['clawdbot@2026.2.0'] = { ...clawdbot, id: 'clawdbot@2026.2.0', packageVersion: '2026.2.0', displayVersion: '2026.2.0' };
    expect(resolveUpgradeTarget('clawdbot@2026.2.0', clawdbot)).toMatchObject({ kind: 'upgrade', runtime: { id: 'clawdbot@2026.2.0' } });
    expect(() => resolveUpgradeTarget('clawdbot@2026.1.24-3', RUNTIMES['clawdbot@2026.2.0']!)).toThrow(/older/);
  });

  it('unknown rows, broken rows and openclaw → clawdbot are refused with exit 2 and the known rows', () => {
    for (const spec of ['clawdbot@2099.1.1', 'nanobot', 'clawdbot@2026.1.24']) {
      try {
        resolveUpgradeTarget(spec, clawdbot);
        expect.unreachable(spec);
      } catch (error) {
        expect((error as { exitCode: number }).exitCode).toBe(2);
        expect(String((error as { hint?: string }).hint) + (error as Error).message).toContain('openclaw@2026.9.6');
      }
    }
    expect(() => resolveUpgradeTarget('clawdbot', openclaw)).toThrow(/not an upgrade/);
  });
});

describe('config migration', () => {
  it("init's clawdbot config migrated (with the app's origin) is exactly init's openclaw config, for every channel", () => {
    const set = answers({ discord: { guilds: [{ id: '123456789012345678', channels: ['general'] }], requireMention: true }, telegram: {}, signal: true, signalAccount: '+15551234567' });
    const migrated = JSON.parse(migrateGatewayConfig(buildGatewayConfig(set), openclaw));
    // upgrade adds the app's Control UI origin to the migrated file (src/release/local.ts), as init writes it
    expect(withControlUiOrigins(migrated, controlUiOrigins(set.app, 'public'))).toEqual(buildGatewayConfig({ ...set, runtime: openclaw.id }));
  });

  it("the user's own edits survive: extra agents, changed models, unknown keys", () => {
    const edited = { meta: { lastTouchedVersion: '2026.1.24-3' }, agents: { defaults: { maxConcurrent: 9 }, list: [{ id: 'main', default: true }, { id: 'ops', workspace: '/data/ops' }] }, tools: { web: { enabled: false } } };
    const migrated = JSON.parse(migrateGatewayConfig(edited, openclaw));
    expect(migrated).toEqual({ meta: { lastTouchedVersion: '2026.9.6' }, agents: { defaults: { maxConcurrent: 9 }, entries: { main: {}, ops: { workspace: '/data/ops' } } }, tools: { web: { enabled: false } } });
    // same dialect (a newer clawdbot row): only the version stamp changes
    expect(JSON.parse(migrateGatewayConfig(edited, { ...clawdbot, displayVersion: '2026.2.0' }))).toEqual({ ...edited, meta: { lastTouchedVersion: '2026.2.0' } });
  });

  it('the token keeps its value and its place under the new name', () => {
    const renamed = renameGatewayToken({ ANTHROPIC_API_KEY: 'k', CLAWDBOT_GATEWAY_TOKEN: 't', OPENAI_API_KEY: 'o' }, 'CLAWDBOT_GATEWAY_TOKEN', 'OPENCLAW_GATEWAY_TOKEN');
    expect(Object.entries(renamed)).toEqual([['ANTHROPIC_API_KEY', 'k'], ['OPENCLAW_GATEWAY_TOKEN', 't'], ['OPENAI_API_KEY', 'o']]);
  });
});
