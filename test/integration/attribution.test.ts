/**
 * Attribution on the real kernel: cgroups named exactly as each runtime names them (the
 * leaf names; all under one private top-level cgroup per run so parallel tests never share
 * a directory), a process in its own net and uts namespaces moved into each, and nsm asked
 * who owns those namespaces (ls), and which processes `ps --owner` then shows (one more
 * container, with a pid namespace of its own, since ps groups by pid namespace). Works on
 * this hybrid host (v1 controllers + v2 at /sys/fs/cgroup/unified) and on pure v1 or v2
 * hosts: a case whose hierarchy is not mounted is skipped with the reason.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readlinkSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listNamespaces, type NamespaceListing } from '../../src/core/listing.js';
import type { Attribution } from '../../src/core/model.js';
import { processesByNamespace } from '../../src/core/ps.js';

const NSM = new URL('../../bin/nsm', import.meta.url).pathname;
const IS_ROOT = process.getuid?.() === 0;
const NOT_ROOT = 'needs root: creates cgroups and moves processes into them';

/** Where each hierarchy is mounted on this host, if it is. */
const HIERARCHIES = {
  // Hybrid hosts mount v2 at /sys/fs/cgroup/unified; pure v2 hosts at /sys/fs/cgroup.
  v2: ['/sys/fs/cgroup/unified', '/sys/fs/cgroup'].find((d) => existsSync(`${d}/cgroup.controllers`)),
  systemd: existsSync('/sys/fs/cgroup/systemd/tasks') ? '/sys/fs/cgroup/systemd' : undefined,
  pids: existsSync('/sys/fs/cgroup/pids/tasks') ? '/sys/fs/cgroup/pids' : undefined,
} as const;
type Hierarchy = keyof typeof HIERARCHIES;

