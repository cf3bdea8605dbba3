// fakefly: `secrets set|import|unset|list` (a change restages and restarts the machines, as flyctl does).
import fs from 'node:fs';
import { FlyError, out, jsonOut } from './output.mjs';
import { withState, readState, nextSeq } from './state.mjs';
import { requireAuth, resolveAppName, gqlApp, appMachines, nowIso, pushEvent, restartMachine, secretDigest, currentSecretValues, newRelease } from './core.mjs';
import { renderTable } from './commands-apps.mjs';
import { readApp } from './app-context.mjs';

// ---------------------------------------------------------------- secrets

function isCharDevice(fd) {
  try { return fs.fstatSync(fd).isCharacterDevice(); } catch { return true; }
}

export function parseSecretsImport(text) {
  const secrets = {};
  const lines = text.split('\n');
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  let multi = false;
  let key = '';
  let val = '';
  for (let line of lines) {
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (Buffer.byteLength(line) >= 65536) break; // bufio.Scanner token limit: parsing silently stops
    if (!multi) {
      if (line.startsWith('#') || line.trim() === '') continue;
      const eq = line.indexOf('=');
      if (eq < 0) throw new FlyError(`Secrets must be provided as NAME=VALUE pairs (${line} is invalid)`);
      const k = line.slice(0, eq).trim();
      let v = line.slice(eq + 1).replace(/^ +/, '');
      const hash = v.indexOf('#');
      if (hash >= 0) {
        const l = v.slice(0, hash);
        if ((l.match(/"/g) || []).length % 2 === 0) v = l.replace(/ +$/, '');
      }
      if (v.startsWith('"""') && v.endsWith('"""') && v.length >= 6) secrets[k] = v.slice(3, -3);
      else if (v.startsWith('"""')) { multi = true; key = k; val = v.slice(3) + '\n'; }
      else {
        // value[1:len(value)-1] in Go: a lone quote (prefix and suffix at once) is a slice-bounds panic.
        const quoted = (v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'"));
        if (quoted && v.length < 2) throw new FlyError('panic: runtime error: slice bounds out of range [1:0]', { exitCode: 3 });
        secrets[k] = quoted ? v.slice(1, -1) : v;
      }
    } else if (line.endsWith('"""')) {
      val += line.slice(0, -3);
      secrets[key] = val;
      multi = false; key = ''; val = '';
    } else val += line + '\n';
  }
  return secrets;
}

export function setSecretsAndDeploy(ctx, appName, values, unset = []) {
  withState(ctx.dir, (s) => {
    requireAuth(ctx, s);
    const app = gqlApp(s, appName);
    for (const [k, v] of Object.entries(values)) app.secrets[k] = { value: v, digest: secretDigest(v), seq: nextSeq(s), updated_at: new Date().toISOString() };
    for (const k of unset) delete app.secrets[k];
    if (ctx.flags.stage) {
      out('Secrets have been staged, but not set on VMs. Deploy or update machines in this app for the secrets to take effect.\n');
      return;
    }
    const machines = appMachines(s, appName);
    if (!app.deployed && machines.length === 0) { out('Secrets are staged for the first deployment\n'); return; }
    const launch = machines.filter((m) => m.api.config?.metadata?.fly_platform_version === 'v2');
    const rel = newRelease(s, app, 'secrets');
    out(`Updating existing machines in '${appName}' with rolling strategy\n`);
    launch.forEach((m, i) => {
      m.fake.appliedSecrets = currentSecretValues(app);
      m.fake.secretsSeq = s.seq; // min_secrets_version: this machine has every secret set so far
      m.api.config.metadata.fly_release_version = String(rel.version);
      m.api.config.metadata.fly_release_id = rel.id;
      m.api.updated_at = nowIso();
      pushEvent(m, { type: 'update', status: 'replacing', source: 'user' });
      if (m.api.state === 'started') restartMachine(ctx, s, m, 'secrets');
      out(`  [${i + 1}/${launch.length}] Machine ${m.api.id} [${m.api.config.metadata.fly_process_group || 'app'}] update succeeded\n`);
    });
    if (!ctx.flags.detach && ctx.flags['dns-checks'] !== false) out(`  Checking DNS configuration for ${appName}.fly.dev\n`);
  });
}

export async function cmdSecretsSet(ctx) {
  const appName = resolveAppName(ctx);
  const values = {};
  for (const a of ctx.args) {
    const eq = a.indexOf('=');
    if (eq < 0) throw new FlyError(`could not parse secrets: '${a}': must be in the format NAME=VALUE`);
    values[a.slice(0, eq)] = a.slice(eq + 1);
  }
  // auth + app check before reading stdin, like flyctl (GetAppCompact comes first)
  const s0 = readState(ctx.dir);
  requireAuth(ctx, s0);
  gqlApp(s0, appName);
  let stdinUsed = false;
  for (const [k, v] of Object.entries(values)) {
    if (v !== '-') continue;
    if (ctx.stdin.isCharDevice ? ctx.stdin.isCharDevice() : isCharDevice(0)) throw new FlyError(`secret \`${k}\` expects standard input but none provided`);
    const buf = stdinUsed ? Buffer.alloc(0) : await ctx.stdin.readAll();
    stdinUsed = true;
    if (buf.length > 64 * 1024) throw new FlyError(`error reading stdin for '${k}': Input exceeded max length of 65536 bytes`);
    values[k] = buf.toString('utf8').trim();
  }
  if (Object.keys(values).length < 1) throw new FlyError('requires at least one SECRET=VALUE pair');
  setSecretsAndDeploy(ctx, appName, values);
}

export async function cmdSecretsImport(ctx) {
  const { appName } = readApp(ctx);
  const buf = (ctx.stdin.isTTY ?? process.stdin.isTTY) ? Buffer.alloc(0) : await ctx.stdin.readAll();
  const values = parseSecretsImport(buf.toString('utf8'));
  if (Object.keys(values).length < 1) throw new FlyError('requires at least one SECRET=VALUE pair');
  setSecretsAndDeploy(ctx, appName, values);
}

export function cmdSecretsUnset(ctx) {
  const appName = resolveAppName(ctx);
  if (!ctx.args.length) throw new FlyError('requires at least 1 arg(s), only received 0');
  setSecretsAndDeploy(ctx, appName, {}, ctx.args);
}

export function cmdSecretsList(ctx) {
  const { appName, s, app } = readApp(ctx);
  const machines = appMachines(s, appName);
  // A machine has a secret once it was created or updated with a secrets version that includes it
  // (flyctl sends min_secrets_version on deploys and `machine update`, flyctl.md §2.6).
  const relSeq = (m) => m.fake.secretsSeq ?? app.releases?.find((r) => String(r.version) === m.api.config?.metadata?.fly_release_version)?.seq;
  const list = Object.entries(app.secrets).sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, v]) => {
    let status;
    if (machines.length === 0) status = 'Staged';
    else {
      const n = machines.filter((m) => { const r = relSeq(m); return r !== undefined && v.seq <= r; }).length;
      status = n === 0 ? 'Staged' : n === machines.length ? 'Deployed' : 'Partial';
    }
    return { name, digest: v.digest, status };
  });
  if (ctx.flags.json) return jsonOut(list);
  out(renderTable([['NAME', 'DIGEST', 'STATUS'], ...list.map((x) => [(x.status === 'Staged' ? '* ' : x.status === 'Partial' ? '! ' : '') + x.name, x.digest, x.status])]));
}
