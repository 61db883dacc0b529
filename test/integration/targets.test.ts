/**
 * One target grammar (issue 12 §1, §2, §4): exec/enter into a process, a netns name, a
 * namespace file, pid:/env: forms; a PID gone or reused between lookup and join is refused;
 * rootless users enter their own processes and are refused others'. Real kernel, processes
 * started here and killed by pid, `ip netns` names unique and deleted afterwards.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readlinkSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { openTarget } from '../../src/core/target.js';
import { ProcFs } from '../../src/sys/procfs.js';
import type { ProcStat } from '../../src/sys/parse.js';
import { cleanup, create, isRoot, nsm, ROOTLESS_UID, startUntilSleep, stateDir, uniqueName, waitFor } from './lifecycle-helpers.js';

const TYPES = ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'time', 'user', 'uts'];
const READ_NS = `for t in ${TYPES.join(' ')}; do readlink /proc/self/ns/$t; done`;

const procs: ChildProcess[] = [];
const netnsNames: string[] = [];

afterEach(async () => {
  for (const p of procs.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  for (const n of netnsNames.splice(0)) spawnSync('ip', ['netns', 'delete', n]);
  await cleanup();
});

/** Start `argv` (optionally as `uid`) and wait until it has left our user/net/uts namespaces (it execs sleep). */
function nsOf(pid: number | 'self'): string[] {
  return TYPES.map((t) => readlinkSync(`/proc/${pid}/ns/${t}`));
}

/**
 * A net namespace file joined alone gets ip netns exec's private mount namespace: `lines`
 * are `want` except mnt, which must be a new one (neither ours nor anyone's we named).
 */
function expectNetnsExec(lines: string[], want: string[]): void {
  const mnt = TYPES.indexOf('mnt');
  expect(lines.filter((_, i) => i !== mnt)).toEqual(want.filter((_, i) => i !== mnt));
  expect(lines[mnt]).toMatch(/^mnt:\[\d+\]$/);
  expect(lines[mnt]).not.toBe(nsOf('self')[mnt]);
}

describe.skipIf(!isRoot)('exec into targets (root only: unshare -n and ip netns need it)', () => {
  it('a PID: the command runs in exactly the namespaces of that process', async () => {
    const pid = await startUntilSleep(['unshare', '-n', '-u', '-i', 'sleep', '60']);
    const want = nsOf(pid);
    expect(want).not.toEqual(nsOf('self'));
    for (const form of [String(pid), `pid:${pid}`]) {
      const r = await nsm(['exec', form, '--', 'sh', '-c', READ_NS]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout.trim().split('\n')).toEqual(want);
    }
    // -t limits the types: only the network namespace, the rest stays ours.
    const r = await nsm(['exec', '-t', 'net', String(pid), '--', 'sh', '-c', READ_NS]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual(nsOf('self').map((l, i) => (TYPES[i] === 'net' ? want[i]! : l)));
    // enter takes the same target; exit statuses pass through.
    expect((await nsm(['enter', String(pid), 'sh', '-c', 'exit 7'])).code).toBe(7);
  });

  it('a process with a user namespace of its own: joined too (through the helper), as nsenter -a', async () => {
    const pid = await startUntilSleep(['unshare', '-r', '-n', 'sleep', '60']);
    const r = await nsm(['exec', String(pid), '--', 'sh', '-c', `id -u; ${READ_NS}`]);
    expect(r.stderr).toBe('');
    const [uid, ...ns] = r.stdout.trim().split('\n');
    expect(uid).toBe('0');
    expect(ns).toEqual(nsOf(pid));
  });

  it('netns:NAME and a /run/netns path: that network namespace, nothing else', async () => {
    const name = uniqueName('tg');
    expect(spawnSync('ip', ['netns', 'add', name]).status).toBe(0);
    netnsNames.push(name);
    const inode = statSync(`/run/netns/${name}`).ino;
    const want = nsOf('self').map((l, i) => (TYPES[i] === 'net' ? `net:[${inode}]` : l));
    for (const form of [`netns:${name}`, `/run/netns/${name}`]) {
      const r = await nsm(['exec', form, '--', 'sh', '-c', READ_NS]);
      expect(r.stderr).toBe('');
      expectNetnsExec(r.stdout.trim().split('\n'), want);
    }
    // A /proc/PID/ns/TYPE path names one namespace of a process.
    const pid = await startUntilSleep(['unshare', '-u', '-n', 'sleep', '60']);
    const r = await nsm(['exec', `/proc/${pid}/ns/uts`, '--', 'sh', '-c', READ_NS]);
    expect(r.stdout.trim().split('\n')).toEqual(nsOf('self').map((l, i) => (TYPES[i] === 'uts' ? readlinkSync(`/proc/${pid}/ns/uts`) : l)));
    // Not a namespace file, no such name: one line, 125.
    const bad = await nsm(['exec', '/etc/hostname', 'true']);
    expect([bad.code, bad.stderr]).toEqual([125, 'nsm: /etc/hostname: not a namespace file (nsfs: /proc/PID/ns/TYPE or a bind mount of one)\n']);
    const gone = await nsm(['exec', `netns:${name}-none`, 'true']);
    expect(gone.code).toBe(125);
    expect(gone.stderr).toMatch(new RegExp(`^nsm: netns:${name}-none: no such ip netns name\n`));
  });

  it('env:NAME is the environment, as NAME', async () => {
    const dir = stateDir();
    const name = uniqueName('tg');
    const env = await create(name, ['-t', 'uts,net'], { stateDir: dir });
    const r = await nsm(['exec', `env:${name}`, '--', 'sh', '-c', 'echo $NSM_ENV; readlink /proc/self/ns/net'], { stateDir: dir });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`${name}\nnet:[${env.namespaces.net}]\n`);
  });
});

