/**
 * What a command run by exec/enter/unshare inherits from the caller, on the real kernel:
 *
 * - credentials: root's exec/enter in a rootless user's environment runs the command as that
 *   user's uid 0 inside, and it must carry nothing of root's (supplementary groups above all:
 *   root's group 0 would let a command the user planted read root:root 0040 files). Root runs
 *   with extra groups (setpriv --groups) so that any that leak show.
 * - descriptors: the caller's inherited fds (`5<file`) pass on, as nsenter's do; nsm's own
 *   (namespace fds, the helper's socket, Node's) do not.
 */
import { afterEach, describe, expect, it, onTestFinished } from 'vitest';
import { spawn } from 'node:child_process';
import { chmodSync, closeSync, mkdtempSync, openSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanup, create, isRoot, NSM, ROOTLESS_UID, stateDir, uniqueName } from './lifecycle-helpers.js';

afterEach(cleanup);

/** Root's supplementary groups for these runs: none of them is the rootless user's. */
const ROOT_GROUPS = '0,4,27';
/** The /proc/self/status lines that make up a process's credentials. */
const CRED_FIELDS = ['Uid', 'Gid', 'Groups', 'CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb', 'NoNewPrivs'];
const SHOW = `id -G; grep -E '^(${CRED_FIELDS.join('|')}):' /proc/self/status`;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Run `argv` with NSM_STATE_DIR=`dir`, stdin /dev/null and `extra` fds (fd number -> our fd),
 * to completion.
 */
function run(argv: readonly string[], dir: string | undefined, extra: Record<number, number> = {}, openStdin = false): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env.NSM_STATE_DIR;
  if (dir !== undefined) env.NSM_STATE_DIR = dir;
  const top = Math.max(2, ...Object.keys(extra).map(Number));
  const stdio = Array.from({ length: top + 1 }, (_, i) => (i === 0 ? (openStdin ? 'pipe' : 'ignore') : i < 3 ? 'pipe' : (extra[i] ?? 'ignore')));
  const child = spawn(argv[0]!, argv.slice(1), { env, cwd: '/', stdio: stdio as never });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  return new Promise((resolve) =>
    child.on('close', (code) => {
      child.stdin?.destroy();
      resolve({ code, stdout, stderr });
    }),
  );
}

const asUser = (uid: number) => ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups'];
const asRootWithGroups = ['setpriv', `--groups=${ROOT_GROUPS}`];

/** `id -G` and the credential lines of SHOW's output, keyed. */
function creds(out: string): Record<string, string> {
  const lines = out.replace(/\r/g, '').trim().split('\n');
  const fields: Record<string, string> = { idG: lines[0]!.trim() };
  for (const l of lines.slice(1)) {
    const m = /^(\w+):\s*(.*)$/.exec(l);
    if (m) fields[m[1]!] = m[2]!.trim().replace(/\s+/g, ' ');
  }
  return fields;
}

/** A file only group 0 may read (root:root 0040) in a directory anyone may traverse. */
function rootGroupOnlyFile(): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'nsm-creds-test-')));
  chmodSync(dir, 0o711);
  const file = join(dir, 'secret');
  writeFileSync(file, 'secret\n');
  chmodSync(file, 0o040);
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return file;
}

