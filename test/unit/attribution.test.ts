import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attribute, attributeProcess, matchesOwner } from '../../src/core/attribution.js';
import type { HostScan, Namespace, ProcessInfo } from '../../src/core/model.js';
import { collectOwners } from '../../src/commands/options.js';
import { ContainerNames, dockerDataRoot } from '../../src/sys/containers.js';
import { UsageError } from '../../src/sys/errors.js';
import type { NsType } from '../../src/sys/nstypes.js';

const D = '3f1c9b7e2a8d4c6f0b5e9a7d1c3f8e2b6a4d0c9e7f1b3a5d8c2e6f0a4b9d7c1e';
const P = '8e2a6c4f0d9b7e1a3c5f8d2b6e0a4c9d7f1b3e5a8c2d6f0b4e9a7c1d3f5b8e2a';
const UID = '55c6c714-b240-4dec-9a45-57b61696ab6e';
const HOST_NET = 4026531833; // boot-time inode: below 0xF0000000
const HOST_MNT_OLD_KERNEL = 4026531840; // before 6.18 the host mnt namespace had a dynamic inode

let dir: string;
let proc: string;
let paths: { dockerRoot: string; dockerNetns: string; podmanStorage: string; podLogs: string };

function writeCgroup(pid: number, text: string): void {
  mkdirSync(join(proc, String(pid)), { recursive: true });
  writeFileSync(join(proc, String(pid), 'cgroup'), text);
}

function ns(type: NsType, inode: number, pids: number[], mounts: string[] = []): Namespace {
  return { type, inode, pids, threads: [], fds: [], mounts: mounts.map((path) => ({ path, visible: true })), owners: [] };
}

function scanOf(namespaces: Namespace[]): HostScan {
  const processes = new Map<number, ProcessInfo>();
  for (const n of namespaces) {
    for (const pid of n.pids) {
      const p = processes.get(pid) ?? { pid, ppid: 0, comm: 'x', startTime: 0, ns: {} };
      p.ns[n.type] = n.inode;
      processes.set(pid, p);
    }
  }
  return { processes, namespaces, stats: { gone: 0, denied: 0 } };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'nsm-attribution-'));
  proc = join(dir, 'proc');
  paths = {
    dockerRoot: join(dir, 'docker'),
    dockerNetns: join(dir, 'docker-netns'),
    podmanStorage: join(dir, 'storage'),
    podLogs: join(dir, 'pods'),
  };
  mkdirSync(join(paths.dockerRoot, 'containers', D), { recursive: true });
  writeFileSync(join(paths.dockerRoot, 'containers', D, 'config.v2.json'), JSON.stringify({ ID: D, Name: '/web' }));
  mkdirSync(join(paths.podmanStorage, 'overlay-containers'), { recursive: true });
  writeFileSync(join(paths.podmanStorage, 'overlay-containers', 'containers.json'), JSON.stringify([{ id: P, names: ['db'] }]));
  mkdirSync(join(paths.podLogs, `prod_api-7d9f_${UID}`), { recursive: true });
  writeCgroup(1, '0::/init.scope\n');
  writeCgroup(100, `0::/system.slice/docker-${D}.scope\n`);
  writeCgroup(200, `0::/machine.slice/libpod-${P}.scope/container\n`);
  writeCgroup(300, '0::/user.slice/user-1000.slice/session-3.scope\n');
  writeCgroup(400, `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID.replace(/-/g, '_')}.slice/cri-containerd-${D}.scope\n`);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('attribute', () => {
  it('names containers from the cgroup of each namespace\'s lowest pid, with runtime names', () => {
    const scan = scanOf([
      ns('net', HOST_NET, [1, 100, 200, 300]),
      ns('net', 4026532001, [100, 101]),
      ns('uts', 4026532002, [200]),
      ns('ipc', 4026532003, [300]),
      ns('net', 4026532004, [400]),
    ]);
    attribute(scan, { procRoot: proc, paths });
    const owners = scan.namespaces.map((n) => n.owners);
    expect(owners[0]).toEqual([]); // the host's: nobody's, though pid 1 is in init.scope
    expect(owners[1]).toEqual([{ kind: 'docker', id: D, name: 'web' }]);
    expect(owners[2]).toEqual([{ kind: 'podman', id: P, name: 'db' }]);
    expect(owners[3]).toEqual([{ kind: 'systemd', id: 'session-3.scope', name: 'session-3.scope' }]);
    expect(owners[4]).toEqual([
      { kind: 'kubernetes', id: UID, name: 'prod/api-7d9f' },
      { kind: 'containerd', id: D, name: D.slice(0, 12) },
    ]);
  });

  it('treats pid 1\'s namespaces as the host\'s even with a dynamic inode (kernels before 6.18)', () => {
    const scan = scanOf([ns('mnt', HOST_MNT_OLD_KERNEL, [1, 300])]);
    attribute(scan, { procRoot: proc, paths });
    expect(scan.namespaces[0]!.owners).toEqual([]);
  });

  it('hands over to the next pid when the lowest has exited', () => {
    const scan = scanOf([ns('net', 4026532010, [99, 100])]); // no /proc/99
    attribute(scan, { procRoot: proc, paths });
    expect(scan.namespaces[0]!.owners.map((o) => o.name)).toEqual(['web']);
  });

  it('uses the cgroup file the scanner read (G record) instead of reading it again', () => {
    const scan = scanOf([ns('net', 4026532011, [500, 100])]); // no /proc/500: the scan's text only
    scan.processes.get(500)!.cgroup = `1:name=systemd:/\n0::/machine.slice/libpod-${P}.scope/container`;
    attribute(scan, { procRoot: proc, paths });
    expect(scan.namespaces[0]!.owners).toEqual([{ kind: 'podman', id: P, name: 'db' }]);
  });

  it('leaves a namespace with no process to the mount-based sources', () => {
    const scan = scanOf([
      ns('net', 4026532020, [], ['/run/netns/blue']),
      ns('net', 4026532021, [], [`${paths.dockerNetns}/0a1b2c3d4e5f`]),
      ns('uts', 4026532022, [], [`${paths.dockerNetns}/0a1b2c3d4e5f`]),
    ]);
    attribute(scan, { procRoot: proc, paths });
    expect(scan.namespaces.map((n) => n.owners)).toEqual([
      [{ kind: 'netns', id: 'blue', name: 'blue' }],
      [{ kind: 'docker-netns', id: '0a1b2c3d4e5f', name: '0a1b2c3d4e5f' }],
      [], // only net namespaces live in dockerd's netns directory
    ]);
  });

  it('drops docker\'s sandbox file name when the processes name the container', () => {
    const scan = scanOf([ns('net', 4026532030, [100], [`${paths.dockerNetns}/0a1b2c3d4e5f`])]);
    attribute(scan, { procRoot: proc, paths });
    expect(scan.namespaces[0]!.owners).toEqual([{ kind: 'docker', id: D, name: 'web' }]);
  });

  it('gives each namespace its own copies of the records', () => {
    const scan = scanOf([ns('net', 4026532040, [100]), ns('uts', 4026532041, [100])]);
    attribute(scan, { procRoot: proc, paths });
    scan.namespaces[0]!.owners[0]!.name = 'changed';
    expect(scan.namespaces[1]!.owners[0]!.name).toBe('web');
  });
});

