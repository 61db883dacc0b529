/**
 * The libc calls `nsm create` makes through nsm's own Node-API module instead of koffi
 * (native/spawn-addon.c, src/sys/spawn-addon.ts ownCalls; src/sys/libc.ts routes to them):
 * results and errors as libc.ts's koffi calls give them. spawn.test.ts covers pipe, poll and
 * waitBlocking through spawnAndWait; startup-create.test.ts a whole create either way.
 */
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SysError } from '../../src/sys/errors.js';
import { mount, MS, nsIdOfFd, tryLockExclusive, umount2 } from '../../src/sys/libc.js';
import { ownCalls } from '../../src/sys/spawn-addon.js';

const scratch = mkdtempSync(join(tmpdir(), 'nsm-own-calls-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const thrown = (f: () => unknown): unknown => {
  try {
    f();
  } catch (err) {
    return err;
  }
  return undefined;
};

describe.skipIf(ownCalls() === null)('nsm-spawn.node: flock, NS_GET_ID, mount and umount2 without koffi', () => {
  it('flock: a lock held through another open file description is refused (EWOULDBLOCK), then taken once it is closed', () => {
    const path = join(scratch, 'lock');
    const a = openSync(path, 'w');
    const b = openSync(path, 'r');
    try {
      expect(tryLockExclusive(a, path)).toBe(true);
      expect(-ownCalls()!.flock(b, 2 | 4)).toBe(11); // LOCK_EX | LOCK_NB: EAGAIN (EWOULDBLOCK)
      expect(tryLockExclusive(b, path)).toBe(false);
      closeSync(a);
      expect(tryLockExclusive(b, path)).toBe(true);
    } finally {
      closeSync(b);
      try {
        closeSync(a);
      } catch {
        // closed above
      }
    }
  });

  it('NS_GET_ID: one namespace gives one id through two opens; a file that is no namespace gives ENOTTY', () => {
    const one = openSync('/proc/self/ns/net', 'r');
    const two = openSync('/proc/thread-self/ns/net', 'r');
    const file = openSync(join(scratch, 'plain'), 'w');
    try {
      const id = ownCalls()!.nsId(one);
      if (id === -25) return; // ENOTTY: a kernel before NS_GET_ID (Linux 6.18); nothing to compare
      expect(id).toBeGreaterThan(0);
      expect(ownCalls()!.nsId(two)).toBe(id);
      expect(nsIdOfFd(one)).toBe(id);
      expect(ownCalls()!.nsId(file)).toBe(-25);
    } finally {
      for (const fd of [one, two, file]) closeSync(fd);
    }
  });

  it("mount and umount2: a failure is a SysError naming the call, the target and libc's errno", () => {
    const missing = join(scratch, 'missing');
    const m = thrown(() => mount(null, missing, null, MS.PRIVATE));
    expect(m).toBeInstanceOf(SysError);
    // The target is looked up before the privilege is checked: ENOENT for anyone.
    expect(m).toMatchObject({ call: 'mount', errno: 'ENOENT' });
    expect((m as Error).message).toContain(missing);
    const u = thrown(() => umount2(scratch));
    expect(u).toBeInstanceOf(SysError);
    // Root: not a mount point; anyone else: not allowed.
    expect(u).toMatchObject({ call: 'umount2', errno: process.geteuid?.() === 0 ? 'EINVAL' : 'EPERM' });
  });

  it('bad arguments are a TypeError, not a call with whatever they turn into', () => {
    const own = ownCalls()! as unknown as Record<string, (...a: unknown[]) => unknown>;
    expect(() => own.flock!('3', 2)).toThrow(TypeError);
    expect(() => own.mount!(null, null, null, 0, null)).toThrow(TypeError);
    expect(() => own.poll!(Buffer.alloc(8), 2, 0)).toThrow(TypeError); // room for one pollfd only
  });
});
