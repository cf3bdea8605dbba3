/**
 * Reading the gateway's config text (clawdbot.json, openclaw.json): JSON (what clawdfly writes) or JSON5 (what the gateway also accepts),
 * with problems located by line so `config validate` can point at them.
 *
 * This module does not load the schema mirror (./schema.ts, built on zod, the largest library in
 * the bundle): ./config-file.ts does and registers it here. Code that imports config-file.ts can
 * check any config at once; doctor imports this module and loads the schema (loadConfigSchema)
 * only when the runtime has no validator of its own.
 */
import JSON5 from 'json5';
import type { ConfigProblem } from './schema.js';
import { locateKeyLines } from '../util/json-locate.js';
import type { GatewayRuntime } from './runtime.js';

export interface ParsedConfig {
  value: unknown;
  /** true when the text needed JSON5 (comments, trailing commas, unquoted keys). */
  json5: boolean;
}

export function parseConfigText(text: string): ParsedConfig {
  try {
    return { value: JSON.parse(text), json5: false };
  } catch {
    // fall through to JSON5, which the gateway accepts too
  }
  return { value: JSON5.parse(text), json5: true };
}

export interface ConfigCheck {
  ok: boolean;
  json5: boolean;
  value?: unknown;
  problems: ConfigProblem[];
}

/**
 * Parses the text, then checks it against clawdfly's hand mirror of the schema when the runtime
 * has no validator of its own (clawdbot). A runtime with one (openclaw: `config validate`) is only
 * parsed here; its own validator runs where the runtime is installed (gateway/validate.ts).
 */
let schemaCheck: ((value: unknown) => ConfigProblem[]) | undefined;

/** Called by ./config-file.ts when it loads: the schema mirror every checkConfigText then uses. */
export function registerConfigSchema(check: (value: unknown) => ConfigProblem[]): void {
  schemaCheck = check;
}

/** Whether checking a config of `runtime` needs clawdfly's schema mirror (no validator of its own). */
export function needsConfigSchema(runtime?: GatewayRuntime): boolean {
  return !runtime || runtime.configValidator.kind === 'schema';
}

/** Loads the schema mirror when `runtime` needs it (before checkConfigText, in code that imports only this module). */
export async function loadConfigSchema(runtime?: GatewayRuntime): Promise<void> {
  if (needsConfigSchema(runtime) && !schemaCheck) await import('./config-file.js');
}

export function checkConfigText(text: string, runtime?: GatewayRuntime): ConfigCheck {
  let parsed: ParsedConfig;
  try {
    parsed = parseConfigText(text);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const lineMatch = message.match(/at (\d+):(\d+)/);
    return {
      ok: false,
      json5: true,
      problems: [{ path: '<root>', message: `JSON5 parse failed: ${message}`, line: lineMatch ? Number(lineMatch[1]) : undefined }],
    };
  }
  let problems: ConfigProblem[] = [];
  if (needsConfigSchema(runtime)) {
    if (!schemaCheck) throw new Error('internal: the config schema is not loaded (await loadConfigSchema(runtime) first)');
    problems = schemaCheck(parsed.value);
  }
  if (problems.length > 0) {
    const lines = locateKeyLines(text);
    for (const problem of problems) problem.line = lineForProblem(lines, problem);
  }
  return { ok: problems.length === 0, json5: parsed.json5, value: parsed.value, problems };
}

function lineForProblem(lines: Map<string, number>, problem: ConfigProblem): number | undefined {
  const unknownKey = problem.message.match(/^Unrecognized keys?: "([^"]+)"/);
  const base = problem.path === '<root>' ? '' : problem.path;
  if (unknownKey) {
    const full = base ? `${base}.${unknownKey[1]}` : unknownKey[1]!;
    if (lines.has(full)) return lines.get(full);
  }
  // The deepest part of the path that exists in the text.
  const parts = base ? base.split('.') : [];
  for (let n = parts.length; n > 0; n--) {
    const key = parts.slice(0, n).join('.');
    if (lines.has(key)) return lines.get(key);
  }
  return parts.length === 0 ? 1 : undefined;
}

export function formatProblem(problem: ConfigProblem, file?: string): string {
  const where = problem.line ? `${file ? `${file}:` : 'line '}${problem.line}: ` : file ? `${file}: ` : '';
  return `${where}${problem.path}: ${problem.message}`;
}

/** Keys whose string value is a credential (gateway.md: `botToken`, `gateway.auth.token`, provider `apiKey`…). */
const SECRET_KEY_RE = /(token|secret|password|apikey|api_key|privatekey)$/i;

/**
 * Dotted paths of config values that hold a literal credential rather than a `${VAR}`
 * reference (the gateway substitutes environment variables in string values). Values are never
 * returned, only where they are.
 */
export function literalSecretPaths(text: string): string[] {
  let root: unknown;
  try {
    root = JSON5.parse(text);
  } catch {
    return [];
  }
  const found: string[] = [];
  const walk = (node: unknown, path: string[]): void => {
    if (Array.isArray(node)) node.forEach((item, i) => walk(item, [...path, String(i)]));
    else if (node && typeof node === 'object') for (const [k, v] of Object.entries(node)) walk(v, [...path, k]);
    else if (typeof node === 'string' && node.trim() !== '' && SECRET_KEY_RE.test(path[path.length - 1] ?? '') && !/^\$\{[A-Za-z_][A-Za-z0-9_]*\}$/.test(node.trim())) {
      found.push(path.join('.'));
    }
  };
  walk(root, []);
  return found;
}
