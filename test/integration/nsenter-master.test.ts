/**
 * nsenter master's -N/--net-socket, --user-parent and -Z/--follow-context on `nsm exec`,
 * observed inside on the real kernel. Targets are processes started here (killed by pid
 * afterwards); rootless runs use uid 65534 through setpriv when the suite runs as root, else
 * the caller's own uid.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync, readlinkSync, fstatSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, isRoot, NSM, nsm, OTHER_UID, ROOTLESS_UID, stateDir, waitFor } from './lifecycle-helpers.js';
import { openOwnerUserNs } from '../../src/sys/libc.js';

const procs: ChildProcess[] = [];

afterEach(async () => {
  for (const p of procs.splice(0)) {
    if (p.exitCode === null && p.signalCode === null) {
      p.kill('SIGKILL');
      await new Promise((r) => p.once('exit', r));
    }
  }
  await cleanup();
});

/** As the rootless user: setpriv to 65534 when we are root, else as we are. */
const asUser = (argv: string[]): string[] => (isRoot ? ['setpriv', `--reuid=${ROOTLESS_UID}`, `--regid=${ROOTLESS_UID}`, '--clear-groups', ...argv] : argv);
const userRun = () => (isRoot ? { uid: ROOTLESS_UID, stateDir: stateDir(ROOTLESS_UID) } : {});

/** Start `argv`, wait until it runs sleep; its pid and what it printed by then. */
async function start(argv: string[]): Promise<{ pid: number; out: () => string }> {
  const p = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  procs.push(p);
  let out = '';
  p.stdout!.on('data', (d) => (out += d));
  const pid = p.pid!;
  await waitFor(() => {
    try {
      return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sleep';
    } catch {
      return false;
    }
  }, `${argv.join(' ')} to start`);
  return { pid, out: () => out };
}

/**
 * A process whose socket (fd 5) is in another network namespace than the process: python
 * unshares a net namespace (with a user namespace when `userns`), makes the socket there,
 * prints that namespace, unshares a second one and execs sleep, the socket inherited.
 */
function socketScript(userns: boolean): string[] {
  const flags = userns ? '0x10000000 | 0x40000000' : '0x40000000';
  const py = [
    'import ctypes, os, socket',
    'libc = ctypes.CDLL(None, use_errno=True)',
    'uid, gid = os.getuid(), os.getgid()',
    `assert libc.unshare(${flags}) == 0, os.strerror(ctypes.get_errno())`,
    // unshare -r's maps: root inside is the caller.
    ...(userns
      ? ["open('/proc/self/setgroups', 'w').write('deny')", "open('/proc/self/uid_map', 'w').write(f'0 {uid} 1')", "open('/proc/self/gid_map', 'w').write(f'0 {gid} 1')"]
      : []),
    's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
    'os.dup2(s.fileno(), 5)',
    "print(os.readlink('/proc/self/ns/net'), flush=True)",
    `assert libc.unshare(0x40000000) == 0, os.strerror(ctypes.get_errno())`,
    "os.execvp('sleep', ['sleep', '60'])",
  ].join('\n');
  return ['/usr/bin/python3', '-c', py];
}

const hasPython = existsSync('/usr/bin/python3');

