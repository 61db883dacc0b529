import { describe, expect, it } from 'vitest';
import { cgroupLayout, parseCgroupMounts } from '../../src/sys/cgroupfs.js';
import { parseCgroup } from '../../src/sys/parse.js';
import { parseKeyedCounters } from '../../src/sys/cgroupctl.js';
import { parseCpus, parsePidsMax, parseSize, planCgroups, type LimitHost } from '../../src/core/limits.js';
import { NsmError, UsageError } from '../../src/sys/errors.js';
import { bytesText } from '../../src/ui/lifecycle-view.js';

// The cgroup lines of this machine's /proc/self/mountinfo and its /proc/self/cgroup (hybrid:
// every controller on v1, cpu and cpuacct apart; v2 at /sys/fs/cgroup/unified with hugetlb only).
const HYBRID_MOUNTS = `32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw`;
const HYBRID_SELF = `9:name=systemd:/
8:pids:/
4:memory:/process_api/310cecf075871349d89db32fea6a3d79
3:cpuset:/
2:cpuacct:/
1:cpu:/
0::/`;
// A cgroup v2 host (systemd), the caller in a user session.
const V2_MOUNTS = '30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot';
const V2_SELF = '0::/user.slice/user-1000.slice/user@1000.service/app.slice/term.scope';
// A v1 host with cpu and cpuacct mounted together.
const V1_MOUNTS = `25 24 0:22 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
26 24 0:23 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
27 24 0:24 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids`;
const V1_SELF = `3:pids:/
2:memory:/
1:cpu,cpuacct:/`;

const NO_ROOT = '/nonexistent-cgroup-fixture';
function host(mounts: string, self: string, extra: Partial<LimitHost> = {}): LimitHost {
  return { euid: 0, layout: cgroupLayout(parseCgroupMounts(mounts), parseCgroup(self), NO_ROOT), v2RootControllers: [], ...extra };
}

describe('planCgroups', () => {
  it('this hybrid host: one v1 directory per hierarchy, nsm/env-NAME, cpuacct beside cpu for the usage', () => {
    const plans = planCgroups('web', { memory: 64 << 20, cpus: 0.5, pids: 5 }, host(HYBRID_MOUNTS, HYBRID_SELF, { v2RootControllers: ['hugetlb'] }));
    expect(plans.map((p) => [p.version, p.dir, p.controllers])).toEqual([
      [1, '/sys/fs/cgroup/memory/nsm/env-web', ['memory']],
      [1, '/sys/fs/cgroup/cpu/nsm/env-web', ['cpu']],
      [1, '/sys/fs/cgroup/pids/nsm/env-web', ['pids']],
      [1, '/sys/fs/cgroup/cpuacct/nsm/env-web', ['cpuacct']],
    ]);
    expect(plans[0]!.files).toEqual([['memory.limit_in_bytes', String(64 << 20)]]);
    expect(plans[1]!.files).toEqual([['cpu.cfs_period_us', '100000'], ['cpu.cfs_quota_us', '50000']]);
    expect(plans[2]!.files).toEqual([['pids.max', '5']]);
    expect(plans[3]!.files).toEqual([]);
    expect(plans[0]!.parents).toEqual([{ dir: '/sys/fs/cgroup/memory/nsm', enable: [] }]);
  });

  it('only what was asked for', () => {
    const plans = planCgroups('db', { pids: 10 }, host(HYBRID_MOUNTS, HYBRID_SELF));
    expect(plans.map((p) => p.dir)).toEqual(['/sys/fs/cgroup/pids/nsm/env-db']);
    expect(planCgroups('db', {}, host(HYBRID_MOUNTS, HYBRID_SELF))).toEqual([]);
  });

  it('v1 with cpu,cpuacct mounted together: one directory for both', () => {
    const plans = planCgroups('web', { cpus: 1.5 }, host(V1_MOUNTS, V1_SELF));
    expect(plans.map((p) => [p.dir, p.controllers, p.files])).toEqual([
      ['/sys/fs/cgroup/cpu,cpuacct/nsm/env-web', ['cpu', 'cpuacct'], [['cpu.cfs_period_us', '100000'], ['cpu.cfs_quota_us', '150000']]],
    ]);
  });

  it('cgroup v2 as root: one directory nsm/env-NAME, the controllers enabled in / and nsm', () => {
    const plans = planCgroups('web', { memory: 1 << 30, cpus: 2, pids: 100 }, host(V2_MOUNTS, V2_SELF, { v2RootControllers: ['cpuset', 'cpu', 'io', 'memory', 'pids'] }));
    expect(plans).toEqual([
      {
        version: 2,
        controllers: ['memory', 'cpu', 'pids'],
        dir: '/sys/fs/cgroup/nsm/env-web',
        parents: [
          { dir: '/sys/fs/cgroup', enable: ['memory', 'cpu', 'pids'] },
          { dir: '/sys/fs/cgroup/nsm', enable: ['memory', 'cpu', 'pids'] },
        ],
        files: [['memory.max', String(1 << 30)], ['cpu.max', '200000 100000'], ['pids.max', '100']],
      },
    ]);
  });

  it('v2 first, v1 for what v2 does not offer (hybrid with some controllers on v2)', () => {
    const plans = planCgroups('web', { memory: 1 << 30, pids: 9 }, host(HYBRID_MOUNTS, HYBRID_SELF, { v2RootControllers: ['pids'] }));
    expect(plans.map((p) => [p.version, p.dir])).toEqual([
      [2, '/sys/fs/cgroup/unified/nsm/env-web'],
      [1, '/sys/fs/cgroup/memory/nsm/env-web'],
    ]);
  });

  it('without root: under a delegated v2 directory as nsm-NAME', () => {
    const h = host(V2_MOUNTS, V2_SELF, {
      euid: 1000,
      delegated: { dir: '/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/app.slice', controllers: ['cpu', 'memory', 'pids'] },
    });
    expect(planCgroups('web', { memory: 64 << 20 }, h)).toEqual([
      {
        version: 2,
        controllers: ['memory'],
        dir: '/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/app.slice/nsm-web',
        parents: [{ dir: '/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/app.slice', enable: ['memory'] }],
        files: [['memory.max', String(64 << 20)]],
      },
    ]);
  });

  it('without root and nothing delegated: one line saying so, and that v1 is root only', () => {
    const err = (() => {
      try {
        planCgroups('web', { memory: 64 << 20 }, host(HYBRID_MOUNTS, HYBRID_SELF, { euid: 65534, v2RootControllers: ['hugetlb'] }));
      } catch (e) {
        return e as NsmError;
      }
    })();
    expect(err).toBeInstanceOf(NsmError);
    expect(err).not.toBeInstanceOf(UsageError);
    expect(err!.message).toMatch(/^--memory without root needs a delegated cgroup v2 subtree offering the memory controller: .*cgroup v1, which only root may change$/);
    expect(err!.message).not.toContain('\n');
  });

  it('root, but no hierarchy offers the controller: an error naming what there is', () => {
    expect(() => planCgroups('web', { pids: 5 }, host(V2_MOUNTS, '0::/', { v2RootControllers: ['memory'] }))).toThrow(
      /^--pids: no cgroup hierarchy offers the pids controller \(cgroup v2 at \/sys\/fs\/cgroup offers memory; no cgroup v1 hierarchy has it\)$/,
    );
  });
});

