/**
 * Completion scripts in the real shells. bash: source the script and call _nsm with
 * COMP_WORDS/COMP_CWORD set, then read COMPREPLY. zsh: a real interactive zsh on a pty
 * (zsh/zpty) types a line and TAB, and a key bound to a widget records the buffer. fish:
 * `complete -C LINE`. Two programs: nsm itself (`nsm completion SHELL`) and a fixture
 * program with the commands other branches are adding (inspect|info, exec, destroy,
 * create, ps, a nested netns add), to show that new commands complete with no change to
 * the completion code. Environment names come from the real `nsm __complete envs`,
 * reading a private NSM_STATE_DIR.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { completionSpec } from '../../src/ui/completion.js';
import { completionScript, type Shell } from '../../src/ui/completion-scripts.js';

const NSM = fileURLToPath(new URL('../../bin/nsm', import.meta.url));
const BIN = dirname(NSM);
const has = (prog: string): boolean => spawnSync('sh', ['-c', `command -v ${prog}`]).status === 0;
const HAS_ZSH = has('zsh');
const HAS_FISH = has('fish');

const scratch = mkdtempSync(join(tmpdir(), 'nsm-completion-test-'));
const stateDir = join(scratch, 'state');
const env = { ...process.env, NSM_STATE_DIR: stateDir, PATH: `${BIN}:${process.env.PATH}`, NO_COLOR: '1' };

beforeAll(() => {
  // Two environments, plus entries that are not environments: no env.json, a bad name, a file.
  for (const name of ['web', 'db']) {
    mkdirSync(join(stateDir, 'envs', name), { recursive: true });
    writeFileSync(join(stateDir, 'envs', name, 'env.json'), '{}');
  }
  mkdirSync(join(stateDir, 'envs', 'half-made'));
  mkdirSync(join(stateDir, 'envs', '.tmp-x'));
  writeFileSync(join(stateDir, 'envs', '.lock'), '');
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A program shaped like the commands other branches are adding. */
function fixtureProgram(): Command {
  const p = new Command('nsm').option('-V, --version', 'print the version');
  p.command('inspect').alias('info').description('namespaces of a process or environment').argument('[target]').option('-t, --type <types>', 'types');
  p.command('diff').argument('<target>').argument('[other]');
  p.command('exec').description('run a command in an environment').argument('<name>').argument('[command...]').option('-w, --workdir <dir>', 'working directory');
  p.command('destroy').argument('<names...>').option('-f, --force', 'force');
  p.command('create').argument('<name>').option('-t, --type <types>', 'types').option('--rootfs <rootfs>', 'root');
  p.command('ps').option('-p, --pid <pid>', 'process');
  p.command('monitor').option('-p, --pid <pid>', 'process').option('--format <format>', 'output format');
  p.commands.find((c) => c.name() === 'monitor')!.options.at(-1)!.choices(['text', 'json']);
  p.command('netns').command('add').argument('<name>');
  p.addCommand(new Command('__complete').argument('<what>'), { hidden: true });
  return p;
}