describe.skipIf(!hasPython)('nsm exec -N/--net-socket FD (nsenter master)', () => {
  it.skipIf(!isRoot)('joins the network namespace of the target\'s socket, not the one it runs in (root)', async () => {
    const { pid, out } = await start(socketScript(false));
    const sockNet = out().trim();
    const procNet = readlinkSync(`/proc/${pid}/ns/net`);
    expect(sockNet).toMatch(/^net:\[\d+\]$/);
    expect(sockNet).not.toBe(procNet);
    let r = await nsm(['exec', '-N', '5', String(pid), 'readlink', '/proc/self/ns/net']);
    expect([r.stderr, r.code]).toEqual(['', 0]);
    expect(r.stdout.trim()).toBe(sockNet);
    r = await nsm(['exec', '--net-socket=5', '-t', 'uts', String(pid), 'readlink', '/proc/self/ns/net']);
    expect(r.stdout.trim()).toBe(sockNet);
    // Without -N: the namespace it runs in.
    r = await nsm(['exec', String(pid), 'readlink', '/proc/self/ns/net']);
    expect(r.stdout.trim()).toBe(procNet);
  });

  it('rootless: a user joins the socket\'s network namespace of their own process (with its user namespace)', async () => {
    const { pid, out } = await start(asUser(socketScript(true)));
    const sockNet = out().trim();
    const r = await nsm(['exec', '-N', '5', String(pid), 'sh', '-c', 'readlink /proc/self/ns/net /proc/self/ns/user'], userRun());
    expect([r.stderr, r.code]).toEqual(['', 0]);
    expect(r.stdout.trim().split('\n')).toEqual([sockNet, readlinkSync(`/proc/${pid}/ns/user`)]);
  });

  it('a fd that is no socket, or not open, or a target without a process: one line, 125', async () => {
    const { pid } = await start(socketScript(!isRoot));
    let r = await nsm(['exec', '-N', '0', String(pid), 'true'], isRoot ? {} : userRun());
    expect([r.code, r.stderr]).toEqual([125, `nsm: PID ${pid}: its file descriptor 0 is not a socket (--net-socket)\n`]);
    r = await nsm(['exec', '-N', '99', String(pid), 'true'], isRoot ? {} : userRun());
    expect([r.code, r.stderr]).toEqual([125, `nsm: PID ${pid}: it has no file descriptor 99 (--net-socket)\n`]);
    r = await nsm(['exec', '-N', 'x', String(pid), 'true']);
    expect(r.stderr).toBe('nsm: --net-socket needs a file descriptor number, not: x\n');
    r = await nsm(['exec', '-N', '5', `/proc/${pid}/ns/net`, 'true'], isRoot ? {} : userRun());
    expect(r.code).toBe(125);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^nsm: --net-socket needs a process: .* \(give the PID that has the socket\)\n$/);
  });
});

describe.skipIf(!hasPython)('nsm exec -N: permissions', () => {
  it('rootless: a socket in a namespace the user has no CAP_NET_ADMIN over (the host\'s): one line saying so, 125', async () => {
    const py = "import os, socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nos.dup2(s.fileno(), 5)\nos.execvp('sleep', ['sleep', '60'])";
    const { pid } = await start(asUser(['/usr/bin/python3', '-c', py]));
    const r = await nsm(['exec', '-N', '5', String(pid), 'true'], userRun());
    expect([r.code, r.stderr]).toEqual([
      125,
      `nsm: PID ${pid}: cannot open the network namespace of its socket 5: permission denied: SIOCGSKNS needs CAP_NET_ADMIN over it (--net-socket)\n`,
    ]);
  });
  // pidfd_getfd(2) checks ptrace attach access with the caller's *real* uid, reading
  // /proc/PID/ns with its file-system uid (ptrace(2), "Ptrace access mode checking"): a caller
  // whose real uid is not the target's passes the second and fails the first. (Yama's
  // ptrace_scope, the everyday cause, is not in this kernel.)
  it.skipIf(!isRoot)('a process nsm may read but not attach to (real uid another): the ptrace message, 125', async () => {
    const py = "import os, socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nos.dup2(s.fileno(), 5)\nos.execvp('sleep', ['sleep', '60'])";
    const { pid } = await start(asUser(['/usr/bin/python3', '-c', py]));
    const dir = stateDir(ROOTLESS_UID);
    const args = [`--ruid=${OTHER_UID}`, `--euid=${ROOTLESS_UID}`, `--regid=${ROOTLESS_UID}`, '--clear-groups', 'env', `NSM_STATE_DIR=${dir}`, process.execPath, NSM, 'exec', '-N', '5', String(pid), 'true'];
    const r = spawnSync('setpriv', args, { encoding: 'utf8' });
    expect([r.status, r.stderr]).toEqual([
      125,
      `nsm: PID ${pid}: cannot take its file descriptor 5: permission denied: pidfd_getfd(2) needs ptrace attach access to the process (--net-socket)\n` +
        'hint: the same user, not made undumpable, and Yama ptrace_scope allowing it; or CAP_SYS_PTRACE\n',
    ]);
  });
});

