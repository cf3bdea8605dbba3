/**
 * The schedule's two ways into fly.toml agree: the line `backup schedule` adds to a fly.toml (keeping
 * the user's other lines) is byte for byte the one init's template renders from answers.json, and
 * `--off` takes it out again. Plus the intervals `--every` takes, and the form fly.toml carries.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import { renderProject, flyTomlFacts } from '../../src/project/render.js';
import type { Answers } from '../../src/project/answers.js';
import { flyTomlWithSchedule } from '../../src/backup/schedule.js';
import { parseInterval, scheduledMinutes } from '../../src/backup/offsite.js';

const answers = JSON.parse(readFileSync(join(ROOT, 'test/golden/openclaw-defaults/dot.clawdfly/answers.json'), 'utf8')) as Answers;
const flyToml = (a: Answers) => renderProject(a).find((f) => f.path === 'fly.toml')!.content;

describe('off-site schedule in fly.toml', () => {
  it('the edit backup schedule makes equals what the template renders, and --off undoes it', () => {
    const plain = flyToml(answers);
    const scheduled = flyToml({ ...answers, offsiteEvery: '1h' });
    expect(flyTomlFacts(scheduled).env['CLAWDFLY_OFFSITE_EVERY']).toBe('1h');
    expect(flyTomlFacts(plain).env['CLAWDFLY_OFFSITE_EVERY']).toBeUndefined();
    expect(flyTomlWithSchedule(plain, '1h')).toBe(scheduled);
    expect(flyTomlWithSchedule(scheduled, '6h')).toBe(flyToml({ ...answers, offsiteEvery: '6h' }));
    expect(flyTomlWithSchedule(scheduled, undefined)).toBe(plain);
    // a user's own line elsewhere in [env] is kept
    const edited = plain.replace('NO_COLOR = "1"', 'NO_COLOR = "1"  # mine');
    expect(flyTomlWithSchedule(flyTomlWithSchedule(edited, '1h'), undefined)).toBe(edited);
  });

  it.each([
    ['30m', '30m', 30],
    ['90m', '90m', 90],
    ['1h', '1h', 60],
    ['2H', '2h', 120],
    ['1d', '24h', 1440],
    ['7d', '168h', 10080],
  ])('--every %s → %s', (given, every, minutes) => {
    expect(parseInterval(given)).toEqual({ every, minutes });
    expect(scheduledMinutes({ CLAWDFLY_OFFSITE_EVERY: every })).toBe(minutes);
  });

  it.each(['0m', '4m', '8d', '1w', '1.5h', '', 'h', '-1h'])('--every %j is refused with exit 2', (given) => {
    expect(() => parseInterval(given)).toThrow(expect.objectContaining({ exitCode: 2, code: 'bad-interval' }));
  });

  it('fly.toml: off, absent or unreadable is no schedule; seconds set by hand count', () => {
    expect(scheduledMinutes({})).toBeUndefined();
    expect(scheduledMinutes({ CLAWDFLY_OFFSITE_EVERY: 'off' })).toBeUndefined();
    expect(scheduledMinutes({ CLAWDFLY_OFFSITE_EVERY: 'often' })).toBeUndefined();
    expect(scheduledMinutes({ CLAWDFLY_OFFSITE_EVERY: '90s' })).toBe(1.5);
  });
});
