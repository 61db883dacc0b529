/**
 * nsm against its own state directories when someone else controls them (issue 10, §1 and
 * §4): a directory nsm finds is never chmod-ed, read-only commands create nothing, and a user
 * who writes whatever they like into their own state directory (entries root cannot read,
 * symlinked lock files, escape sequences, stale reservations, forged records) cannot make
 * root's ls, gc or destroy fail, hide anything, write to root's terminal or label root's
 * namespaces.
 *
 * The users are real (setpriv to uid 1000 and 65534) and write into their own state
 * directories below a private NSM_TMPDIR, which root's commands here scan instead of /tmp
 * and /run/user (root's own directory is NSM_TMPDIR/nsm-0): nothing of the host's state
 * directories is read or written. Every process a record names is one this file started in
 * a private PID namespace (the holder of an environment it created, or an unshare'd sleep).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, realpathSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { alive, childrenOf, comm, identity, isRoot, NEVER_A_PID, nsm, uniqueName, waitFor, type Run } from './lifecycle-helpers.js';

const USER = 1000;
const USER2 = 65534;
const NEEDS_ROOT = 'needs root: setpriv to real unprivileged users, and root reading their directories';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const fn of cleanups.splice(0).reverse()) fn();
});

/** A private stand-in for /tmp (sticky, world-writable, as /tmp is): users make nsm-UID in it. */
function privateTmp(): string {
  const base = realpathSync(mkdtempSync(join(tmpdir(), 'nsm-hostile-test-')));
  chmodSync(base, 0o1777);
  cleanups.push(() => rmSync(base, { recursive: true, force: true }));
  return base;
}

/** nsm as root or as `uid`, with NSM_TMPDIR=base and no other state-directory variable. */
function run(base: string, args: string[], uid?: number, stateDir?: string): Promise<Run> {
  return nsm(args, { uid, stateDir, env: { NSM_TMPDIR: base, XDG_RUNTIME_DIR: '' } });
}

/** As `uid`: a shell command (paths in it are the test's own). */
function asUser(uid: number, script: string): void {
  const r = spawnSync('setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', 'sh', '-c', `umask 077; ${script}`], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
}

/** A rootless environment of `uid` (user and uts namespaces); its holder is killed after the test. */
async function createAs(base: string, uid: number, name: string): Promise<{ pid: number; namespaces: Record<string, number> }> {
  const r = await run(base, ['create', '--json', '-t', 'user,uts', name], uid);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const doc = JSON.parse(r.stdout) as { pid: number; namespaces: Record<string, number> };
  const startTime = identity(doc.pid)!.startTime;
  cleanups.push(() => {
    if (alive(doc.pid, startTime)) process.kill(doc.pid, 'SIGKILL');
  });
  return doc;
}

/**
 * `sleep 1000` as PID 1 of a new PID namespace with a new uts namespace (root's), optionally
 * running as `uid`, with argv[0] `argv0`. Returns the sleep's pid; killed after the test.
 */
async function boxedSleep(opts: { uid?: number; argv0?: string } = {}): Promise<number> {
  const inner = opts.uid === undefined ? [] : ['setpriv', `--reuid=${opts.uid}`, `--regid=${opts.uid}`, '--clear-groups'];
  const sleep = opts.argv0 === undefined ? ['sleep', '1000'] : ['bash', '-c', 'exec -a "$0" sleep 1000', opts.argv0];
  const box: ChildProcess = spawn('unshare', ['--pid', '--fork', '--kill-child', '--mount-proc', '--uts', ...inner, ...sleep], { stdio: 'ignore' });
  let pid = 0;
  cleanups.push(() => {
    if (pid > 0 && alive(pid)) process.kill(pid, 'SIGKILL');
    box.kill('SIGKILL');
  });
  await waitFor(() => (pid = childrenOf(box.pid!).find((p) => comm(p) === 'sleep') ?? 0) > 0, 'the boxed sleep to start');
  // Guard: a record this test forges must never name a process of the host's pid namespace.
  expect(readlinkSync(`/proc/${pid}/ns/pid`)).not.toBe(readlinkSync('/proc/self/ns/pid'));
  return pid;
}

