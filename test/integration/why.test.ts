/**
 * `nsm why` on real namespaces this test makes, held every way (namespaces(7)):
 *
 *   target   a net namespace with a process in it (unshare -n sleep), a thread of another
 *            process (setns(2) in one thread), an fd (exec 3<), a bind mount in a different,
 *            private mount namespace than nsm's, and a socket of a process that went back
 *   owner    a user namespace with no process, alive because it owns a net namespace that an
 *            fd holds
 *
 * `why` must name each holder exactly; the release plan must contain only this test's pids
 * and paths (asserted before it runs); `--release --yes` must leave the namespace gone.
 * Needs root and cc (test/fixtures/nsid-probe.c).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRoot, nsInode, nsm, nsmJson, Processes, ROOT, waitFor } from '../support/run.js';

const hasCc = spawnSync('cc', ['--version']).status === 0;
const procs = new Processes();
let dir = '';
let probe = '';
const s = {} as {
  net: number; procPid: number; threadPid: number; tid: number; fdPid: number; mntPid: number; pin: string; sockPid: number;
  user: number; ownedNet: number; ownedFdPid: number;
};

function track(c: ChildProcess): ChildProcess {
  (procs as unknown as { children: ChildProcess[] }).children.push(c);
  return c;
}

async function startLine(cmd: string, args: string[]): Promise<{ child: ChildProcess; line: string }> {
  const child = track(spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] }));
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (c) => reject(new Error(`${cmd} exited ${c}`)));
  });
  return { child, line };
}

interface Report {
  type: string; inode: number; id?: number; discovered?: string;
  processes: Array<{ pid: number }>; nprocs: number;
  threads: Array<{ pid: number; tid: number }>; fds: Array<{ pid: number; fd: number }>;
  sockets: Array<{ pid: number; fd: number }>; mounts: Array<{ path: string; mntNs?: number; mntNsPid?: number; ours: boolean }>;
  owned: Array<{ type: string; inode: number }>;
  plan: Array<{ argv: string[]; pids: number[]; paths: string[] }>;
}

describe.skipIf(!isRoot || !hasCc)('nsm why on a namespace held every way (root; cc for the probe)', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nsm-why-'));
    probe = join(dir, 'nsid-probe');
    const cc = spawnSync('cc', ['-O2', '-pthread', '-o', probe, join(ROOT, 'test/fixtures/nsid-probe.c')], { encoding: 'utf8' });
    if (cc.status !== 0) throw new Error(`cc: ${cc.stderr}`);

    const p = track(spawn('unshare', ['-n', 'sleep', '1000'], { stdio: 'ignore' }));
    s.procPid = p.pid!;
    s.net = await waitFor('unshare -n', () => readlinkSync(`/proc/${s.procPid}/exe`).endsWith('sleep') && nsInode(s.procPid, 'net'));
    const nsPath = `/proc/${s.procPid}/ns/net`;

    const t = await startLine(probe, ['thread', nsPath]);
    s.threadPid = t.child.pid!;
    s.tid = Number(t.line.split(' ')[1]);

    const fd = track(spawn('sh', ['-c', `exec 3<${nsPath}; exec sleep 1000`], { stdio: 'ignore' }));
    s.fdPid = fd.pid!;
    await waitFor('fd holder', () => readlinkSync(`/proc/${s.fdPid}/exe`).endsWith('sleep'));

    // A bind mount that exists only in a private mount namespace (not nsm's).
    s.pin = join(dir, 'pin');
    writeFileSync(s.pin, '');
    const m = track(spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', `mount --bind ${nsPath} ${s.pin} && exec sleep 1000`], { stdio: 'ignore' }));
    s.mntPid = m.pid!;
    await waitFor('pin in a private mount namespace', () => readlinkSync(`/proc/${s.mntPid}/exe`).endsWith('sleep'));

    s.sockPid = (await startLine(probe, ['sockin', nsPath])).child.pid!;

    // A user namespace whose only tie is the net namespace it owns, which an fd holds.
    const owner = track(spawn('unshare', ['--user', '--map-root-user', '--net', 'sleep', '1000'], { stdio: 'ignore' }));
    s.ownedNet = await waitFor('unshare -U -n', () => readlinkSync(`/proc/${owner.pid}/exe`).endsWith('sleep') && nsInode(owner.pid!, 'net'));
    s.user = nsInode(owner.pid!, 'user')!;
    const ofd = track(spawn('sh', ['-c', `exec 3</proc/${owner.pid}/ns/net; exec sleep 1000`], { stdio: 'ignore' }));
    s.ownedFdPid = ofd.pid!;
    await waitFor('owned-net fd holder', () => readlinkSync(`/proc/${s.ownedFdPid}/exe`).endsWith('sleep'));
    await procs.kill(owner);
  });

  afterAll(async () => {
    await procs.stop();
    if (dir) {
      spawnSync('umount', [s.pin ?? '']);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const ours = () => new Set([s.procPid, s.threadPid, s.fdPid, s.mntPid, s.sockPid, s.ownedFdPid]);

  it('names every holder of the net namespace exactly, and plans only what this test made', () => {
    const r = nsmJson<Report>(['why', String(s.net), '--json']);
    expect(r).toMatchObject({ type: 'net', inode: s.net, nprocs: 1 });
    expect(r.processes).toEqual([{ pid: s.procPid, command: 'sleep 1000' }]);
    expect(r.threads).toContainEqual(expect.objectContaining({ pid: s.threadPid, tid: s.tid }));
    expect(r.fds).toContainEqual(expect.objectContaining({ pid: s.fdPid, fd: 3 }));
    expect(r.sockets).toContainEqual(expect.objectContaining({ pid: s.sockPid }));
    const mount = r.mounts.find((x) => x.path === s.pin);
    expect(mount).toMatchObject({ ours: false, mntNs: nsInode(s.mntPid, 'mnt'), mntNsPid: s.mntPid });
    expect(nsInode(s.mntPid, 'mnt')).not.toBe(nsInode('self', 'mnt'));
    // The same by id, where the kernel has them.
    if (r.id !== undefined) expect(nsmJson<Report>(['why', `nsid:${r.id}`, '--json']).inode).toBe(s.net);
    // Before anything runs: the plan touches only this test's processes and paths.
    for (const step of r.plan) {
      for (const pid of step.pids) expect(ours().has(pid), `${step.argv.join(' ')}`).toBe(true);
      for (const path of step.paths) expect(path).toBe(s.pin);
    }
    expect(r.plan.map((x) => x.argv.join(' '))).toEqual(
      expect.arrayContaining([`nsenter -t ${s.mntPid} -m umount ${s.pin}`, `kill -KILL ${s.procPid}`, `kill -KILL ${s.threadPid}`, `kill -KILL ${s.fdPid}`, `kill -KILL ${s.sockPid}`]),
    );
  });

  it('a user namespace held only by what it owns: found, with the owned namespace and its holder', () => {
    const r = nsmJson<Report>(['why', `ns:${s.user}`, '--json']);
    expect(r).toMatchObject({ type: 'user', inode: s.user, nprocs: 0, discovered: 'owner' });
    expect(r.owned).toContainEqual(expect.objectContaining({ type: 'net', inode: s.ownedNet }));
    for (const step of r.plan) for (const pid of step.pids) expect(ours().has(pid)).toBe(true);
    expect(r.plan.map((x) => x.argv.join(' '))).toEqual([`kill -KILL ${s.ownedFdPid}`]);
  });

  it('--userns-limit: per uid, the user namespaces alive against max_user_namespaces, with this test\'s owner-only one', () => {
    const l = nsmJson<{ maxUserNamespaces: number; users: Array<{ uid: number; count: number; namespaces: Array<{ inode: number; discovered?: string }> }> }>(['why', '--userns-limit', '--json']);
    expect(l.maxUserNamespaces).toBe(Number(readFileSync('/proc/sys/user/max_user_namespaces', 'utf8')));
    const root = l.users.find((u) => u.uid === 0)!;
    expect(root.count).toBe(root.namespaces.length);
    expect(root.namespaces).toContainEqual(expect.objectContaining({ inode: s.user, discovered: 'owner' }));
  });

  it('--release needs --yes without a terminal; --release --yes releases and verifies', () => {
    const no = nsm(['why', String(s.net), '--release']);
    expect(no.status).toBe(2);
    expect(no.stderr).toMatch(/--yes/);
    // The plans were checked above to hold only this test's pids and paths.
    const before = nsmJson<Report>(['why', String(s.net), '--json']);
    for (const step of before.plan) for (const pid of step.pids) expect(ours().has(pid)).toBe(true);
    const done = nsm(['why', String(s.net), '--release', '--yes']);
    expect(done.status, done.stderr).toBe(0);
    expect(done.stdout).toMatch(/released: net:\[\d+\] is gone/);
    // By id where the kernel has one: the freed inode may already belong to another test's namespace.
    const gone = nsm(['why', before.id !== undefined ? `nsid:${before.id}` : String(s.net)]);
    expect(gone.status).toBe(1);
    expect(gone.stderr).toMatch(/not found/);
    const userPlan = nsmJson<Report>(['why', `ns:${s.user}`, '--json']).plan;
    for (const step of userPlan) for (const pid of step.pids) expect(ours().has(pid)).toBe(true);
    const user = nsm(['why', `ns:${s.user}`, '--release', '--yes', '--json']);
    expect(user.status, user.stderr).toBe(0);
    expect(JSON.parse(user.stdout).release.gone).toBe(true);
  });

  it('a namespace that does not exist: exit 1, "not found"', () => {
    const r = nsm(['why', 'nsid:999999999999']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/not found/);
  });
});
