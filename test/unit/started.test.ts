import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { processStartedAt } from '../../src/sys/started.js';

const mono = (): number => Number(process.hrtime.bigint()) / 1e6;
let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

/** A fake /proc whose self/stat says the process started `ageMs` before /proc/uptime's now. */
function fakeProc(ageMs: number): string {
  dir = mkdtempSync(join(tmpdir(), 'nsm-started-'));
  mkdirSync(join(dir, 'self'));
  const uptimeTicks = 5_000_000; // 50,000 s since boot
  const startTicks = uptimeTicks - ageMs / 10;
  writeFileSync(join(dir, 'self/stat'), `4242 (node) R 1 4242 4242 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 7 0 ${startTicks} 2990080 411\n`);
  writeFileSync(join(dir, 'uptime'), `${(uptimeTicks / 100).toFixed(2)} 90000.00\n`);
  return dir;
}

describe('processStartedAt', () => {
  it('is the fork time from /proc/self/stat, before Node started (exec and start-up count)', () => {
    // The process was forked 400 ms before Node started (a loaded host, a wrapper that execs node).
    const age = Math.round((process.uptime() * 1000 + 400) / 10) * 10;
    const before = mono();
    const at = processStartedAt(fakeProc(age));
    const after = mono();
    expect(at).toBeGreaterThanOrEqual(before - age);
    expect(at).toBeLessThanOrEqual(after - age);
  });

  it('is Node\'s start when the process was forked long before (exec nsm from a long-lived shell)', () => {
    const before = mono() - process.uptime() * 1000;
    const at = processStartedAt(fakeProc(3_600_000));
    const after = mono() - process.uptime() * 1000;
    expect(at).toBeGreaterThanOrEqual(before - 1);
    expect(at).toBeLessThanOrEqual(after + 1);
  });

  it('is Node\'s start when /proc cannot be read', () => {
    const before = mono() - process.uptime() * 1000;
    const at = processStartedAt('/nonexistent-proc');
    expect(at).toBeGreaterThanOrEqual(before - 1);
    expect(at).toBeLessThanOrEqual(mono() - process.uptime() * 1000 + 1);
  });
});
