/**
 * Bad option values on the real CLI (issue 10 §6): each is a usage error of one line
 * `nsm: …` with the command's documented exit code (2; 125 for exec, enter and unshare,
 * which keep the lower codes for the command they run), says the real limit, repeats at
 * most 60 characters of the word with control characters escaped, and leaves nothing
 * behind: no record, no cgroup, no /run/netns link. Run through bin/nsm, and as a user.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanup, create, isRoot, nsm, ROOTLESS_UID, stateDir, uniqueName, type NsmOptions } from './lifecycle-helpers.js';

afterAll(cleanup);

const BIG = 'A'.repeat(100_000);
const NAME = '@NAME@'; // replaced by a fresh name per run

interface Case {
  args: string[];
  code: 2 | 125;
  message: RegExp;
}

const CASES: Case[] = [
  { args: ['create', NAME, '-t', 'uts', '--pids', '99999999'], code: 2, message: /^nsm: --pids is too large: at most 4194304 \(the kernel's PID_MAX_LIMIT\), not: 99999999$/ },
  { args: ['create', NAME, '-t', 'uts', '--pids', '1'], code: 2, message: /^nsm: --pids must be at least 2: the holder is one process/ },
  { args: ['create', NAME, '-t', 'uts', '--memory', '99999999T'], code: 2, message: /^nsm: --memory is too large: at most 8191T / },
  { args: ['create', NAME, '-t', 'time', '--monotonic', '1000000000000'], code: 2, message: /^nsm: --monotonic must be between -\d+ and \d+ seconds: / },
  { args: ['create', NAME, '--boottime', '-99999999999'], code: 2, message: /^nsm: --boottime must be between -\d+ and \d+ seconds: / },
  { args: ['unshare', '--monotonic', '1000000000000', '--', 'true'], code: 125, message: /^nsm: --monotonic must be between / },
  // -t/--owner with nothing in it used to mean every type / every owner.
  { args: ['create', NAME, '-t', ''], code: 2, message: /^nsm: -t needs namespace types \(.*\), not: ''$/ },
  { args: ['create', NAME, '-t', ',,,'], code: 2, message: /^nsm: -t needs namespace types .*, not: ,,,$/ },
  { args: ['new', '--type=', NAME], code: 2, message: /^nsm: -t needs namespace types/ },
  { args: ['create', NAME, '-t', '', '--pids', '5'], code: 2, message: /^nsm: -t needs namespace types/ },
  { args: ['unshare', '-t', ',,,', 'true'], code: 125, message: /^nsm: -t needs namespace types/ },
  { args: ['exec', NAME, '-t', '', 'true'], code: 125, message: /^nsm: -t needs namespace types/ },
  { args: ['enter', '-t,,,', NAME], code: 125, message: /^nsm: -t needs namespace types/ },
  { args: ['exec', '--wd', '', NAME, 'true'], code: 125, message: /^nsm: --wd needs a directory, not an empty word$/ },
  { args: ['ls', '-t', ''], code: 2, message: /^nsm: -t needs namespace types/ },
  { args: ['ls', '-t', ',,,'], code: 2, message: /^nsm: -t needs namespace types/ },
  { args: ['diff', '-t', ',', '1', '1'], code: 2, message: /^nsm: -t needs namespace types/ },
  { args: ['monitor', '-t', ',', '-d', '1'], code: 2, message: /^nsm: -t needs namespace types/ },
  { args: ['ls', '--owner', ''], code: 2, message: /^nsm: --owner needs KIND or KIND:NAME .*, not: ''$/ },
  { args: ['ps', '--owner', ' , '], code: 2, message: /^nsm: --owner needs KIND or KIND:NAME/ },
  // All-digit names: inspect and diff would read them as PIDs.
  { args: ['create', '123', '-t', 'uts'], code: 2, message: /^nsm: invalid environment name "123": all-digit words are PIDs; use a letter too$/ },
  { args: ['new', '0042'], code: 2, message: /^nsm: invalid environment name "0042": all-digit words are PIDs/ },
  { args: ['create', '123', '-t', 'uts', '--pids', '5'], code: 2, message: /^nsm: invalid environment name "123": all-digit words are PIDs/ },
  // 100 KB words come back cut to 60 characters.
  { args: ['create', BIG], code: 2, message: /^nsm: invalid environment name "A{60}…": use 1 to 64 characters/ },
  { args: ['create', NAME, '-t', BIG], code: 2, message: /^nsm: unknown namespace type: A{60}… \(known/ },
  { args: ['create', NAME, '--pids', BIG], code: 2, message: /^nsm: --pids needs a whole number of processes such as 64, not: A{60}…$/ },
  { args: ['create', NAME, '--memory', BIG], code: 2, message: /, not: A{60}…$/ },
  { args: ['create', NAME, '--hostname', BIG, '-t', 'uts'], code: 2, message: /^nsm: hostname must be 1 to 64 bytes, not: "A{60}…"$/ },
  { args: ['create', NAME, '--propagation', BIG], code: 2, message: /argument 'A{60}…' is invalid/ },
  { args: ['ls', '--owner', BIG], code: 2, message: /^nsm: unknown owner kind: A{60}… / },
  { args: ['diff', BIG, '1'], code: 2, message: /^nsm: not a process id or an environment name: A{60}…$/ },
  { args: ['exec', BIG, 'true'], code: 125, message: /^nsm: invalid environment name "A{60}…"/ },
  { args: ['exec', NAME, '-t', BIG, 'true'], code: 125, message: /^nsm: unknown namespace type: A{60}…/ },
  { args: [BIG], code: 2, message: /^nsm: unknown command 'A{60}…'$/ },
  { args: ['help', BIG], code: 2, message: /^nsm: unknown command 'A{60}…'$/ },
  // Control characters (here a terminal title sequence) are shown escaped.
  { args: ['create', 'a\u001b]0;PWNED\u0007'], code: 2, message: /^nsm: invalid environment name "a\\e\]0;PWNED\\x07": use / },
  { args: ['ls', '-t', 'net\u001b[2J'], code: 2, message: /^nsm: unknown namespace type: net\\e\[2J / },
  { args: ['help', 'x\u001b[2J\ny'], code: 2, message: /^nsm: unknown command 'x\\e\[2J\\ny'$/ },
];

/** What an environment named `name` would have left in `dir` and on the host. */
function leftovers(dir: string, name: string): string[] {
  const found: string[] = [];
  for (const sub of ['envs', 'locks']) {
    const d = join(dir, sub);
    if (existsSync(d)) found.push(...readdirSync(d).map((e) => `${sub}/${e}`));
  }
  if (existsSync(`/run/netns/${name}`)) found.push(`/run/netns/${name}`);
  for (const h of readdirSync('/sys/fs/cgroup')) {
    for (const c of [join('/sys/fs/cgroup', h, 'nsm', name), join('/sys/fs/cgroup', h, `nsm-${name}`)]) if (existsSync(c)) found.push(c);
  }
  if (existsSync(join('/sys/fs/cgroup/nsm', name))) found.push(join('/sys/fs/cgroup/nsm', name));
  return found;
}

