/**
 * ls, inspect, diff, ps and tree against namespaces this test creates on the real kernel:
 *
 *   mountOnly   a net namespace held only by a bind mount (ip netns add)
 *   named       a net namespace from ip netns add with a process in it (ip netns exec ... sleep)
 *   fdOnly      a net namespace held only by an open fd: its process (in a new user namespace
 *               too) has exited; that user namespace then has no process either and is
 *               alive only because it owns fdOnly
 *   inner       a process in new uts, ipc, pid and mount namespaces (PID 1 of its pid namespace)
 *   pinnedAway  a net namespace bind-mounted (unshare --net=FILE) only inside another, private
 *               mount namespace, which a sleeping process keeps alive
 *
 * Everything is removed in afterAll. Needs root (ip netns, unshare of a pid namespace).
 */
import { mkdtempSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listNamespaces } from '../../src/core/listing.js';
import { childrenOf, isRoot, NetnsNames, nsInode, nsm, nsmJson, Processes, waitFor } from '../support/run.js';

const procs = new Processes();
const netns = new NetnsNames();
const tag = `nsmt-rs-${process.pid}`;
const s: {
  mountOnlyName: string;
  mountOnly: number;
  namedName: string;
  named: number;
  namedPid: number;
  fdOnly: number;
  fdOnlyUser: number;
  fdHolder: number;
  inner: number;
  innerPidNs: number;
  pinDir: string;
  pinnedAway: number;
  pinMntNs: number;
} = {} as never;

const HOST_PID_NS = nsInode('self', 'pid');

