/**
 * Behaviour common to every read-side command: help with examples, exit codes and
 * one-line errors, colour only on a terminal (NO_COLOR / FORCE_COLOR), and the rootless path.
 */
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { isRoot, NSM, nsInode, nsm, nsmJson, Processes, waitFor } from '../support/run.js';

const COMMANDS = [
  ['ls', 'list'],
  ['inspect', 'info'],
  ['diff', 'compare'],
  ['ps', 'procs'],
  ['tree', ''],
] as const;

const ESC = '\u001b[';

/** Run nsm under a pseudo-terminal (script(1)), so stdout is a TTY. */
function onTty(args: string, env: NodeJS.ProcessEnv = {}): string {
  const r = spawnSync('script', ['-qec', `${process.execPath} ${NSM} ${args}`, '/dev/null'], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: undefined, FORCE_COLOR: undefined, ...env },
  });
  return r.stdout;
}

describe('help', () => {
  it.each(COMMANDS)('%s (alias: %s): nsm help CMD and nsm CMD --help show examples', (cmd, alias) => {
    const viaHelp = nsm(['help', cmd]);
    const viaFlag = nsm([cmd, '--help']);
    expect(viaHelp.status).toBe(0);
    expect(viaFlag.status).toBe(0);
    expect(viaHelp.stdout).toBe(viaFlag.stdout);
    expect(viaFlag.stdout).toMatch(/^Examples:\n {2}nsm /m);
    if (alias) expect(nsm([alias, '--help']).stdout).toBe(viaFlag.stdout);
  });

  it('nsm --version prints the version', () => {
    expect(nsm(['--version']).stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });
});

describe('usage errors: one line, exit 2', () => {
  it.each([
    // A word is an environment name (issue 3); what is neither a pid nor a name is a usage error.
    [['inspect', 'a/b'], 'nsm: not a process id or an environment name: a/b\n'],
    [['diff', '1', 'x:1'], 'nsm: not a process id or an environment name: x:1\n'],
    [['ps', '-p', '12ab!'], 'nsm: not a process id or an environment name: 12ab!\n'],
    [['inspect', '0'], 'nsm: not a process id: 0\n'],
    [['ps', '-t', 'bogus'], 'nsm: unknown namespace type: bogus (known: user, cgroup, ipc, uts, net, pid, mnt, time)\n'],
    [['diff', '-t', 'net,nett', '1', '2'], 'nsm: unknown namespace type: nett (known: user, cgroup, ipc, uts, net, pid, mnt, time, all)\n'],
    [['ls', '-t', 'xyz'], 'nsm: unknown namespace type: xyz (known: user, cgroup, ipc, uts, net, pid, mnt, time, all)\n'],
    [['tree', '--frobnicate'], "nsm: unknown option '--frobnicate'\n"],
    [['inspect', '--json', '1', '--nope'], "nsm: unknown option '--nope'\n"],
    [['inspec', '1'], "nsm: unknown command 'inspec' (did you mean inspect?)\n"],
    [['tre'], "nsm: unknown command 'tre' (did you mean tree?)\n"],
    [['help', 'tre'], "nsm: unknown command 'tre' (did you mean tree?)\n"],
    [['help', 'zzzz'], "nsm: unknown command 'zzzz'\n"],
  ])('nsm %j', (args, message) => {
    const r = nsm(args);
    expect(r).toEqual({ status: 2, stdout: '', stderr: message });
  });

  it('shows a stack trace only with NSM_DEBUG=1', () => {
    const plain = nsm(['inspect', '4194001']);
    expect(plain.status).toBe(1);
    expect(plain.stderr).not.toMatch(/\n\s+at /);
    const debug = nsm(['inspect', '4194001'], { env: { NSM_DEBUG: '1' } });
    expect(debug.stderr).toMatch(/\n\s+at /);
  });
});

describe('a closed pipe', () => {
  it('ends nsm quietly with status 141 (128+SIGPIPE), as a C tool ends', () => {
    // `true` exits without reading, long before nsm has started, so its first write fails with EPIPE.
    const r = spawnSync('bash', ['-c', `${process.execPath} ${NSM} help ls | true; echo "status=\${PIPESTATUS[0]}"`], { encoding: 'utf8' });
    expect(r.stdout).toBe('status=141\n');
    expect(r.stderr).toBe('');
  });
});

describe('colour', () => {
  it('is off when stdout is not a terminal', () => {
    for (const args of [['ls'], ['ps'], ['tree'], ['inspect', String(process.pid)], ['diff', String(process.pid), String(process.pid)]]) {
      expect(nsm(args).stdout).not.toContain(ESC);
    }
  });

  it('is on for a terminal, and NO_COLOR turns it off', () => {
    expect(onTty('ls')).toContain(ESC);
    expect(onTty(`inspect ${process.pid}`)).toContain(ESC);
    expect(onTty('ls', { NO_COLOR: '1' })).not.toContain(ESC);
    expect(onTty(`inspect ${process.pid}`, { NO_COLOR: '1' })).not.toContain(ESC);
  });

  it('does not depend on TERM or CI being set (a CI runner\'s terminal), but TERM=dumb turns it off', () => {
    expect(onTty('ls', { TERM: undefined, CI: '1' })).toContain(ESC);
    expect(onTty('ls', { TERM: 'dumb' })).not.toContain(ESC);
  });

  it('FORCE_COLOR turns it on without a terminal, FORCE_COLOR=0 off on one', () => {
    expect(nsm(['ls'], { env: { FORCE_COLOR: '1' } }).stdout).toContain(ESC);
    expect(nsm(['tree'], { env: { FORCE_COLOR: '1' } }).stdout).toContain(ESC);
    expect(onTty('ls', { FORCE_COLOR: '0' })).not.toContain(ESC);
  });

  it('JSON never carries colour', () => {
    expect(nsm(['ls', '--json'], { env: { FORCE_COLOR: '1' } }).stdout).not.toContain(ESC);
  });
});

describe.skipIf(!isRoot)('as an unprivileged user (setpriv --reuid=65534; root needed to switch)', () => {
  const procs = new Processes();
  const NOBODY = 65534;
  afterAll(() => procs.stop());

  it('ls shows what the user may read, with no stack trace', () => {
    const r = nsm(['ls'], { asUser: NOBODY });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^\s+NS TYPE\s+NPROCS\s+PID USER/);
    const { namespaces } = nsmJson(['ls', '--json'], { asUser: NOBODY });
    // Its own process (nsm) is in the host's namespaces, so all eight host types appear.
    expect(new Set(namespaces.map((n: any) => n.type))).toEqual(new Set(['user', 'cgroup', 'ipc', 'uts', 'net', 'pid', 'mnt', 'time']));
  });

  it("inspect and diff work on the user's own process, and fail in one line on root's", async () => {
    const own = procs.start('sleep', ['1000'], { uid: NOBODY });
    await waitFor('sleep as nobody', () => nsInode(own.pid!, 'net') !== undefined);
    const doc = nsmJson(['inspect', String(own.pid), '--json'], { asUser: NOBODY });
    expect(doc).toMatchObject({ pid: own.pid, uid: NOBODY, user: 'nobody' });
    // PID 1 and kthreadd are unreadable to nobody: the reference falls back to the fixed inodes.
    expect(doc.reference.kind).toBe('initial-inodes');
    expect(doc.namespaces.find((n: any) => n.entry === 'net').sharing).toBe('host');

    const same = nsm(['diff', '-q', String(own.pid), String(own.pid)], { asUser: NOBODY });
    expect(same).toEqual({ status: 0, stdout: '', stderr: '' });

    const denied = nsm(['inspect', String(process.pid)], { asUser: NOBODY });
    expect(denied.status).toBe(1);
    expect(denied.stderr).toBe(`nsm: PID ${process.pid}: cannot read its namespaces: EACCES: Permission denied\nhint: run nsm as root to see other users' processes\n`);
    const diffDenied = nsm(['diff', String(own.pid), String(process.pid)], { asUser: NOBODY });
    expect(diffDenied.status).toBe(2); // diff(1)'s trouble
    expect(diffDenied.stderr).not.toMatch(/\n\s+at /);
  });

  it('ps and tree run without errors', () => {
    for (const args of [['ps'], ['tree'], ['tree', '-T', 'parent']]) {
      const r = nsm(args, { asUser: NOBODY });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    }
  });
});
