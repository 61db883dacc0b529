/**
 * `nsm unshare` against util-linux's unshare(1): what a pasted unshare command line expects,
 * and what happens when nsm itself is killed (SIGKILL from a CI timeout or the OOM killer):
 * the command and everything in its namespaces must go with it, as `unshare --kill-child`.
 *
 * Real kernel, real helper. The processes of one run are found by ancestry only: this test
 * process becomes a child subreaper (prctl(2) PR_SET_CHILD_SUBREAPER), so whatever nsm leaves
 * orphaned is reparented here and seen, never looked up by name.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { cleanup, childrenOf, identity, isRoot, nsm, ROOTLESS_UID, stateDir, waitFor, type Run } from './lifecycle-helpers.js';

const require = createRequire(import.meta.url);
// eslint-disable-next-line @typescript-eslint/no-require-imports
const koffi = require('koffi') as typeof import('koffi');
const libc = koffi.load('libc.so.6');
const prctl = libc.func('int prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)');
const waitpid = libc.func('int waitpid(int pid, _Out_ int *status, int options)');
const PR_SET_CHILD_SUBREAPER = 36;
const WNOHANG = 1;

beforeAll(() => {
  expect(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)).toBe(0);
});

afterAll(() => {
  prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
});

afterEach(async () => {
  await cleanup();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Proc = { pid: number; startTime: number };

/** Live, not a zombie, and the same process (start time). */
function live(p: Proc): boolean {
  const id = identity(p.pid);
  return id !== undefined && id.startTime === p.startTime && id.state !== 'Z' && id.state !== 'X';
}

/** Add every descendant of `roots` to `seen` (pid → start time). */
function collect(roots: Iterable<number>, seen: Map<number, number>): void {
  const todo = [...roots];
  const visited = new Set(todo);
  while (todo.length > 0) {
    for (const c of childrenOf(todo.pop()!)) {
      const id = identity(c);
      if (!id || visited.has(c)) continue;
      visited.add(c);
      seen.set(c, id.startTime);
      todo.push(c);
    }
  }
}

/**
 * Start `nsm unshare ARGS` (as `uid`), record its descendants until `when` (ms after spawn,
 * or once the command printed and that many processes were seen), SIGKILL nsm, then follow everything it made until
 * all of it is gone. Resolves with what is still alive after 15 s (should be nothing) and how
 * many processes were seen.
 */
