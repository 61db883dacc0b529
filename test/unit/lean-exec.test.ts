import { describe, expect, it } from 'vitest';
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli.js';
import { commandStart, type FlagSpec } from '../../src/commands/command-line.js';
import { parseFastExec, type FastExec } from '../../src/lean-exec.js';
import { UsageError } from '../../src/sys/errors.js';

const p = (...words: string[]) => parseFastExec(['node', 'nsm', ...words]);

/**
 * What the full CLI (commander) makes of `nsm WORDS`: the action's arguments, or the error.
 * The real program with the action replaced by one that records its arguments.
 */
async function viaCommander(...words: string[]): Promise<{ ok: true; args: unknown[] } | { ok: false; error: Error }> {
  const program = buildProgram();
  let args: unknown[] = [];
  for (const cmd of program.commands as Command[]) {
    cmd.configureOutput({ writeOut: () => {}, writeErr: () => {} });
    cmd.action((...a: unknown[]) => {
      args = a.slice(0, -1); // the Command itself comes last
    });
  }
  try {
    await program.parseAsync(['node', 'nsm', ...words]);
    return { ok: true, args };
  } catch (error) {
    return { ok: false, error: error as Error };
  }
}

/** The lean parse's result in the shape of commander's action arguments for exec/enter. */
function asActionArgs(fast: FastExec): unknown[] {
  const opts: Record<string, unknown> = {};
  if (fast.types) opts.type = fast.types;
  if (fast.wd !== undefined) opts.wd = fast.wd;
  return [fast.name, fast.argv, opts];
}

