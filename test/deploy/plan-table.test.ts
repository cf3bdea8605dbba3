/**
 * The plan is the program: computePlan (src/deploy/plan.ts) is a pure function of the project,
 * the local facts, what was observed on Fly and what the last deploy recorded. A table over
 * observed-state fixtures, in-process: which step does what and why, the exact flyctl argv, the
 * refusals it makes (exit 2, the fix named), no secret value in any argv, and no flyctl call at all.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClawdflyError } from '../../src/errors.js';
import { FlyClient } from '../../src/fly/client.js';
import { useFlyTransport } from '../../src/fly/run.js';
import type { Machine } from '../../src/fly/json.js';
import { computePlan, type Observed, type Plan, type StepId } from '../../src/deploy/plan.js';
import { localPreflight, type LocalFacts } from '../../src/deploy/preflight.js';
import { buildInputsHash, imageRefOf, secretsSetHash, valueHash, type DeployState } from '../../src/deploy/state.js';
import { loadProject, type Project } from '../../src/project/project.js';
import { initProject, ROOT, TEST_SECRETS, useInProcessCli } from '../helpers/cli.js';

useInProcessCli();

const APP = 'test-claw';
const SALT = 'table-salt';
const IMAGE = { repository: 'registry.fly.io/test-claw', tag: 'deployment-01', digest: 'sha256:abc' };

let project: Project;
let facts: LocalFacts;
let fly: FlyClient;
let inputsHash: string;
/** Every flyctl call anything in this file tried to make (there must be none). */
const flyctlCalls: string[][] = [];

beforeAll(async () => {
  project = await loadProject(await initProject(['--runtime', 'clawdbot']));
  // facts.secrets: the project's secrets.env (the test keys init was given) plus the gateway token
  facts = localPreflight(project);
  fly = new FlyClient({ app: APP, flyctl: join(ROOT, 'test', 'fakefly', 'bin', 'flyctl') });
  inputsHash = await buildInputsHash(project.dir);
  useFlyTransport({
    run: (argv) => {
      flyctlCalls.push(argv);
      throw new Error(`computePlan ran flyctl ${argv.join(' ')}`);
    },
  });
}, 120_000);

afterAll(() => useFlyTransport(undefined));

function machine(patch: Partial<Machine> = {}): Machine {
  return {
    id: 'm1',
    state: 'started',
    region: 'iad',
    image_ref: IMAGE,
    config: { metadata: { fly_platform_version: 'v2', fly_process_group: 'app' } },
    ...patch,
  } as Machine;
}

const volume = (region = 'iad', id = 'vol_1') => ({ id, name: facts.volume, state: 'created', region, attached_machine_id: 'm1' });
const PUBLIC_IPS = [
  { address: '2a09:8280:1::1', type: 'v6' },
  { address: '66.241.124.1', type: 'shared_v4' },
];
const FLYCAST = [{ address: 'fdaa:0:1::2', type: 'private_v6' }];

/** Everything exists and is exactly what the last deploy left: the converged observation. */
function converged(): { observed: Observed; state: DeployState } {
  const secrets = Object.keys(facts.secrets).map((name) => ({ name, digest: `d-${name}`, status: 'Deployed' }));
  const state: DeployState = {
    version: 1,
    app: APP,
    salt: SALT,
    secrets: Object.fromEntries(Object.entries(facts.secrets).map(([name, value]) => [name, { valueHash: valueHash(SALT, value), digest: `d-${name}`, setAt: '2026-01-01T00:00:00Z' }])),
    deploy: { inputsHash, secretsHash: secretsSetHash(SALT, facts.secrets), machineId: 'm1', imageRef: imageRefOf(machine()), at: '2026-01-01T00:00:00Z' } as DeployState['deploy'],
  };
  return { observed: { appExists: true, volumes: [volume()], secrets, machines: [machine()], ips: PUBLIC_IPS }, state };
}

const FRESH: Observed = { appExists: false, volumes: [], secrets: [], machines: [], ips: [] };
const freshState = (): DeployState => ({ version: 1, app: APP, salt: SALT, secrets: {} });

type Row = {
  name: string;
  /** The observation and record, from the converged one. */
  setup: () => { observed: Observed; state: DeployState; project?: Project; facts?: LocalFacts };
  /** step id → [action, reason pattern, argv (flyctl words) pattern] */
  expect: Partial<Record<StepId, [string, RegExp?, RegExp?]>>;
};

