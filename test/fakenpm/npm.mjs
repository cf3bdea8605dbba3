#!/usr/bin/env node
/**
 * An npm double for the registry questions clawdfly asks (src/project/runtime-release.ts, through
 * CLAWDFLY_NPM): no network. FAKENPM_PACKAGES names a JSON file of what is "published":
 *   { "openclaw": { "2026.9.4": { "engines": { "node": ">=24.16.0 <25 || >=26.1.0" } } } }
 * - `npm view <pkg>@<version> version engines --json`: that version's fields, or npm's E404 (exit 1);
 * - `npm install --package-lock-only …` in a folder with a package.json: a lockfile pinning each
 *   dependency at the version asked (an integrity derived from its name and version), or E404.
 * FAKENPM_OFFLINE=1 answers every call as npm does without a network. Every argv is appended to
 * FAKENPM_LOG (one JSON line each).
 */
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';

const args = process.argv.slice(2);
if (process.env.FAKENPM_LOG) appendFileSync(process.env.FAKENPM_LOG, JSON.stringify({ argv: args, registry: process.env.npm_config_registry ?? null }) + '\n');
if (process.env.FAKENPM_OFFLINE === '1') {
  process.stderr.write('npm error code ENOTFOUND\nnpm error network request to https://registry.npmjs.org/openclaw failed, reason: getaddrinfo ENOTFOUND registry.npmjs.org\n');
  process.exit(1);
}
const published = JSON.parse(readFileSync(process.env.FAKENPM_PACKAGES, 'utf8'));

function notFound(spec) {
  const [name, version] = spec.split(/@(?=[^@]*$)/);
  process.stdout.write(JSON.stringify({ error: { code: 'E404', summary: `No match found for version ${version}`, detail: `The requested resource '${name}@${version}' could not be found.` } }, null, 2) + '\n');
  process.stderr.write(`npm error code E404\nnpm error 404 No match found for version ${version}\n`);
  process.exit(1);
}

if (args[0] === 'view') {
  const spec = args[1];
  const [name, version] = spec.split(/@(?=[^@]*$)/);
  const found = published[name]?.[version];
  if (!found) notFound(spec);
  process.stdout.write(JSON.stringify({ version, ...(found.engines ? { engines: found.engines } : {}) }, null, 2) + '\n');
  process.exit(0);
}

if (args[0] === 'install' && args.includes('--package-lock-only')) {
  const pkg = JSON.parse(readFileSync(join(process.cwd(), 'package.json'), 'utf8'));
  const packages = { '': { name: pkg.name, version: pkg.version, dependencies: pkg.dependencies } };
  for (const [name, version] of Object.entries(pkg.dependencies ?? {})) {
    const found = published[name]?.[version];
    if (!found) notFound(`${name}@${version}`);
    const integrity = `sha512-${createHash('sha512').update(`${name}@${version}`).digest('base64')}`;
    packages[`node_modules/${name}`] = { version, integrity, license: 'MIT', ...(found.engines ? { engines: found.engines } : {}) };
  }
  writeFileSync(join(process.cwd(), 'package-lock.json'), JSON.stringify({ name: pkg.name, version: pkg.version, lockfileVersion: 3, requires: true, packages }, null, 2) + '\n');
  process.exit(0);
}

process.stderr.write(`fakenpm: not a call clawdfly makes: npm ${args.join(' ')}\n`);
process.exit(1);