describe.skipIf(!isRoot)('root in a rootless user\'s environment (needs root: it switches users with setpriv)', () => {
  it('exec (native join) and enter with a terminal carry none of root\'s groups or capabilities', async () => {
    const dir = stateDir(ROOTLESS_UID);
    const name = uniqueName('cred');
    await create(name, [], { uid: ROOTLESS_UID, stateDir: dir });
    const secret = rootGroupOnlyFile();
    const probe = `${SHOW}; cat ${secret} >/dev/null 2>&1 && echo READ-ROOT-FILE || echo denied`;

    // The user's own exec: what the command's identity must be whoever starts it.
    const own = await run([...asUser(ROOTLESS_UID), process.execPath, NSM, 'exec', name, '--', 'sh', '-c', probe], dir);
    expect(own.stderr).toBe('');
    expect(own.code).toBe(0);
    const expected = creds(own.stdout);
    expect(expected.idG).toBe('0');
    expect(expected.Groups).toBe('');

    const byRoot = await run([...asRootWithGroups, process.execPath, NSM, 'exec', name, '--', 'sh', '-c', probe], dir);
    expect(byRoot.stderr).toBe('');
    expect(byRoot.code).toBe(0);
    expect(creds(byRoot.stdout)).toEqual(expected);
    expect(byRoot.stdout).toMatch(/^denied$/m);

    // The same through the full CLI (commander), and through enter on a terminal (script(1)
    // gives it a pty as its stdin, stdout and stderr; its stdin stays open, as at EOF script
    // would type an end-of-file there).
    const full = await run([...asRootWithGroups, process.execPath, '-e', `require(${JSON.stringify(join(NSM, '..', '..', 'dist', 'nsm.cjs'))}).main(['node', 'nsm', ...process.argv.slice(1)])`, '--', 'exec', name, '--', 'sh', '-c', probe], dir);
    expect(full.stderr).toBe('');
    expect(creds(full.stdout)).toEqual(expected);
    const tty = await run([...asRootWithGroups, 'script', '-qec', `${process.execPath} ${NSM} enter ${name} -- sh -c "test -t 0 && ${probe.replace(/"/g, '\\"')}"`, '/dev/null'], dir, {}, true);
    expect(tty.code).toBe(0);
    expect(creds(tty.stdout)).toEqual(expected);
    expect(tty.stdout).toMatch(/^denied\r?$/m);
  });

  it('on a terminal the command gets a pty of nsm\'s, never root\'s terminal: what it pushes with TIOCSTI reaches nothing of root\'s', async () => {
    const dir = stateDir(ROOTLESS_UID);
    const name = uniqueName('tty');
    await create(name, [], { uid: ROOTLESS_UID, stateDir: dir });
    const legacyTiocsti = readFileSync('/proc/sys/dev/tty/legacy_tiocsti', 'utf8').trim() === '1';
    // Inside: read a line typed at root's terminal, push a command line into the terminal it
    // was given (ioctl_tty(2) TIOCSTI), say which terminal that is, exit 7.
    const inside = `read x; echo "typed=[$x]"; perl -e 'ioctl(STDIN, 0x5412, $_) or exit 1 for split //, "echo INJECTED\\n"' && echo pushed; echo "inner=$(readlink /proc/self/fd/0)"; exit 7`;
    // Root's shell on a terminal (script(1)): after nsm, it reads what is in its terminal's input.
    const outer = `${process.execPath} ${NSM} exec ${name} -- sh -c '${inside.replace(/'/g, `'\\''`)}'; echo "status=$?"; echo "outer=$(readlink /proc/self/fd/0)"; read -t 2 line; echo "after=[$line]"`;
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', NSM_STATE_DIR: dir };
    const child = spawn('script', ['-qec', `bash --norc -c '${outer.replace(/'/g, `'\\''`)}'`, '/dev/null'], { env, cwd: '/', stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    // Typed once the command reads; stdin stays open (at EOF script(1) would end the session).
    setTimeout(() => child.stdin!.write('hello\n'), 1500);
    const code = await new Promise((resolve) => child.on('close', resolve));
    child.stdin!.destroy();
    const text = out.replace(/\r/g, '');
    expect(code).toBe(0);
    expect(text).toMatch(/^typed=\[hello\]$/m);
    expect(text).toMatch(/^status=7$/m);
    const inner = /^inner=(.*)$/m.exec(text)?.[1];
    const outerTty = /^outer=(.*)$/m.exec(text)?.[1];
    expect(inner).toMatch(/^\/dev\/pts\/\d+$/);
    expect(outerTty).toMatch(/^\/dev\/pts\/\d+$/);
    expect(inner).not.toBe(outerTty);
    // dev.tty.legacy_tiocsti=0 refuses TIOCSTI to everyone without CAP_SYS_ADMIN: nothing to push then.
    if (legacyTiocsti) expect(text).toMatch(/^pushed$/m);
    expect(text).toMatch(/^after=\[\]$/m);
    expect(text).not.toMatch(/^INJECTED$/m);
  });

  it('root in its own environments: all of root\'s identity without a user namespace, nsenter\'s rule with one', async () => {
    const dir = stateDir();
    const plain = uniqueName('cred');
    await create(plain, ['-t', 'uts,ipc'], { stateDir: dir });
    // In-process join: the command is root, groups and all, as the caller is.
    const r = await run([...asRootWithGroups, process.execPath, NSM, 'exec', plain, '--', 'sh', '-c', SHOW], dir);
    expect(r.stderr).toBe('');
    expect(creds(r.stdout).idG).toBe('0 4 27');
    expect(creds(r.stdout).Uid).toBe('0 0 0 0');

    // Joining a user namespace makes the command uid/gid 0 of it with no supplementary
    // groups, as nsenter(1) does; root's create maps 0 to 0, so it is still uid 0 outside.
    const withUser = uniqueName('cred');
    await create(withUser, ['-t', 'user,uts'], { stateDir: dir });
    const u = await run([...asRootWithGroups, process.execPath, NSM, 'exec', withUser, '--', 'sh', '-c', `${SHOW}; cat /proc/self/uid_map`], dir);
    expect(u.stderr).toBe('');
    expect(creds(u.stdout).idG).toBe('0');
    expect(creds(u.stdout).Groups).toBe('');
    expect(u.stdout.trim().split('\n').at(-1)!.trim().split(/\s+/)).toEqual(['0', '0', '1']);
  });
});

