/**
 * The pid allocation cursor behind poll mode's fast tick (src/sys/procfs.ts): the pure range
 * arithmetic, including the wrap at pid_max, and the cursor on this host's /proc.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { PidCursor, pidsAfter, RESERVED_PIDS } from '../../src/sys/procfs.js';

describe('pidsAfter', () => {
  it('gives the pids handed out after the previous look, in allocation order', () => {
    expect(pidsAfter(100, 100, 32768, 10)).toEqual({ pids: [], truncated: false });
    expect(pidsAfter(100, 103, 32768, 10)).toEqual({ pids: [101, 102, 103], truncated: false });
  });

  it('follows the cursor past pid_max - 1 and back to RESERVED_PIDS (kernel/pid.c)', () => {
    expect(RESERVED_PIDS).toBe(300);
    expect(pidsAfter(32765, 302, 32768, 10)).toEqual({ pids: [32766, 32767, 300, 301, 302], truncated: false });
    expect(pidsAfter(32767, 300, 32768, 10)).toEqual({ pids: [300], truncated: false });
  });

  it('keeps the newest `max` of a burst and says it left some out', () => {
    expect(pidsAfter(100, 200, 32768, 3)).toEqual({ pids: [198, 199, 200], truncated: true });
    expect(pidsAfter(32760, 301, 32768, 3)).toEqual({ pids: [32767, 300, 301], truncated: true });
  });
});

describe('PidCursor', () => {
  it('finds a process started since the last look among the new pids', () => {
    const cursor = PidCursor.open('/proc');
    expect(cursor).toBeDefined();
    try {
      const child = spawnSync('sh', ['-c', 'echo $$'], { encoding: 'utf8' });
      const pid = Number(child.stdout.trim());
      const { pids, truncated } = cursor!.newPids(1 << 20);
      expect(truncated).toBe(false);
      expect(pids).toContain(pid);
      expect(cursor!.newPids(1 << 20).pids).not.toContain(pid);
    } finally {
      cursor!.close();
    }
  });

  it('is not offered for a /proc that does not show our PID namespace (a fixture tree)', () => {
    expect(PidCursor.open(fileURLToPath(new URL('../fixtures/proc', import.meta.url)))).toBeUndefined();
  });
});
