import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { createCommand } from '../../src/commands/create.js';
import { namespaceRequest } from '../../src/commands/namespace-request.js';
import { parseFastCreate } from '../../src/lean-create.js';
import { UsageError } from '../../src/sys/errors.js';

const p = (...words: string[]) => parseFastCreate(['node', 'nsm', ...words]);

/** What the full CLI's commander command parses from the same words (its action not run). */
async function commanderParse(words: string[]): Promise<{ name: string | undefined; opts: Record<string, unknown> }> {
  const program = new Command('nsm').exitOverride().configureOutput({ writeOut: () => {}, writeErr: () => {} });
  const cmd = createCommand();
  let seen: { name: string | undefined; opts: Record<string, unknown> } | undefined;
  cmd.action((name: string | undefined, opts: Record<string, unknown>) => {
    seen = { name, opts };
  });
  program.addCommand(cmd);
  await program.parseAsync(['node', 'nsm', ...words]);
  return seen!;
}

/** What create does with parsed options: the request, and the output and pin choices. */
const meaning = (opts: Record<string, unknown>) => ({ request: namespaceRequest(opts), json: Boolean(opts.json), pin: Boolean(opts.pin) });

const accepted = [
  ['create', 'web'],
  ['new', 'web'],
  ['create', '-t', 'net', 'web'],
  ['create', 'web', '-t', 'net,uts', '--type', 'ipc'],
  ['create', '--type=net', '-tuts', 'web'],
  ['create', '-t', 'all', 'web'],
  ['create', '--json', 'web'],
  ['create', '-J', '--user', 'web'],
  ['create', '-n', '-u', '-i', '-p', '-m', '-C', '-U', '-T', 'web'],
  ['create', '--net', '--uts', '--ipc', '--pid', '--mount', '--cgroup', '--user', '--time', 'web'],
  ['create', '--net', '-t', 'uts', 'web'],
  ['create', 'web', '--pin', '-J'],
];

describe('parseFastCreate: the lean entry takes the common forms and declines the rest', () => {
  it.each(accepted)('%s %s ... parses as commander does', async (...words) => {
    const fast = p(...words);
    expect(fast).toBeDefined();
    const full = await commanderParse(words);
    expect(fast!.name).toBe(full.name);
    expect(meaning(fast!.opts)).toEqual(meaning(full.opts));
  });

  it('declines help, version, other options, combined flags, --, a value that looks like an option, two names, no name', () => {
    for (const words of [
      ['create', '--help'],
      ['create', '-h'],
      ['create', '-V'],
      ['create', '--hostname', 'h', 'web'],
      ['create', '--veth', 'web'],
      ['create', '--memory', '64M', 'web'],
      ['create', '--no-lo', 'web'],
      ['create', '-nu', 'web'],
      ['create', '--json=1', 'web'],
      ['create', '--', 'web'],
      ['create', '-t', '-n', 'web'],
      ['create', '-t'],
      ['create', 'web', 'db'],
      ['create'],
      ['exec', 'web', '--', 'true'],
      [],
    ]) {
      expect(p(...words), words.join(' ')).toBeUndefined();
    }
  });

  it('a bad type is a usage error, as in the full CLI', async () => {
    expect(() => p('create', '-t', 'bogus', 'web')).toThrow(UsageError);
    await expect(commanderParse(['create', '-t', 'bogus', 'web'])).rejects.toThrow(UsageError);
  });

  it('an empty -t is a usage error, as in the full CLI (not the default types)', async () => {
    for (const words of [['create', '-t', '', 'web'], ['create', '-t,,,', 'web'], ['new', '--type=', 'web']]) {
      expect(() => p(...words), words.join(' ')).toThrow(UsageError);
      await expect(commanderParse(words), words.join(' ')).rejects.toThrow(UsageError);
    }
  });
});
