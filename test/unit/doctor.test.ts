/**
 * The doctor on fixture trees: /proc, /proc/sys, /etc and /sys/fs/cgroup are built in a
 * temp directory per test and the namespace-creation probe is injected, so each kernel
 * setting the doctor reads can be set to present / absent / 0 / 1.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { doctorPassed, runDoctor, type Check, type DoctorOptions } from '../../src/core/doctor.js';
import { NsmError } from '../../src/sys/errors.js';
import type { UnshareProbe } from '../../src/sys/host.js';
import { NS_TYPES, type NsType } from '../../src/sys/nstypes.js';

const isRoot = process.geteuid?.() === 0;
const scratch: string[] = [];
afterEach(() => {
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function put(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

// This machine's cgroup layout (hybrid), captured from /proc/self/mountinfo and /proc/self/cgroup.
const HYBRID_MOUNTINFO = `25 1 254:0 / / rw,relatime - ext4 /dev/vda rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;
const HYBRID_CGROUP = `9:name=systemd:/
4:memory:/process_api/ee42
2:cpuacct:/
1:cpu:/
0::/
`;
// A systemd host on cgroup v2 (Debian 12 / Ubuntu 22.04+), user session cgroup.
const V2_MOUNTINFO = `25 1 254:0 / / rw,relatime - ext4 /dev/vda rw
30 24 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`;
const V2_CGROUP = '0::/user.slice/user-1000.slice/user@1000.service/app.slice/term.scope\n';
// A legacy v1 host (CentOS 7), two controllers co-mounted.
const V1_MOUNTINFO = `25 1 254:0 / / rw,relatime - ext4 /dev/vda rw
31 23 0:28 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:8 - tmpfs tmpfs ro,mode=755
34 31 0:31 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,pids
`;
const V1_CGROUP = '3:pids:/user.slice\n2:cpu,cpuacct:/user.slice\n';

interface Fixture {
  root: string;
  options: DoctorOptions;
  /** Write /proc/sys/<a/b> under the fixture. */
  sysctl(name: string, value: string): void;
  etc(file: string, text: string): void;
}

/**
 * A fixture host: all eight ns entries, passwd with cloudsdk (1000), the hybrid cgroup
 * layout with the caller's cgroup directories, an empty search path, a state dir that
 * does not exist yet under a writable parent, a helper that is found, and a probe that
 * succeeds for every type.
 */
