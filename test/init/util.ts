/** Helpers shared by the init tests: a clean environment, directory snapshots, parsing CLI output. */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT, runCli, tempDir, type CliOptions, type CliResult } from '../helpers/cli.js';

/**
 * Every variable init reads, unset: the developer's own keys or CLAWDFLY_* settings must not leak
 * into a test's answers. Tests add back what they need.
 */
export const CLEAN_ENV: Record<string, string | undefined> = {
  ANTHROPIC_API_KEY: undefined,
  OPENAI_API_KEY: undefined,
  GEMINI_API_KEY: undefined,
  DEEPSEEK_API_KEY: undefined,
  DASHSCOPE_API_KEY: undefined,
  MOONSHOT_API_KEY: undefined,
  ZAI_API_KEY: undefined,
  DISCORD_BOT_TOKEN: undefined,
  TELEGRAM_BOT_TOKEN: undefined,
  CLAWDBOT_GATEWAY_TOKEN: undefined,
  CLAWDFLY_DIR: undefined,
  CLAWDFLY_APP: undefined,
  CLAWDFLY_REGION: undefined,
  CLAWDFLY_VM_SIZE: undefined,
  CLAWDFLY_MEMORY: undefined,
  CLAWDFLY_VOLUME: undefined,
  CLAWDFLY_VOLUME_SIZE: undefined,
  CLAWDFLY_PORT: undefined,
  CLAWDFLY_MODEL: undefined,
  CLAWDFLY_FALLBACKS: undefined,
  CLAWDFLY_RUNTIME: undefined,
  CLAWDFLY_NPM_REGISTRY: undefined,
  // English: the wizard follows the locale (tests that want Chinese set it).
  LC_ALL: undefined,
  LC_MESSAGES: undefined,
  LANG: 'C.UTF-8',
  TZ: 'UTC',
};

/** `clawdfly init …` with a clean environment plus `env`. */
export function init(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return runCli(['init', ...args], { ...opts, env: { ...CLEAN_ENV, ...opts.env } });
}

/** A fresh, not yet existing project dir inside a new temp dir. */
export function freshDir(): string {
  return join(tempDir('clawdfly-init-'), 'gateway');
}

export interface FileInfo {
  mode: number;
  sha256: string;
  size: number;
}

/** Every file under dir (relative path → mode + hash), directories included as mode entries. */
export function snapshot(dir: string): Map<string, FileInfo | 'dir'> {
  const result = new Map<string, FileInfo | 'dir'>();
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const full = join(d, entry.name);
      const rel = relative(dir, full);
      if (entry.isDirectory()) {
        result.set(rel + '/', 'dir');
        walk(full);
      } else {
        const bytes = readFileSync(full);
        result.set(rel, { mode: statSync(full).mode & 0o777, sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length });
      }
    }
  };
  if (existsSync(dir)) walk(dir);
  return result;
}

/** Relative paths of the files (not directories) under dir, sorted. */
export function listFiles(dir: string): string[] {
  return [...snapshot(dir).keys()].filter((p) => !p.endsWith('/')).sort();
}

export function sha256(bytes: string | Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Non-empty stderr lines. */
export function stderrLines(result: Pick<CliResult, 'stderr'>): string[] {
  return result.stderr.split('\n').filter((l) => l.trim() !== '');
}

/** The committed runtime lockfile init copies into runtime/package-lock.json. */
export function templateLockfile(runtimeId = 'clawdbot@2026.1.24-3'): Buffer {
  return readFileSync(join(ROOT, 'templates', 'runtime', `${runtimeId}.package-lock.json`));
}

/** NAME → value from a secrets.env text (values are JSON-quoted by clawdfly). */
export function parseEnvFile(text: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = line.match(/^([A-Z][A-Z0-9_]*)=(.*)$/);
    if (m) result[m[1]!] = m[2]!.startsWith('"') ? (JSON.parse(m[2]!) as string) : m[2]!;
  }
  return result;
}

export function readSecretsFile(dir: string): Record<string, string> {
  return parseEnvFile(readFileSync(join(dir, '.clawdfly', 'secrets.env'), 'utf8'));
}
