/**
 * The three images the size bench compares, all on the same base (the node:22-bookworm-slim
 * stand-in), built side by side with the harness (cached by context hash):
 * - ours: the canonical project's image, unchanged (`init --yes`, pruned in the npm ci layer);
 * - unpruned: the same project with the plain install step (`npm ci … && npm cache clean`), as
 *   the Dockerfile was before the prune: what boot time and memory are compared against;
 * - naive: `npm install` of the same pinned gateway bundle in a one-step Dockerfile, as root, npm
 *   cache kept (the pinned lock and its libsignal override only make it installable without GitHub).
 */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage, podman, type BuildResult } from '../support/podman.js';
import { runtimeBundleFiles } from '../../src/project/render.js';
import { LEGACY_RUNTIME_ID, RUNTIMES } from '../../src/gateway/runtime.js';

export interface BuiltImage {
  name: string;
  image: string;
  build: BuildResult;
}

const cacheRef = (build: BuildResult): string => `localhost/clawdfly-test-cache:${build.hash.slice(0, 32)}`;

/** The plain install step the slim block replaces (the Dockerfile init wrote before pruning). */
const PLAIN_INSTALL = 'RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force\n';

/** The generated Dockerfile with its prune step swapped for the plain install (throws if there is none). */
export function unprunedDockerfile(dockerfile: string): string {
  const slim = /# Slim image:[\s\S]*?RUN npm ci [\s\S]*?&& npm cache clean --force\n/.exec(dockerfile);
  if (!slim) throw new Error('the Dockerfile has no slim install step');
  return dockerfile.replace(slim[0], PLAIN_INSTALL);
}

export async function unprunedImage(projectDir: string, opts: { noCache?: boolean } = {}): Promise<BuiltImage> {
  const dir = join(mkdtempSync(join(tmpdir(), 'clawdfly-unpruned-')), 'gateway');
  cpSync(projectDir, dir, { recursive: true });
  writeFileSync(join(dir, 'Dockerfile'), unprunedDockerfile(readFileSync(join(projectDir, 'Dockerfile'), 'utf8')));
  const build = await buildImage(dir, 'localhost/clawdfly-test-unpruned:latest', opts);
  return { name: 'unpruned', image: cacheRef(build), build };
}

export const NAIVE_DOCKERFILE = [
  'FROM node:22-bookworm-slim',
  'WORKDIR /app',
  'COPY package.json package-lock.json ./',
  'RUN npm install',
  'CMD ["node", "node_modules/clawdbot/dist/index.js", "gateway", "--allow-unconfigured"]',
  '',
].join('\n');

export async function naiveImage(opts: { noCache?: boolean } = {}): Promise<BuiltImage> {
  const dir = mkdtempSync(join(tmpdir(), 'clawdfly-naive-'));
  for (const f of runtimeBundleFiles(LEGACY_RUNTIME_ID)) writeFileSync(join(dir, f.name), f.content);
  writeFileSync(join(dir, 'Dockerfile'), NAIVE_DOCKERFILE);
  const build = await buildImage(dir, 'localhost/clawdfly-test-naive:latest', opts);
  return { name: 'naive', image: cacheRef(build), build };
}

/** The image's size as podman reports it (bytes of all its layers, uncompressed). */
export async function imageSizeBytes(ref: string): Promise<number> {
  const r = await podman(['image', 'inspect', '--format', '{{.Size}}', ref], { timeoutMs: 10 * 60_000 });
  return Number(r.stdout.trim());
}

/** Megabytes of a folder inside the image (du -sm in a throwaway container). */
export async function duMb(ref: string, path: string): Promise<number> {
  const r = await podman(['run', '--rm', '--network', 'none', '--entrypoint', 'du', ref, '-sm', path], { timeoutMs: 10 * 60_000 });
  return Number(r.stdout.trim().split(/\s+/)[0]);
}

/**
 * The naive OpenClaw image on the same base as the generated one (node:24-bookworm-slim): `npm install`
 * of the row's pinned bundle (openclaw@<version>) in a one-step Dockerfile, as root, npm cache kept.
 */
export function naiveOpenclawDockerfile(runtimeId: string): string {
  const runtime = RUNTIMES[runtimeId]!;
  return [
    `FROM node:${runtime.nodeMajor}-bookworm-slim`,
    'WORKDIR /app',
    'COPY package.json package-lock.json ./',
    'RUN npm install',
    `CMD ["node", "node_modules/${runtime.packageName}/${runtime.entry}", "gateway", "--allow-unconfigured"]`,
    '',
  ].join('\n');
}

export async function naiveOpenclawImage(runtimeId: string, opts: { noCache?: boolean } = {}): Promise<BuiltImage> {
  const dir = mkdtempSync(join(tmpdir(), 'clawdfly-naive-oc-'));
  for (const f of runtimeBundleFiles(runtimeId)) writeFileSync(join(dir, f.name), f.content);
  writeFileSync(join(dir, 'Dockerfile'), naiveOpenclawDockerfile(runtimeId));
  const build = await buildImage(dir, 'localhost/clawdfly-test-naive-openclaw:latest', opts);
  return { name: 'naive openclaw', image: cacheRef(build), build };
}
