/**
 * nsenter(1)'s whole job on exec/enter (issue 12 §2) and ip netns exec's mounts (§3b):
 * per-type flags with optional files, -S/-G, --preserve-credentials, --keep-caps, -r, -w,
 * --wdns, -e, --join-cgroup, -F; each observed inside. Real kernel: targets are `unshare`
 * processes and `ip netns add` names made here, killed by pid and deleted afterwards.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, create, isRoot, nsm, stateDir, uniqueName, waitFor } from './lifecycle-helpers.js';

const TYPES = ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'time', 'user', 'uts'];
const READ_NS = `for t in ${TYPES.join(' ')}; do readlink /proc/self/ns/$t; done`;

const procs: ChildProcess[] = [];
const undo: Array<() => void> = [];

afterEach(async () => {
  for (const p of procs.splice(0)) {
    if (p.exitCode === null && p.signalCode === null) {
      p.kill('SIGKILL');
      await new Promise((r) => p.once('exit', r));
    }
  }
  for (const u of undo.splice(0).reverse()) {
    try {
      u();
    } catch {
      // best effort: the next step still runs
    }
  }
  await cleanup();
});

/** Start `argv` and wait until it execs `comm` (sleep by default); its pid. */
async function start(argv: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; comm?: string } = {}): Promise<number> {
  const p = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore', cwd: opts.cwd, env: opts.env ?? process.env });
  procs.push(p);
  const pid = p.pid!;
  await waitFor(() => {
    try {
      return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === (opts.comm ?? 'sleep');
    } catch {
      return false;
    }
  }, `${argv.join(' ')} to start`);
  return pid;
}

const nsOf = (pid: number | 'self'): string[] => TYPES.map((t) => readlinkSync(`/proc/${pid}/ns/${t}`));
const lines = (s: string): string[] => s.trim().split('\n');
/** ours, with the types of `from` taken from that list. */
const mix = (ours: string[], from: Record<string, string[]>): string[] =>
  ours.map((l, i) => {
    for (const [types, list] of Object.entries(from)) if (types.split(',').includes(TYPES[i]!)) return list[i]!;
    return l;
  });

function netnsAdd(): string {
  const name = uniqueName('nse');
  expect(spawnSync('ip', ['netns', 'add', name]).status).toBe(0);
  undo.push(() => spawnSync('ip', ['netns', 'delete', name]));
  return name;
}

