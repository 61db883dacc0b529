import { describe, expect, it } from 'vitest';
import { Argument, Command } from 'commander';
import { buildProgram } from '../../src/commands/program.js';
import { completionSpec } from '../../src/ui/completion.js';

describe('completionSpec: the commander program as a completion tree', () => {
  it('nsm: commands with aliases, the implicit help, no hidden __complete', () => {
    const spec = completionSpec(buildProgram());
    const names = spec.commands.map((c) => c.name);
    expect(names).toEqual(expect.arrayContaining(['ls', 'doctor', 'completion', 'help']));
    expect(names).not.toContain('__complete');
    expect(spec.commands.find((c) => c.name === 'ls')!.aliases).toEqual(['list']);
    expect(spec.commands.find((c) => c.name === 'help')!.args[0]!.value).toEqual({ kinds: ['subcommand'], choices: [] });
    expect(spec.options.map((o) => o.long)).toEqual(['--version', '--help']);
  });

  it('ls: -t takes namespace types, -p a target (environment, pid, netns: or owner form), --json no value', () => {
    const ls = completionSpec(buildProgram()).commands.find((c) => c.name === 'ls')!;
    const opt = (long: string) => ls.options.find((o) => o.long === long)!;
    expect(opt('--type')).toMatchObject({ short: '-t', value: { kinds: ['nstype'], choices: [] } });
    expect(opt('--task')).toMatchObject({ short: '-p', value: { kinds: ['env', 'pid', 'target'], choices: [] } });
    expect(opt('--json').value).toBeUndefined();
  });

  it('ls and ps: --owner <kind[:name]> takes owner kinds (the optional [:name] is not a kind)', () => {
    const spec = completionSpec(buildProgram());
    for (const name of ['ls', 'ps']) {
      const owner = spec.commands.find((c) => c.name === name)!.options.find((o) => o.long === '--owner');
      expect(owner, name).toMatchObject({ value: { kinds: ['owner'], choices: [] } });
    }
  });

  it('placeholders decide the kinds; alternatives with |; create <name> is new; choices carried', () => {
    const p = new Command('nsm');
    p.command('inspect').argument('[target]');
    p.command('enter').argument('<pid|env>').argument('[command...]');
    p.command('create').argument('<name>').option('--rootfs <dir>').option('--veth [addresses]').option('--pin [dir]');
    p.command('pick').addArgument(new Argument('<shell>').choices(['bash', 'zsh']));
    const spec = completionSpec(p);
    const cmd = (n: string) => spec.commands.find((c) => c.name === n)!;
    expect(cmd('inspect').args[0]!.value.kinds).toEqual(['env', 'pid', 'target']);
    expect(cmd('enter').args.map((a) => [a.value.kinds, a.variadic])).toEqual([
      [['pid', 'env'], false],
      [['command'], true],
    ]);
    expect(cmd('create').args[0]!.value.kinds).toEqual([]);
    expect(cmd('create').options.filter((o) => o.value).map((o) => [o.long, o.value!.kinds])).toEqual([
      ['--rootfs', ['dir']],
      ['--veth', []],
      ['--pin', ['dir']],
    ]);
    expect(cmd('pick').args[0]!.value).toEqual({ kinds: [], choices: ['bash', 'zsh'] });
  });
});
