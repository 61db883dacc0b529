/**
 * The real scanner (native/scan.c, via scanHost and listNamespaces) on a fake /proc:
 * test/fixtures/proc, made by test/fixtures/make-proc.sh (its header lists what is in it).
 */
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { listNamespaces } from '../../src/core/listing.js';
import { scanHost } from '../../src/core/scan.js';

const procRoot = fileURLToPath(new URL('../fixtures/proc', import.meta.url));
const HOST_NET = 4026531833;

describe.each([1, 2])('scanHost on test/fixtures/proc with %i worker(s)', (jobs) => {
  it('reads every process, the zombie included, and skips non-numeric entries', async () => {
    const scan = await scanHost({ procRoot, jobs });
    expect([...scan.processes.keys()]).toEqual([1, 7, 42, 57, 88, 90]);
    // uid is the owner of /proc/PID: here whoever checked the fixture out.
    expect(scan.processes.get(42)).toMatchObject({ ppid: 1, comm: 'web', startTime: 500, uid: statSync(join(procRoot, '42')).uid });
    expect(scan.processes.get(90)!.ns).toEqual({});
    expect(scan.stats).toEqual({ gone: 0, denied: 0 });
  });

  it('counts processes per namespace (NPROCS) with the lowest PID first', async () => {
    const scan = await scanHost({ procRoot, jobs });
    const ns = (inode: number) => scan.namespaces.find((n) => n.inode === inode)!;
    expect(ns(HOST_NET).pids).toEqual([1, 7, 88]);
    expect(ns(4026532300)).toMatchObject({ type: 'net', pids: [42, 57], fds: [], mounts: [], threads: [] });
    expect(ns(4026531838).pids).toEqual([1, 7, 57, 88]);
    expect(ns(4026531837).pids).toEqual([1, 7, 42, 57, 88]);
  });

  it('finds a thread in a namespace its leader is not in', async () => {
    const scan = await scanHost({ procRoot, jobs });
    expect(scan.namespaces.find((n) => n.inode === 4026532302)).toMatchObject({ type: 'uts', pids: [], threads: [{ pid: 42, tid: 44 }] });
    expect(scan.namespaces.find((n) => n.inode === 4026532301)!.threads).toEqual([]);
  });

  it('finds the fd holder and ignores fds on other files', async () => {
    const scan = await scanHost({ procRoot, jobs });
    expect(scan.namespaces.find((n) => n.inode === 4026532400)).toMatchObject({ type: 'net', pids: [], fds: [{ pid: 88, fd: 3 }] });
    expect(scan.namespaces.flatMap((n) => n.fds)).toEqual([{ pid: 88, fd: 3 }]);
  });

  it('finds the nsfs bind mount from mountinfo', async () => {
    const scan = await scanHost({ procRoot, jobs });
    expect(scan.namespaces.find((n) => n.inode === 4026532500)).toMatchObject({ type: 'net', pids: [], mounts: [{ path: '/run/netns/blue', visible: true }] });
  });

  it('limits the scan to the types asked for', async () => {
    const scan = await scanHost({ procRoot, jobs, types: ['uts'] });
    expect(new Set(scan.namespaces.map((n) => n.type))).toEqual(new Set(['uts']));
    expect(scan.namespaces.map((n) => n.inode)).toEqual([4026531838, 4026532301, 4026532302]);
  });
});

describe('listNamespaces on test/fixtures/proc', () => {
  it('gives lsns columns plus HELD and NAME', async () => {
    const { namespaces } = await listNamespaces({ procRoot, types: ['net'] });
    const rows = namespaces.map((r) => ({ ns: r.ns, nprocs: r.nprocs, pid: r.pid, command: r.command, held: r.held, nsfs: r.nsfs, owners: r.owners.map((o) => `${o.kind}:${o.name}`) }));
    expect(rows).toEqual([
      { ns: HOST_NET, nprocs: 3, pid: 1, command: '/sbin/init', held: ['procs'], nsfs: [], owners: [] },
      { ns: 4026532300, nprocs: 2, pid: 42, command: 'web --port 8080', held: ['procs'], nsfs: [], owners: [] },
      { ns: 4026532400, nprocs: 0, pid: undefined, command: undefined, held: ['fd'], nsfs: [], owners: [] },
      { ns: 4026532500, nprocs: 0, pid: undefined, command: undefined, held: ['mount'], nsfs: ['/run/netns/blue'], owners: ['netns:blue'] },
    ]);
    expect(namespaces[2]!.path).toBe(`${procRoot}/88/fd/3`);
    expect(namespaces[3]!.path).toBe('/run/netns/blue');
  });

  it('-p limits the listing to the namespaces of one process', async () => {
    const { namespaces } = await listNamespaces({ procRoot, pid: 42 });
    expect(namespaces.map((r) => r.ns).sort()).toEqual([4026531832, 4026531834, 4026531835, 4026531836, 4026531837, 4026531839, 4026532300, 4026532301]);
    const user = namespaces.find((r) => r.type === 'user')!;
    // USER is the name of /proc/1's owner: whoever checked the fixture out (root, usually).
    const owner = spawnSync('id', ['-nu', String(statSync(join(procRoot, '1')).uid)], { encoding: 'utf8' }).stdout.trim();
    expect(user).toMatchObject({ nprocs: 5, pid: 1, user: owner });
  });
});