const hex64 = (): string => randomBytes(32).toString('hex');
const uuid = (): string => {
  const h = randomBytes(16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};

/** One private top-level cgroup per run, in every hierarchy used. */
const TOP = `nsm-test-${process.pid}-${randomBytes(4).toString('hex')}`;

interface Case {
  name: string;
  /** cgroup paths (below TOP) to move the process into, per hierarchy. */
  place: Partial<Record<Hierarchy, string>>;
  expected: Attribution[];
  /** Run the process as this uid (the rootless case); root otherwise. */
  uid?: number;
}

const ids = { docker: hex64(), dockerV1: hex64(), dockerSplit: hex64(), podman: hex64(), containerd: hex64(), crio: hex64(), cid: hex64(), rootless: hex64() };
const pods = { systemd: uuid(), cgroupfs: uuid(), crio: uuid() };
const lxcName = `web-${randomBytes(3).toString('hex')}`;
const unit = `nsm-test-${randomBytes(3).toString('hex')}.service`;
const short = (id: string): string => id.slice(0, 12);
const us = (uid: string): string => uid.replace(/-/g, '_');

const CASES: Case[] = [
  {
    name: 'docker, systemd driver, v2: system.slice/docker-<id>.scope (named from config.v2.json)',
    place: { v2: `system.slice/docker-${ids.docker}.scope` },
    expected: [{ kind: 'docker', id: ids.docker, name: 'web' }],
  },
  {
    name: 'docker, cgroupfs driver, v1: /docker/<id> in name=systemd and pids',
    place: { systemd: `docker/${ids.dockerV1}`, pids: `docker/${ids.dockerV1}` },
    expected: [{ kind: 'docker', id: ids.dockerV1, name: short(ids.dockerV1) }],
  },
  {
    name: 'hybrid: v2 line at a unit, container only in a v1 controller: the container wins',
    place: { v2: 'system.slice/containerd.service', pids: `docker/${ids.dockerSplit}` },
    expected: [{ kind: 'docker', id: ids.dockerSplit, name: short(ids.dockerSplit) }],
  },
  {
    name: 'podman, v2: machine.slice/libpod-<id>.scope/container',
    place: { v2: `machine.slice/libpod-${ids.podman}.scope/container` },
    expected: [{ kind: 'podman', id: ids.podman, name: short(ids.podman) }],
  },
  {
    name: 'Kubernetes + containerd, systemd driver, v2: kubepods-burstable-pod<uid_>.slice/cri-containerd-<id>.scope',
    place: {
      v2: `kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${us(pods.systemd)}.slice/cri-containerd-${ids.containerd}.scope`,
    },
    expected: [
      { kind: 'kubernetes', id: pods.systemd, name: pods.systemd },
      { kind: 'containerd', id: ids.containerd, name: short(ids.containerd) },
    ],
  },
  {
    name: 'Kubernetes, cgroupfs driver, v1 name=systemd: /kubepods/burstable/pod<uid>/<cid>',
    place: { systemd: `kubepods/burstable/pod${pods.cgroupfs}/${ids.cid}` },
    expected: [{ kind: 'kubernetes', id: pods.cgroupfs, name: pods.cgroupfs }],
  },
  {
    name: 'Kubernetes + CRI-O, systemd driver, v1 name=systemd: …-pod<uid_>.slice/crio-<id>.scope',
    place: { systemd: `kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${us(pods.crio)}.slice/crio-${ids.crio}.scope` },
    expected: [
      { kind: 'kubernetes', id: pods.crio, name: pods.crio },
      { kind: 'crio', id: ids.crio, name: short(ids.crio) },
    ],
  },
  {
    name: 'LXC 4+, v2: lxc.payload.<name>',
    place: { v2: `lxc.payload.${lxcName}` },
    expected: [{ kind: 'lxc', id: lxcName, name: lxcName }],
  },
  {
    name: 'LXC 1-3, v1: /lxc/<name>',
    place: { systemd: `lxc/${lxcName}` },
    expected: [{ kind: 'lxc', id: lxcName, name: lxcName }],
  },
  {
    name: 'systemd service, v2: system.slice/<unit>.service',
    place: { v2: `system.slice/${unit}` },
    expected: [{ kind: 'systemd', id: unit, name: unit }],
  },
  {
    name: 'rootless: an unprivileged user\'s own container, seen by that user',
    place: { v2: `user.slice/user-65534.slice/user@65534.service/user.slice/docker-${ids.rootless}.scope` },
    expected: [{ kind: 'docker', id: ids.rootless, name: short(ids.rootless) }],
    uid: 65534,
  },
];

/**
 * For `nsm ps`, which groups by pid namespace unless told otherwise: a docker container with
 * a pid namespace of its own, as docker makes them (the CASES processes share the host's, so
 * their pid namespace is nobody's). `unshare --fork` leaves unshare itself outside the new pid
 * namespace and its sleep as PID 1 inside; both go into the container's cgroup, as runc puts
 * a container's init there.
 */
const psDockerId = hex64();
const psDocker = {
  id: psDockerId,
  name: `ps-web-${randomBytes(3).toString('hex')}`,
  /** systemd driver on v2 where there is one; else the cgroupfs driver on v1 name=systemd. */
  place: HIERARCHIES.v2
    ? { root: HIERARCHIES.v2, path: `system.slice/docker-${psDockerId}.scope` }
    : HIERARCHIES.systemd
      ? { root: HIERARCHIES.systemd, path: `docker/${psDockerId}` }
      : undefined,
  unshare: 0,
  sleep: 0,
};
const NO_PS_CGROUP = psDocker.place ? undefined : 'this host has neither a v2 nor a name=systemd cgroup hierarchy';

const missing = (c: Case): string | undefined => {
  const absent = (Object.keys(c.place) as Hierarchy[]).filter((h) => HIERARCHIES[h] === undefined);
  return absent.length > 0 ? `this host has no ${absent.join(', ')} cgroup hierarchy` : undefined;
};

const children: ChildProcess[] = [];
/** Our children's children (unshare --fork's sleep): killed first, while their parent still holds their pid. */
const grandchildren: number[] = [];
const pidOf = new Map<Case, number>();
/** Directories created, in creation order; removed in reverse. */
const created: string[] = [];
let dir: string;
let dockerRoot: string;
let listing: NamespaceListing;

function makeCgroup(root: string, path: string): string {
  let current = root;
  for (const part of [TOP, ...path.split('/')]) {
    current = `${current}/${part}`;
    if (!existsSync(current)) {
      mkdirSync(current);
      created.push(current);
    }
  }
  return current;
}

const nsLink = (pid: number | 'self', type: string): string => readlinkSync(`/proc/${pid}/ns/${type}`);

/** Start `sleep` in its own net and uts namespaces; resolves once unshare has exec'd it. */
async function startIsolated(uid?: number): Promise<number> {
  const argv = ['--net', '--uts', 'sleep', '300'];
  const child =
    uid === undefined
      ? spawn('unshare', argv, { stdio: 'ignore' })
      : spawn('setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', 'unshare', '--user', ...argv], { stdio: 'ignore' });
  children.push(child);
  const pid = child.pid!;
  for (let i = 0; i < 500; i++) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8') === 'sleep\n' && nsLink(pid, 'net') !== nsLink('self', 'net')) return pid;
    } catch {
      // not there yet, or between exec()s
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`unshare (pid ${pid}) did not reach sleep in new namespaces`);
}