describe('option values', () => {
  it('--memory: bytes or K/M/G/T (powers of 1024), at least 1M', () => {
    expect(parseSize('64M')).toBe(64 * 1024 * 1024);
    expect(parseSize('64m')).toBe(64 * 1024 * 1024);
    expect(parseSize('1.5G')).toBe(1.5 * 1024 ** 3);
    expect(parseSize('2048K')).toBe(2 * 1024 * 1024);
    expect(parseSize('1048576')).toBe(1048576);
    expect(parseSize('512MiB')).toBe(512 * 1024 * 1024);
    for (const bad of ['', 'M', '64X', '-1M', '1e6', '100K', '64 M M']) expect(() => parseSize(bad), bad).toThrow(UsageError);
  });

  it('--cpus: fractional, 0.01 to the CPU count', () => {
    expect(parseCpus('0.5', 2)).toBe(0.5);
    expect(parseCpus('2', 2)).toBe(2);
    expect(parseCpus('.25', 2)).toBe(0.25);
    for (const bad of ['0', '0.001', '3', 'x', '-1', '1,5']) expect(() => parseCpus(bad, 2), bad).toThrow(UsageError);
  });

  it('--pids: a whole number from 2 (the holder and one command) to 4194304', () => {
    expect(parsePidsMax('5')).toBe(5);
    for (const bad of ['0', '1', '-3', '1.5', 'max', '', '4194305']) expect(() => parsePidsMax(bad), bad).toThrow(UsageError);
  });

  it('keyed counter files and byte counts', () => {
    expect([...parseKeyedCounters('max 3\n')]).toEqual([['max', 3]]);
    expect(parseKeyedCounters('usage_usec 120\nnr_throttled 4\nbogus\n').get('nr_throttled')).toBe(4);
    expect(parseKeyedCounters(undefined).size).toBe(0);
    expect(bytesText(64 * 1024 * 1024)).toBe('64 MiB');
    expect(bytesText(1474560)).toBe('1.4 MiB');
    expect(bytesText(921600)).toBe('900 KiB');
    expect(bytesText(512)).toBe('512 B');
  });
});