/** The fds a command sees, as `ls /proc/self/fd` lists them, sorted. */
const LIST_FDS = ['sh', '-c', 'ls /proc/self/fd; readlink /proc/self/fd/5'];
function fdList(out: string): { fds: number[]; five: string } {
  const lines = out.trim().split('\n');
  return { fds: lines.slice(0, -1).map(Number).sort((a, b) => a - b), five: lines.at(-1)! };
}

describe('the caller\'s inherited fds pass on to the command', () => {
  /** fd 5 of the runs: a file of ours, readable by the rootless user. */
  function fileOnFive(): { extra: Record<number, number>; path: string } {
    const dir = realpathSync(mkdtempSync(join(tmpdir(), 'nsm-creds-test-')));
    chmodSync(dir, 0o755);
    const path = join(dir, 'passed');
    writeFileSync(path, 'passed\n', { mode: 0o644 });
    const fd = openSync(path, 'r');
    onTestFinished(() => {
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    });
    return { extra: { 5: fd }, path };
  }

  /** What a command run directly (no nsm) with the same fds sees: the same list is wanted inside. */
  async function direct(extra: Record<number, number>, user: string[]): Promise<number[]> {
    const r = await run([...user, ...LIST_FDS], undefined, extra);
    return fdList(r.stdout).fds;
  }

  it('exec through the native join and unshare (as an unprivileged user)', async () => {
    const user = isRoot ? asUser(ROOTLESS_UID) : [];
    const dir = stateDir(ROOTLESS_UID);
    const name = uniqueName('fds');
    await create(name, [], { uid: isRoot ? ROOTLESS_UID : undefined, stateDir: dir });
    const { extra, path } = fileOnFive();
    const want = await direct(extra, user);
    expect(want).toContain(5);

    const e = await run([...user, process.execPath, NSM, 'exec', name, '--', ...LIST_FDS], dir, extra);
    expect(e.stderr).toBe('');
    expect(fdList(e.stdout)).toEqual({ fds: want, five: path });

    const u = await run([...user, process.execPath, NSM, 'unshare', '-t', 'user,uts', '--', ...LIST_FDS], dir, extra);
    expect(u.stderr).toBe('');
    expect(fdList(u.stdout)).toEqual({ fds: want, five: path });
  });

  it.skipIf(!isRoot)('exec through the in-process join, and root\'s exec into a user\'s environment (needs root)', async () => {
    const dir = stateDir();
    const name = uniqueName('fds');
    await create(name, ['-t', 'uts,ipc'], { stateDir: dir });
    const { extra, path } = fileOnFive();
    const want = await direct(extra, []);
    const e = await run([process.execPath, NSM, 'exec', name, '--', ...LIST_FDS], dir, extra);
    expect(e.stderr).toBe('');
    expect(fdList(e.stdout)).toEqual({ fds: want, five: path });

    const userDir = stateDir(ROOTLESS_UID);
    const theirs = uniqueName('fds');
    await create(theirs, [], { uid: ROOTLESS_UID, stateDir: userDir });
    const f = await run([process.execPath, NSM, 'exec', theirs, '--', ...LIST_FDS], userDir, extra);
    expect(f.stderr).toBe('');
    expect(fdList(f.stdout)).toEqual({ fds: want, five: path });
  });
});
