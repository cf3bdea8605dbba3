/**
 * The one way to find a file that ships beside the code (templates/, package.json). The same
 * module runs from src/ (tests, tsx), from dist/cli.js or from a chunk in dist/chunks/ of the
 * bundle, so no relative URL fits all three: the package root is the nearest folder above this
 * module that holds clawdfly's package.json.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

export function packageRoot(): string {
  if (root) return root;
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'clawdfly') return (root = dir);
    if (dirname(dir) === dir) throw new Error(`clawdfly's package.json was not found above ${fileURLToPath(import.meta.url)}`);
  }
}

/** Absolute path of a file shipped with clawdfly, e.g. assetPath('templates', 'fly.toml.tmpl'). */
export function assetPath(...parts: string[]): string {
  return join(packageRoot(), ...parts);
}

/**
 * Where the build puts the remote agent (src/remote/agent/ → scripts/build.mjs): `fly ssh` calls
 * send it on stdin, and the image carries a copy for the off-site uploader.
 */
export const AGENT_BUNDLE = ['dist', 'agent', 'clawdfly-agent.cjs'] as const;