const inodeOf = (pid: number, type: string): number => Number(/\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/ns/${type}`))![1]);

interface LsJson {
  namespaces: Array<{ ns: number; owners: Array<{ kind: string; name: string }> }>;
  environments: Array<{ name: string; state: string; pid: number | null; uid: number }>;
}

describe('a state directory nsm finds is used as it is (§1)', () => {
  const readOnly = [['ls', '-t', 'uts'], ['ls', '-J', '-t', 'uts'], ['inspect', 'nope'], ['gc', '-n'], ['exec', 'nope', 'true'], ['destroy', 'nope']];

  it('an existing 0755 directory keeps its mode, and read-only commands create nothing in it', async () => {
    const base = privateTmp();
    const dir = join(base, 'state');
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    for (const args of readOnly) {
      await nsm(args, { stateDir: dir });
      expect([args, (statSync(dir).mode & 0o7777).toString(8)]).toEqual([args, '755']);
      expect([args, readdirSync(dir)]).toEqual([args, []]);
    }
  });

  it('a missing state directory is not created by read-only commands, and means no environments', async () => {
    const base = privateTmp();
    const dir = join(base, 'missing');
    for (const args of readOnly) {
      const r = await nsm(args, { stateDir: dir });
      expect([args, existsSync(dir)]).toEqual([args, false]);
      if (args[0] === 'gc') expect(r.stdout).toBe('nothing to remove\n');
      if (args[0] === 'ls' && args[1] === '-J') expect(JSON.parse(r.stdout).environments).toEqual([]);
    }
  });

  it('a group-writable directory is refused with a one-line reason, and left as it was', async () => {
    const base = privateTmp();
    const dir = join(base, 'shared');
    mkdirSync(dir);
    chmodSync(dir, 0o775);
    const r = await nsm(['destroy', 'nope'], { stateDir: dir });
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n')[0]).toBe(`nsm: unsafe state directory ${dir}: it is writable by group or others (mode 0775)`);
    expect(r.stderr.split('\n')[1]).toMatch(/^hint: .*never changes one it did not make/);
    expect(statSync(dir).mode & 0o7777).toBe(0o775);
    expect(readdirSync(dir)).toEqual([]);
  });

  it.skipIf(!isRoot)(`root never changes a user's directory it reads (${NEEDS_ROOT})`, async () => {
    const base = privateTmp();
    const dir = join(base, `nsm-${USER}`);
    asUser(USER, `mkdir ${dir} && chmod 0750 ${dir}`);
    for (const args of readOnly) {
      await run(base, args); // root's all-users view
      await run(base, args, undefined, dir); // NSM_STATE_DIR naming the user's directory
      expect([args, (statSync(dir).mode & 0o7777).toString(8)]).toEqual([args, '750']);
      expect([args, readdirSync(dir)]).toEqual([args, []]);
    }
    // Root's own directory (NSM_TMPDIR/nsm-0) was not made by any of them either.
    expect(existsSync(join(base, 'nsm-0'))).toBe(false);
    expect(lstatSync(dir).uid).toBe(USER);
  });
  it.skipIf(!isRoot)(`gc -n creates no lock file, in a user's directory or root's view of it (${NEEDS_ROOT})`, async () => {
    const base = privateTmp();
    const dir = join(base, `nsm-${USER}`);
    asUser(USER, `mkdir -p ${dir}/envs/solo ${dir}/locks`);
    for (const uid of [USER, undefined]) {
      const r = await run(base, ['gc', '-n'], uid);
      expect(r.stdout).toBe(`would remove solo${uid === undefined ? ` of uid ${USER}` : ''} (creation by nsm PID never finished)\n`);
      expect(readdirSync(`${dir}/locks`)).toEqual([]);
    }
  });
});