function label(c: Case): string {
  return c.args.map((a) => (a.length > 20 ? `${a.slice(0, 8)}…(${a.length})` : JSON.stringify(a))).join(' ');
}

/** Those that make something, which a user (rootless) makes elsewhere than root. */
const MAKERS = new Set(['create', 'new', 'unshare']);

const RUNS: Array<[string, Pick<NsmOptions, 'uid'>, Case[]]> = [
  ['bin/nsm', {}, CASES],
  ...(isRoot ? [[`bin/nsm as uid ${ROOTLESS_UID}`, { uid: ROOTLESS_UID }, CASES.filter((c) => MAKERS.has(c.args[0]!))] as [string, Pick<NsmOptions, 'uid'>, Case[]]] : []),
];

describe.each(RUNS)('bad option values via %s: one line, documented exit code, nothing made', (_via, runOpts, cases) => {
  it.each(cases.map((c) => [label(c), c] as const))('nsm %s', async (_label, c) => {
    const dir = stateDir(runOpts.uid);
    const name = uniqueName('val');
    const args = c.args.map((a) => (a === NAME ? name : a));
    const r = await nsm(args, { ...runOpts, stateDir: dir });
    const left = leftovers(dir, name);
    if (left.some((l) => l.startsWith('envs/'))) {
      // Only without the fix: take down what it made before failing.
      for (const l of left.filter((x) => x.startsWith('envs/'))) await nsm(['destroy', '--force', '--timeout', '1', l.slice(5)], { stateDir: dir, uid: runOpts.uid });
    }
    expect(r.code, r.stderr.slice(0, 300)).toBe(c.code);
    expect(r.stderr.length, 'stderr length').toBeLessThan(400);
    expect(r.stderr).toMatch(/^[^\n]*\n$/); // exactly one line
    expect(r.stderr).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f]/);
    expect(r.stderr.trimEnd()).toMatch(c.message);
    expect(left).toEqual([]);
  });
});

describe('--wd naming a file', () => {
  it('"is not a directory" (125), not "does not exist"', async () => {
    const dir = stateDir();
    const name = uniqueName('val');
    await create(name, isRoot ? ['-t', 'uts,mnt'] : [], { stateDir: dir });
    const file = await nsm(['exec', '--wd', '/etc/passwd', name, '--', 'true'], { stateDir: dir });
    expect(file.code).toBe(125);
    expect(file.stderr).toBe('nsm: working directory /etc/passwd is not a directory in the environment\n');
    const missing = await nsm(['exec', '--wd', '/nsm/not/there', name, '--', 'true'], { stateDir: dir });
    expect(missing.stderr).toBe('nsm: working directory /nsm/not/there does not exist in the environment\n');
    const ok = await nsm(['exec', '--wd', '/etc', name, '--', 'pwd'], { stateDir: dir });
    expect(ok.stdout).toBe('/etc\n');
  });
});
