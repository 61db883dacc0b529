/**
 * spawnAndWait (src/sys/libc.ts) when one of its own reads fails half-way: the child it started
 * is killed and reaped, not left running (or a zombie) until nsm exits. node:fs's readSync is
 * made to fail on demand; the child and the kernel are real.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';

const failReads = { on: false };
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const readSync = ((...args: Parameters<typeof fs.readSync>) => {
    if (failReads.on) throw Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO', errno: -5, syscall: 'read' });
    return fs.readSync(...args);
  }) as typeof fs.readSync;
  return { ...fs, default: { ...fs, readSync }, readSync };
});

const { spawnAndWait } = await import('../../src/sys/libc.js');

/** Our children (any state, zombies included) whose command line contains `marker`. */
function childrenWith(marker: string): number[] {
  const found: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'latin1');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid && readFileSync(`/proc/${e}/cmdline`, 'latin1').includes(marker)) found.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

afterEach(() => {
  failReads.on = false;
});

describe('spawnAndWait: a read of ours that fails', () => {
  it('throws it, and the child is killed and reaped', () => {
    const marker = `nsm-spawn-and-wait-${process.pid}-${Date.now()}`;
    failReads.on = true;
    // tail says something (the read that fails), then follows /dev/null for ever; the marker
    // stays in its command line.
    expect(() => spawnAndWait('/usr/bin/tail', ['tail', '-f', '/dev/null', `/nonexistent/${marker}`], Buffer.alloc(0))).toThrow(/EIO/);
    failReads.on = false;
    const left = childrenWith(marker);
    for (const pid of left) process.kill(pid, 'SIGKILL'); // ours, by pid: a failed run leaves nothing
    expect(left).toEqual([]);
  });
});