describe.skipIf(!isRoot)('nsenter options on exec (root only: unshare -n, ip netns, chroot)', () => {
  it('-n, -u, ... join that type of the target; --net=FILE takes it from a file, mixed with the rest; -n never eats the target', async () => {
    const pid = await start(['unshare', '-n', '-u', '-i', 'sleep', '60']);
    const target = nsOf(pid);
    const ours = nsOf('self');
    // -n PID: getopt's rule, the next word is not -n's FILE.
    let r = await nsm(['exec', '-n', String(pid), 'sh', '-c', READ_NS]);
    expect(r.stderr).toBe('');
    expect(lines(r.stdout)).toEqual(mix(ours, { net: target }));
    r = await nsm(['exec', '-u', '--ipc', String(pid), 'sh', '-c', READ_NS]);
    expect(lines(r.stdout)).toEqual(mix(ours, { 'uts,ipc': target }));
    // combinable with -t
    r = await nsm(['exec', '-t', 'uts', '-i', String(pid), 'sh', '-c', READ_NS]);
    expect(lines(r.stdout)).toEqual(mix(ours, { 'uts,ipc': target }));
    // --net=FILE alone: everything of the target's that nsenter -a joins, net from the file.
    const name = netnsAdd();
    const file = [...ours];
    file[TYPES.indexOf('net')] = `net:[${statSync(`/run/netns/${name}`).ino}]`;
    r = await nsm(['exec', `--net=/run/netns/${name}`, String(pid), 'sh', '-c', READ_NS]);
    expect(r.stderr).toBe('');
    expect(lines(r.stdout)).toEqual(mix(ours, { 'uts,ipc': target, net: file }));
    // -nFILE (attached) with -u: uts from the target, net from the file, ipc ours.
    r = await nsm(['exec', `-n/run/netns/${name}`, '-u', String(pid), 'sh', '-c', READ_NS]);
    expect(lines(r.stdout)).toEqual(mix(ours, { uts: target, net: file }));
    // A file of another type: one line, 125.
    r = await nsm(['exec', `--uts=/run/netns/${name}`, String(pid), 'true']);
    expect(r.code).toBe(125);
    expect(lines(r.stderr)[0]).toMatch(/is a net namespace, not uts$/);
  });

  it('-S/-G set the ids (supplementary groups dropped), follow takes the target\'s; without them the caller\'s stay', async () => {
    const pid = await start(['unshare', '-u', 'sleep', '60']);
    let r = await nsm(['exec', '-S', '65534', '-G', '65534', String(pid), 'sh', '-c', 'id -u; id -g; id -G']);
    expect(r.stderr).toBe('');
    expect(lines(r.stdout)).toEqual(['65534', '65534', '65534']);
    r = await nsm(['exec', '-G', '65534', String(pid), 'sh', '-c', 'id -u; id -g; id -G']);
    expect(lines(r.stdout)).toEqual(['0', '65534', '65534']);
    const other = await start(['setpriv', '--reuid=65534', '--regid=65533', '--clear-groups', 'sleep', '60']);
    // `other` shares our namespaces: -t uts joins ours again; only the ids change.
    r = await nsm(['exec', '-t', 'uts', '-S', 'follow', '-G', 'follow', String(other), 'sh', '-c', 'id -u; id -g']);
    expect(r.stderr).toBe('');
    expect(lines(r.stdout)).toEqual(['65534', '65533']);
    r = await nsm(['exec', '-S', 'nobody', String(pid), 'true']);
    expect([r.code, r.stderr]).toEqual([125, 'nsm: --setuid needs a numeric id or follow, not: nobody\n']);
  });

  it('--preserve-credentials keeps the ids in a joined user namespace; --keep-caps keeps its capabilities across exec', async () => {
    // A user namespace without maps: root is the overflow uid there, so keeping ids drops every capability at exec.
    const pid = await start(['unshare', '-U', 'sleep', '60']);
    const capEff = (out: string): bigint => BigInt(`0x${/CapEff:\s*([0-9a-f]+)/.exec(out)![1]}`);
    let r = await nsm(['exec', '--preserve-credentials', String(pid), 'sh', '-c', 'id -u; grep CapEff /proc/self/status']);
    expect(r.stderr).toBe('');
    expect(lines(r.stdout)[0]).toBe('65534');
    expect(capEff(r.stdout)).toBe(0n);
    r = await nsm(['exec', '--preserve-credentials', '--keep-caps', String(pid), 'sh', '-c', 'grep CapEff /proc/self/status']);
    expect(r.stderr).toBe('');
    expect(capEff(r.stdout) & (1n << 21n)).toBe(1n << 21n); // CAP_SYS_ADMIN, in that namespace
    // Without --preserve-credentials: uid 0 there, which is not mapped: the setuid fails (as nsenter's).
    r = await nsm(['exec', String(pid), 'true']);
    expect(r.code).toBe(125);
  });

  it('-r and -w: the target\'s root and working directory, opened before joining; --root=DIR, --wdns', async () => {
    // A root with a static busybox: sh and sleep inside it.
    const root = mkdtempSync(join(tmpdir(), 'nsm-nse-root-'));
    undo.push(() => rmSync(root, { recursive: true, force: true }));
    mkdirSync(join(root, 'bin'));
    mkdirSync(join(root, 'srv'));
    copyFileSync('/bin/busybox', join(root, 'bin/busybox'));
    spawnSync('chmod', ['755', join(root, 'bin/busybox')]);
    for (const tool of ['sh', 'sleep', 'pwd', 'cat']) symlinkSync('busybox', join(root, 'bin', tool));
    writeFileSync(join(root, 'marker'), 'inside\n');
    const pid = await start(['unshare', '-u', `--root=${root}`, '--wd=/srv', '/bin/sleep', '60']);
    let r = await nsm(['exec', '-r', '-w', String(pid), '/bin/sh', '-c', 'pwd; cat /marker']);
    expect(r.stderr).toBe('');
    expect(lines(r.stdout)).toEqual(['/srv', 'inside']);
    // --wdns: a path inside, after the chroot.
    r = await nsm(['exec', '-r', '--wdns', '/srv', String(pid), '/bin/pwd']);
    expect(r.stdout).toBe('/srv\n');
    r = await nsm(['exec', `--root=${root}`, '--wdns=/srv', '-u', String(pid), '/bin/pwd']);
    expect(r.stdout).toBe('/srv\n');
    // -w alone: the target's working directory, in our root.
    const wd = mkdtempSync(join(tmpdir(), 'nsm-nse-wd-'));
    undo.push(() => rmdirSync(wd));
    const plain = await start(['unshare', '-u', 'sleep', '60'], { cwd: wd });
    r = await nsm(['exec', '-w', String(plain), 'pwd']);
    expect(r.stdout).toBe(`${wd}\n`);
    // A file target has no root to take: usage error.
    const name = netnsAdd();
    r = await nsm(['exec', '-r', `netns:${name}`, 'true']);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/^nsm: --root needs a process: netns:/);
  });

  it('-e: the target\'s environment, exactly; without it, ours', async () => {
    const pid = await start(['env', '-i', 'A=1', 'B=x y', '/usr/bin/unshare', '-u', '/bin/sleep', '60']);
    let r = await nsm(['exec', '-e', String(pid), '/usr/bin/env']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('A=1\nB=x y\n');
    r = await nsm(['exec', String(pid), 'sh', '-c', 'echo "A=${A:-unset}"']);
    expect(r.stdout).toBe('A=unset\n');
  });

  it('--join-cgroup: the command runs in the target\'s cgroup', async () => {
    const pid = await start(['unshare', '-u', 'sleep', '60']);
    // cgroup2 (any mount) or else the v1 pids hierarchy.
    const base = ['/sys/fs/cgroup', '/sys/fs/cgroup/unified'].find((d) => existsSync(`${d}/cgroup.controllers`)) ?? '/sys/fs/cgroup/pids';
    const dir = `${base}/nsm-nse-${randomBytes(4).toString('hex')}`;
    mkdirSync(dir);
    undo.push(() => rmdirSync(dir));
    writeFileSync(`${dir}/cgroup.procs`, String(pid));
    const rel = dir.slice(base.length);
    let r = await nsm(['exec', '--join-cgroup', String(pid), 'cat', '/proc/self/cgroup']);
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n').some((l) => l.endsWith(`:${rel}`))).toBe(true);
    r = await nsm(['exec', '-c', String(pid), 'true']);
    expect(r.code).toBe(0);
    r = await nsm(['exec', String(pid), 'cat', '/proc/self/cgroup']);
    expect(r.stdout.split('\n').some((l) => l.endsWith(`:${rel}`))).toBe(false);
    // The target must leave before the cgroup can go (afterEach kills in order: procs first).
  });

  it('pid namespace: the command is in it (nsm forks); -F leaves it outside, only its children inside', async () => {
    const forker = await start(['unshare', '-p', '-f', '--mount-proc', 'sleep', '60'], { comm: 'unshare' });
    let pid = 0;
    await waitFor(() => {
      const child = Number(readFileSync(`/proc/${forker}/task/${forker}/children`, 'utf8').trim().split(' ')[0]);
      pid = child > 0 && readFileSync(`/proc/${child}/comm`, 'utf8').trim() === 'sleep' ? child : 0;
      return pid > 0;
    }, 'the pid namespace\'s sleep');
    const targetPid = readlinkSync(`/proc/${pid}/ns/pid`);
    let r = await nsm(['exec', '-p', String(pid), 'sh', '-c', 'readlink /proc/self/ns/pid']);
    expect(r.stdout).toBe(`${targetPid}\n`);
    r = await nsm(['exec', '-p', '-F', String(pid), 'readlink', '/proc/self/ns/pid', '/proc/self/ns/pid_for_children']);
    expect(r.stderr).toBe('');
    expect(lines(r.stdout)).toEqual([readlinkSync('/proc/self/ns/pid'), targetPid]);
  });
});

