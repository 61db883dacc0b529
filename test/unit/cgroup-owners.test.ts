import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { candidateCgroupPaths, classifyCgroupPath, classifyCgroupPathAll, ownersFromCgroup } from '../../src/core/cgroup-owners.js';
import { parseCgroup } from '../../src/sys/parse.js';

const FIXTURES = new URL('../fixtures/cgroup/', import.meta.url);
const fixture = (name: string): string => readFileSync(new URL(`${name}.cgroup`, FIXTURES), 'utf8');

const D = '3f1c9b7e2a8d4c6f0b5e9a7d1c3f8e2b6a4d0c9e7f1b3a5d8c2e6f0a4b9d7c1e';
const D2 = 'b41d7e9c2f6a0358e1c7d9a4f2b6e80c3d5a7f9b1e4c6d8a0f2b4c6e8a1d3f5b';
const P = '8e2a6c4f0d9b7e1a3c5f8d2b6e0a4c9d7f1b3e5a8c2d6f0b4e9a7c1d3f5b8e2a';
const C = '5c7e9a1b3d5f7092e4c6a8b0d2f4e6a8c0b2d4f6e8a0c2b4d6f8e0a2c4b6d8e0';
const O = 'd9f1b3e5a7c9021f4a6c8e0b2d4f6a8c1e3b5d7f9a1c3e5b7d9f1a3c5e7b9d1f';
const K = 'a7c9e1b3d5f7a9c1e3b5d7f9a1c3e5b7d9f1a3c5e7b9d1f3a5c7e9b1d3f5a7c9';

const hex = (kind: string, id: string) => ({ kind, id, name: id.slice(0, 12) });
const named = (kind: string, name: string) => ({ kind, id: name, name });
const pod = (uid: string) => ({ kind: 'kubernetes', id: uid, name: uid });

/** Captured /proc/PID/cgroup texts (test/fixtures/cgroup) and the owners each names, outermost first. */
const CASES: Record<string, ReturnType<typeof hex>[]> = {
  'docker-v2-systemd': [hex('docker', D)],
  'docker-v1-cgroupfs': [hex('docker', D)],
  'docker-hybrid-systemd': [hex('docker', D)],
  // v2 line names containerd.service; the v1 lines name the container, which wins.
  'docker-hybrid-cgroupfs-old-runc': [hex('docker', D)],
  'docker-in-docker-v1': [hex('docker', D2)],
  'dockerd-v2': [named('systemd', 'docker.service')],
  'podman-v2-rootful': [hex('podman', P)],
  'podman-v2-rootless': [hex('podman', P)],
  'podman-v2-conmon': [hex('podman', P)],
  'podman-v1-cgroupfs': [hex('podman', P)],
  'k8s-containerd-v2-systemd': [pod('55c6c714-b240-4dec-9a45-57b61696ab6e'), hex('containerd', C)],
  'k8s-guaranteed-v2-systemd': [pod('0125ec2f-b64a-4868-8f5b-94b56cbab864'), hex('containerd', C)],
  'k8s-static-pod-kind-v2': [pod('8daa50c3a64c9ff60bb9eab7b44b56fd'), hex('containerd', C)],
  // cgroupfs driver: the container's cgroup is its bare id, which names no runtime.
  'k8s-v1-cgroupfs': [pod('1ff47ee6-9685-4726-ac6f-0ff070c452d6')],
  'k8s-guaranteed-v1-cgroupfs': [pod('1ff47ee6-9685-4726-ac6f-0ff070c452d6')],
  'k8s-crio-v1-systemd': [pod('a5c1f8d5-1919-434d-add7-4afaafdaef89'), hex('crio', O)],
  'crio-v2-conmon': [hex('crio', O)],
  'k8s-dockershim-v1': [pod('7d4424e6-bb13-42f4-a47a-45a4828bf54d'), hex('docker', D)],
  'k8s-containerd-driver-mismatch-v1': [pod('0125ec2f-b64a-4868-8f5b-94b56cbab864'), hex('containerd', C)],
  'nerdctl-v2': [hex('containerd', K)],
  'lxc-v2': [named('lxc', 'web1')],
  // systemd inside the container makes units below the payload: the container still wins.
  'lxc-v2-systemd-inside': [named('lxc', 'web1')],
  'lxc-v2-monitor': [named('lxc', 'web1')],
  'lxc-v1': [named('lxc', 'web1')],
  'lxd-hybrid': [named('lxc', 'default_db')],
  'systemd-service-v2': [named('systemd', 'nginx.service')],
  'systemd-session-hybrid': [named('systemd', 'session-3.scope')],
  'systemd-user-app-v2': [named('systemd', 'vte-spawn-5f1e2c3d-4b5a-4c6d-8e7f-9a0b1c2d3e4f.scope')],
  'systemd-service-v1': [named('systemd', 'cron.service')],
  'host-root-v2': [],
  'this-machine-hybrid': [],
  'near-misses-v2': [],
};

