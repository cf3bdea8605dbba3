/** The one output filter: redaction happens before any escaping or truncation (issue #19). */
import { afterEach, describe, expect, it } from 'vitest';
import { clearSecrets, redact, registerSecret } from '../src/ui/redact.js';

afterEach(() => clearSecrets());

describe('redact', () => {
  it.each([
    ['a double quote', 'tok"en-1234567'],
    ['a backslash', 'tok\\en-1234567'],
    ['a newline', 'line-one-abc\nline-two-def'],
    ['a hash', 'a#b-1234567'],
  ])('hides a secret with %s in raw text and inside JSON', (_what, secret) => {
    registerSecret(secret);
    expect(redact(`x ${secret} y`)).not.toContain(secret);
    const json = JSON.stringify({ value: `x ${secret} y` });
    expect(redact(json)).not.toContain(JSON.stringify(secret).slice(1, -1));
    expect(JSON.parse(redact(json)).value).toContain('***');
  });

  it('a line cut after redaction shows no prefix of the secret', () => {
    const secret = 'f'.repeat(10) + '0123456789abcdef0123456789abcdef';
    registerSecret(secret);
    const line = `${'x'.repeat(110)}${secret}`;
    expect(redact(line).slice(0, 120)).not.toContain('ffffffffff0');
  });
});