describe.skipIf(!isRoot)(`a user's state directory cannot make root's commands fail or lie (§4, ${NEEDS_ROOT})`, () => {
  it("an entry root cannot read is skipped with a warning; the rest is listed, the user's environment still named", async () => {
    const base = privateTmp();
    const name = uniqueName('ok');
    const env = await createAs(base, USER, name);
    const dir = join(base, `nsm-${USER}`);
    asUser(USER, `mkdir -m000 ${dir}/envs/x`);

    const r = await run(base, ['ls', '--envs']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(`nsm: warning: skipped ${dir}/envs/x: read(${dir}/envs/x/env.json): EACCES: Permission denied\n`);
    const envs = r.stdout;
    expect(envs).toMatch(new RegExp(`\\n${name} +user,uts +${env.pid} running `));
    expect(envs).toMatch(/\nx +unreadable /);

    const j = await run(base, ['ls', '-J', '-t', 'uts']);
    expect(j.code).toBe(0);
    const doc = JSON.parse(j.stdout) as LsJson;
    expect(doc.environments.map((e) => [e.name, e.state, e.uid])).toEqual([
      [name, 'running', USER],
      ['x', 'unreadable', USER],
    ]);
    expect(doc.namespaces.find((n) => n.ns === env.namespaces.uts)!.owners).toContainEqual(expect.objectContaining({ kind: 'nsm', name }));
  });

  it("a symlinked lock file is skipped by gc, which goes on in that directory and the next user's", async () => {
    const base = privateTmp();
    const dead1 = uniqueName('zz');
    const dead2 = uniqueName('zz');
    const e1 = await createAs(base, USER, dead1);
    const e2 = await createAs(base, USER2, dead2);
    for (const pid of [e1.pid, e2.pid]) process.kill(pid, 'SIGKILL');
    await waitFor(() => !alive(e1.pid) && !alive(e2.pid), 'the holders to die');
    const dir = join(base, `nsm-${USER}`);
    asUser(USER, `ln -s /nonexistent-nsm-test ${dir}/locks/aaa && mkdir ${dir}/envs/aaa`);

    const g = await run(base, ['gc']);
    expect(g.stderr).toBe('');
    expect(g.code).toBe(0);
    expect(g.stdout).toContain(`kept aaa of uid ${USER}: unreadable: open(${dir}/locks/aaa): ELOOP`);
    expect(g.stdout).toContain(`removed ${dead1} of uid ${USER}`);
    expect(g.stdout).toContain(`removed ${dead2} of uid ${USER2}`);
    expect(existsSync(`${dir}/envs/${dead1}`)).toBe(false);
    expect(existsSync(join(base, `nsm-${USER2}`, 'envs', dead2))).toBe(false);
    expect(lstatSync(`${dir}/locks/aaa`).isSymbolicLink()).toBe(true);
    // destroy --all in that directory (as the user) goes past it as well.
    const d = await run(base, ['destroy', '--all'], USER);
    expect(d.stderr).toMatch(/^nsm: open\(.*\/locks\/aaa\): ELOOP/);
  });

  it("control characters from a user's record or a process never reach root's terminal raw", async () => {
    const base = privateTmp();
    const dir = join(base, `nsm-${USER}`);
    asUser(USER, `mkdir -p ${dir}/envs/pw ${dir}/locks && printf '\\033]0;PWNED\\007\\n' > ${dir}/envs/pw/env.json`);
    const sleep = await boxedSleep({ argv0: '\u001b]0;PWNED\u0007\nsecond line' });
    const uts = inodeOf(sleep, 'uts');

    const d = await run(base, ['destroy', 'pw']);
    expect(d.code).toBe(1);
    expect(d.stderr.split('\n')[0]).toBe(`nsm: record of environment pw is unreadable: Unexpected token '\\e', "\\e]0;PWNED\\x07\\n" is not valid JSON`);
    const g = await run(base, ['gc']);
    expect(g.stdout).toBe(`kept pw of uid ${USER}: unreadable: Unexpected token '\\e', "\\e]0;PWNED\\x07\\n" is not valid JSON\n`);
    const l = await run(base, ['ls', '-t', 'uts']);
    const row = l.stdout.split('\n').find((line) => line.startsWith(`${uts} `))!;
    // The lowest pid of that namespace is the unshare, whose arguments carry the same text.
    expect(row).toMatch(/ \\e\]0;PWNED\\x07\\nsecond line( 1000)?$/);
    for (const out of [d.stdout, d.stderr, g.stdout, g.stderr, l.stdout, l.stderr]) expect(out).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f]/);
  });

  it('a create killed half-way, and an unreadable record, are listed (interrupted, unreadable) and reached by destroy --all', async () => {
    const base = privateTmp();
    const name = uniqueName('ir');
    const env = await createAs(base, USER, name);
    const holder = identity(env.pid)!;
    // Its creator: a process that has exited (a pid no process of the host can have).
    const creator = { pid: NEVER_A_PID, startTime: 1 };
    // What a create SIGKILLed after starting its holder leaves: reservation.json with progress.
    const reservation = {
      schemaVersion: 1,
      name,
      creator: { pid: creator.pid, startTime: creator.startTime },
      creatorUid: USER,
      reservedAt: new Date().toISOString(),
      nsmVersion: '0.1.0',
      progress: { holder: { pid: holder.pid, startTime: holder.startTime }, namespaces: env.namespaces },
    };
    const dir = join(base, `nsm-${USER}`);
    asUser(USER, `rm ${dir}/envs/${name}/env.json && echo '${JSON.stringify(reservation)}' > ${dir}/envs/${name}/reservation.json && mkdir ${dir}/envs/bad && echo '{' > ${dir}/envs/bad/env.json`);

    for (const uid of [undefined, USER]) {
      const j = await run(base, ['ls', '-J', '-t', 'uts'], uid);
      expect(j.code).toBe(0);
      expect((JSON.parse(j.stdout) as LsJson).environments.map((e) => [e.name, e.state, e.pid, e.uid])).toEqual([
        ['bad', 'unreadable', null, USER],
        [name, 'interrupted', holder.pid, USER],
      ]);
    }
    const d = await run(base, ['destroy', '--all'], USER);
    expect(d.stdout).toBe(`destroyed ${name} (a create that never finished; its holder PID ${holder.pid} stopped)\n`);
    expect(d.stderr.split('\n')[0]).toMatch(/^nsm: record of environment bad is unreadable: /);
    expect(d.code).toBe(1);
    expect(alive(holder.pid, holder.startTime)).toBe(false);
  });

  it("a forged user record does not label root's namespaces, whoever its holder runs as", async () => {
    const base = privateTmp();
    const dir = join(base, `nsm-${USER}`);
    // A holder of root's (uid 0), and one running as the user but in namespaces root made.
    for (const [i, uid] of [undefined, USER].entries()) {
      const sleep = await boxedSleep({ uid });
      const name = `forged${i}`;
      const record = {
        schemaVersion: 1,
        name,
        types: ['uts'],
        options: {},
        holder: { pid: sleep, startTime: identity(sleep)!.startTime },
        namespaces: { uts: inodeOf(sleep, 'uts') },
        pins: {},
        creatorUid: USER,
        createdAt: new Date().toISOString(),
        nsmVersion: '0.1.0',
      };
      asUser(USER, `mkdir -p ${dir}/envs/${name} ${dir}/locks && echo '${JSON.stringify(record)}' > ${dir}/envs/${name}/env.json`);
      const j = await run(base, ['ls', '-J', '-t', 'uts']);
      expect(j.code).toBe(0);
      const row = (JSON.parse(j.stdout) as LsJson).namespaces.find((n) => n.ns === record.namespaces.uts)!;
      expect([name, row.owners.filter((o) => o.kind === 'nsm')]).toEqual([name, []]);
    }
  });
});