describe.skipIf(!isRoot)('ps -p, inspect, diff take the same targets (root only: ip netns add)', () => {
  it('ps -t net -p netns:NAME is ip netns pids NAME; pid: forms in inspect and diff', async () => {
    const name = uniqueName('tg');
    expect(spawnSync('ip', ['netns', 'add', name]).status).toBe(0);
    netnsNames.push(name);
    const pid = await startUntilSleep(['ip', 'netns', 'exec', name, 'sleep', '60']);
    for (const form of [`netns:${name}`, `/run/netns/${name}`, `pid:${pid}`]) {
      const r = await nsm(['ps', '-t', 'net', '-p', form, '--json']);
      expect(r.stderr).toBe('');
      const doc = JSON.parse(r.stdout);
      expect(doc.namespaces.map((n: { ns: number }) => n.ns)).toEqual([statSync(`/run/netns/${name}`).ino]);
      expect(doc.namespaces[0].processes.map((p: { pid: number }) => p.pid)).toEqual([pid]);
    }
    const wrong = await nsm(['ps', '-t', 'uts', '-p', `netns:${name}`]);
    expect([wrong.code, wrong.stderr]).toEqual([2, `nsm: netns:${name} is a net namespace, not uts\n`]);
    const inspect = await nsm(['inspect', '--json', `pid:${pid}`]);
    expect(inspect.stderr).toBe('');
    expect(JSON.parse(inspect.stdout).pid).toBe(pid);
    const diff = await nsm(['diff', '-q', '-t', 'net', `pid:${pid}`, String(pid)]);
    expect(diff.code).toBe(0);
    // A namespace without a process: what its file tells (test/integration/inspect-namespace.test.ts).
    const noProcess = await nsm(['inspect', `netns:${name}`]);
    expect(noProcess.code).toBe(0);
    expect(noProcess.stdout).toContain(`net:[${statSync(`/run/netns/${name}`).ino}]`);
  });
});

describe.skipIf(!isRoot)('targets found by a scan: ns:INODE, nsid:ID, owners (root only: unshare -n, cgroups made and moved into)', () => {
  it('ns:INODE and nsid:ID join that namespace through a process that holds it', async () => {
    const pid = await startUntilSleep(['unshare', '-n', 'sleep', '60']);
    const inode = statSync(`/proc/${pid}/ns/net`).ino;
    const want = nsOf('self').map((l, i) => (TYPES[i] === 'net' ? `net:[${inode}]` : l));
    const r = await nsm(['exec', `ns:${inode}`, '--', 'sh', '-c', READ_NS]);
    expect(r.stderr).toBe('');
    expectNetnsExec(r.stdout.trim().split('\n'), want);
    const listed = JSON.parse((await nsm(['ls', '-t', 'net', '--json'])).stdout).namespaces.find((n: { ns: number }) => n.ns === inode);
    const id: number | undefined = listed?.nsid ?? listed?.id;
    if (id !== undefined) {
      const byId = await nsm(['exec', `nsid:${id}`, '--', 'readlink', '/proc/self/ns/net']);
      expect(byId.stdout).toBe(`net:[${inode}]\n`);
    }
    const none = await nsm(['exec', 'ns:1', 'true']);
    expect([none.code, none.stderr.split('\n')[0]]).toEqual([125, 'nsm: ns:1: no such namespace on this host (or none visible to you)']);
  });

  const v2 = ['/sys/fs/cgroup/unified', '/sys/fs/cgroup'].find((d) => existsSync(`${d}/cgroup.controllers`));
  it.skipIf(!v2)('docker:ID is the container\'s init (its cgroup as docker names it); an ambiguous prefix lists the candidates, exit 2', async () => {
    const prefix = randomBytes(3).toString('hex');
    const ids = [prefix + randomBytes(29).toString('hex').slice(0, 58), prefix + randomBytes(29).toString('hex').slice(0, 58)];
    const top = `${v2}/nsm-targets-test-${randomBytes(4).toString('hex')}`;
    const dirs = [top, `${top}/system.slice`, ...ids.map((id) => `${top}/system.slice/docker-${id}.scope`)];
    const pids: number[] = [];
    try {
      for (const d of dirs) mkdirSync(d);
      for (const id of ids) {
        const pid = await startUntilSleep(['unshare', '-n', '-u', 'sleep', '60']);
        writeFileSync(`${top}/system.slice/docker-${id}.scope/cgroup.procs`, String(pid));
        pids.push(pid);
      }
      const r = await nsm(['exec', `docker:${ids[0]!.slice(0, 12)}`, '--', 'sh', '-c', READ_NS]);
      expect(r.stderr).toBe('');
      expect(r.stdout.trim().split('\n')).toEqual(nsOf(pids[0]!));
      // A usage error (2) where the command reads; exec's own failures are all 125.
      expect((await nsm(['exec', `docker:${prefix}`, 'true'])).code).toBe(125);
      const ambiguous = await nsm(['ps', '-t', 'net', '-p', `docker:${prefix}`]);
      expect(ambiguous.code).toBe(2);
      expect(ambiguous.stderr).toMatch(new RegExp(`^nsm: docker:${prefix} is ambiguous: docker:${ids[0]!.slice(0, 12)}, docker:${ids[1]!.slice(0, 12)}\n$|^nsm: docker:${prefix} is ambiguous: docker:${ids[1]!.slice(0, 12)}, docker:${ids[0]!.slice(0, 12)}\n$`));
      const ps = JSON.parse((await nsm(['ps', '-t', 'net', '-p', `docker:${ids[1]!.slice(0, 12)}`, '--json'])).stdout);
      expect(ps.namespaces[0].processes.map((p: { pid: number }) => p.pid)).toEqual([pids[1]]);
    } finally {
      for (const p of procs.splice(0)) {
        p.kill('SIGKILL');
        await new Promise((r) => (p.exitCode !== null || p.signalCode !== null ? r(null) : p.once('exit', r)));
      }
      for (const d of dirs.reverse()) {
        for (let i = 0; i < 50 && existsSync(d); i++) {
          try {
            rmdirSync(d);
          } catch {
            await new Promise((r) => setTimeout(r, 20));
          }
        }
      }
    }
  });
});