const ROWS: Row[] = [
  {
    name: 'fresh app: everything is created, then deployed',
    setup: () => ({ observed: FRESH, state: freshState() }),
    expect: {
      app: ['create', /no app of this name/, /^apps create test-claw/],
      network: ['skip', /first deploy allocates/],
      volume: ['create', /no volume "clawdbot_data" in iad/, /^volumes create clawdbot_data -r iad /],
      secrets: ['set', /ANTHROPIC_API_KEY missing/, /^secrets import .*--stage/],
      deploy: ['deploy', /no machine yet/, /^deploy /],
      config: ['ensure', /must equal/, /ssh console/],
      verify: ['check', /answers/, /machines list --json -a test-claw/],
    },
  },
  {
    name: 'existing app, converged: nothing to change',
    setup: converged,
    expect: { app: ['skip', /exists/], network: ['skip', /public: 2a09/], volume: ['skip', /vol_1 in iad/], secrets: ['skip', /unchanged/], deploy: ['skip', /unchanged since/] },
  },
  {
    name: 'existing app, volume missing: created in primary_region (never a second one)',
    setup: () => ({ ...converged(), observed: { ...converged().observed, volumes: [] } }),
    expect: { app: ['skip'], volume: ['create', /no volume/, /-r iad /], deploy: ['skip'] },
  },
  {
    name: 'a destroyed volume does not count',
    setup: () => ({ ...converged(), observed: { ...converged().observed, volumes: [{ ...volume(), state: 'destroyed' }] } }),
    expect: { volume: ['create'] },
  },
  {
    name: 'two volumes in the region: the first is used, no third',
    setup: () => ({ ...converged(), observed: { ...converged().observed, volumes: [volume('iad', 'vol_1'), volume('iad', 'vol_2')] } }),
    expect: { volume: ['skip', /vol_1 in iad \(and 1 more\)/] },
  },
  {
    name: 'secret changed locally since clawdfly set it',
    setup: () => {
      const c = converged();
      c.state.secrets['ANTHROPIC_API_KEY'] = { valueHash: valueHash(SALT, 'an older value'), setAt: 'x' };
      return c;
    },
    expect: { secrets: ['set', /^ANTHROPIC_API_KEY changed$/, /^secrets import/], deploy: ['deploy', /secrets changed/] },
  },
  {
    name: 'secret changed on Fly (digest drift)',
    setup: () => {
      const c = converged();
      c.observed.secrets = c.observed.secrets.map((s) => (s.name === 'OPENAI_API_KEY' ? { ...s, digest: 'someone-else' } : s));
      return c;
    },
    expect: { secrets: ['set', /^OPENAI_API_KEY changed on Fly$/], deploy: ['deploy', /secrets changed/] },
  },
  {
    name: 'secret on Fly that clawdfly never set',
    setup: () => {
      const c = converged();
      delete c.state.secrets['OPENAI_API_KEY'];
      return c;
    },
    expect: { secrets: ['set', /^OPENAI_API_KEY not set by clawdfly$/] },
  },
  {
    name: 'staged secrets not applied yet',
    setup: () => {
      const c = converged();
      c.observed.secrets = c.observed.secrets.map((s, i) => (i === 0 ? { ...s, status: 'Staged' } : s));
      return c;
    },
    expect: { secrets: ['skip'], deploy: ['deploy', /staged secrets not applied yet/] },
  },
  {
    name: 'machine stopped',
    setup: () => ({ ...converged(), observed: { ...converged().observed, machines: [machine({ state: 'stopped' })] } }),
    expect: { deploy: ['deploy', /machine m1 is stopped/] },
  },
  {
    name: 'machine runs another image than clawdfly deployed',
    setup: () => ({ ...converged(), observed: { ...converged().observed, machines: [machine({ image_ref: { ...IMAGE, tag: 'manual' } } as Partial<Machine>)] } }),
    expect: { deploy: ['deploy', /another image/] },
  },
  {
    name: 'an interrupted deploy (no machine id recorded yet) is not redone',
    setup: () => {
      const c = converged();
      c.state.deploy = { ...c.state.deploy!, machineId: '', imageRef: '' };
      return c;
    },
    expect: { deploy: ['skip'] },
  },
  {
    name: 'build inputs changed since the last deploy',
    setup: () => {
      const c = converged();
      c.state.deploy = { ...c.state.deploy!, inputsHash: 'older' };
      return c;
    },
    expect: { deploy: ['deploy', /build inputs changed/] },
  },
  {
    name: 'no record of a deploy by clawdfly',
    setup: () => {
      const c = converged();
      delete c.state.deploy;
      return c;
    },
    expect: { deploy: ['deploy', /no record of a deploy/] },
  },
  {
    name: 'private mode, app public: Flycast allocated and the public addresses released (said what breaks)',
    setup: () => ({ ...converged(), project: { ...project, exposure: 'private' } as Project }),
    expect: { network: ['release', /private: allocate a private Flycast address; release the public addresses .*stops answering/, /^ips allocate-v6 --private/], deploy: ['skip'], verify: ['check', /private/] },
  },
  {
    name: 'private mode, already private: nothing to do',
    setup: () => ({ ...converged(), observed: { ...converged().observed, ips: FLYCAST }, project: { ...project, exposure: 'private' } as Project }),
    expect: { network: ['skip', /private: Flycast fdaa/] },
  },
  {
    name: 'private mode, fresh app: the first deploy gets no public address',
    setup: () => ({ observed: FRESH, state: freshState(), project: { ...project, exposure: 'private' } as Project }),
    expect: { network: ['create', /allocate a private Flycast address/], deploy: ['deploy', /no machine yet/, /--no-public-ips/] },
  },
  {
    name: 'public again after private: the public pair is allocated',
    setup: () => ({ ...converged(), observed: { ...converged().observed, ips: FLYCAST } }),
    expect: { network: ['create', /has no public address/, /^ips allocate-v6/] },
  },
];

