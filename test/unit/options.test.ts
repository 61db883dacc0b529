/**
 * The option-value parsers every command shares (src/commands/options.ts, src/core/limits.ts)
 * and how an error repeats the user's word (src/sys/errors.ts echoInput): the limits the
 * kernel really has, no empty value meaning "everything", and no 100 KB word echoed back.
 */
import { describe, expect, it } from 'vitest';
import { collectOwners, collectTypes, parseId, parseNsType, parsePid, parseTimeOffset, parseWd, TIME_NS_CLOCK_MAX } from '../../src/commands/options.js';
import { MAX_PIDS, MIN_PIDS, parsePidsMax, parseSize } from '../../src/core/limits.js';
import { validateNewName } from '../../src/core/registry.js';
import { parseTarget } from '../../src/core/target.js';
import { echoInput, quoteInput, UsageError } from '../../src/sys/errors.js';
import { escapeText } from '../../src/sys/escape.js';

/** The UsageError `fn` throws (fails when it throws nothing or something else). */
function usageError(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(2);
    return err as UsageError;
  }
  throw new Error('no error thrown');
}

const BIG = 'A'.repeat(100_000);

describe('echoInput: a word as an error repeats it', () => {
  it('cuts after 60 characters with …, and escapes control characters', () => {
    expect(echoInput('web')).toBe('web');
    expect(echoInput(BIG)).toBe(`${'A'.repeat(60)}…`);
    expect(echoInput('x'.repeat(60))).toBe('x'.repeat(60));
    expect(echoInput('a\u001b]0;PWNED\u0007b\nc')).toBe('a\\e]0;PWNED\\x07b\\nc');
    expect(echoInput('\u009b')).toBe('\\x9b');
    expect(echoInput('')).toBe("''");
    expect(quoteInput('')).toBe('""');
    expect(quoteInput('a b')).toBe('"a b"');
    expect(escapeText('ok \x7f')).toBe('ok \\x7f');
  });

  it.each([
    ['collectTypes', () => collectTypes(BIG)],
    ['collectOwners', () => collectOwners(BIG)],
    ['parseNsType', () => parseNsType(BIG)],
    ['parsePid', () => parsePid(BIG)],
    ['parseId', () => parseId('--map-user')(BIG)],
    ['parseTimeOffset', () => parseTimeOffset('--monotonic', 100)(BIG)],
    ['parseSize', () => parseSize(BIG)],
    ['parsePidsMax', () => parsePidsMax(BIG)],
    ['parseTarget', () => parseTarget(BIG)],
    ['validateNewName', () => validateNewName(BIG)],
  ])('%s repeats at most 60 characters of a 100 KB word', (_name, fn) => {
    const err = usageError(fn);
    expect(err.message.length).toBeLessThan(300);
    expect(err.message).toContain(`${'A'.repeat(60)}…`);
  });
});

describe('-t and --owner: an empty value is a usage error, never "all"', () => {
  it.each(['', ',', ',,,', ' , '])('-t %j', (value) => {
    expect(usageError(() => collectTypes(value)).message).toMatch(/^-t needs namespace types \(.*all\), not: /);
  });
  it.each(['', ',,,', ' '])('--owner %j', (value) => {
    expect(usageError(() => collectOwners(value)).message).toMatch(/^--owner needs KIND or KIND:NAME/);
    // Real values still work, and accumulate.
    expect(collectTypes('net,,uts')).toEqual(['net', 'uts']);
    expect(collectTypes('pid', ['net'])).toEqual(['net', 'pid']);
    expect(collectOwners('docker:web,podman')).toEqual([{ kind: 'docker', name: 'web' }, { kind: 'podman' }]);
  });
});

