/**
 * The house's floors: every import between top-level folders of src/ runs down this list, never
 * back up and never sideways, so there is no import cycle between folders. A new folder must be
 * given its floor here. (Imports inside one folder are free.)
 *
 * Why this order: commands are thin and call everything; doctor reads everything (a release history,
 * an interrupted upgrade's journal) and changes nothing of the release lifecycle; release (releases,
 * rollback, upgrade, the state snapshot) drives a deploy's plan/apply/verify, a backup and the remote
 * calls, and nothing below it knows a release; backup (archives, restore, the off-site schedule)
 * records what it sets on Fly in the deploy state, and no deploy step makes a backup; fly, gateway, ui and util know no command.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../src');

/** Top to bottom; a floor's folders never import each other. Root files are named with their extension. */
const FLOORS: readonly (readonly string[])[] = [
  ['cli.ts'],
  ['commands'],
  ['doctor'],
  ['release'],
  ['backup'],
  ['deploy', 'local', 'operate'],
  ['remote'],
  ['project'],
  ['fly', 'gateway'],
  ['i18n', 'ui'],
  ['util'],
  ['errors.ts'],
];

interface Arrow {
  from: string;
  to: string;
  fromFolder: string;
  toFolder: string;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.(ts|mts|cts)$/.test(name) ? [path] : [];
  });
}

/** The top-level folder of src/ a file lives in (a file directly in src/ is its own "folder"). */
function folderOf(file: string): string {
  const parts = relative(SRC, file).split(/[\\/]/);
  return parts.length > 1 ? parts[0]! : parts[0]!.replace(/\.js$/, '.ts');
}

/** Every relative import: static, type-only, re-exports and dynamic import(). */
const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"](\.{1,2}\/[^'"]+)['"]/g;

function arrows(): Arrow[] {
  const found: Arrow[] = [];
  for (const file of sourceFiles(SRC)) {
    for (const match of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const target = resolve(dirname(file), match[1]!);
      const fromFolder = folderOf(file);
      const toFolder = folderOf(target);
      if (fromFolder !== toFolder) found.push({ from: relative(SRC, file), to: relative(SRC, target), fromFolder, toFolder });
    }
  }
  return found;
}

function floorOf(folder: string): number {
  return FLOORS.findIndex((floor) => floor.includes(folder));
}

/** Folder-level strongly connected components with more than one folder (Tarjan). */
function folderCycles(all: Arrow[]): string[][] {
  const next = new Map<string, Set<string>>();
  for (const a of all) {
    if (!next.has(a.fromFolder)) next.set(a.fromFolder, new Set());
    next.get(a.fromFolder)!.add(a.toFolder);
  }
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) cycles.push(component.sort());
    }
  };
  for (const v of next.keys()) if (!index.has(v)) visit(v);
  return cycles;
}

describe('layering of src/', () => {
  const all = arrows();

  it('sees the imports it checks (the scan is not empty)', () => {
    expect(all.some((a) => a.fromFolder === 'commands' && a.toFolder === 'release')).toBe(true);
    expect(all.some((a) => a.fromFolder === 'release' && a.toFolder === 'deploy')).toBe(true);
  });

  it('gives every top-level folder of src/ a floor', () => {
    const folders = new Set(sourceFiles(SRC).map(folderOf));
    const unplaced = [...folders].filter((folder) => floorOf(folder) < 0);
    expect(unplaced, 'add these folders to FLOORS in test/layering.test.ts').toEqual([]);
  });

  it('has no import running back up or sideways between folders', () => {
    const upward = all
      .filter((a) => floorOf(a.toFolder) <= floorOf(a.fromFolder))
      .map((a) => `${a.from} -> ${a.to}  (${a.fromFolder} may not import ${a.toFolder})`);
    expect(upward).toEqual([]);
  });

  it('has no import cycle between folders', () => {
    expect(folderCycles(all)).toEqual([]);
  });
});