describe('a process that is gone or changed is refused', () => {
  it('a dead PID: one line, exit 125', async () => {
    const p = spawn('true');
    await new Promise((r) => p.on('close', r));
    const r = await nsm(['exec', String(p.pid), 'true']);
    expect(r.stderr).toBe(`nsm: PID ${p.pid}: no such process\n`);
    expect(r.code).toBe(125);
  });

  it('a PID reused between the first look and the open files: refused, no fd left open', async () => {
    const pid = await startUntilSleep(['sleep', '60']);
    // A /proc/PID/stat that tells another start time the second time: the pid was reused.
    class Reused extends ProcFs {
      reads = 0;
      override readStat(p: number): ProcStat {
        const s = super.readStat(p);
        return { ...s, startTime: s.startTime + (this.reads++ > 0 ? 1 : 0) };
      }
    }
    const before = readdirSync('/proc/self/fd').length;
    let error: unknown;
    try {
      openTarget({ kind: 'pid', pid }, { procfs: new Reused() });
    } catch (err) {
      error = err;
    }
    expect(error).toMatchObject({ exitCode: 125, message: `PID ${pid}: exited (or its pid was reused) while nsm opened its namespaces: nothing joined` });
    expect(readdirSync('/proc/self/fd').length).toBe(before);
    // Unchanged, it opens.
    const opened = openTarget({ kind: 'pid', pid });
    expect(opened.namespaces.map((n) => n.type)).toContain('net');
    opened.close();
  });
});

describe.skipIf(!isRoot)('rootless, as uid 65534 (root only: switching to two users needs root)', () => {
  it("a user enters their own unshare -r process, and is refused another user's", async () => {
    const own = await startUntilSleep(['unshare', '-r', '-n', '-u', 'sleep', '60'], ROOTLESS_UID);
    const dir = stateDir(ROOTLESS_UID);
    const r = await nsm(['exec', String(own), '--', 'sh', '-c', `id -u; ${READ_NS}`], { uid: ROOTLESS_UID, stateDir: dir });
    expect(r.stderr).toBe('');
    const [uid, ...ns] = r.stdout.trim().split('\n');
    expect(uid).toBe('0');
    expect(ns).toEqual(nsOf(own));
    // -t net: the user namespace comes along (it owns the network namespace).
    const t = await nsm(['exec', '-t', 'net', String(own), '--', 'readlink', '/proc/self/ns/net'], { uid: ROOTLESS_UID, stateDir: dir });
    expect(t.stdout).toBe(`${readlinkSync(`/proc/${own}/ns/net`)}\n`);

    const theirs = await startUntilSleep(['unshare', '-n', 'sleep', '60']);
    const refused = await nsm(['exec', String(theirs), 'true'], { uid: ROOTLESS_UID, stateDir: dir });
    expect(refused.stderr).toBe(`nsm: PID ${theirs}: permission denied: its namespaces are another user's (ptrace access, proc(5))\n`);
    expect(refused.code).toBe(125);
  });
});
