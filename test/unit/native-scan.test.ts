/**
 * parseScanOutput (src/sys/native-scan.ts) on output captured from the real scanner
 * (test/fixtures/capture.sh), and on hand-made records for the edge cases.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseScanOutput, ScanParser } from '../../src/sys/native-scan.js';

const captured = readFileSync(new URL('../fixtures/captured/scan-output.txt', import.meta.url), 'utf8');

describe('parseScanOutput', () => {
  const scan = parseScanOutput(captured);

  it('reads one process per P record with its eight namespaces', () => {
    expect(scan.processes).toHaveLength(captured.split('\n').filter((l) => l.startsWith('P ')).length);
    const kthreadd = scan.processes.find((p) => p.pid === 2)!;
    expect(kthreadd).toEqual({
      pid: 2,
      ppid: 0,
      startTime: kthreadd.startTime,
      numThreads: 1,
      uid: 0,
      comm: 'kthreadd',
      ns: { user: 4026531837, cgroup: 4026531835, ipc: 4026531839, uts: 4026531838, net: 4026531833, pid: 4026531836, mnt: 4026531832, time: 4026531834 },
    });
  });

  it('reads the fd holder (F) and the threads outside their leader\'s namespace (T)', () => {
    expect(scan.fds).toEqual([{ type: 'net', inode: 4026532248, pid: 20483, fd: 3 }]);
    expect(scan.threads.length).toBe(6);
    expect(scan.threads.every((t) => t.pid === 20484 && t.type === 'uts' && t.inode === 4026531838)).toBe(true);
    // The leader itself moved to a new uts namespace (unshare on Node's main thread).
    expect(scan.processes.find((p) => p.pid === 20484)!.ns.uts).not.toBe(4026531838);
  });

  it('reads namespace IDs (I) and socket holders (K)', () => {
    const r = parseScanOutput('I 4026531833 3\nI 4026532174 7098\nK 42 5 4026532174\nS gone 0 denied 0\n');
    expect([...r.ids]).toEqual([[4026531833, 3], [4026532174, 7098]]);
    expect(r.sockets).toEqual([{ pid: 42, fd: 5, inode: 4026532174 }]);
  });

  it('sums the per-worker S records', () => {
    const sRecords = captured.split('\n').filter((l) => l.startsWith('S ')).map((l) => l.split(' '));
    expect(sRecords).toHaveLength(2); // --jobs 2
    expect(scan.gone).toBe(sRecords.reduce((n, f) => n + Number(f[2]), 0));
    expect(scan.denied).toBe(sRecords.reduce((n, f) => n + Number(f[4]), 0));
    expect(parseScanOutput('S gone 2 denied 1\nS gone 3 denied 0\n')).toMatchObject({ gone: 5, denied: 1 });
  });

  it('keeps spaces in comm and unescapes \\n and \\\\', () => {
    const [p] = parseScanOutput('P 5 1 100 1 1000 1 2 3 4 5 6 7 8 a b\\nc\\\\d\n').processes;
    expect(p).toMatchObject({ pid: 5, ppid: 1, uid: 1000, comm: 'a b\nc\\d' });
  });

  it('leaves out namespaces printed as 0 (a zombie, or not permitted)', () => {
    const [p] = parseScanOutput('P 9 1 100 1 0 0 0 0 0 4026531833 0 0 0 zombie\n').processes;
    expect(p!.ns).toEqual({ net: 4026531833 });
  });

  it('reads command lines (C) and nsfs mounts (M), unescaped', () => {
    expect(scan.cmdlines.get(2)).toBe('');
    const node = [...scan.cmdlines.values()].find((c) => c.startsWith('node -e'));
    expect(node).toContain("\n  const k = require('koffi');");
    // Both workers met the host's mount namespace first and report its nsfs mount.
    expect(scan.nsfsMounts).toHaveLength(2);
    expect(scan.nsfsMounts[0]).toEqual({ mntNs: 4026531832, mount: { type: 'net', inode: expect.any(Number), mountPoint: '/run/netns/nsm-capture' } });
    const { cmdlines, nsfsMounts } = parseScanOutput('C 7 a\\\\b c\nM 9 43 42 0:4 net:[5] /run/netns/x rw - nsfs nsfs rw\nM 9 44 42 0:5 / /x rw - ext4 /dev/x rw\n');
    expect(cmdlines).toEqual(new Map([[7, 'a\\b c']]));
    expect(nsfsMounts).toEqual([{ mntNs: 9, mount: { type: 'net', inode: 5, mountPoint: '/run/netns/x' } }]);
  });

  it('reads cgroup files (G), their lines unescaped', () => {
    const { cgroups } = parseScanOutput('G 7 1:name=systemd:/a\\\\b\\n0::/x.slice\nS gone 0 denied 0\n');
    expect(cgroups).toEqual(new Map([[7, '1:name=systemd:/a\\b\n0::/x.slice']]));
  });

  it('turns an E record into a SysError with the errno name', () => {
    expect(() => parseScanOutput('E EIO /proc/12/stat\n')).toThrow(/scan\(\/proc\/12\/stat\): EIO/);
  });

  it('builds each set of namespaces once: its processes share one frozen object', () => {
    const { processes } = parseScanOutput('P 5 1 9 1 0 1 2 3 4 5 6 7 8 a\nP 6 1 9 1 0 1 2 3 4 5 6 7 8 b\nP 7 1 9 1 0 1 2 3 4 5 6 7 9 c\nP 8 1 9 1 0 1 2 3 4 5 6 7 8 d\n');
    const [a, b, c, d] = processes.map((p) => p.ns);
    expect(a).toEqual({ user: 1, cgroup: 2, ipc: 3, uts: 4, net: 5, pid: 6, mnt: 7, time: 8 });
    expect(b).toBe(a);
    expect(d).toBe(a);
    expect(c).toEqual({ ...a, time: 9 });
    expect(Object.isFrozen(a)).toBe(true);
    // A set met before does not vouch for a malformed copy of its text.
    expect(() => parseScanOutput('P 5 1 9 1 0 1 2 3 4 5 6 7 8 a\nP 6 1 9 1 0 1 2 3 4 5 6 7 8x b\n')).toThrow(/short P record/);
  });

  it('rejects unknown or short records', () => {
    expect(() => parseScanOutput('X what\n')).toThrow(/unexpected record/);
    expect(() => parseScanOutput('P 1 2 3\n')).toThrow(/short P record/);
    expect(() => parseScanOutput('F 1 3 bogus 5\n')).toThrow(/unknown namespace type/);
  });
});

describe('ScanParser', () => {
  it('gives the same result fed in pieces split anywhere, even inside a UTF-8 character', () => {
    const text = `${captured}P 77 1 5 1 0 1 2 3 4 5 6 7 8 caf\u00e9 \u00fcber\n`;
    const whole = parseScanOutput(text);
    const bytes = Buffer.from(text, 'utf8');
    for (const size of [1, 7, 100, 4096]) {
      const parser = new ScanParser();
      for (let i = 0; i < bytes.length; i += size) parser.feed(bytes.subarray(i, i + size));
      expect(parser.finish()).toEqual(whole);
    }
    expect(whole.processes.at(-1)!.comm).toBe('caf\u00e9 \u00fcber');
  });

  it('keeps an error for finish() instead of throwing while fed', () => {
    const parser = new ScanParser();
    expect(() => parser.feed(Buffer.from('E EACCES /proc/1/fd\nP 1'))).not.toThrow();
    expect(() => parser.finish()).toThrow(/EACCES/);
  });

  it('rejects a last line cut short', () => {
    const parser = new ScanParser();
    parser.feed(Buffer.from('P 1 0 5 1 0 1 2'));
    expect(() => parser.finish()).toThrow(/short P record/);
  });
});