describe('attributeProcess', () => {
  it('names the owner of one process, including a systemd unit', () => {
    expect(attributeProcess(100, proc, paths)).toEqual([{ kind: 'docker', id: D, name: 'web' }]);
    expect(attributeProcess(1, proc, paths)).toEqual([{ kind: 'systemd', id: 'init.scope', name: 'init.scope' }]);
  });

  it('throws ENOENT for a process that is gone', () => {
    expect(() => attributeProcess(99, proc, paths)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
  });
});

describe('ContainerNames', () => {
  it('gives no name when the runtime\'s files are absent or unreadable as JSON', () => {
    const names = new ContainerNames({ dockerRoot: join(dir, 'nowhere'), podmanStorage: join(dir, 'nowhere'), podLogs: join(dir, 'nowhere') });
    expect(names.dockerName(D)).toBeUndefined();
    expect(names.podmanName(P)).toBeUndefined();
    expect(names.podName(UID)).toBeUndefined();
    mkdirSync(join(dir, 'torn', 'containers', D), { recursive: true });
    writeFileSync(join(dir, 'torn', 'containers', D, 'config.v2.json'), '{"Name":"/ha');
    expect(new ContainerNames({ dockerRoot: join(dir, 'torn') }).dockerName(D)).toBeUndefined();
  });

  it('reads docker\'s data-root from daemon.json', () => {
    const json = join(dir, 'daemon.json');
    writeFileSync(json, JSON.stringify({ 'data-root': '/srv/docker' }));
    expect(dockerDataRoot(json)).toBe('/srv/docker');
    writeFileSync(json, JSON.stringify({ 'log-driver': 'journald' }));
    expect(dockerDataRoot(json)).toBeUndefined();
    expect(dockerDataRoot(join(dir, 'absent.json'))).toBeUndefined();
  });
});

describe('--owner', () => {
  const owners = [
    { kind: 'kubernetes', id: UID, name: 'prod/api-7d9f' },
    { kind: 'containerd', id: D, name: D.slice(0, 12) },
  ];

  it('parses KIND and KIND:NAME, repeatable and comma-separated', () => {
    expect(collectOwners('docker,podman', collectOwners('kubernetes:prod/api'))).toEqual([
      { kind: 'kubernetes', name: 'prod/api' },
      { kind: 'docker' },
      { kind: 'podman' },
    ]);
  });

  it('refuses an unknown kind and an empty name', () => {
    expect(() => collectOwners('dokcer')).toThrow(UsageError);
    expect(() => collectOwners('dokcer')).toThrow(/unknown owner kind: dokcer \(known: .*docker/);
    expect(() => collectOwners('docker:')).toThrow(UsageError);
  });

  it('matches by kind, name, id or hex id prefix', () => {
    expect(matchesOwner(owners, [])).toBe(true);
    expect(matchesOwner(owners, [{ kind: 'kubernetes' }])).toBe(true);
    expect(matchesOwner(owners, [{ kind: 'docker' }])).toBe(false);
    expect(matchesOwner(owners, [{ kind: 'docker' }, { kind: 'containerd' }])).toBe(true);
    expect(matchesOwner(owners, [{ kind: 'kubernetes', name: 'prod/api-7d9f' }])).toBe(true);
    expect(matchesOwner(owners, [{ kind: 'kubernetes', name: UID }])).toBe(true);
    expect(matchesOwner(owners, [{ kind: 'kubernetes', name: 'prod/api' }])).toBe(false);
    expect(matchesOwner(owners, [{ kind: 'containerd', name: D.slice(0, 5) }])).toBe(true);
    expect(matchesOwner(owners, [{ kind: 'containerd', name: D.slice(1, 6) }])).toBe(false);
    expect(matchesOwner([], [{ kind: 'docker' }])).toBe(false);
  });

  it('does not prefix-match names that are not hex ids', () => {
    expect(matchesOwner([{ kind: 'netns', id: 'blue', name: 'blue' }], [{ kind: 'netns', name: 'b' }])).toBe(false);
  });
});