describe('--pids: from 2 to PID_MAX_LIMIT', () => {
  it('takes 2 .. 4194304', () => {
    expect(MIN_PIDS).toBe(2);
    expect(MAX_PIDS).toBe(4194304);
    expect(parsePidsMax('2')).toBe(2);
    expect(parsePidsMax('64')).toBe(64);
    expect(parsePidsMax('4194304')).toBe(4194304);
  });
  it('1 says the minimum and why', () => {
    expect(usageError(() => parsePidsMax('1')).message).toBe('--pids must be at least 2: the holder is one process and a command run there another, not: 1');
    expect(usageError(() => parsePidsMax('0')).message).toMatch(/at least 2/);
    for (const bad of ['', '-3', '1.5', 'max', '0x10']) expect(usageError(() => parsePidsMax(bad)).message, bad).toMatch(/needs a whole number/);
  });
  it('above PID_MAX_LIMIT says too large, with the maximum', () => {
    expect(usageError(() => parsePidsMax('99999999')).message).toBe("--pids is too large: at most 4194304 (the kernel's PID_MAX_LIMIT), not: 99999999");
    expect(usageError(() => parsePidsMax('4194305')).message).toMatch(/too large/);
    expect(usageError(() => parsePidsMax('9'.repeat(400))).message).toMatch(/too large/);
  });
});

describe('--memory', () => {
  it('too large says so, with the maximum', () => {
    expect(usageError(() => parseSize('99999999T')).message).toBe('--memory is too large: at most 8191T (9007199254740991 bytes), not: 99999999T');
    expect(usageError(() => parseSize('99999999999999999999')).message).toMatch(/too large/);
    expect(parseSize('8191T')).toBe(8191 * 1024 ** 4);
    expect(usageError(() => parseSize('8192T')).message).toMatch(/too large/);
    // Too small still says the minimum.
    expect(usageError(() => parseSize('100K')).message).toBe('--memory must be at least 1M, not: 100K');
  });
});

describe('--monotonic/--boottime: the range time_namespaces(7) allows', () => {
  it('the clock inside stays within 0 .. KTIME_SEC_MAX / 2', () => {
    expect(TIME_NS_CLOCK_MAX).toBe(Math.floor(Number((2n ** 63n - 1n) / 1_000_000_000n) / 2));
    const at1000 = parseTimeOffset('--monotonic', 1000);
    expect(at1000('3600')).toBe(3600);
    expect(at1000('-1000')).toBe(-1000);
    expect(at1000('0')).toBe(0);
    expect(at1000(String(TIME_NS_CLOCK_MAX - 1000))).toBe(TIME_NS_CLOCK_MAX - 1000);
  });
  it('out of range says the range, not "whole seconds"', () => {
    const at1000 = parseTimeOffset('--monotonic', 1000);
    const big = usageError(() => at1000('1000000000000')).message;
    expect(big).toMatch(/^--monotonic must be between -1000 and 4611685018 seconds: /);
    expect(big).not.toMatch(/whole seconds/);
    expect(usageError(() => at1000('-1001')).message).toMatch(/between -1000 and/);
    expect(usageError(() => at1000(String(TIME_NS_CLOCK_MAX - 999))).message).toMatch(/must be between/);
    expect(usageError(() => parseTimeOffset('--boottime', 5)('99999999999999999999999')).message).toMatch(/^--boottime must be between -5 and/);
  });
  it('reads the clock when not given one', () => {
    expect(parseTimeOffset('--boottime')('86400')).toBe(86400);
    expect(usageError(() => parseTimeOffset('--monotonic')('-99999999999')).message).toMatch(/the monotonic clock \(\d+ s now\)/);
  });
  it('not a whole number', () => {
    for (const bad of ['', '1.5', '1e3', '+5', '--3']) expect(usageError(() => parseTimeOffset('--monotonic', 1)(bad)).message, bad).toMatch(/needs whole seconds/);
  });
});

describe('names and --wd', () => {
  it('an all-digit name is refused at create: targets read it as a PID', () => {
    for (const name of ['123', '0', '007']) {
      expect(usageError(() => validateNewName(name)).message).toBe(`invalid environment name "${name}": all-digit words are PIDs; use a letter too`);
    }
    expect(validateNewName('web1')).toBe('web1');
    expect(validateNewName('1e3')).toBe('1e3');
  });
  it('--wd: an empty word is no directory', () => {
    expect(usageError(() => parseWd('')).message).toBe('--wd needs a directory, not an empty word');
    expect(parseWd('/srv')).toBe('/srv');
  });
});
