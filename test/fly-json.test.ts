/** flyctl output that is not JSON (an HTML 502 page) is a clear error, not "a bug in clawdfly" (issue #19). */
import { describe, expect, it } from 'vitest';
import { isClawdflyError } from '../src/errors.js';
import { parseJson, VersionSchema } from '../src/fly/json.js';

describe('parseJson on non-JSON flyctl output', () => {
  it('says an HTML error page came back, with its title and what to do', () => {
    const html = '<html>\n<head><title>502 Bad Gateway</title></head>\n<body>nginx</body>\n</html>\n';
    let caught: unknown;
    try {
      parseJson(VersionSchema, html, 'status --json');
    } catch (error) {
      caught = error;
    }
    expect(isClawdflyError(caught)).toBe(true);
    expect((caught as Error).message).toBe('flyctl status --json did not answer with JSON: it printed an HTML page titled "502 Bad Gateway"');
    expect((caught as { hint?: string }).hint).toMatch(/again/);
  });

  it('quotes the first line of plain text', () => {
    expect(() => parseJson(VersionSchema, '\nError: timeout\nmore', 'apps list --json')).toThrow('flyctl apps list --json did not answer with JSON: it printed "Error: timeout"');
  });
});
