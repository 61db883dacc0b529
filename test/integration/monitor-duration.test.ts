/**
 * `nsm monitor -d SECS` counts from when nsm's process was started, as time(1) would, not
 * from after Node's start-up (which takes a second on a loaded host). Made visible with a
 * process that waits before it execs nsm: its start is the fork, before the exec.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { NSM } from '../support/run.js';

describe('monitor --duration', () => {
  it('counts from the process start: the mode record is dated before the exec of nsm, and the summary says the whole run', async () => {
    // sh prints the time just before it execs node (same pid: the process start is sh's fork).
    const script = `sleep 0.5; date +%s%3N >&2; exec "$0" "$@"`;
    const child = spawn('sh', ['-c', script, process.execPath, NSM, 'monitor', '--json', '-t', 'uts', '-d', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (err += d));
    const status = await new Promise((resolve) => child.on('close', resolve));
    expect(status, err).toBe(0);
    const execAt = Number(err.trim().split('\n')[0]);
    const records = out.trim().split('\n').map((l) => JSON.parse(l) as { kind: string; time: string; durationMs?: number });
    const mode = records.find((r) => r.kind === 'mode')!;
    const summary = records.at(-1)!;
    expect(summary.kind).toBe('summary');
    // Dated at the fork, half a second before the exec (the estimate is good to 20 ms).
    expect(Date.parse(mode.time)).toBeLessThan(execAt);
    // Its durationMs spans the run from that start (it includes the half second before the exec).
    expect(Date.parse(summary.time) - Date.parse(mode.time)).toBeGreaterThanOrEqual(summary.durationMs! - 1);
    expect(summary.durationMs).toBeGreaterThan(Date.parse(summary.time) - execAt);
  });
});