function fixture(over: Partial<DoctorOptions> = {}, types: readonly NsType[] = NS_TYPES.map((t) => t.name)): Fixture {
  const root = mkdtempSync(join(tmpdir(), 'nsm-doctor-fixture-'));
  scratch.push(root);
  for (const t of NS_TYPES) {
    if (!types.includes(t.name)) continue;
    mkdirSync(join(root, 'proc/self/ns'), { recursive: true });
    symlinkSync(`${t.procEntry}:[4026531${String(NS_TYPES.indexOf(t)).padStart(3, '0')}]`, join(root, 'proc/self/ns', t.procEntry));
  }
  put(join(root, 'proc/self/mountinfo'), HYBRID_MOUNTINFO);
  put(join(root, 'proc/self/cgroup'), HYBRID_CGROUP);
  mkdirSync(join(root, 'proc/sys/user'), { recursive: true });
  put(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\ncloudsdk:x:1000:1000::/home/cloudsdk:/bin/bash\nnobody:x:65534:65534::/:/usr/sbin/nologin\n');
  for (const d of ['cpu', 'cpuacct', 'memory/process_api/ee42', 'systemd', 'unified']) mkdirSync(join(root, 'cgroup', d), { recursive: true });
  put(join(root, 'cgroup/unified/cgroup.controllers'), 'hugetlb\n');
  put(join(root, 'cgroup/unified/cgroup.subtree_control'), '\n');
  put(join(root, 'cgroup/unified/cgroup.procs'), '');
  mkdirSync(join(root, 'bin'));
  mkdirSync(join(root, 'run'));
  const options: DoctorOptions = {
    procRoot: join(root, 'proc'),
    procSysRoot: join(root, 'proc/sys'),
    etcRoot: join(root, 'etc'),
    cgroupRoot: join(root, 'cgroup'),
    searchPath: [join(root, 'bin')],
    uid: 1000,
    env: { NSM_STATE_DIR: join(root, 'run/nsm') },
    kernel: { release: '6.8.0-1017-azure', machine: 'x86_64' },
    probe: async (type, viaUser) => ({ ok: true, command: `unshare ${viaUser ? '--user --map-root-user ' : ''}--${type} true` }),
    helper: () => '/opt/nsm/native/build/nsm-helper',
    ...over,
  };
  return {
    root,
    options,
    sysctl: (name, value) => put(join(root, 'proc/sys', ...name.split('.')), `${value}\n`),
    etc: (file, text) => put(join(root, 'etc', file), text),
  };
}

function byId(checks: readonly Check[], id: string): Check {
  const c = checks.find((x) => x.id === id);
  if (!c) throw new Error(`no check ${id} in ${checks.map((x) => x.id).join(' ')}`);
  return c;
}

/** A probe that refuses user namespaces the way unshare(1) reports it, and all others through them. */
const refuseUserNs = async (type: NsType, viaUser: boolean): Promise<UnshareProbe> =>
  type === 'user' || viaUser
    ? { ok: false, command: `unshare --user --map-root-user --${type} true`, errno: 'EPERM', message: 'unshare failed: EPERM' }
    : { ok: true, command: `unshare --${type} true` };

describe('doctor: the checks and their order', () => {
  it('lists kernel, the eight types, the knobs, uidmap, sub-ids, cgroups, state dir, helper', async () => {
    const f = fixture();
    const checks = await runDoctor(f.options);
    expect(checks.map((c) => c.id)).toEqual([
      'kernel',
      ...NS_TYPES.map((t) => `ns.${t.name}`),
      'userns.clone',
      'userns.max',
      'userns.apparmor',
      'uidmap.newuidmap',
      'uidmap.newgidmap',
      'subuid',
      'subgid',
      'cgroup',
      'cgroup.delegation',
      'state-dir',
      'helper',
      'net.pasta',
      'net.slirp4netns',
    ]);
    expect(byId(checks, 'kernel').detail).toBe('Linux 6.8.0-1017-azure x86_64');
    expect(byId(checks, 'ns.net')).toMatchObject({ status: 'ok', detail: 'can create in a user namespace: unshare --user --map-root-user --net true' });
  });

  it('pasta and slirp4netns: found with their version; missing: a warning naming the Debian package passt', async () => {
    const none = await runDoctor(fixture().options);
    expect(byId(none, 'net.pasta')).toMatchObject({ status: 'warn', detail: 'not found, nor slirp4netns: --pasta cannot work', fix: 'sudo apt-get install passt' });
    expect(byId(none, 'net.slirp4netns')).toMatchObject({ status: 'ok', detail: 'not found (only a fallback for pasta)' });
    const f = fixture({ version: (p) => `${p.split('/').pop()} 9.9`, tunUsable: () => false });
    for (const name of ['pasta', 'slirp4netns']) {
      put(join(f.root, 'bin', name), '#!/bin/sh\n');
      chmodSync(join(f.root, 'bin', name), 0o755);
    }
    const both = await runDoctor(f.options);
    expect(byId(both, 'net.pasta')).toMatchObject({ status: 'ok', detail: `${join(f.root, 'bin/pasta')} (pasta 9.9): --pasta and --publish work` });
    expect(byId(both, 'net.slirp4netns').detail).toContain('(slirp4netns 9.9)');
    expect(byId(both, 'net.tun')).toMatchObject({ status: 'warn', fix: 'sudo chmod 0666 /dev/net/tun' });
  });

  it('probes through a user namespace for a user and directly for root', async () => {
    const seen: string[] = [];
    const probe = async (type: NsType, viaUser: boolean): Promise<UnshareProbe> => {
      seen.push(`${type}:${viaUser}`);
      return { ok: true, command: 'x' };
    };
    await runDoctor(fixture({ probe, uid: 1000 }).options);
    expect(seen.sort()).toEqual(NS_TYPES.map((t) => `${t.name}:true`).sort());
    seen.length = 0;
    await runDoctor(fixture({ probe, uid: 0 }).options);
    expect(seen.sort()).toEqual(NS_TYPES.map((t) => `${t.name}:false`).sort());
  });
});

describe('doctor: namespace types', () => {
  it('a type missing from the kernel is a warning, and is not probed', async () => {
    const probed: NsType[] = [];
    const f = fixture({ probe: async (t) => (probed.push(t), { ok: true, command: 'x' }) }, ['user', 'cgroup', 'ipc', 'uts', 'net', 'pid', 'mnt']);
    const checks = await runDoctor(f.options);
    expect(byId(checks, 'ns.time')).toMatchObject({ status: 'warn' });
    expect(byId(checks, 'ns.time').detail).toContain('needs Linux 5.6');
    expect(probed).not.toContain('time');
    expect(doctorPassed(checks)).toBe(true);
  });

  it('no user namespaces in the kernel fails a user, not root', async () => {
    const noUser = NS_TYPES.map((t) => t.name).filter((t) => t !== 'user');
    expect(byId(await runDoctor(fixture({ uid: 1000 }, noUser).options), 'ns.user').status).toBe('fail');
    expect(byId(await runDoctor(fixture({ uid: 0 }, noUser).options), 'ns.user').status).toBe('warn');
  });

  it('a type the caller cannot create fails, with the errno', async () => {
    const probe = async (type: NsType): Promise<UnshareProbe> =>
      type === 'time' ? { ok: false, command: 'unshare --time true', errno: 'EPERM', message: 'unshare failed: EPERM' } : { ok: true, command: 'x' };
    const checks = await runDoctor(fixture({ uid: 0, probe }).options);
    expect(byId(checks, 'ns.time')).toMatchObject({ status: 'fail', detail: 'cannot create: unshare failed: EPERM (unshare --time true)' });
    expect(doctorPassed(checks)).toBe(false);
  });

  it('ENOSPC names the max_<type>_namespaces limit', async () => {
    const probe = async (type: NsType): Promise<UnshareProbe> =>
      type === 'net' ? { ok: false, command: 'unshare --net true', errno: 'ENOSPC', message: 'unshare failed: ENOSPC' } : { ok: true, command: 'x' };
    const checks = await runDoctor(fixture({ uid: 0, probe }).options);
    expect(byId(checks, 'ns.net').detail).toContain('/proc/sys/user/max_net_namespaces');
  });

  it('a probe that cannot run (no unshare(1)) warns and suggests util-linux', async () => {
    const probe = async (): Promise<UnshareProbe> => ({ ok: undefined, command: 'unshare --net true', message: 'unshare(1) not found' });
    const checks = await runDoctor(fixture({ probe }).options);
    expect(byId(checks, 'ns.net')).toMatchObject({ status: 'warn', fix: 'sudo apt-get install util-linux' });
    expect(doctorPassed(checks)).toBe(true);
  });
});

describe('doctor: user-namespace sysctl knobs', () => {
  it('absent files restrict nothing', async () => {
    const checks = await runDoctor(fixture().options);
    for (const id of ['userns.clone', 'userns.max', 'userns.apparmor']) {
      expect(byId(checks, id)).toMatchObject({ status: 'ok' });
      expect(byId(checks, id).detail).toContain('not in this kernel');
    }
  });

  it('kernel.unprivileged_userns_clone = 1 is ok', async () => {
    const f = fixture();
    f.sysctl('kernel.unprivileged_userns_clone', '1');
    expect(byId(await runDoctor(f.options), 'userns.clone')).toMatchObject({ status: 'ok', detail: 'kernel.unprivileged_userns_clone = 1: unprivileged user namespaces allowed' });
  });

  it('kernel.unprivileged_userns_clone = 0 fails a user whose probe fails, and ns.user points at the fix', async () => {
    const f = fixture({ uid: 1000, probe: refuseUserNs });
    f.sysctl('kernel.unprivileged_userns_clone', '0');
    const checks = await runDoctor(f.options);
    const fix = 'sudo sysctl -w kernel.unprivileged_userns_clone=1';
    expect(byId(checks, 'userns.clone')).toMatchObject({ status: 'fail', fix });
    expect(byId(checks, 'ns.user')).toMatchObject({ status: 'fail', fix });
    expect(byId(checks, 'ns.net')).toMatchObject({ status: 'fail', fix });
    expect(doctorPassed(checks)).toBe(false);
  });

  it('kernel.unprivileged_userns_clone = 0 only warns root (root is exempt)', async () => {
    const f = fixture({ uid: 0 });
    f.sysctl('kernel.unprivileged_userns_clone', '0');
    const checks = await runDoctor(f.options);
    expect(byId(checks, 'userns.clone')).toMatchObject({ status: 'warn', fix: 'sysctl -w kernel.unprivileged_userns_clone=1' });
    expect(byId(checks, 'userns.clone').detail).toContain('root is exempt');
    expect(doctorPassed(checks)).toBe(true);
  });

  it('user.max_user_namespaces = 0 fails root too when root cannot create one', async () => {
    const f = fixture({ uid: 0, probe: async (t) => (t === 'user' ? { ok: false, command: 'unshare --user true', errno: 'ENOSPC', message: 'unshare failed: ENOSPC' } : { ok: true, command: 'x' }) });
    f.sysctl('user.max_user_namespaces', '0');
    const checks = await runDoctor(f.options);
    expect(byId(checks, 'userns.max')).toMatchObject({ status: 'fail', fix: 'sysctl -w user.max_user_namespaces=15000' });
    expect(byId(checks, 'ns.user')).toMatchObject({ status: 'fail', fix: 'sysctl -w user.max_user_namespaces=15000' });
    expect(byId(checks, 'ns.net').status).toBe('ok');
  });

  it('user.max_user_namespaces above 0 is ok and shown', async () => {
    const f = fixture();
    f.sysctl('user.max_user_namespaces', '96365');
    expect(byId(await runDoctor(f.options), 'userns.max').detail).toBe('user.max_user_namespaces = 96365: the most one user may have');
  });

  it('kernel.apparmor_restrict_unprivileged_userns = 1 fails a user whose probe fails (Ubuntu 24.04)', async () => {
    const f = fixture({
      probe: async (t, viaUser) =>
        viaUser ? { ok: false, command: `unshare --user --map-root-user --${t} true`, errno: 'EPERM', message: 'write failed /proc/self/uid_map: EPERM' } : { ok: true, command: 'x' },
    });
    f.sysctl('kernel.apparmor_restrict_unprivileged_userns', '1');
    const checks = await runDoctor(f.options);
    expect(byId(checks, 'userns.apparmor')).toMatchObject({ status: 'fail', fix: 'sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0' });
    expect(byId(checks, 'ns.user').detail).toContain('write failed /proc/self/uid_map: EPERM');
  });

  it('kernel.apparmor_restrict_unprivileged_userns = 1 only warns when the probe still succeeds', async () => {
    const f = fixture();
    f.sysctl('kernel.apparmor_restrict_unprivileged_userns', '1');
    const checks = await runDoctor(f.options);
    expect(byId(checks, 'userns.apparmor')).toMatchObject({ status: 'warn' });
    expect(byId(checks, 'userns.apparmor').detail).toContain('yet your probe succeeded');
    expect(doctorPassed(checks)).toBe(true);
  });

  it('kernel.apparmor_restrict_unprivileged_userns = 0 is ok', async () => {
    const f = fixture();
    f.sysctl('kernel.apparmor_restrict_unprivileged_userns', '0');
    expect(byId(await runDoctor(f.options), 'userns.apparmor').status).toBe('ok');
  });
});

describe('doctor: newuidmap / newgidmap', () => {
  it('missing: warn, fix apt-get install uidmap', async () => {
    const checks = await runDoctor(fixture().options);
    expect(byId(checks, 'uidmap.newuidmap')).toMatchObject({ status: 'warn', fix: 'sudo apt-get install uidmap' });
    expect(byId(checks, 'uidmap.newgidmap')).toMatchObject({ status: 'warn', fix: 'sudo apt-get install uidmap' });
  });

  it('present without setuid or file capability: warn, reinstall', async () => {
    const f = fixture();
    copyFileSync('/usr/bin/true', join(f.root, 'bin/newuidmap'));
    chmodSync(join(f.root, 'bin/newuidmap'), 0o755);
    const c = byId(await runDoctor(f.options), 'uidmap.newuidmap');
    expect(c).toMatchObject({ status: 'warn', fix: 'sudo apt-get install --reinstall uidmap' });
    expect(c.detail).toContain('neither setuid root nor has cap_setuid');
  });

  it.skipIf(!isRoot)('setuid root: ok (needs root to make a root-owned setuid file)', async () => {
    const f = fixture();
    copyFileSync('/usr/bin/true', join(f.root, 'bin/newgidmap'));
    chmodSync(join(f.root, 'bin/newgidmap'), 0o4755);
    expect(byId(await runDoctor(f.options), 'uidmap.newgidmap')).toMatchObject({ status: 'ok', detail: `${join(f.root, 'bin/newgidmap')} (setuid root)` });
  });

  const setcap = spawnSync('sh', ['-c', 'command -v setcap'], { encoding: 'utf8' }).stdout.trim();
  it.skipIf(!isRoot || !setcap)('file capability cap_setuid+ep: ok (needs root and setcap from libcap2-bin)', async () => {
    const f = fixture();
    const file = join(f.root, 'bin/newuidmap');
    copyFileSync('/usr/bin/true', file);
    const r = spawnSync(setcap, ['cap_setuid+ep', file], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(byId(await runDoctor(f.options), 'uidmap.newuidmap')).toMatchObject({ status: 'ok', detail: `${file} (file capability cap_setuid+ep)` });
  });
});

describe('doctor: /etc/subuid and /etc/subgid', () => {
  it('finds the caller by login name and by uid', async () => {
    const f = fixture({ uid: 1000 });
    f.etc('subuid', 'alice:100000:65536\ncloudsdk:165536:65536\n');
    f.etc('subgid', '# by uid\n1000:200000:1000\n');
    const checks = await runDoctor(f.options);
    expect(byId(checks, 'subuid')).toMatchObject({ status: 'ok', detail: 'cloudsdk: 165536-231071 (65536 ids)' });
    expect(byId(checks, 'subgid')).toMatchObject({ status: 'ok', detail: 'cloudsdk: 200000-200999 (1000 ids)' });
  });

  it('no range: warn, with a usermod that picks a free range', async () => {
    const f = fixture({ uid: 1000 });
    f.etc('subuid', 'alice:100000:65536\nbob:165536:65536\n');
    const checks = await runDoctor(f.options);
    expect(byId(checks, 'subuid')).toMatchObject({ status: 'warn', fix: 'sudo usermod --add-subuids 231072-296607 cloudsdk' });
    // /etc/subgid does not exist in this fixture.
    expect(byId(checks, 'subgid')).toMatchObject({ status: 'warn', fix: 'sudo usermod --add-subgids 100000-165535 cloudsdk' });
    expect(byId(checks, 'subgid').detail).toContain('/etc/subgid does not exist');
  });

  it('a uid without a login name gets a line to append', async () => {
    const f = fixture({ uid: 4242 });
    f.etc('subuid', '');
    expect(byId(await runDoctor(f.options), 'subuid').fix).toBe('echo 4242:100000:65536 | sudo tee -a /etc/subuid');
  });

  it('root needs no range', async () => {
    expect(byId(await runDoctor(fixture({ uid: 0 }).options), 'subuid')).toMatchObject({ status: 'ok' });
  });
});

describe('doctor: cgroups', () => {
  it('hybrid: v1 hierarchies plus v2 at /sys/fs/cgroup/unified', async () => {
    const checks = await runDoctor(fixture({ uid: 0 }).options);
    expect(byId(checks, 'cgroup')).toMatchObject({ status: 'ok', detail: 'hybrid: 4 v1 hierarchies at /sys/fs/cgroup/<controller>, v2 at /sys/fs/cgroup/unified' });
  });

  it.skipIf(!isRoot)('hybrid, as root: every existing cgroup dir is writable (access(2) as root)', async () => {
    const checks = await runDoctor(fixture({ uid: 0 }).options);
    expect(byId(checks, 'cgroup.delegation')).toMatchObject({ status: 'ok', detail: 'v2 /: hugetlb (delegated to you); v1 writable by you: cpu cpuacct memory name=systemd' });
  });

  it('v2 with the caller delegated its user-session cgroup', async () => {
    const f = fixture({ uid: 1000 });
    put(join(f.root, 'proc/self/mountinfo'), V2_MOUNTINFO);
    put(join(f.root, 'proc/self/cgroup'), V2_CGROUP);
    const dir = join(f.root, 'cgroup', V2_CGROUP.slice(3).trim());
    put(join(dir, 'cgroup.controllers'), 'cpu memory pids\n');
    put(join(dir, 'cgroup.subtree_control'), 'memory pids\n');
    put(join(dir, 'cgroup.procs'), '');
    const checks = await runDoctor(f.options);
    expect(byId(checks, 'cgroup')).toMatchObject({ status: 'ok', detail: 'v2 (unified) at /sys/fs/cgroup' });
    // Writable here because the fixture is ours (root runs the tests, or its owner does).
    expect(byId(checks, 'cgroup.delegation').detail).toBe('v2 /user.slice/user-1000.slice/user@1000.service/app.slice/term.scope: cpu memory pids (delegated to you)');
  });

  it('v2 whose caller cgroup is missing: nothing delegated, warn with a systemd-run fix', async () => {
    const f = fixture({ uid: 1000 });
    put(join(f.root, 'proc/self/mountinfo'), V2_MOUNTINFO);
    put(join(f.root, 'proc/self/cgroup'), V2_CGROUP);
    const checks = await runDoctor(f.options);
    expect(byId(checks, 'cgroup.delegation')).toMatchObject({ status: 'warn', fix: 'systemd-run --user --scope --property=Delegate=yes $SHELL' });
    expect(doctorPassed(checks)).toBe(true);
  });

  it('v1 only, co-mounted cpu,cpuacct matched by super options', async () => {
    const f = fixture({ uid: 0 });
    put(join(f.root, 'proc/self/mountinfo'), V1_MOUNTINFO);
    put(join(f.root, 'proc/self/cgroup'), V1_CGROUP);
    mkdirSync(join(f.root, 'cgroup/cpu,cpuacct/user.slice'), { recursive: true });
    const checks = await runDoctor(f.options);
    expect(byId(checks, 'cgroup').detail).toBe('v1 (legacy): 2 hierarchies at /sys/fs/cgroup/<controller>');
    // pids/user.slice does not exist in the fixture, so only cpu,cpuacct is writable (the
    // fixture is ours: root runs the tests, or its owner does).
    expect(byId(checks, 'cgroup.delegation').detail).toBe('v1 writable by you: cpu cpuacct');
  });

  it('no cgroup filesystem: warn with a mount command', async () => {
    const f = fixture({ uid: 0 });
    put(join(f.root, 'proc/self/mountinfo'), '25 1 254:0 / / rw - ext4 /dev/vda rw\n');
    const checks = await runDoctor(f.options);
    expect(byId(checks, 'cgroup')).toMatchObject({ status: 'warn', fix: 'mount -t cgroup2 cgroup2 /sys/fs/cgroup' });
    expect(checks.some((c) => c.id === 'cgroup.delegation')).toBe(false);
  });
});

describe('doctor: state directory', () => {
  it('missing under a writable parent: ok, created on first use', async () => {
    const f = fixture();
    expect(byId(await runDoctor(f.options), 'state-dir')).toMatchObject({ status: 'ok', detail: `${join(f.root, 'run/nsm')} (NSM_STATE_DIR): created on first use` });
  });

  it('0700 and ours: ok, counting environments (directories with env.json)', async () => {
    const uid = process.geteuid!();
    const f = fixture({ uid });
    const dir = join(f.root, 'run/nsm');
    mkdirSync(join(dir, 'envs/web'), { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    writeFileSync(join(dir, 'envs/web/env.json'), '{}');
    mkdirSync(join(dir, 'envs/half-made'));
    expect(byId(await runDoctor(f.options), 'state-dir')).toMatchObject({ status: 'ok', detail: `${dir} (NSM_STATE_DIR): 1 environment` });
  });

  it('0755: warn, chmod 700', async () => {
    const f = fixture({ uid: process.geteuid!() });
    const dir = join(f.root, 'run/nsm');
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    expect(byId(await runDoctor(f.options), 'state-dir')).toMatchObject({ status: 'warn', fix: `chmod 700 ${dir}` });
  });

  it('a symlink: fail', async () => {
    const f = fixture({ uid: process.geteuid!() });
    symlinkSync(f.root, join(f.root, 'run/nsm'));
    const checks = await runDoctor(f.options);
    expect(byId(checks, 'state-dir')).toMatchObject({ status: 'fail', fix: 'export NSM_STATE_DIR=$(mktemp -d)' });
    expect(doctorPassed(checks)).toBe(false);
  });

  it("someone else's directory: fail", async () => {
    const f = fixture({ uid: process.geteuid!() + 1 });
    mkdirSync(join(f.root, 'run/nsm'), { mode: 0o700 });
    expect(byId(await runDoctor(f.options), 'state-dir').status).toBe('fail');
  });

  it('without NSM_STATE_DIR: root uses /run/nsm, users XDG_RUNTIME_DIR/nsm or /tmp/nsm-UID', async () => {
    // A non-root caller: ourselves, or (as root) uid 1000 with the directory given to it.
    const uid = process.geteuid!() === 0 ? 1000 : process.geteuid!();
    expect(byId(await runDoctor(fixture({ uid: 0, env: {} }).options), 'state-dir').detail).toMatch(/^\/run\/nsm[: ]/);
    // XDG_RUNTIME_DIR counts only when it is the caller's own 0700 directory (statefs.ts).
    const xdg = mkdtempSync(join(tmpdir(), 'nsm-xdg-'));
    try {
      chmodSync(xdg, 0o700);
      if (process.geteuid!() === 0) chownSync(xdg, uid, uid);
      const usable = await runDoctor(fixture({ uid, env: { XDG_RUNTIME_DIR: xdg } }).options);
      expect(byId(usable, 'state-dir').detail.startsWith(`${xdg}/nsm`)).toBe(true);
      const foreign = await runDoctor(fixture({ uid: uid + 1000, env: { XDG_RUNTIME_DIR: xdg } }).options);
      expect(byId(foreign, 'state-dir').detail).toMatch(new RegExp(`^/tmp/nsm-${uid + 1000}[: ]`));
    } finally {
      rmSync(xdg, { recursive: true, force: true });
    }
    expect(byId(await runDoctor(fixture({ uid: 1000, env: {} }).options), 'state-dir').detail).toMatch(/^\/tmp\/nsm-1000[: ]/);
  });
});

describe('doctor: native helper', () => {
  it('missing: fail, with make -C on the native/ directory of the package', async () => {
    const helper = (): string => {
      throw new NsmError('native helper not found or not executable: /opt/nsm/native/build/nsm-helper');
    };
    const checks = await runDoctor(fixture({ helper }).options);
    expect(byId(checks, 'helper')).toMatchObject({ status: 'fail', fix: 'make -C /opt/nsm/native' });
    expect(doctorPassed(checks)).toBe(false);
  });

  it('a wrong NSM_HELPER: fix is to unset it', async () => {
    const helper = (): string => {
      throw new NsmError('native helper not found or not executable: /nowhere');
    };
    const f = fixture({ helper });
    expect(byId(await runDoctor({ ...f.options, env: { ...f.options.env, NSM_HELPER: '/nowhere' } }), 'helper').fix).toBe('unset NSM_HELPER');
  });
});