describe('parseFastExec: the lean entry takes the documented forms and declines the rest', () => {
  it('exec/run NAME [--] CMD, with -t and --wd in their spellings', () => {
    expect(p('exec', 'web', '--', 'ip', '-br', 'addr')).toEqual({ mode: 'exec', name: 'web', argv: ['ip', '-br', 'addr'], types: undefined, wd: undefined });
    expect(p('exec', 'web', 'ip', '-br', 'addr')).toEqual({ mode: 'exec', name: 'web', argv: ['ip', '-br', 'addr'], types: undefined, wd: undefined });
    expect(p('run', '-t', 'net,uts', '--wd', '/srv', 'web', '--', 'ls', '--', 'x')).toEqual({
      mode: 'exec',
      name: 'web',
      argv: ['ls', '--', 'x'],
      types: ['net', 'uts'],
      wd: '/srv',
    });
    expect(p('exec', '--type=net', '-tuts', '--wd=/', 'web', '--', 'true')).toMatchObject({ types: ['net', 'uts'], wd: '/' });
    expect(p('exec', 'web', '-t', 'net', '--', 'true')).toMatchObject({ name: 'web', types: ['net'] });
    expect(p('exec', 'web', '-t', 'net', 'true')).toMatchObject({ name: 'web', types: ['net'], argv: ['true'] });
  });

  it("nsm's options end where the command starts: what follows is the command's", () => {
    expect(p('exec', 'web', 'echo', '-t', 'x')).toMatchObject({ name: 'web', argv: ['echo', '-t', 'x'], types: undefined });
    expect(p('exec', 'web', 'ls', '--wd', '/', '--help')).toMatchObject({ argv: ['ls', '--wd', '/', '--help'], wd: undefined });
    expect(p('exec', 'web', 'sh', '-c', 'exit 3')).toMatchObject({ argv: ['sh', '-c', 'exit 3'] });
    expect(p('exec', 'web', '--', '-weird')).toMatchObject({ argv: ['-weird'] });
  });

  it('enter/shell NAME with or without a command', () => {
    expect(p('enter', 'web')).toEqual({ mode: 'enter', name: 'web', argv: [], types: undefined, wd: undefined });
    expect(p('shell', 'web', '--', 'bash')).toMatchObject({ mode: 'enter', argv: ['bash'] });
    expect(p('shell', 'web', 'bash', '--norc')).toMatchObject({ mode: 'enter', argv: ['bash', '--norc'] });
  });

  it('declines help, other options, a missing name or command', () => {
    for (const argv of [
      ['exec', '--help'],
      ['exec', '-h', 'web', '--', 'true'],
      ['exec', 'web', '--help'],
      ['exec', '--json', 'web', '--', 'true'],
      ['exec', 'web', '-br', 'addr'],
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

  it('an empty -t or --wd is a usage error, as in the full CLI (not "all types", not a missing directory)', async () => {
    for (const words of [['exec', '-t', '', 'web', 'true'], ['exec', '-t,,,', 'web', 'true'], ['enter', '--type=', 'web'], ['exec', '--wd', '', 'web', 'true'], ['exec', '--wd=', 'web', 'true']]) {
      expect(() => p(...words), words.join(' ')).toThrow(UsageError);
      const full = await viaCommander(...words);
      expect(full.ok, words.join(' ')).toBe(false);
      expect((full as { error: Error }).error, words.join(' ')).toBeInstanceOf(UsageError);
    }
  });
});

describe('the lean entry and the full CLI read a command line alike', () => {
  const lines: string[][] = [
    ['exec', 'web', 'ip', '-br', 'addr'],
    ['exec', 'web', '--', 'ip', '-br', 'addr'],
    ['run', 'web', 'echo', '-t', 'x'],
    ['exec', '-t', 'net', 'web', 'ss', '-tlnp'],
    ['exec', 'web', '-t', 'net', 'ss', '-tlnp'],
    ['exec', '-tnet', '--type=uts', 'web', 'ls', '-t', 'x'],
    ['exec', '--wd', '/srv', 'web', 'ls', '--wd', '/x'],
    ['exec', '--wd=/srv', 'web', '--', 'ls', '--', 'x'],
    ['exec', 'web', '--', '-weird', 'arg'],
    ['exec', 'web', 'sh', '-c', 'exit 3'],
    ['enter', 'web'],
    ['shell', 'web', 'bash', '--norc'],
    ['enter', '-t', 'net', 'web', '--', 'sh', '-c', 'echo $$'],
  ];

  it.each(lines.map((l) => [l.join(' '), l]))('%s', async (_, words) => {
    const fast = p(...words);
    expect(fast, 'the lean entry takes it').toBeDefined();
    const full = await viaCommander(...words);
    expect(full).toEqual({ ok: true, args: asActionArgs(fast!) });
  });

  it('what the lean entry declines, the full CLI rejects: an option where the command should be, no command', async () => {
    for (const words of [
      ['exec', 'web', '-br', 'addr'],
      ['exec', 'web'],
      ['exec', 'web', '--'],
    ]) {
      expect(p(...words)).toBeUndefined();
      const full = await viaCommander(...words);
      expect(full.ok, words.join(' ')).toBe(false);
      expect((full as { error: Error & { code?: string } }).error.code).toMatch(/^commander\.(unknownOption|missingArgument)$/);
    }
  });

  it('unshare: its options end where the command starts as well', async () => {
    expect(await viaCommander('unshare', '--net', 'ip', '-br', 'link')).toMatchObject({ ok: true, args: [['ip', '-br', 'link'], { net: true }] });
    expect(await viaCommander('unshare', '-nU', 'ls', '-V')).toMatchObject({ ok: true, args: [['ls', '-V'], { net: true, user: true }] });
    expect(await viaCommander('unshare', '-t', 'net', '--hostname', 'h', 'hostname', '-s')).toMatchObject({
      ok: true,
      args: [['hostname', '-s'], { type: ['net'], hostname: 'h' }],
    });
    expect(await viaCommander('unshare', '--net', '--', '-x')).toMatchObject({ ok: true, args: [['-x'], { net: true }] });
    expect(await viaCommander('unshare', '--boottime', '-5', 'true')).toMatchObject({ ok: true, args: [['true'], { boottime: -5 }] });
  });
});

describe('commandStart', () => {
  const flags: FlagSpec[] = [
    { short: '-t', long: '--type', value: 'required' },
    { short: '-n', long: '--net', value: 'none' },
    { short: '-U', long: '--user', value: 'none' },
    { long: '--level', value: 'optional' },
  ];
  const at = (words: string[], before = 1) => commandStart(words, flags, before);

  it('finds the first operand after NAME, reading options and their values as commander does', () => {
    expect(at(['web', 'ip', '-br'])).toBe(1);
    expect(at(['-t', 'net', 'web', 'ls'])).toBe(3);
    expect(at(['-tnet', 'web', '-n', 'ls'])).toBe(3);
    expect(at(['-nt', 'net', 'web', 'ls'])).toBe(3);
    expect(at(['-nU', 'web', 'ls'])).toBe(2);
    expect(at(['--type=net', 'web', 'ls'])).toBe(2);
    expect(at(['--level', '3', 'web', 'ls'])).toBe(3); // an optional value takes a non-option word
    expect(at(['--level', 'web', 'ls'])).toBeUndefined(); // ... even this one
    expect(at(['--level', '-n', 'web', 'ls'])).toBe(3);
    expect(at(['web', '-5'])).toBe(1); // a negative number is an operand (commander's rule)
    expect(at(['ls', '-x'], 0)).toBe(0);
    expect(at(['-n', 'ls'], 0)).toBe(1);
  });

  it('undefined when -- comes first or there is no command', () => {
    expect(at(['web', '--', 'ls'])).toBeUndefined();
    expect(at(['web'])).toBeUndefined();
    expect(at(['web', '-x'])).toBeUndefined();
    expect(at(['-t'])).toBeUndefined();
  });
});