function realScript(shell: Shell): string {
  const r = spawnSync(process.execPath, [NSM, 'completion', shell], { encoding: 'utf8', env });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

function writeScript(name: string, text: string): string {
  const dir = mkdtempSync(join(scratch, 'script-'));
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

// ---------------------------------------------------------------------------------------
// bash

/** COMPREPLY for `words` (the last one is the word under the cursor), sorted. */
function bashComplete(script: string, words: string[], extraEnv: NodeJS.ProcessEnv = {}): string[] {
  const body = `source ${JSON.stringify(script)} || exit 9
COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=()
_nsm
printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = spawnSync('bash', ['--norc', '--noprofile', '-c', body, 'bash', ...words], { encoding: 'utf8', env: { ...env, ...extraEnv } });
  expect(r.status, r.stderr).toBe(0);
  expect(r.stderr).toBe('');
  return r.stdout.split('\n').filter(Boolean).sort();
}

describe('bash: nsm completion bash', () => {
  let script: string;
  beforeAll(() => {
    script = writeScript('nsm.bash', realScript('bash'));
  });

  it('subcommands and aliases, never the hidden __complete', () => {
    const all = bashComplete(script, ['nsm', '']);
    expect(all).toEqual(expect.arrayContaining(['completion', 'doctor', 'help', 'list', 'ls']));
    expect(all.some((w) => w.startsWith('__'))).toBe(false);
    expect(bashComplete(script, ['nsm', 'l'])).toEqual(['list', 'ls']);
    expect(bashComplete(script, ['nsm', '__'])).toEqual([]);
  });

  it('namespace types after -t / --type, comma lists and --type=VALUE', () => {
    expect(bashComplete(script, ['nsm', 'ls', '-t', 'n'])).toEqual(['net']);
    expect(bashComplete(script, ['nsm', 'list', '--type', 'u'])).toEqual(['user', 'uts']);
    expect(bashComplete(script, ['nsm', 'ls', '-t', 'net,p'])).toEqual(['net,pid']);
    // COMP_WORDBREAKS splits "--type=u" into "--type" "=" "u".
    expect(bashComplete(script, ['nsm', 'ls', '--type', '=', 'u'])).toEqual(['user', 'uts']);
    expect(bashComplete(script, ['nsm', 'ls', '-t', ''])).toEqual(['all', 'cgroup', 'ipc', 'mnt', 'net', 'pid', 'time', 'user', 'uts']);
  });

  it('owner kinds after ls --owner and ps --owner, comma lists and --owner=VALUE', () => {
    expect(bashComplete(script, ['nsm', 'ps', '--owner', 'd'])).toEqual(['docker', 'docker-netns']);
    expect(bashComplete(script, ['nsm', 'ls', '--owner', 'k'])).toEqual(['kubernetes']);
    expect(bashComplete(script, ['nsm', 'procs', '--owner', 'lxc,p'])).toEqual(['lxc,podman']);
    expect(bashComplete(script, ['nsm', 'ps', '--owner', '=', 'sy'])).toEqual(['systemd']);
  });

  it('pids after ls -p, from /proc', () => {
    const pid = String(process.pid);
    expect(bashComplete(script, ['nsm', 'ls', '-p', pid])).toContain(pid);
    expect(bashComplete(script, ['nsm', 'ls', '--task', ''])).toContain('1');
  });

  it('options of the subcommand, and option values skipped when counting', () => {
    expect(bashComplete(script, ['nsm', 'doctor', '--'])).toEqual(['--help', '--json']);
    expect(bashComplete(script, ['nsm', 'ls', '-t', 'net', '--no'])).toEqual(['--noheadings', '--notruncate', '--nowrap']);
  });

  it('both of diff\'s targets are environments or pids; a hostname completes to nothing', () => {
    expect(bashComplete(script, ['nsm', 'diff', 'w'])).toEqual(['web']);
    expect(bashComplete(script, ['nsm', 'diff', 'web', ''])).toEqual(expect.arrayContaining(['db', 'web', '1']));
    expect(bashComplete(script, ['nsm', 'unshare', '--hostname', ''])).toEqual([]);
    expect(bashComplete(script, ['nsm', 'create', 'x', '--hostname', ''])).toEqual([]);
  });

  it('shells after completion, commands after help', () => {
    expect(bashComplete(script, ['nsm', 'completion', ''])).toEqual(['bash', 'fish', 'zsh']);
    expect(bashComplete(script, ['nsm', 'help', 'd'])).toEqual(['del', 'destroy', 'diff', 'doctor']);
  });
});

describe('bash: commands from other branches complete without touching the completion code', () => {
  let script: string;
  beforeAll(() => {
    script = writeScript('fixture.bash', completionScript('bash', completionSpec(fixtureProgram())));
  });
  // COMP_WORDS[0] is the program as typed: the script calls it back for environment names.
  const nsm = NSM;

  it('nsm i<TAB>: inspect and its alias info', () => {
    expect(bashComplete(script, [nsm, 'i'])).toEqual(['info', 'inspect']);
  });

  it('environment names after exec, destroy (repeating), netns add; directories named env.json only', () => {
    expect(bashComplete(script, [nsm, 'exec', ''])).toEqual(['db', 'web']);
    expect(bashComplete(script, [nsm, 'exec', 'w'])).toEqual(['web']);
    expect(bashComplete(script, [nsm, 'destroy', 'web', ''])).toEqual(['db', 'web']);
    expect(bashComplete(script, [nsm, 'netns', 'a'])).toEqual(['add']);
    expect(bashComplete(script, [nsm, 'netns', 'add', ''])).toEqual(['db', 'web']);
  });

  it('no state directory: no names, and no noise', () => {
    expect(bashComplete(script, [nsm, 'exec', ''], { NSM_STATE_DIR: join(scratch, 'nowhere') })).toEqual([]);
  });

  it('a <target> is an environment or a pid (inspect, diff)', () => {
    const got = bashComplete(script, [nsm, 'info', '']);
    expect(got).toEqual(expect.arrayContaining(['db', 'web', '1', String(process.pid)]));
    expect(bashComplete(script, [nsm, 'diff', 'web', ''])).toEqual([]); // [other] has no known placeholder
    expect(bashComplete(script, [nsm, 'diff', 'w'])).toEqual(['web']);
  });

  it('create <name> is a new name: nothing offered', () => {
    expect(bashComplete(script, [nsm, 'create', ''])).toEqual([]);
    expect(bashComplete(script, [nsm, 'create', '-t', 'pi'])).toEqual(['pid']);
  });

  it('pids after ps -p and monitor -p; .choices() after monitor --format', () => {
    expect(bashComplete(script, [nsm, 'ps', '-p', String(process.pid)])).toContain(String(process.pid));
    expect(bashComplete(script, [nsm, 'monitor', '-p', '1'])).toContain('1');
    expect(bashComplete(script, [nsm, 'monitor', '--format', ''])).toEqual(['json', 'text']);
  });

  it('exec NAME -- CMD: an executable first, then the shell default; option values are skipped', () => {
    expect(bashComplete(script, [nsm, 'exec', 'web', '--', 'tru'])).toContain('true');
    expect(bashComplete(script, [nsm, 'exec', '-w', '/tmp', 'web', 'tru'])).toContain('true');
    expect(bashComplete(script, [nsm, 'exec', 'web', '--', 'ls', 'x'])).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------
// zsh

/**
 * Type each line plus TAB into a real interactive zsh (zsh/zpty), then ^X, bound to a
 * widget that appends $BUFFER to a file: what completion left on the line.
 */
function zshComplete(fpathDir: string, lines: string[]): string[] {
  const out = join(fpathDir, 'buffers');
  const driver = join(fpathDir, 'drive.zsh');
  const setup = join(fpathDir, 'setup.zsh');
  writeFileSync(
    setup,
    `PROMPT='> '
unsetopt bracketedpaste
fpath=(${fpathDir} $fpath)
autoload -U compinit && compinit -u -D
setopt nobeep
dump() { print -r -- "$BUFFER" >> ${out}; BUFFER=; }
zle -N dump
bindkey '^X' dump
`,
  );
  writeFileSync(
    driver,
    `zmodload zsh/zpty
zpty z 'zsh -f -i'
zpty -w z 'source ${setup}'
# Wait for the prompt (zsh drops what was typed ahead while it starts): READY$((6*7)) prints as READY42.
zpty -w z 'print READY$((6*7))'
seen=
for i in {1..300}; do
  while zpty -r -t z chunk; do seen+=$chunk; done
  [[ $seen == *READY42* ]] && break
  sleep 0.1
done
# One line at a time: type it and TAB, then ^X records the buffer; wait for the record.
n=0
for line in "$@"; do
  zpty -w -n z "$line"$'\t\x18'
  (( n++ ))
  for i in {1..100}; do
    while zpty -r -t z chunk; do :; done
    [[ -f ${out} ]] && (( $(wc -l < ${out}) >= n )) && break
    sleep 0.1
  done
done
zpty -d z
`,
  );
  const r = spawnSync('zsh', ['-f', driver, ...lines], { encoding: 'utf8', env, timeout: 30_000 });
  expect(r.status, r.stderr).toBe(0);
  return readFileSync(out, 'utf8').split('\n').slice(0, lines.length);
}

describe.skipIf(!HAS_ZSH)('zsh (skipped when zsh is not installed: apt-get install zsh)', () => {
  it('the scripts parse (zsh -n)', () => {
    for (const text of [realScript('zsh'), completionScript('zsh', completionSpec(fixtureProgram()))]) {
      const path = writeScript('_nsm', text);
      const r = spawnSync('zsh', ['-n', path], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
    }
  });

  it('nsm: subcommands, namespace types, shells', () => {
    const dir = dirname(writeScript('_nsm', realScript('zsh')));
    expect(zshComplete(dir, ['nsm doc', 'nsm ls -t n', 'nsm completion f', 'nsm ls --task 1 --nohead', 'nsm ps --owner po', 'nsm ls --owner lxc,k'])).toEqual([
      'nsm doctor ',
      'nsm ls -t net,',
      'nsm completion fish ',
      'nsm ls --task 1 --noheadings ',
      'nsm ps --owner podman,',
      'nsm ls --owner lxc,kubernetes,',
    ]);
  });

  it('fixture: environment names after exec, aliases', () => {
    const dir = dirname(writeScript('_nsm', completionScript('zsh', completionSpec(fixtureProgram()))));
    expect(zshComplete(dir, ['nsm exec w', 'nsm destroy db d', 'nsm inf', 'nsm monitor --format j'])).toEqual([
      'nsm exec web ',
      'nsm destroy db db ',
      'nsm info ',
      'nsm monitor --format json ',
    ]);
  });
});

// ---------------------------------------------------------------------------------------
// fish

/** Candidates fish offers for `line` (complete -C), without descriptions, sorted. */
function fishComplete(script: string, line: string): string[] {
  const r = spawnSync('fish', ['--no-config', '-c', `source ${script}; and complete -C${JSON.stringify(line).replace(/\$/g, '\\$')}`], { encoding: 'utf8', env });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.split('\n').filter(Boolean).map((l) => l.split('\t')[0]!).sort();
}

describe.skipIf(!HAS_FISH)('fish (skipped when fish is not installed: apt-get install fish)', () => {
  it('the scripts parse (fish -n)', () => {
    for (const text of [realScript('fish'), completionScript('fish', completionSpec(fixtureProgram()))]) {
      const r = spawnSync('fish', ['-n', writeScript('nsm.fish', text)], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
    }
  });

  it('nsm: subcommands, namespace types (lists and --type=), pids, shells', () => {
    const script = writeScript('nsm.fish', realScript('fish'));
    expect(fishComplete(script, 'nsm l')).toEqual(['list', 'ls']);
    expect(fishComplete(script, 'nsm _')).toEqual([]);
    expect(fishComplete(script, 'nsm ls -t n')).toEqual(['net']);
    expect(fishComplete(script, 'nsm ls -t net,p')).toEqual(['net,pid']);
    expect(fishComplete(script, 'nsm ls --type=u')).toEqual(['--type=user', '--type=uts']);
    expect(fishComplete(script, `nsm ls -p ${process.pid}`)).toContain(String(process.pid));
    expect(fishComplete(script, 'nsm completion ')).toEqual(['bash', 'fish', 'zsh']);
    expect(fishComplete(script, 'nsm ps --owner d')).toEqual(['docker', 'docker-netns']);
    expect(fishComplete(script, 'nsm ls --owner lxc,p')).toEqual(['lxc,podman']);
    expect(fishComplete(script, 'nsm ps --owner=k')).toEqual(['--owner=kubernetes']);
  });

  it('fixture: environment names, targets, new names, exec commands', () => {
    const script = writeScript('fixture.fish', completionScript('fish', completionSpec(fixtureProgram())));
    expect(fishComplete(script, 'nsm i')).toEqual(['info', 'inspect']);
    expect(fishComplete(script, 'nsm exec ')).toEqual(['db', 'web']);
    expect(fishComplete(script, 'nsm destroy web ')).toEqual(['db', 'web']);
    expect(fishComplete(script, 'nsm inspect ')).toEqual(expect.arrayContaining(['db', 'web', '1']));
    expect(fishComplete(script, 'nsm create ')).toEqual([]);
    expect(fishComplete(script, 'nsm netns add ')).toEqual(['db', 'web']);
    expect(fishComplete(script, 'nsm exec web -- tru')).toContain('true');
    expect(fishComplete(script, 'nsm monitor --format ')).toEqual(['json', 'text']);
  });
});

describe('nsm __complete envs', () => {
  const run = (args: string[], extra: NodeJS.ProcessEnv = {}) => spawnSync(process.execPath, [NSM, ...args], { encoding: 'utf8', env: { ...env, ...extra } });

  it('prints the environment names, one a line', () => {
    const r = run(['__complete', 'envs']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('db\nweb\n');
  });

  it('prints nothing when the state directory does not exist', () => {
    const r = run(['__complete', 'envs'], { NSM_STATE_DIR: join(scratch, 'nowhere') });
    expect([r.status, r.stdout, r.stderr]).toEqual([0, '', '']);
  });

  it('is hidden from help; an unknown kind is a usage error', () => {
    expect(run(['--help']).stdout).not.toContain('__complete');
    expect(run(['__complete', 'pods']).status).toBe(2);
  });
});

describe('nsm __complete targets (netns:NAME, owner targets)', () => {
  const run = (args: string[]) => spawnSync(process.execPath, [NSM, ...args], { encoding: 'utf8', env });
  const isRoot = process.geteuid?.() === 0;

  it.skipIf(!isRoot)('offers an ip netns name as netns:NAME, after ls -p, exec and adopt TARGET (root only: ip netns add)', () => {
    const name = `cmp-${process.pid}-${Date.now() % 100000}`;
    expect(spawnSync('ip', ['netns', 'add', name]).status).toBe(0);
    try {
      const r = run(['__complete', 'targets', `netns:${name.slice(0, 6)}`]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout.split('\n')).toContain(`netns:${name}`);
      const script = writeScript('nsm-targets.bash', realScript('bash'));
      expect(bashComplete(script, [NSM, 'ls', '-p', `netns:${name}`])).toEqual([`netns:${name}`]);
      expect(bashComplete(script, [NSM, 'exec', `netns:${name}`])).toEqual([`netns:${name}`]);
      expect(bashComplete(script, [NSM, 'adopt', 'x', `netns:${name}`])).toEqual([`netns:${name}`]);
      // adopt's NAME is a new one: nothing offered.
      expect(bashComplete(script, [NSM, 'adopt', ''])).toEqual([]);
    } finally {
      spawnSync('ip', ['netns', 'delete', name]);
    }
  });

  it('a word that can be no target kind offers nothing, without a scan', () => {
    const r = run(['__complete', 'targets', 'zzz-no-kind']);
    expect([r.status, r.stdout, r.stderr]).toEqual([0, '', '']);
  });
});