describe.skipIf(!isRoot)('read side on real namespaces (root: creates net, pid, user namespaces)', () => {
  beforeAll(async () => {
    s.mountOnlyName = netns.add(`${tag}-mount`);
    // stat() of a bind-mounted namespace file gives the namespace's inode.
    s.mountOnly = statSync(`/run/netns/${s.mountOnlyName}`).ino;
    s.namedName = netns.add(`${tag}-named`);
    const named = procs.start('ip', ['netns', 'exec', s.namedName, 'sleep', '1000']);
    s.namedPid = named.pid!;
    s.named = await waitFor('ip netns exec', () => {
      const ino = nsInode(s.namedPid, 'net');
      return ino !== nsInode('self', 'net') && readlinkSync(`/proc/${s.namedPid}/exe`).endsWith('sleep') && ino;
    });

    const owner = procs.start('unshare', ['--user', '--map-root-user', '--net', 'sleep', '1000']);
    s.fdOnly = await waitFor('unshare --user --net', () => {
      const ino = nsInode(owner.pid!, 'net');
      return ino !== nsInode('self', 'net') && ino;
    });
    s.fdOnlyUser = nsInode(owner.pid!, 'user')!;
    const holder = procs.start('sh', ['-c', `exec 3</proc/${owner.pid}/ns/net; exec sleep 1000`]);
    s.fdHolder = holder.pid!;
    await waitFor('fd holder', () => {
      try {
        return readlinkSync(`/proc/${s.fdHolder}/fd/3`) === `net:[${s.fdOnly}]`;
      } catch {
        return false;
      }
    });
    await procs.kill(owner);

    const unshare = procs.start('unshare', ['--uts', '--ipc', '--pid', '--fork', '--mount-proc', 'sleep', '1000']);
    s.inner = await waitFor('the pid namespace init', () => {
      const [child] = childrenOf(unshare.pid!);
      return child !== undefined && nsInode(child, 'pid') !== HOST_PID_NS && readlinkSync(`/proc/${child}/exe`).endsWith('sleep') && child;
    });
    procs.adopt(s.inner);
    s.innerPidNs = nsInode(s.inner, 'pid')!;

    // The directory is made on the host; the tmpfs and the pin exist only in the new mount namespace.
    s.pinDir = mkdtempSync(join(tmpdir(), 'nsmt-pin-'));
    const pin = procs.start('unshare', ['--mount', '--propagation', 'private', 'sh', '-c',
      `mount -t tmpfs none ${s.pinDir} && touch ${s.pinDir}/net && unshare --net=${s.pinDir}/net true && exec sleep 1000`]);
    s.pinnedAway = await waitFor('the pin', () => {
      try {
        return readlinkSync(`/proc/${pin.pid}/exe`).endsWith('sleep') && statSync(`/proc/${pin.pid}/root${s.pinDir}/net`).ino;
      } catch {
        return false;
      }
    });
    s.pinMntNs = nsInode(pin.pid!, 'mnt')!;
  });

  afterAll(async () => {
    await procs.stop();
    netns.removeAll();
    if (s.pinDir) rmSync(s.pinDir, { recursive: true, force: true });
  });

  describe('ls', () => {
    const columns = ['-o', 'NS,TYPE,NPROCS,PID,HELD,NAME,NSFS,COMMAND'];

    it('lists the bind-mount-only net namespace: HELD mount, NAME netns:NAME, NSFS /run/netns/NAME', () => {
      const { namespaces } = nsmJson(['ls', '-t', 'net', ...columns, '--json']);
      const row = namespaces.find((r: any) => r.name === `netns:${s.mountOnlyName}`);
      expect(row).toBeDefined();
      expect(row).toMatchObject({ type: 'net', nprocs: 0, pid: null, held: ['mount'], command: null });
      expect(row.ns).toBe(s.mountOnly);
      expect(row.nsfs.split(',')).toContain(`/run/netns/${s.mountOnlyName}`);
    });

    it('lists the fd-only net namespace: HELD fd, no process', () => {
      const { namespaces } = nsmJson(['ls', '-t', 'net', ...columns, '--json']);
      expect(namespaces.find((r: any) => r.ns === s.fdOnly)).toMatchObject({ type: 'net', nprocs: 0, pid: null, held: ['fd'], name: null });
    });

    it('lists a net namespace pinned only in another mount namespace, with -t net as without', () => {
      const expected = { ns: s.pinnedAway, type: 'net', nprocs: 0, pid: null, held: ['mount'], nsfs: `${s.pinDir}/net (mnt:${s.pinMntNs})` };
      const all = nsmJson(['ls', ...columns, '--json']).namespaces;
      const net = nsmJson(['ls', '-t', 'net', ...columns, '--json']).namespaces;
      expect(all.find((r: any) => r.ns === s.pinnedAway)).toMatchObject(expected);
      expect(net.find((r: any) => r.ns === s.pinnedAway)).toMatchObject(expected);
    });

    it('the library finds it with types: [net] too (no early scan there)', async () => {
      const { namespaces } = await listNamespaces({ types: ['net'] });
      expect(namespaces.find((r) => r.ns === s.pinnedAway)).toMatchObject({ nprocs: 0, held: ['mount'], nsfs: [`${s.pinDir}/net (mnt:${s.pinMntNs})`] });
    });

    it('lists an ip-netns namespace with a process in it under its name, held by both', () => {
      const { namespaces } = nsmJson(['ls', '-t', 'net', ...columns, '--json']);
      expect(namespaces.find((r: any) => r.ns === s.named)).toMatchObject({ nprocs: 1, pid: s.namedPid, held: ['procs', 'mount'], name: `netns:${s.namedName}`, command: 'sleep 1000' });
    });

    it('counts the new pid namespace with its one process', () => {
      const { namespaces } = nsmJson(['ls', '-p', String(s.inner), '--json']);
      expect(namespaces.find((r: any) => r.type === 'pid')).toMatchObject({ ns: s.innerPidNs, nprocs: 1, pid: s.inner, command: 'sleep 1000' });
      expect(namespaces.map((r: any) => r.type).sort()).toEqual(['cgroup', 'ipc', 'mnt', 'net', 'pid', 'time', 'user', 'uts']);
    });

    it('prints the human listing with the names and the held column', () => {
      const r = nsm(['ls', '-t', 'net', '-o', '+HELD']);
      expect(r.status).toBe(0);
      // With -t net the defaults gain NETNSID and NSFS after USER, as lsns -t net.
      expect(r.stdout).toMatch(new RegExp(`^\\s*${s.mountOnly} net\\s+0\\s+(\\S+\\s+)?/run/netns/${s.mountOnlyName}\\s+netns:${s.mountOnlyName}\\s+mount$`, 'm'));
      expect(r.stdout).toMatch(new RegExp(`^\\s*${s.fdOnly} net\\s+0\\s+(\\S+\\s+)?fd$`, 'm'));
    });
  });

  describe('inspect', () => {
    it('reports each namespace as host or isolated, the NSpid chain and the command', () => {
      const doc = nsmJson(['inspect', String(s.inner), '--json']);
      expect(doc.schemaVersion).toBe(1);
      expect(doc).toMatchObject({ pid: s.inner, command: 'sleep 1000', comm: 'sleep', uid: 0, user: 'root', uidMap: null, gidMap: null });
      expect(['pid1', 'kthreadd', 'initial-inodes']).toContain(doc.reference.kind);
      const sharing = Object.fromEntries(doc.namespaces.map((n: any) => [n.entry, n.sharing]));
      expect(sharing).toEqual({
        user: 'host', cgroup: 'host', net: 'host', time: 'host', time_for_children: 'host',
        uts: 'isolated', ipc: 'isolated', pid: 'isolated', pid_for_children: 'isolated', mnt: 'isolated',
      });
      const pidEntry = doc.namespaces.find((n: any) => n.entry === 'pid');
      expect(pidEntry).toMatchObject({ type: 'pid', ns: s.innerPidNs, reference: HOST_PID_NS, owner: nsInode('self', 'user') });
      expect(doc.nspid).toEqual([{ pid: s.inner, ns: HOST_PID_NS }, { pid: 1, ns: s.innerPidNs }]);
      expect(doc.cgroups.length).toBeGreaterThan(0);
    });

    it('names the owner of a namespace (ip netns) and shows the human table', () => {
      const doc = nsmJson(['inspect', String(s.namedPid), '--json']);
      const net = doc.namespaces.find((n: any) => n.entry === 'net');
      expect(net).toMatchObject({ ns: s.named, sharing: 'isolated', owners: [{ kind: 'netns', name: s.namedName }] });
      expect(doc.owners).toEqual([{ kind: 'netns', id: s.namedName, name: s.namedName, type: 'net', ns: s.named }]);
      const human = nsm(['info', String(s.namedPid)]);
      expect(human.status).toBe(0);
      expect(human.stdout).toMatch(/│ NAMESPACE\s+│\s+INODE │ HOST\?/);
      expect(human.stdout).toMatch(new RegExp(`│ net\\s+│ ${s.named} │ isolated │.*netns:${s.namedName}`));
      expect(human.stdout).toMatch(/host = /);
    });

    it('shows a non-identity uid map of a process in a user namespace', async () => {
      const child = procs.start('unshare', ['--user', '--map-root-user', 'sleep', '1000']);
      await waitFor('uid map', () => nsInode(child.pid!, 'user') !== nsInode('self', 'user'));
      await waitFor('uid map written', () => nsmJson(['inspect', String(child.pid), '--json']).uidMap !== null);
      const doc = nsmJson(['inspect', String(child.pid), '--json']);
      expect(doc.uidMap).toEqual([{ inside: 0, outside: 0, count: 1 }]);
      expect(doc.namespaces.find((n: any) => n.entry === 'user').sharing).toBe('isolated');
      expect(doc.namespaces.find((n: any) => n.entry === 'uts').owner).toBe(nsInode('self', 'user'));
      await procs.kill(child);
    });

    it('reports a zombie: its user and pid namespaces remain, the others are gone', async () => {
      // The background sleep's parent becomes `sleep 1000`, which never reaps it.
      const parent = procs.start('sh', ['-c', 'sleep 0.05 & exec sleep 1000']);
      const zombie = await waitFor('a zombie', () => {
        const [child] = childrenOf(parent.pid!);
        return child !== undefined && / Z /.test(readFileSync(`/proc/${child}/stat`, 'utf8').replace(/^.*\)/, '')) && child;
      });
      const doc = nsmJson(['inspect', String(zombie), '--json']);
      expect(doc.state).toBe('Z');
      const byEntry = Object.fromEntries(doc.namespaces.map((n: any) => [n.entry, n]));
      expect(byEntry.pid).toMatchObject({ ns: HOST_PID_NS, sharing: 'host' });
      expect(byEntry.net).toMatchObject({ ns: null, sharing: 'unknown', error: 'ENOENT' });
      expect(nsm(['inspect', String(zombie)]).stdout).toContain('a zombie: it has exited');
      // Asked only for types it has left: one line, exit 2 (diff(1)'s "trouble").
      expect(nsm(['diff', '-t', 'net', String(zombie), String(parent.pid)])).toEqual({
        status: 2,
        stdout: '',
        stderr: `nsm: PID ${zombie}: a zombie (exited, not yet reaped): it has left these namespaces\n`,
      });
      await procs.kill(parent);
    });

    it('fails in one line, exit 1, for a PID that does not exist', () => {
      const r = nsm(['inspect', '4194000']);
      expect(r.status).toBe(1);
      expect(r.stderr).toBe('nsm: PID 4194000: no such process\n');
    });
  });

  describe('diff', () => {
    /** `nsm diff --json` of two processes that differ: exit 1 (diff(1)), the JSON on stdout. */
    const differing = (args: string[]) => {
      const r = nsm(args);
      expect(r.status, r.stderr).toBe(1);
      return JSON.parse(r.stdout);
    };

    it('compares every type with both inodes and counts', () => {
      const doc = differing(['diff', String(s.fdHolder), String(s.inner), '--json']);
      expect(doc.summary).toEqual({ same: 4, different: 4, unknown: 0 });
      expect(doc.allShared).toBe(false);
      const pid = doc.types.find((t: any) => t.type === 'pid');
      expect(pid).toEqual({ type: 'pid', a: HOST_PID_NS, b: s.innerPidNs, status: 'different', errorA: null, errorB: null });
      expect(doc.types.filter((t: any) => t.status === 'different').map((t: any) => t.type).sort()).toEqual(['ipc', 'mnt', 'pid', 'uts']);
    });

    it('-q answers with the exit status only; -t limits the types', () => {
      const all = nsm(['diff', '-q', String(s.fdHolder), String(s.inner)]);
      expect(all).toEqual({ status: 1, stdout: '', stderr: '' });
      const shared = nsm(['diff', '-q', '-t', 'net,user', '-t', 'cgroup', String(s.fdHolder), String(s.inner)]);
      expect(shared).toEqual({ status: 0, stdout: '', stderr: '' });
      const limited = differing(['compare', '-t', 'net', String(s.namedPid), String(s.inner), '--json']);
      expect(limited.types).toHaveLength(1);
      expect(limited.summary).toEqual({ same: 0, different: 1, unknown: 0 });
    });

    it('prints the human table and the summary', () => {
      const r = nsm(['diff', String(s.fdHolder), String(s.inner)]);
      expect(r.status).toBe(1); // diff(1): different
      expect(r.stdout).toMatch(new RegExp(`│ pid\\s+│ ${HOST_PID_NS} │ ${s.innerPidNs} │ different │`));
      expect(r.stdout).toContain('4 shared, 4 different (of 8 compared)');
    });
  });

  describe('ps', () => {
    it('groups by pid namespace with no arguments', () => {
      const doc = nsmJson(['ps', '--json']);
      expect(doc.type).toBe('pid');
      const inner = doc.namespaces.find((g: any) => g.ns === s.innerPidNs);
      expect(inner).toMatchObject({ type: 'pid', nprocs: 1, held: ['procs'], processes: [{ pid: s.inner, command: 'sleep 1000', user: 'root' }] });
      const host = doc.namespaces.find((g: any) => g.ns === HOST_PID_NS);
      expect(host.processes.length).toBe(host.nprocs);
      expect(host.processes.some((p: any) => p.pid === s.fdHolder)).toBe(true);
    });

    it('-t net shows namespaces held without processes, with owners; -p limits to one', () => {
      const doc = nsmJson(['ps', '-t', 'net', '--json']);
      expect(doc.namespaces.find((g: any) => g.ns === s.mountOnly)).toMatchObject({ nprocs: 0, held: ['mount'], owners: [{ kind: 'netns', name: s.mountOnlyName }], processes: [] });
      expect(doc.namespaces.find((g: any) => g.ns === s.fdOnly)).toMatchObject({ nprocs: 0, held: ['fd'] });
      const one = nsmJson(['procs', '-t', 'net', '-p', String(s.namedPid), '--json']);
      expect(one.namespaces).toHaveLength(1);
      expect(one.namespaces[0]).toMatchObject({ ns: s.named, nprocs: 1, processes: [{ pid: s.namedPid }], owners: [{ name: s.namedName }] });
      expect(one.target).toEqual({ pid: s.namedPid, label: `PID ${s.namedPid}` });
    });

    it('shortens long groups in human output and says so', () => {
      const r = nsm(['ps', '--limit', '2']);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/… [\d,]+ more \(use --json or --all\)/);
      const all = nsm(['ps', '--all']);
      expect(all.stdout).not.toMatch(/more \(use --json or --all\)/);
    });
  });

  describe('tree', () => {
    it('owner view: the user namespace alive only through what it owns is shown and marked', () => {
      const doc = nsmJson(['tree', '--json']);
      expect(doc.view).toBe('owner');
      const flat: any[] = [];
      const walk = (n: any, parent?: any): void => {
        flat.push({ ...n, parentNs: parent?.ns });
        n.children.forEach((c: any) => walk(c, n));
      };
      doc.roots.forEach((r: any) => walk(r));
      const ghost = flat.find((n) => n.ns === s.fdOnlyUser);
      expect(ghost).toMatchObject({ type: 'user', nprocs: 0, discovered: 'owner', parentNs: nsInode('self', 'user') });
      expect(ghost.children.map((c: any) => c.ns)).toEqual([s.fdOnly]);
      expect(flat.find((n) => n.ns === s.innerPidNs)).toMatchObject({ type: 'pid', nprocs: 1, parentNs: nsInode('self', 'user') });
      expect(doc.counts.net).toBeGreaterThanOrEqual(4);
      expect(doc.counts.user).toBeGreaterThanOrEqual(2);
    });

    it('parent view: the new pid namespace under the host one', () => {
      const doc = nsmJson(['tree', '-T', 'parent', '--json']);
      const hostPid = doc.roots.find((r: any) => r.ns === HOST_PID_NS);
      expect(hostPid.children.map((c: any) => c.ns)).toContain(s.innerPidNs);
      expect(doc.roots.every((r: any) => r.type === 'pid' || r.type === 'user')).toBe(true);
    });

    it('process view: processes under their namespace', () => {
      const doc = nsmJson(['tree', '-T', 'process', '--json']);
      const hostPid = doc.roots.find((r: any) => r.ns === HOST_PID_NS);
      const inner = hostPid.children.find((c: any) => c.ns === s.innerPidNs);
      expect(inner.processes).toEqual([{ pid: s.inner, ppid: expect.any(Number), comm: 'sleep', children: [] }]);
    });

    it('human output: the marked user namespace and the count bars', () => {
      const r = nsm(['tree']);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`user:\\[${s.fdOnlyUser}\\].*no process: alive because it owns others`));
      expect(r.stdout).toMatch(/^namespaces by type$/m);
      expect(r.stdout).toMatch(/^ {2}net\s+\d+ █+$/m);
    });
  });
});