async function killNsm(args: readonly string[], when: number | { started: number }, uid?: number): Promise<{ survivors: Proc[]; seen: number; signal: NodeJS.Signals | null }> {
  const before = new Set(childrenOf(process.pid));
  let child: ChildProcess | undefined;
  const done = nsm(['unshare', ...args], { uid, stateDir: stateDir(uid), onSpawn: (c) => (child = c) });
  let out = '';
  child!.stdout!.on('data', (d) => (out += d));
  const seen = new Map<number, number>();
  const start = Date.now();
  for (;;) {
    // 'started': the command printed, and the processes it starts are all there.
    const due = typeof when === 'object' ? out.includes('started') && seen.size >= when.started : Date.now() - start >= when;
    collect([child!.pid!], seen);
    if (due) break;
    if (Date.now() - start > 10_000) throw new Error(`the command did not start: ${out}`);
    await sleep(1);
  }
  child!.kill('SIGKILL');
  // Its exit, not 'close': a surviving command would keep nsm's stdout open.
  const signal = await new Promise<NodeJS.Signals | null>((r) => (child!.exitCode !== null || child!.signalCode !== null ? r(child!.signalCode) : child!.once('exit', (_, sig) => r(sig))));
  // Orphans come to us (subreaper): follow them and their children too. A helper whose nsm dies
  // during its set-up notices only when set-up returns (its death signal is set after set-up's
  // credential changes, which clear it: prctl(2)); on a loaded CI run one was still there 5 s
  // after nsm's SIGKILL. 15 s: still a test that nothing survives, not of how fast.
  const deadline = Date.now() + 15_000;
  let survivors: Proc[] = [];
  for (;;) {
    const orphans = childrenOf(process.pid).filter((p) => !before.has(p) && p !== child!.pid);
    for (const o of orphans) {
      const id = identity(o);
      if (id) seen.set(o, id.startTime);
    }
    collect([...seen.keys()], seen);
    // Reap the orphans that died here (only those: libuv waits for its own children itself).
    for (const o of orphans) if (identity(o)?.state === 'Z') waitpid(o, [0], WNOHANG);
    survivors = [...seen].map(([pid, startTime]) => ({ pid, startTime })).filter(live);
    if (survivors.length === 0 || Date.now() > deadline) break;
    await sleep(20);
  }
  for (const s of survivors) {
    try {
      process.kill(s.pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
  await done;
  return { survivors, seen: seen.size, signal };
}

// sh stays as the command's parent (no exec) and starts a second sleep in the background.
const COMMAND = ['--', 'sh', '-c', 'sleep 300 & echo started; sleep 300; wait'];

const users: Array<[string, number | undefined, string[]]> = [
  ...(isRoot ? ([['as root, default types', undefined, []], ['as root, --pid only', undefined, ['--pid']], ['as root, --net only', undefined, ['--net']]] as Array<[string, number | undefined, string[]]>) : []),
  ['rootless, default types', ROOTLESS_UID, []],
  ['rootless, --user --pid', ROOTLESS_UID, ['--user', '--pid']],
];

describe.each(users)('SIGKILL of nsm unshare (%s)', (_, uid, types) => {
  // Without a new pid namespace only the command itself goes (as unshare --kill-child): its
  // background child is reparented, so the --net case runs a command without one.
  const command = types.includes('--net') ? ['--', 'sh', '-c', 'echo started; exec sleep 300'] : COMMAND;

  it('once the command runs: the helper, its init and every process inside die with nsm', async () => {
    // helper and command; with a pid namespace: helper, init, sh and its background sleep.
    const r = await killNsm([...types, ...command], { started: types.includes('--net') ? 2 : 4 }, uid);
    expect(r.signal).toBe('SIGKILL');
    expect(r.survivors).toEqual([]);
  });

  it('killed at random moments of its start: nothing it started survives', async () => {
    const delays = [0, 5, 30, 80, 150, ...Array.from({ length: 5 }, () => Math.floor(Math.random() * 400))];
    for (const d of delays) {
      const r = await killNsm([...types, ...command], d, uid);
      expect(r.survivors, `killed ${d} ms after start`).toEqual([]);
    }
  });
});

if (!isRoot) {
  it.skip('as root: needs root (the rootless cases above ran as this user)', () => {});
}

/** `nsm unshare ARGS` as `uid` (undefined: us); resolves with its run. */
function unshare(args: readonly string[], uid?: number, extra: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  return nsm(['unshare', ...args], { uid, stateDir: stateDir(uid), ...extra });
}

const who: Array<[string, number | undefined]> = [...(isRoot ? ([['as root', undefined]] as Array<[string, number | undefined]>) : []), ['rootless', ROOTLESS_UID]];

describe.each(who)('a pasted unshare(1) command line works (%s)', (_, uid) => {
  it('-f/--fork is accepted (nsm always forks); --map-root-user is -r', async () => {
    const r = await unshare(['-f', '--map-root-user', '--pid', '--', 'sh', '-c', 'echo $$; id -u'], uid);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('2\n0\n');
    expect(r.code).toBe(0);
  });

  it('--map-current-user maps the caller to the same uid and gid inside', async () => {
    const me = uid ?? process.getuid!();
    const r = await unshare(['--map-current-user', '--', 'sh', '-c', 'id -u; id -g; cat /proc/self/uid_map'], uid);
    expect(r.stderr).toBe('');
    const [u, g, map] = r.stdout.split('\n');
    expect([u, g]).toEqual([String(me), String(uid ?? process.getgid!())]);
    expect(map!.trim().split(/\s+/)).toEqual([String(me), String(me), '1']);
  });

  it('--propagation without a new mount namespace is ignored, as unshare(1) does', async () => {
    const r = await unshare(['--propagation', 'private', '--uts', 'true'], uid);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('--clear-env and --whitelist-env, as util-linux tests/ts/unshare/env', async () => {
    const env = { UL_TEST_ENV: 'foo', UL_TEST_ENV1: 'foo', UL_TEST_ENV2: 'bar' };
    const cleared = await unshare(['--clear-env', '--uts', '--', '/bin/sh', '-c', 'echo "${UL_TEST_ENV:-CLEARED}"; env | wc -l'], uid, { env });
    expect(cleared.stderr).toBe('');
    // sh itself sets PWD (and dash nothing else): no variable of ours is left.
    expect(cleared.stdout.split('\n')[0]).toBe('CLEARED');
    expect(Number(cleared.stdout.split('\n')[1])).toBeLessThanOrEqual(1);
    const kept = await unshare(['--whitelist-env', 'UL_TEST_ENV1,NO_SUCH_VAR', '--uts', '--', '/bin/sh', '-c', 'echo "${UL_TEST_ENV1}${UL_TEST_ENV2}"; echo "${NO_SUCH_VAR-unset}"'], uid, { env });
    expect(kept.stderr).toBe('');
    expect(kept.stdout).toBe('foo\nunset\n');
    const bad = await unshare(['--whitelist-env', 'A=B', 'true'], uid);
    expect(bad.code).toBe(125); // nsm's own failures, usage included, in a command that runs one
    expect(bad.stderr).toMatch(/^nsm: --whitelist-env needs variable names/);
  });

  it('with no command it starts $SHELL (else /bin/sh)', async () => {
    const r = await unshare(['--pid'], uid, { input: 'echo "$$ $0"\n', env: { SHELL: '/bin/sh' } });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('2 /bin/sh\n');
  });

  it('-R/--root chroots and -w/--wd sets the directory; a missing --wd is an error (125)', async () => {
    // /usr as the root: its lib is /lib inside, and there is no /usr there.
    const r = await unshare(['-R', '/usr', '-w', '/lib', '--', '/bin/sh', '-c', 'pwd; test -e /usr || echo no-usr'], uid);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('/lib\nno-usr\n');
    const tmp = await unshare(['--wd', '/tmp', '--', 'pwd'], uid);
    expect(tmp.stdout).toBe('/tmp\n');
    const missing = await unshare(['--wd', '/nonexistent-nsm-wd', '--', 'pwd'], uid);
    expect(missing.code).toBe(125);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toMatch(/^nsm: chdir\(\/nonexistent-nsm-wd\): ENOENT/);
  });

  it('--kill-child without =SIG does not take the command as its value', async () => {
    const r = await unshare(['--kill-child', 'echo', 'ran'], uid);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('ran\n');
  });

  it('--kill-child=TERM: when nsm is SIGKILLed the command gets SIGTERM', async () => {
    const dir = stateDir(uid);
    const mark = `${dir}/got-term`;
    let child: ChildProcess | undefined;
    let out = '';
    const done = nsm(['unshare', '--kill-child=TERM', '--pid', '--', 'sh', '-c', `trap 'echo term > ${mark}; exit 0' TERM; echo started; sleep 300 & wait`], {
      uid,
      stateDir: dir,
      onSpawn: (c) => (child = c),
    });
    child!.stdout!.on('data', (d) => (out += d));
    await waitFor(() => out.includes('started'), 'the command to start');
    child!.kill('SIGKILL');
    await done.catch(() => undefined);
    await waitFor(() => existsSync(mark), 'the command to note SIGTERM');
    expect(readFileSync(mark, 'utf8')).toBe('term\n');
  });

  it('--setgroups deny (and allow, as root) is what the new user namespace gets', async () => {
    const deny = await unshare(['--setgroups', 'deny', '--user', 'cat', '/proc/self/setgroups'], uid);
    expect(deny.stdout).toBe('deny\n');
    if (uid === undefined) {
      const allow = await unshare(['--setgroups', 'allow', '--user', 'cat', '/proc/self/setgroups'], uid);
      expect(allow.stdout).toBe('allow\n');
    }
  });
});

describe('one rule for create and unshare: a non-root caller gets a user namespace whenever it asks for types', () => {
  it('rootless nsm unshare --net works (mapped root, only lo)', async () => {
    const r = await unshare(['--net', '--', 'sh', '-c', 'id -u; ip -o link | wc -l'], ROOTLESS_UID);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('0\n1\n');
    expect(r.code).toBe(0);
  });
});

describe('--map-users/--map-groups (util-linux 2.39: INNER:OUTER:COUNT; the older OUTER,INNER,COUNT)', () => {
  it.skipIf(!isRoot)('as root: the block is mapped after the single mapping, with a hole where they overlap (root only: outer ids need /etc/subuid otherwise)', async () => {
    const r = await unshare(['--map-root-user', '--map-users', '0:100000:10', '--map-groups', '100000,1,1000', '--', 'sh', '-c', 'cat /proc/self/uid_map /proc/self/gid_map'], undefined);
    expect(r.stderr).toBe('');
    const lines = r.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/).join(' '));
    expect(lines).toEqual(['0 0 1', '1 100001 9', '0 0 1', '1 100000 1000']);
  });

  it('a malformed block is a one-line usage error', async () => {
    const r = await unshare(['--map-users', '1:x:3', 'true'], ROOTLESS_UID);
    expect(r.stderr).toBe('nsm: --map-users needs INNER:OUTER:COUNT (ids, count at least 1), not: 1:x:3\n');
    expect(r.code).not.toBe(0);
  });
});
