import { describe, expect, it } from 'vitest';
import { ENV_NAME_PATTERN, isoTimestamp, parseEnvRecord, validateName } from '../../src/core/registry.js';
import { quoteInput, UsageError } from '../../src/sys/errors.js';
import { randomHex, resolveStateDir } from '../../src/sys/statefs.js';

describe('environment names', () => {
  const valid = ['a', 'Z', '0', 'web', 'web-1', 'a.b_c-d', 'A1.2', '9lives', 'x'.repeat(64), 'a..b', 'a-'];
  const invalid = [
    '', '-a', '.a', '_a', '.', '..', 'a/b', '/a', 'a b', ' a', 'a\n', 'a\0b', 'a:b', 'ä', 'a*', 'x'.repeat(65), 'a$', 'a\\b',
  ];
  it.each(valid)('accepts %j', (name) => {
    expect(validateName(name)).toBe(name);
    expect(ENV_NAME_PATTERN.test(name)).toBe(true);
  });
  it.each(invalid)('refuses %j with a usage error (exit 2) that says what is allowed', (name) => {
    let caught: unknown;
    try {
      validateName(name);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(UsageError);
    expect((caught as UsageError).exitCode).toBe(2);
    expect((caught as UsageError).message).toContain(`invalid environment name ${quoteInput(name)}`);
    expect((caught as UsageError).message).toMatch(/1 to 64 characters: letters, digits/);
  });
});

describe('state directory resolution', () => {
  it('NSM_STATE_DIR wins for everyone', () => {
    expect(resolveStateDir({ NSM_STATE_DIR: '/x/y', XDG_RUNTIME_DIR: '/run/user/0' }, 0)).toEqual({ path: '/x/y', source: 'NSM_STATE_DIR' });
    expect(resolveStateDir({ NSM_STATE_DIR: '/x/y' }, 1000).path).toBe('/x/y');
  });
  it('root uses /run/nsm even with XDG_RUNTIME_DIR set', () => {
    expect(resolveStateDir({ XDG_RUNTIME_DIR: '/tmp' }, 0)).toEqual({ path: '/run/nsm', source: 'root' });
  });
  it('a user without XDG_RUNTIME_DIR uses /tmp/nsm-UID', () => {
    expect(resolveStateDir({}, 1234)).toEqual({ path: '/tmp/nsm-1234', source: 'tmp' });
  });
  it('an XDG_RUNTIME_DIR that is not the user\'s own 0700 directory is not used', () => {
    // /tmp is 1777 and root's: unusable for uid 1234. A relative path is never usable.
    expect(resolveStateDir({ XDG_RUNTIME_DIR: '/tmp' }, 1234).path).toBe('/tmp/nsm-1234');
    expect(resolveStateDir({ XDG_RUNTIME_DIR: 'run/user/1234' }, 1234).path).toBe('/tmp/nsm-1234');
    expect(resolveStateDir({ XDG_RUNTIME_DIR: '/nonexistent-nsm-test' }, 1234).path).toBe('/tmp/nsm-1234');
  });
});

describe('parseEnvRecord', () => {
  const good = {
    schemaVersion: 1,
    name: 'web',
    types: ['net', 'uts'],
    options: {},
    holder: { pid: 42, startTime: 1000 },
    namespaces: { net: 4026532000, uts: 4026532001 },
    pins: {},
    creatorUid: 0,
    createdAt: '2026-01-01T00:00:00.000Z',
    nsmVersion: '0.1.0',
  };
  it('accepts a well-formed record', () => {
    expect(parseEnvRecord(JSON.stringify(good)).name).toBe('web');
  });
  it.each([
    ['a newer schema', { schemaVersion: 2 }, /newer nsm/],
    ['a bad name', { name: '../etc' }, /name/],
    ['an unknown type', { types: ['net', 'bogus'] }, /types/],
    ['a type without inode', { namespaces: { net: 4026532000 } }, /namespaces.uts/],
    ['no holder start time', { holder: { pid: 42 } }, /holder/],
  ])('refuses %s', (_what, patch, message) => {
    expect(() => parseEnvRecord(JSON.stringify({ ...good, ...patch }))).toThrow(message);
  });
});

describe('record timestamps and temporary names', () => {
  // isoTimestamp() writes what Date#toISOString() does, without loading the local time zone.
  it.each([0, 1, 999, 86_399_999, 951_782_400_000, 1_796_264_096_789, 253_402_300_799_999, 253_402_300_800_000, -1, -62_198_755_200_001])(
    'agrees with toISOString() at %d ms',
    (ms) => {
      expect(isoTimestamp(new Date(ms))).toBe(new Date(ms).toISOString());
    },
  );

  it('now, by default', () => {
    const before = Date.now();
    const t = Date.parse(isoTimestamp());
    expect(t).toBeGreaterThanOrEqual(before);
    expect(t).toBeLessThanOrEqual(Date.now());
  });

  it('randomHex() gives 8 hex digits that differ from call to call', () => {
    const seen = new Set(Array.from({ length: 50 }, () => randomHex()));
    for (const h of seen) expect(h).toMatch(/^[0-9a-f]{8}$/);
    expect(seen.size).toBe(50);
  });
});