/** Inode of the parent of `pid`'s user namespace (NS_GET_USERNS on it), read here. */
function parentUserNs(pid: number): string {
  const fd = openSync(`/proc/${pid}/ns/user`, 'r');
  try {
    const parent = openOwnerUserNs(fd);
    try {
      return `user:[${fstatSync(parent).ino}]`;
    } finally {
      closeSync(parent);
    }
  } finally {
    closeSync(fd);
  }
}

describe('nsm exec --user-parent (nsenter master)', () => {
  it('joins the parent of the target\'s user namespace, as root and rootless, with or without -U', async () => {
    // A user namespace nested in another that no process is in any more.
    const { pid } = await start(asUser(['unshare', '-U', '-r', 'sh', '-c', 'exec unshare -U -r sleep 60']));
    const own = readlinkSync(`/proc/${pid}/ns/user`);
    const parent = parentUserNs(pid);
    expect(parent).not.toBe(own);
    expect(parent).not.toBe(readlinkSync('/proc/self/ns/user'));
    const runs = isRoot ? [{}, userRun()] : [userRun()];
    for (const opts of runs) {
      for (const args of [['--user-parent'], ['-U', '--user-parent'], [`--user=/proc/${pid}/ns/user`, '--user-parent']]) {
        const r = await nsm(['exec', ...args, String(pid), 'sh', '-c', 'readlink /proc/self/ns/user; id -u'], opts);
        expect([r.stderr, r.code], `${args.join(' ')} ${JSON.stringify(opts)}`).toEqual(['', 0]);
        expect(r.stdout.trim().split('\n')).toEqual([parent, '0']);
      }
    }
    // Without it: the target's own.
    const r = await nsm(['exec', String(pid), 'readlink', '/proc/self/ns/user'], userRun());
    expect(r.stdout.trim()).toBe(own);
  });

  it('a target in the initial user namespace has no parent to join: one line, 125', async () => {
    const { pid } = await start(asUser(['unshare', '-U', '-r', 'sleep', '60']));
    // Its user namespace's parent is ours: nothing to join there; the other namespaces are ours too.
    let r = await nsm(['exec', '--user-parent', String(pid), 'readlink', '/proc/self/ns/user'], userRun());
    expect([r.stderr, r.code]).toEqual(['', 0]);
    expect(r.stdout.trim()).toBe(readlinkSync('/proc/self/ns/user'));
    const { pid: top } = await start(asUser(['sleep', '60']));
    r = await nsm(['exec', '--user-parent', String(top), 'true'], userRun());
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/^nsm: PID \d+: --user-parent: its user namespace \(\d+\) has no parent user namespace nsm can see \(the initial one, or outside ours\)\n$/);
  });
});

describe.skipIf(existsSync('/sys/fs/selinux/enforce'))('nsm exec -Z/--follow-context without SELinux (nsenter: nothing to do)', () => {
  it('is accepted and changes nothing else, as util-linux nsenter built with SELinux support does on a host without it', async () => {
    const { pid } = await start(asUser(['unshare', '-U', '-r', '-u', 'sleep', '60']));
    for (const flag of ['-Z', '--follow-context']) {
      const r = await nsm(['exec', flag, String(pid), 'readlink', '/proc/self/ns/uts'], userRun());
      expect([r.stderr, r.code], flag).toEqual(['', 0]);
      expect(r.stdout.trim()).toBe(readlinkSync(`/proc/${pid}/ns/uts`));
    }
  });
});
