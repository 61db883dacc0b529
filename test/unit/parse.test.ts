/**
 * The /proc parsers (src/sys/parse.ts) on text captured from a real host
 * (test/fixtures/capture.sh wrote test/fixtures/captured/).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  isIdentityMap,
  nsfsMounts,
  nsfsMountsOf,
  parseCgroup,
  parseCmdline,
  parseIdMap,
  parseMountinfo,
  parseLoadavgLastPid,
  parseNsLink,
  parseStat,
  parseStatus,
} from '../../src/sys/parse.js';

const captured = (name: string): string => readFileSync(new URL(`../fixtures/captured/${name}`, import.meta.url), 'latin1');

describe('parseStat', () => {
  it('reads pid, comm, state, ppid, threads and start time (field 22)', () => {
    const st = parseStat(captured('stat-self.txt'));
    expect(st.comm).toBe('cat');
    expect(st.pid).toBeGreaterThan(2);
    expect(st.state).toBe('R');
    expect(st.numThreads).toBe(1);
    expect(st.startTime).toBeGreaterThan(0);
  });

  it('splits a comm holding a space and a ")" at the last ")"', () => {
    const st = parseStat(captured('stat-odd-comm.txt'));
    expect(st).toEqual({ pid: 20166, comm: 'a b) c', state: 'S', ppid: 20158, numThreads: 1, startTime: 508648, exitSignal: 17 });
  });

  it('tells a thread (exit_signal -1, field 38) from a process (SIGCHLD) and a kernel thread (0)', () => {
    expect(parseStat(captured('stat-thread.txt')).exitSignal).toBe(-1);
    expect(parseStat(captured('stat-self.txt')).exitSignal).toBe(17);
    expect(parseStat(captured('stat-kthreadd.txt')).exitSignal).toBe(0);
    expect(parseStat('12 (sh) S 1 12 12 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 10').exitSignal).toBeUndefined();
  });

  it('reads a kernel thread (ppid 0)', () => {
    const st = parseStat(captured('stat-kthreadd.txt'));
    expect(st.pid).toBe(2);
    expect(st.comm).toBe('kthreadd');
    expect(st.ppid).toBe(0);
  });

  it('rejects text that is not a stat line', () => {
    expect(() => parseStat('')).toThrow(/malformed stat/);
    expect(() => parseStat('12 no parens S 1')).toThrow(/malformed stat/);
  });
});

describe('parseLoadavgLastPid', () => {
  it('reads the last pid handed out (field 5)', () => {
    expect(parseLoadavgLastPid(captured('loadavg.txt'))).toBe(1365);
    expect(parseLoadavgLastPid('0.00 0.01 0.05 1/80 4194303\n')).toBe(4194303);
  });

  it('rejects text that is not a loadavg line', () => {
    expect(() => parseLoadavgLastPid('')).toThrow(/malformed loadavg/);
    expect(() => parseLoadavgLastPid('0.00 0.01 0.05 1/80')).toThrow(/malformed loadavg/);
  });
});

describe('parseStatus', () => {
  it('reads a host process: one NSpid entry, uids, threads', () => {
    const st = parseStatus(captured('status-self.txt'));
    expect(st.name).toBe('cat');
    expect(st.nspid).toEqual([st.pid]);
    expect(st.uid).toEqual([0, 0, 0, 0]);
    expect(st.gid).toEqual([0, 0, 0, 0]);
    expect(st.threads).toBe(1);
    expect(st.ppid).toBeGreaterThan(0);
  });

  it('reads the NSpid chain of a process in a child pid namespace, outermost first', () => {
    const st = parseStatus(captured('status-nested.txt'));
    expect(st.name).toBe('sleep');
    expect(st.nspid).toEqual([st.pid, 1]);
    expect(st.ppid).toBe(20199);
  });

  it('falls back to the pid alone without an NSpid line (kernels before 4.1)', () => {
    expect(parseStatus('Name:\tx\nPid:\t7\nPPid:\t1\n').nspid).toEqual([7]);
  });
});

describe('parseCmdline', () => {
  it('splits NUL-separated arguments, keeping spaces inside one', () => {
    const args = parseCmdline(captured('cmdline-odd.bin'));
    expect(args).toHaveLength(2);
    expect(args[0]).toMatch(/\/a b\) c$/);
    expect(args[1]).toBe('60');
  });

  it('gives no arguments for a kernel thread', () => {
    expect(parseCmdline(captured('cmdline-kthread.bin'))).toEqual([]);
  });
});

describe('parseCgroup', () => {
  it('reads v1 hierarchies with their controllers and the v2 unified line', () => {
    const entries = parseCgroup(captured('cgroup-v1v2.txt'));
    expect(entries).toContainEqual({ hierarchy: 0, controllers: [], path: '/' });
    expect(entries).toContainEqual({ hierarchy: 9, controllers: ['name=systemd'], path: '/' });
    const memory = entries.find((e) => e.controllers.includes('memory'));
    expect(memory?.path).toMatch(/^\/process_api\//);
    expect(entries).toHaveLength(10);
  });

  it('keeps a ":" inside the path', () => {
    expect(parseCgroup('0::/a:b/c\n')).toEqual([{ hierarchy: 0, controllers: [], path: '/a:b/c' }]);
  });
});

describe('parseIdMap / isIdentityMap', () => {
  it('recognises the initial namespace identity map', () => {
    const map = parseIdMap(captured('uid_map-identity.txt'));
    expect(map).toEqual([{ inside: 0, outside: 0, count: 4294967295 }]);
    expect(isIdentityMap(map)).toBe(true);
  });

  it('reads a one-line map (unshare --map-root-user as root)', () => {
    const map = parseIdMap(captured('uid_map-root.txt'));
    expect(map).toEqual([{ inside: 0, outside: 0, count: 1 }]);
    expect(isIdentityMap(map)).toBe(false);
  });

  it('reads a two-range map', () => {
    expect(parseIdMap(captured('gid_map-two-ranges.txt'))).toEqual([
      { inside: 0, outside: 100000, count: 1000 },
      { inside: 1000, outside: 0, count: 1 },
    ]);
  });

  it('gives an empty list for a map not yet written', () => {
    expect(parseIdMap('')).toEqual([]);
    expect(isIdentityMap([])).toBe(false);
  });
});

describe('parseNsLink', () => {
  it('reads every type', () => {
    expect(parseNsLink('net:[4026531833]')).toEqual({ type: 'net', inode: 4026531833 });
    expect(parseNsLink('time:[4026531834]')).toEqual({ type: 'time', inode: 4026531834 });
  });

  it('rejects links that are not namespaces', () => {
    for (const link of ['socket:[1234]', 'pipe:[5]', '/dev/null', 'net:[]', 'net:[12', 'net:[0]', 'anon_inode:[eventfd]']) {
      expect(parseNsLink(link)).toBeUndefined();
    }
  });
});

describe('parseMountinfo / nsfsMounts', () => {
  it('finds the ip-netns bind mount among ordinary mounts', () => {
    const mounts = parseMountinfo(captured('mountinfo-netns.txt'));
    expect(mounts.length).toBeGreaterThan(10);
    expect(mounts.find((m) => m.mountPoint === '/proc')?.fsType).toBe('proc');
    expect(nsfsMounts(mounts)).toEqual([{ type: 'net', inode: 4026532179, mountPoint: '/run/netns/nsm-capture' }]);
  });

  it('nsfsMountsOf parses only the nsfs lines of a whole mountinfo, and none without them', () => {
    const text = captured('mountinfo-netns.txt');
    expect(nsfsMountsOf(text)).toEqual(nsfsMounts(parseMountinfo(text)));
    expect(nsfsMountsOf(text.split('\n').filter((l) => !l.includes('nsfs')).join('\n'))).toEqual([]);
  });

  it('reads optional fields and unescapes octal in paths', () => {
    const [m] = parseMountinfo('43 42 0:4 net:[4026532180] /run/netns/a\\040b rw shared:2 master:1 - nsfs nsfs rw\n');
    expect(m).toMatchObject({ mountId: 43, parentId: 42, root: 'net:[4026532180]', mountPoint: '/run/netns/a b', optional: ['shared:2', 'master:1'], fsType: 'nsfs', source: 'nsfs' });
  });
});
