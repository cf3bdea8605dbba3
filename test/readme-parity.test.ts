/**
 * README.md and README.zh-CN.md stay in step: the same `##` sections in the same order (compared by
 * position and by the `clawdfly …` commands and tables each holds, since their titles are in two
 * languages), the same set of `clawdfly` commands and flags in code blocks, the same troubleshooting
 * rows (by doctor check id), and a link to the other language at the top of each. A change to one
 * README that skips the other fails here, with a message that says exactly what differs. The
 * checker also runs on mutated copies (a heading or a command removed from one file only) as its
 * own control.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/cli.js';
import { CHECK_IDS } from '../src/doctor/types.js';

interface Section {
  heading: string;
  /** `clawdfly <words> <flags>` of every command in the section's code blocks, sorted. */
  commands: string[];
  /** Row count of each table in the section (header and separator rows excluded). */
  tables: number[];
}

interface ReadmeFacts {
  sections: Section[];
  /** Doctor check ids of the troubleshooting table's rows, in order. */
  troubleshooting: string[];
  /** The first lines link to the other language's file. */
  linksTo: string[];
}

/** Code lines: fenced blocks and indented (4-space) blocks that follow a blank line. */
function codeLines(lines: string[]): boolean[] {
  const isCode: boolean[] = [];
  let fenced = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (/^\s*```/.test(line)) {
      fenced = !fenced;
      isCode.push(false);
      continue;
    }
    const indented = /^( {4}|\t)\S/.test(line) && i > 0 && (lines[i - 1]!.trim() === '' || isCode[i - 1] === true);
    isCode.push(fenced || indented);
  }
  return isCode;
}

/** Each `clawdfly` command on a code line: its command words (until the first argument), then its flags. */
export function commandsIn(line: string): string[] {
  const found: string[] = [];
  // A shell comment (a `#` after a blank) is prose, in either language.
  const command = line.replace(/(^|\s)#.*$/, '');
  const re = /(?<![\w./@-])clawdfly(?=\s|$)/g;
  for (let m = re.exec(command); m; m = re.exec(command)) {
    const tokens = command.slice(m.index + m[0].length).trim().split(/\s+/).filter(Boolean);
    const words: string[] = [];
    const flags: string[] = [];
    let inWords = true;
    for (const token of tokens) {
      if (['|', '&&', ';', '||', '\\'].includes(token)) break;
      const flag = token.match(/^(--?[a-z][a-z0-9-]*)(=.*)?$/);
      if (flag) {
        flags.push(flag[1]!);
        inWords = false;
      } else if (inWords && /^[a-z][a-z-]*$/.test(token)) words.push(token);
      else inWords = false;
    }
    found.push(['clawdfly', ...words, ...flags].join(' '));
  }
  return found;
}

const CHECK_ID_SET = new Set<string>(CHECK_IDS);

export function readmeFacts(text: string): ReadmeFacts {
  const lines = text.split('\n');
  const code = codeLines(lines);
  const sections: Section[] = [];
  const troubleshooting: string[] = [];
  let current: Section | undefined;
  let tableRows = -1;
  const endTable = () => {
    if (current && tableRows >= 0) current.tables.push(tableRows);
    tableRows = -1;
  };
  lines.forEach((line, i) => {
    if (!code[i] && /^## /.test(line)) {
      endTable();
      current = { heading: line.slice(3).trim(), commands: [], tables: [] };
      sections.push(current);
      return;
    }
    if (!current) return;
    if (code[i]) {
      current.commands.push(...commandsIn(line));
      return;
    }
    if (/^\|.*\|\s*$/.test(line)) {
      if (tableRows < 0) tableRows = 0;
      else if (!/^\|[\s|:-]+\|\s*$/.test(line)) tableRows++;
      const cells = line.split('|').slice(1, -1).map((c) => c.trim());
      const id = cells[1]?.match(/^`([a-z-]+)`$/)?.[1];
      if (id && CHECK_ID_SET.has(id)) troubleshooting.push(id);
    } else endTable();
  });
  endTable();
  for (const s of sections) s.commands = [...new Set(s.commands)].sort();
  const linksTo = [...lines.slice(0, 6).join('\n').matchAll(/\]\((README[\w.-]*\.md)\)/g)].map((m) => m[1]!);
  return { sections, troubleshooting, linksTo };
}

/** Every difference between the English README and a translation, one readable line each. */
export function readmeDifferences(english: string, translated: string, names = { en: 'README.md', other: 'README.zh-CN.md' }): string[] {
  const a = readmeFacts(english);
  const b = readmeFacts(translated);
  const problems: string[] = [];
  const label = (i: number) => `section ${i + 1} (${names.en} "## ${a.sections[i]?.heading ?? '—'}" / ${names.other} "## ${b.sections[i]?.heading ?? '—'}")`;
  if (a.sections.length !== b.sections.length) {
    problems.push(`${names.en} has ${a.sections.length} "##" sections, ${names.other} has ${b.sections.length}`);
  }
  for (let i = 0; i < Math.max(a.sections.length, b.sections.length); i++) {
    const sa = a.sections[i];
    const sb = b.sections[i];
    if (!sa || !sb) {
      problems.push(`${label(i)}: only in ${sa ? names.en : names.other}`);
      continue;
    }
    const onlyA = sa.commands.filter((c) => !sb.commands.includes(c));
    const onlyB = sb.commands.filter((c) => !sa.commands.includes(c));
    if (onlyA.length) problems.push(`${label(i)}: code-block commands only in ${names.en}: ${onlyA.map((c) => `\`${c}\``).join(', ')}`);
    if (onlyB.length) problems.push(`${label(i)}: code-block commands only in ${names.other}: ${onlyB.map((c) => `\`${c}\``).join(', ')}`);
    if (sa.tables.join(',') !== sb.tables.join(',')) {
      problems.push(`${label(i)}: tables differ: ${names.en} has ${sa.tables.length} table(s) with [${sa.tables.join(', ')}] rows, ${names.other} has ${sb.tables.length} with [${sb.tables.join(', ')}]`);
    }
  }
  const all = (f: ReadmeFacts) => new Set(f.sections.flatMap((s) => s.commands));
  const [allA, allB] = [all(a), all(b)];
  const missingB = [...allA].filter((c) => !allB.has(c));
  const missingA = [...allB].filter((c) => !allA.has(c));
  if (missingB.length) problems.push(`commands in code blocks only in ${names.en}: ${missingB.map((c) => `\`${c}\``).join(', ')}`);
  if (missingA.length) problems.push(`commands in code blocks only in ${names.other}: ${missingA.map((c) => `\`${c}\``).join(', ')}`);
  if (a.troubleshooting.join(',') !== b.troubleshooting.join(',')) {
    problems.push(`troubleshooting rows differ: ${names.en} has [${a.troubleshooting.join(', ')}], ${names.other} has [${b.troubleshooting.join(', ')}]`);
  }
  if (!a.linksTo.includes(names.other)) problems.push(`${names.en} has no link to ${names.other} in its first lines`);
  if (!b.linksTo.includes(names.en)) problems.push(`${names.other} has no link to ${names.en} in its first lines`);
  return problems;
}

const read = (name: string) => readFileSync(join(ROOT, name), 'utf8');

describe('README.zh-CN.md keeps in step with README.md', () => {
  const english = read('README.md');
  const chinese = read('README.zh-CN.md');

  it('same sections, commands, tables, troubleshooting rows and language links', () => {
    expect(readmeDifferences(english, chinese)).toEqual([]);
  });

  it('finds what it compares (the check is not vacuous)', () => {
    const facts = readmeFacts(english);
    expect(facts.sections.length).toBeGreaterThan(10);
    expect(facts.troubleshooting).toEqual(expect.arrayContaining(['bind', 'port', 'memory', 'lock', 'config', 'state-dir']));
    const commands = new Set(facts.sections.flatMap((s) => s.commands));
    expect(commands).toContain('clawdfly deploy --dry-run');
    expect(commands).toContain('clawdfly init --yes --npm-registry');
    expect(commandsIn('    npx clawdfly restore .clawdfly/backups/x.tar.gz --app other --yes  # 注释 --not-a-flag')).toEqual(['clawdfly restore --app --yes']);
  });

  it('control: a heading removed from one README only is reported', () => {
    const heading = '## Rollback: `clawdfly rollback`';
    expect(english).toContain(heading);
    const problems = readmeDifferences(english.replace(`${heading}\n`, ''), chinese);
    expect(problems).toContain(`README.md has ${readmeFacts(english).sections.length - 1} "##" sections, README.zh-CN.md has ${readmeFacts(chinese).sections.length}`);
  });

  it('control: a command removed from one README only is reported, with the command and the section', () => {
    const line = 'clawdfly rollback --to v3 --yes';
    expect(chinese).toContain(line);
    const problems = readmeDifferences(english, chinese.replace(line, 'clawdfly rollback'));
    expect(problems.some((p) => /section \d+ .*: code-block commands only in README\.md: `clawdfly rollback --to --yes`/.test(p)), problems.join('\n')).toBe(true);
    expect(problems).toContain('commands in code blocks only in README.md: `clawdfly rollback --to --yes`');
  });

  it('control: a troubleshooting row or a table row removed from one README only is reported', () => {
    const row = chinese.split('\n').find((l) => /^\|.*\| `lock` \|/.test(l))!;
    expect(row).toBeDefined();
    const problems = readmeDifferences(english, chinese.replace(`${row}\n`, ''));
    expect(problems.some((p) => p.startsWith('troubleshooting rows differ:') && p.includes('README.zh-CN.md has [flyctl, auth, app, bind, port, memory, config'))).toBe(true);
    expect(problems.some((p) => /tables differ/.test(p))).toBe(true);
  });
});