function row(plan: Plan, id: StepId) {
  const step = plan.steps.find((s) => s.id === id);
  if (!step) throw new Error(`no ${id} step`);
  return step;
}

describe('computePlan over observed-state fixtures', () => {
  for (const r of ROWS) {
    it(r.name, async () => {
      const { observed, state, project: p = project, facts: f = facts } = r.setup();
      const plan = await computePlan(fly, p, f, observed, state, {});
      // The order is the program: a volume before the machine that mounts it, secrets before the deploy.
      expect(plan.steps.map((s) => s.id)).toEqual(['app', 'network', 'volume', 'secrets', 'deploy', 'config', 'verify']);
      for (const [id, [action, reason, argv]] of Object.entries(r.expect) as [StepId, [string, RegExp?, RegExp?]][]) {
        const step = row(plan, id);
        expect(step.action, `${id}: ${step.reason}`).toBe(action);
        if (reason) expect(step.reason).toMatch(reason);
        if (argv) expect(step.argv.map((a) => a.join(' ')).join('\n')).toMatch(argv);
        // a skip runs nothing
        if (action === 'skip') expect(step.argv).toEqual([]);
      }
      // Secret values never reach a plan: stdin shows NAME=***.
      const text = JSON.stringify(plan.steps);
      for (const value of [...Object.values(TEST_SECRETS), ...Object.values(f.secrets)]) expect(text).not.toContain(value);
      const secrets = row(plan, 'secrets');
      if (secrets.action === 'set') {
        expect(secrets.stdin).toEqual(plan.secretsToSet.map((n) => `${n}=***`));
      }
      expect(plan.appCreated).toBe(!observed.appExists);
    });
  }

  it('refuses a volume that exists only outside primary_region (exit 2 is not its code: it names both fixes)', async () => {
    const c = converged();
    const error = await computePlan(fly, project, facts, { ...c.observed, volumes: [volume('fra', 'vol_far')] }, c.state, {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClawdflyError);
    expect((error as ClawdflyError).code).toBe('volume-wrong-region');
    expect((error as ClawdflyError).message).toMatch(/exists only outside primary_region iad/);
    expect((error as ClawdflyError).hint).toMatch(/primary_region = "fra".*fly volumes destroy vol_far -a test-claw/);
  });

  it('refuses without a gateway token locally or on Fly (exit 2, names where to set it)', async () => {
    const token = project.runtime.env.gatewayToken;
    const { [token]: _dropped, ...rest } = facts.secrets;
    const error = await computePlan(fly, project, { ...facts, secrets: rest }, FRESH, freshState(), {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClawdflyError);
    expect((error as ClawdflyError).exitCode).toBe(2);
    expect((error as ClawdflyError).message).toContain(token);
    expect((error as ClawdflyError).hint).toMatch(/clawdfly token/);
    // the token already on Fly is enough
    const plan = await computePlan(fly, project, { ...facts, secrets: rest }, { ...FRESH, appExists: true, secrets: [{ name: token }] }, freshState(), {});
    expect(row(plan, 'secrets').stdin ?? []).not.toContain(`${token}=***`);
  });

  it('--local-only reaches the deploy argv', async () => {
    const plan = await computePlan(fly, project, facts, FRESH, freshState(), { localOnly: true });
    expect(row(plan, 'deploy').argv[0]).toContain('--local-only');
  });

  it('made no flyctl call', () => {
    expect(flyctlCalls).toEqual([]);
  });
});