describe('ownersFromCgroup on captured /proc/PID/cgroup', () => {
  it('has a case for every fixture and a fixture for every case', () => {
    const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.cgroup')).map((f) => f.slice(0, -'.cgroup'.length));
    expect(files.sort()).toEqual(Object.keys(CASES).sort());
  });

  for (const [name, expected] of Object.entries(CASES)) {
    it(name, () => expect(ownersFromCgroup(parseCgroup(fixture(name)))).toEqual(expected));
  }
});

describe('classifyCgroupPath', () => {
  it('returns the most specific owner: the container, not its pod', () => {
    const path = `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod55c6c714_b240_4dec_9a45_57b61696ab6e.slice/cri-containerd-${C}.scope`;
    expect(classifyCgroupPath(path)).toEqual(hex('containerd', C));
    expect(classifyCgroupPathAll(path).map((o) => o.kind)).toEqual(['kubernetes', 'containerd']);
  });

  it('names a systemd unit only when no container rule matches', () => {
    expect(classifyCgroupPath('/system.slice/ssh.service')).toEqual(named('systemd', 'ssh.service'));
    expect(classifyCgroupPath(`/system.slice/docker-${D}.scope`)?.kind).toBe('docker');
    // A scope that merely starts with "docker-" but carries no container id is a unit.
    expect(classifyCgroupPath('/system.slice/docker-compose@web.service')).toEqual(named('systemd', 'docker-compose@web.service'));
  });

  it('takes the innermost unit', () => {
    expect(classifyCgroupPath('/user.slice/user-1000.slice/user@1000.service/app.slice/dbus.service')?.name).toBe('dbus.service');
  });

  it('needs whole path components and full-length ids', () => {
    expect(classifyCgroupPath(`/docker/${D.slice(0, 63)}`)).toBeUndefined();
    expect(classifyCgroupPath(`/notdocker/${D}`)).toBeUndefined();
    expect(classifyCgroupPath(`/docker/${D}x`)).toBeUndefined();
    expect(classifyCgroupPath(`/docker/${D.toUpperCase()}`)).toBeUndefined();
    expect(classifyCgroupPath('/kubepods/burstable/podnot-a-uid')).toBeUndefined();
    expect(classifyCgroupPath('/')).toBeUndefined();
    expect(classifyCgroupPath('')).toBeUndefined();
  });
});

describe('candidateCgroupPaths', () => {
  it('orders v2 first, then name=systemd, then the other controllers, skipping /', () => {
    const entries = parseCgroup('4:memory:/m\n3:pids:/p\n2:cpu:/\n1:name=systemd:/s\n0::/u\n');
    expect(candidateCgroupPaths(entries)).toEqual(['/u', '/s', '/m', '/p']);
  });

  it('skips a root v2 line, so a v1-only placement is still found', () => {
    const entries = parseCgroup(`1:name=systemd:/docker/${D}\n0::/\n`);
    expect(candidateCgroupPaths(entries)).toEqual([`/docker/${D}`]);
  });

  it('lists a path shared by several controllers once', () => {
    expect(candidateCgroupPaths(parseCgroup('2:pids:/x\n1:memory:/x\n'))).toEqual(['/x']);
  });
});
