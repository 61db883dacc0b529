import { describe, expect, it } from 'vitest';
import { parseCgroupMounts } from '../../src/sys/cgroupfs.js';
import { CAP_SETGID, CAP_SETUID, parseFileCaps, parseSubIds, parseUnshareError } from '../../src/sys/host.js';

describe('parseSubIds (subuid(5))', () => {
  it('reads name and uid owners, skipping comments, blanks and malformed lines', () => {
    const text = '# comment\nalice:100000:65536\n\n1000:165536:65536\nbroken:line\nbob:x:1\ncarol:1:2:3\n  dave:300000:10  \n';
    expect(parseSubIds(text)).toEqual([
      { owner: 'alice', start: 100000, count: 65536 },
      { owner: '1000', start: 165536, count: 65536 },
      { owner: 'dave', start: 300000, count: 10 },
    ]);
  });
  it('empty text: no ranges', () => {
    expect(parseSubIds('')).toEqual([]);
  });
});

describe('parseFileCaps (security.capability)', () => {
  it('revision 2 with the effective flag: cap_setuid+ep, as setcap wrote it on this machine', () => {
    const raw = Buffer.from('01000002800000000000000000000000' + '00000000', 'hex');
    expect(parseFileCaps(raw)).toEqual({ revision: 2, effective: true, permitted: [CAP_SETUID] });
  });
  it('revision 2 without the effective flag, setuid and setgid', () => {
    const raw = Buffer.alloc(20);
    raw.writeUInt32LE(0x02000000, 0);
    raw.writeUInt32LE((1 << CAP_SETUID) | (1 << CAP_SETGID), 4);
    expect(parseFileCaps(raw)).toEqual({ revision: 2, effective: false, permitted: [CAP_SETGID, CAP_SETUID] });
  });
  it('revision 3 carries the namespace root uid; high caps come from the second word', () => {
    const raw = Buffer.alloc(24);
    raw.writeUInt32LE(0x03000001, 0);
    raw.writeUInt32LE(1 << 7, 4);
    raw.writeUInt32LE(1 << 8, 12); // cap 40 (CAP_CHECKPOINT_RESTORE)
    raw.writeUInt32LE(100000, 20);
    expect(parseFileCaps(raw)).toEqual({ revision: 3, effective: true, permitted: [7, 40], rootUid: 100000 });
  });
  it('revision 1 has one word', () => {
    const raw = Buffer.alloc(12);
    raw.writeUInt32LE(0x01000000, 0);
    raw.writeUInt32LE(1 << CAP_SETGID, 4);
    expect(parseFileCaps(raw)).toEqual({ revision: 1, effective: false, permitted: [CAP_SETGID] });
  });
  it('unknown revision or short data: undefined', () => {
    expect(parseFileCaps(Buffer.alloc(20))).toBeUndefined();
    expect(parseFileCaps(Buffer.from([0, 0, 0, 2, 1]))).toBeUndefined();
  });
});

describe('parseUnshareError (unshare(1) in the C locale)', () => {
  it('unshare() refused', () => {
    expect(parseUnshareError('unshare: unshare failed: Operation not permitted')).toEqual({ errno: 'EPERM', message: 'unshare failed: EPERM' });
  });
  it('uid_map write refused (AppArmor restriction)', () => {
    expect(parseUnshareError('unshare: write failed /proc/self/uid_map: Operation not permitted')).toEqual({
      errno: 'EPERM',
      message: 'write failed /proc/self/uid_map: EPERM',
    });
  });
  it('limit reached', () => {
    expect(parseUnshareError('unshare: unshare failed: No space left on device').errno).toBe('ENOSPC');
  });
  it('text without an errno is kept', () => {
    expect(parseUnshareError('unshare: something odd')).toEqual({ message: 'something odd' });
    expect(parseUnshareError('')).toEqual({ message: 'failed' });
  });
});

describe('parseCgroupMounts', () => {
  it('keeps cgroup and cgroup2 lines with their super options, unescaping paths', () => {
    const text = [
      '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
      '34 31 0:31 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:10 - cgroup cgroup rw,cpu,cpuacct',
      '40 31 0:37 /docker/abc /sys/fs/cgroup/my\\040dir rw,relatime - cgroup2 cgroup2 rw,nsdelegate',
      '',
    ].join('\n');
    expect(parseCgroupMounts(text)).toEqual([
      { fsType: 'cgroup', root: '/', mountPoint: '/sys/fs/cgroup/cpu,cpuacct', superOptions: ['rw', 'cpu', 'cpuacct'] },
      { fsType: 'cgroup2', root: '/docker/abc', mountPoint: '/sys/fs/cgroup/my dir', superOptions: ['rw', 'nsdelegate'] },
    ]);
  });
});