/**
 * `unshare --fork` with new pid, net and uts namespaces: resolves to unshare's pid and its
 * sleep's, once the sleep is PID 1 of the new pid namespace. --kill-child: sleep dies with unshare.
 */
async function startWithPidNamespace(): Promise<{ unshare: number; sleep: number }> {
  const child = spawn('unshare', ['--pid', '--kill-child', '--net', '--uts', 'sleep', '300'], { stdio: 'ignore' });
  children.push(child);
  const pid = child.pid!;
  for (let i = 0; i < 500; i++) {
    try {
      const [sleep] = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
      if (sleep !== undefined) {
        if (!grandchildren.includes(sleep)) grandchildren.push(sleep);
        if (readFileSync(`/proc/${sleep}/comm`, 'utf8') === 'sleep\n' && nsLink(sleep, 'pid') !== nsLink('self', 'pid')) return { unshare: pid, sleep };
      }
    } catch {
      // not forked yet, or between exec()s
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`unshare --pid --fork (pid ${pid}) did not reach sleep in a new pid namespace`);
}

async function cleanUp(): Promise<void> {
  for (const pid of grandchildren) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          c.once('exit', () => resolve());
          c.kill('SIGKILL');
        }),
    ),
  );
  // A cgroup can be removed once its last process has been reaped; allow the kernel a moment.
  for (const d of created.reverse()) {
    for (let i = 0; ; i++) {
      try {
        rmdirSync(d);
        break;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') break;
        if (code !== 'EBUSY' || i === 100) throw err;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
}

const owned = (pid: number, type: string): Attribution[] | undefined =>
  listing.namespaces.find((r) => r.pid === pid && r.type === type)?.owners;

describe.skipIf(!IS_ROOT)('attribution on the real kernel', () => {
  beforeAll(async () => {
    try {
      dir = mkdtempSync(join(tmpdir(), 'nsm-attribution-'));
      dockerRoot = join(dir, 'docker');
      const config = join(dockerRoot, 'containers', ids.docker);
      mkdirSync(config, { recursive: true });
      writeFileSync(join(config, 'config.v2.json'), JSON.stringify({ ID: ids.docker, Name: '/web' }));
      for (const c of CASES) {
        if (missing(c)) continue;
        const pid = await startIsolated(c.uid);
        for (const [h, path] of Object.entries(c.place) as Array<[Hierarchy, string]>) {
          writeFileSync(`${makeCgroup(HIERARCHIES[h]!, path)}/cgroup.procs`, String(pid));
        }
        pidOf.set(c, pid);
      }
      if (psDocker.place) {
        const ps = join(dockerRoot, 'containers', psDocker.id);
        mkdirSync(ps, { recursive: true });
        writeFileSync(join(ps, 'config.v2.json'), JSON.stringify({ ID: psDocker.id, Name: `/${psDocker.name}` }));
        Object.assign(psDocker, await startWithPidNamespace());
        const procs = `${makeCgroup(psDocker.place.root, psDocker.place.path)}/cgroup.procs`;
        for (const pid of [psDocker.unshare, psDocker.sleep]) writeFileSync(procs, String(pid));
      }
      listing = await listNamespaces({ containerPaths: { dockerRoot } });
    } catch (err) {
      await cleanUp();
      throw err;
    }
  });

  afterAll(cleanUp);

  for (const c of CASES) {
    it.skipIf(missing(c) !== undefined)(`${c.name}${missing(c) ? ` (skipped: ${missing(c)})` : ''}`, () => {
      const pid = pidOf.get(c)!;
      expect(owned(pid, 'net')).toEqual(c.expected);
      expect(owned(pid, 'uts')).toEqual(c.expected);
    });
  }

  it('nsm ls --json -p PID carries the owners, and NAME shows kind:name', () => {
    const c = CASES.find((x) => x.expected[0]?.kind === 'kubernetes' && pidOf.has(x))!;
    const r = spawnSync(NSM, ['ls', '--json', '-t', 'net', '-p', String(pidOf.get(c))], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const rows = JSON.parse(r.stdout).namespaces;
    expect(rows).toHaveLength(1);
    expect(rows[0].owners).toEqual(c.expected);
    expect(rows[0].name).toBe(c.expected.map((o) => `${o.kind}:${o.name}`).join(','));
  });

  it('nsm ls --owner KIND and KIND:NAME select by owner', () => {
    const pids = (args: string[]): number[] => {
      const r = spawnSync(NSM, ['ls', '--json', '-t', 'uts', ...args], { encoding: 'utf8' });
      expect(r.status).toBe(0);
      return JSON.parse(r.stdout).namespaces.map((row: { pid: number }) => row.pid);
    };
    const mine = new Set(pidOf.values());
    const pidFor = (kind: string): number[] => CASES.filter((c) => pidOf.has(c) && c.expected.some((o) => o.kind === kind)).map((c) => pidOf.get(c)!);
    // Other engineers' tests may own namespaces too: compare only the processes this test made.
    const docker = pids(['--owner', 'docker']).filter((p) => mine.has(p));
    expect(docker.sort()).toEqual(pidFor('docker').sort());
    const some = pids(['--owner', 'lxc,crio']).filter((p) => mine.has(p));
    expect(some.sort()).toEqual([...pidFor('lxc'), ...pidFor('crio')].sort());
    const one = CASES.find((c) => c.place.pids?.startsWith('docker/') && pidOf.has(c))!;
    expect(pids(['--owner', `docker:${short(one.expected[0]!.id)}`])).toEqual([pidOf.get(one)]);
    expect(pids(['--owner', `podman:${'0'.repeat(12)}`])).toEqual([]);
  });

  it('nsm ls --owner with an unknown kind is a usage error', () => {
    const r = spawnSync(NSM, ['ls', '--owner', 'dokcer'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^nsm: unknown owner kind: dokcer \(known: .*docker/);
  });

  describe.skipIf(NO_PS_CGROUP !== undefined)(`nsm ps --owner${NO_PS_CGROUP ? ` (skipped: ${NO_PS_CGROUP})` : ''}`, () => {
    interface Group {
      ns: number;
      type: string;
      owners: Attribution[];
      processes: Array<{ pid: number }>;
    }
    const groups = (args: string[]): Group[] => {
      const r = spawnSync(NSM, ['ps', '--json', ...args], { encoding: 'utf8' });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const doc = JSON.parse(r.stdout);
      expect(Object.keys(doc).sort()).toEqual(['hiddenProcesses', 'namespaces', 'schemaVersion', 'target', 'type']);
      return doc.namespaces;
    };
    const pidsOf = (gs: Group[]): number[] => gs.flatMap((g) => g.processes.map((p) => p.pid));
    const expected = (): Attribution => ({ kind: 'docker', id: psDocker.id, name: psDocker.id.slice(0, 12) });

    it('--owner docker: the container\'s pid namespace with its process, and only docker-owned namespaces', () => {
      const gs = groups(['--owner', 'docker']);
      for (const g of gs) expect(g.owners.map((o) => o.kind)).toContain('docker');
      const mine = gs.filter((g) => pidsOf([g]).includes(psDocker.sleep));
      expect(mine).toHaveLength(1);
      expect(mine[0]!.type).toBe('pid');
      expect(mine[0]!.ns).toBe(Number(/\[(\d+)\]/.exec(nsLink(psDocker.sleep, 'pid'))![1]));
      expect(mine[0]!.owners).toEqual([expected()]);
      // unshare stayed in the host's pid namespace: it is not the container's.
      expect(pidsOf(gs)).not.toContain(psDocker.unshare);
      // Without the filter the host's pid namespace, where unshare stayed, is listed too.
      expect(pidsOf(groups([]))).toEqual(expect.arrayContaining([process.pid, psDocker.sleep, psDocker.unshare]));
    });

    it('--owner docker:SHORTID (and the full id): that container alone', () => {
      for (const name of [psDocker.id.slice(0, 12), psDocker.id]) {
        const gs = groups(['--owner', `docker:${name}`]);
        expect(gs.map((g) => [g.type, pidsOf([g]), g.owners])).toEqual([['pid', [psDocker.sleep], [expected()]]]);
      }
    });

    it('--owner podman: not the docker container', () => {
      const gs = groups(['--owner', 'podman']);
      for (const g of gs) expect(g.owners.map((o) => o.kind)).toContain('podman');
      expect(pidsOf(gs)).not.toContain(psDocker.sleep);
      expect(groups(['--owner', `podman:${psDocker.id.slice(0, 12)}`])).toEqual([]);
    });

    it('-t net --owner docker: the net namespaces of docker\'s containers, including those sharing the host\'s pid namespace', () => {
      const gs = groups(['-t', 'net', '--owner', 'docker']);
      for (const g of gs) expect(g.type).toBe('net');
      const all = pidsOf(gs);
      expect(all).toEqual(expect.arrayContaining([psDocker.unshare, psDocker.sleep]));
      const dockerCases = CASES.filter((c) => pidOf.has(c) && c.expected.some((o) => o.kind === 'docker') && c.uid === undefined).map((c) => pidOf.get(c)!);
      expect(dockerCases.length).toBeGreaterThan(0);
      expect(all).toEqual(expect.arrayContaining(dockerCases));
      // ... which the default grouping (-t pid) leaves out: their pid namespace is the host's.
      const byPid = pidsOf(groups(['--owner', 'docker']));
      for (const pid of dockerCases) expect(byPid).not.toContain(pid);
    });

    it('-p and --owner together: the target\'s namespace only when it is that owner\'s', () => {
      expect(pidsOf(groups(['-p', String(psDocker.sleep), '--owner', 'docker']))).toEqual([psDocker.sleep]);
      expect(groups(['-p', String(psDocker.sleep), '--owner', 'lxc'])).toEqual([]);
    });

    it('human output: the owner on the namespace\'s line; an empty result says what it looked for', () => {
      const short = psDocker.id.slice(0, 12);
      const r = spawnSync(NSM, ['ps', '--owner', `docker:${short}`], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
      expect([r.status, r.stderr]).toEqual([0, '']);
      expect(r.stdout).toMatch(new RegExp(`^pid:\\[\\d+\\]  1 process  docker:${short}\n`));
      expect(r.stdout).toMatch(new RegExp(`^ +${psDocker.sleep} +${psDocker.unshare} root sleep 300$`, 'm'));
      expect(r.stdout.trimEnd().split('\n').at(-1)).toBe('1 pid namespace');
      const none = spawnSync(NSM, ['ps', '--owner', 'podman:000000000000,lxc'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
      expect([none.status, none.stderr, none.stdout]).toEqual([0, '', 'no pid namespaces owned by podman:000000000000, lxc visible\n']);
    });

    it('the library call resolves the container\'s name from config.v2.json, and --owner docker:NAME matches it', async () => {
      const g = await processesByNamespace({ owners: [{ kind: 'docker', name: psDocker.name }], containerPaths: { dockerRoot } });
      expect(g.groups.map((x) => [x.processes.map((p) => p.pid), x.owners])).toEqual([[[psDocker.sleep], [{ ...expected(), name: psDocker.name }]]]);
      expect(g.owners).toEqual([{ kind: 'docker', name: psDocker.name }]);
    });
  });

  it('nsm ps --owner with an unknown kind, or KIND: with no name, is a usage error', () => {
    const r = spawnSync(NSM, ['ps', '--owner', 'dokcer'], { encoding: 'utf8' });
    expect([r.status, r.stdout]).toEqual([2, '']);
    expect(r.stderr).toMatch(/^nsm: unknown owner kind: dokcer \(known: [a-z, -]*\bdocker\b[a-z, -]*\)\n$/);
    // The same message ls gives: one parser for both.
    expect(spawnSync(NSM, ['ls', '--owner', 'dokcer'], { encoding: 'utf8' }).stderr).toBe(r.stderr);
    const empty = spawnSync(NSM, ['ps', '--owner', 'docker:'], { encoding: 'utf8' });
    expect([empty.status, empty.stdout, empty.stderr]).toEqual([2, '', "nsm: --owner 'docker:': a name is needed after the ':'\n"]);
  });

  const rootless = CASES.find((x) => x.uid !== undefined)!;
  const noRootless = missing(rootless);
  it.skipIf(noRootless !== undefined)(`rootless: nsm run as that user attributes its own namespaces${noRootless ? ` (skipped: ${noRootless})` : ''}`, () => {
    const c = rootless;
    expect(pidOf.has(c)).toBe(true);
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', NSM, 'ls', '--json', '--owner', 'docker'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const rows = JSON.parse(r.stdout).namespaces as Array<{ pid: number; type: string; owners: Attribution[] }>;
    // It sees only its own processes: the rootless container, whose user namespace is its own too.
    expect(rows.map((row) => row.type).sort()).toEqual(['net', 'user', 'uts']);
    for (const row of rows) {
      expect(row.pid).toBe(pidOf.get(c));
      expect(row.owners).toEqual(c.expected);
    }
  });
});

describe.skipIf(!IS_ROOT)('docker\'s netns files on the real kernel', () => {
  let netnsDir: string;
  let file: string;

  beforeAll(() => {
    netnsDir = mkdtempSync(join(tmpdir(), 'nsm-docker-netns-'));
    file = join(netnsDir, randomBytes(6).toString('hex'));
    writeFileSync(file, '');
    // unshare(1) --net=FILE bind-mounts the new namespace there, as dockerd does; nothing stays in it.
    const r = spawnSync('unshare', [`--net=${file}`, 'true'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`unshare --net=${file}: ${r.stderr}`);
  });

  afterAll(() => {
    spawnSync('umount', [file]);
    rmSync(netnsDir, { recursive: true, force: true });
  });

  it('names a namespace held only by a file in dockerd\'s netns directory', async () => {
    const inode = Number(/\[(\d+)\]/.exec(readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.includes(` ${file} `))!)![1]);
    const { namespaces } = await listNamespaces({ types: ['net'], inode, containerPaths: { dockerNetns: netnsDir } });
    expect(namespaces).toHaveLength(1);
    const name = file.slice(netnsDir.length + 1);
    expect(namespaces[0]!.owners).toEqual([{ kind: 'docker-netns', id: name, name }]);
    expect(namespaces[0]!.held).toEqual(['mount']);
  });
});

if (!IS_ROOT) {
  describe('attribution on the real kernel', () => {
    it.skip(NOT_ROOT, () => {});
  });
}