describe.skipIf(!isRoot)('ip netns exec parity (root only: ip netns add, mounts)', () => {
  it('netns:NAME: a fresh /sys (its links, as ip link), /etc/netns/NAME/* over /etc/*, nothing leaks back', async () => {
    const name = netnsAdd();
    const peer = `nse${randomBytes(3).toString('hex')}`;
    expect(spawnSync('ip', ['link', 'add', `${peer}a`, 'type', 'veth', 'peer', 'name', `${peer}b`, 'netns', name]).status).toBe(0);
    undo.push(() => spawnSync('ip', ['link', 'delete', `${peer}a`]));
    const file = `nsm-nse-${randomBytes(4).toString('hex')}`;
    writeFileSync(`/etc/${file}`, 'host\n');
    undo.push(() => rmSync(`/etc/${file}`, { force: true }));
    mkdirSync(`/etc/netns/${name}`, { recursive: true });
    undo.push(() => rmSync(`/etc/netns/${name}`, { recursive: true, force: true }));
    writeFileSync(`/etc/netns/${name}/${file}`, 'netns\n');
    const links = spawnSync('ip', ['-n', name, '-o', 'link'], { encoding: 'utf8' }).stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(': ')[1]!.split('@')[0]!)
      .sort();
    expect(links).toEqual([`${peer}b`, 'lo'].sort());
    for (const form of [`netns:${name}`, `/run/netns/${name}`]) {
      const r = await nsm(['exec', form, 'sh', '-c', `ls /sys/class/net; cat /etc/${file}`]);
      expect(r.stderr).toBe('');
      const out = lines(r.stdout);
      expect(out.slice(0, -1).sort()).toEqual(links);
      expect(out.at(-1)).toBe('netns');
      // ip netns exec agrees.
      const ip = spawnSync('ip', ['netns', 'exec', name, 'sh', '-c', `ls /sys/class/net; cat /etc/${file}`], { encoding: 'utf8' });
      expect(ip.stdout).toBe(r.stdout);
    }
    // Nothing propagated back: our /etc and /sys as they were.
    expect(readFileSync(`/etc/${file}`, 'utf8')).toBe('host\n');
    expect(existsSync(`/sys/class/net/${peer}b`)).toBe(false);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(`/etc/${file}`);
  });

  it('an environment with only a network namespace: the same, with /etc/netns/ENV', async () => {
    const dir = stateDir();
    const name = uniqueName('nse');
    await create(name, ['-t', 'net'], { stateDir: dir });
    const file = `nsm-nse-${randomBytes(4).toString('hex')}`;
    writeFileSync(`/etc/${file}`, 'host\n');
    undo.push(() => rmSync(`/etc/${file}`, { force: true }));
    mkdirSync(`/etc/netns/${name}`, { recursive: true });
    undo.push(() => rmSync(`/etc/netns/${name}`, { recursive: true, force: true }));
    writeFileSync(`/etc/netns/${name}/${file}`, 'env\n');
    const r = await nsm(['exec', name, 'sh', '-c', `ls /sys/class/net; cat /etc/${file}`], { stateDir: dir });
    expect(r.stderr).toBe('');
    expect(lines(r.stdout)).toEqual(['lo', 'env']);
  });
});

describe.skipIf(!isRoot)('user namespaces in the hard cases (root only: setpriv to a user)', () => {
  it('a nested user namespace that does not own the target\'s others is entered through their owner, in one call; root joins in two passes', async () => {
    // util-linux#1592's shape: net owned by the outer user namespace, the process in an inner one.
    const pid = await start(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', 'unshare', '-U', '-r', '-n', 'sh', '-c', 'exec unshare -U -r sleep 60']);
    const want = nsOf(pid);
    expect(want[TYPES.indexOf('user')]).not.toBe(nsOf('self')[TYPES.indexOf('user')]);
    // Its owner and the user namespace it runs in differ (the shape the fix is about).
    const dir = stateDir(65534);
    for (const uid of [65534, undefined]) {
      const r = await nsm(['exec', String(pid), 'sh', '-c', `id -u; ${READ_NS}`], uid === undefined ? {} : { uid, stateDir: dir });
      expect(r.stderr, `as ${uid ?? 'root'}`).toBe('');
      const [id, ...ns] = lines(r.stdout);
      expect(id).toBe('0');
      expect(ns).toEqual(want);
    }
  });
});
