import { describe, expect, it } from 'vitest';
import { parseFastExec } from '../../src/lean-exec.js';
import { UsageError } from '../../src/sys/errors.js';

const p = (...words: string[]) => parseFastExec(['node', 'nsm', ...words]);

describe('parseFastExec: the lean entry takes the documented forms and declines the rest', () => {
  it('exec/run NAME -- CMD, with -t and --wd in their spellings', () => {
    expect(p('exec', 'web', '--', 'ip', '-br', 'addr')).toEqual({ mode: 'exec', name: 'web', argv: ['ip', '-br', 'addr'], types: undefined, wd: undefined });
    expect(p('run', '-t', 'net,uts', '--wd', '/srv', 'web', '--', 'ls', '--', 'x')).toEqual({
      mode: 'exec',
      name: 'web',
      argv: ['ls', '--', 'x'],
      types: ['net', 'uts'],
      wd: '/srv',
    });
    expect(p('exec', '--type=net', '-tuts', '--wd=/', 'web', '--', 'true')).toMatchObject({ types: ['net', 'uts'], wd: '/' });
    expect(p('exec', 'web', '-t', 'net', '--', 'true')).toMatchObject({ name: 'web', types: ['net'] });
  });

  it('enter/shell NAME with or without a command', () => {
    expect(p('enter', 'web')).toEqual({ mode: 'enter', name: 'web', argv: [], types: undefined, wd: undefined });
    expect(p('shell', 'web', '--', 'bash')).toMatchObject({ mode: 'enter', argv: ['bash'] });
  });

  it('declines help, other options, a command without --, a missing name or command', () => {
    for (const argv of [
      ['exec', '--help'],
      ['exec', '-h', 'web', '--', 'true'],
      ['exec', '--json', 'web', '--', 'true'],
      ['exec', 'web', 'ls'],
      ['exec', 'web'],
      ['exec', 'web', '--'],
      ['exec', '--', 'true'],
      ['exec', '-t'],
      ['enter', 'web', '--'],
      ['ls'],
      [],
    ]) {
      expect(p(...argv), argv.join(' ')).toBeUndefined();
    }
  });

  it('a bad type is a usage error, as in the full CLI', () => {
    expect(() => p('exec', '-t', 'bogus', 'web', '--', 'true')).toThrow(UsageError);
  });
});
