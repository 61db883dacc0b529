/**
 * When this process was started, on the clock of process.hrtime (CLOCK_MONOTONIC, ms): what
 * `nsm monitor -d SECS` counts from, as time(1) would, so that Node's own start-up (a second
 * on a loaded host) is inside the SECS and not added to them.
 */
import { readFileSync } from 'node:fs';
import { parseStat } from './parse.js';

/** proc(5): starttime is in clock ticks, sysconf(_SC_CLK_TCK), which is USER_HZ (100) on Linux. */
const TICKS_PER_SECOND = 100;
/**
 * The most a start-up may take between fork and Node's own start (exec, the dynamic loader;
 * on a loaded host). A process older than that exec'd nsm long after it was forked (`exec nsm`
 * at the end of a script or from a long-lived shell): its start is not nsm's, and Node's start
 * is used instead. Kept short so such a script loses at most this much of its SECS.
 */
const MAX_EXEC_GAP_MS = 1000;

/** Monotonic ms of this process's fork (10 ms resolution), or of Node's start when that cannot be told. */
export function processStartedAt(procRoot = '/proc'): number {
  const nodeStart = Number(process.hrtime.bigint()) / 1e6 - process.uptime() * 1000;
  try {
    // Both CLOCK_BOOTTIME (proc(5): starttime is "time the process started after system boot";
    // /proc/uptime), both shifted alike inside a time namespace (time_namespaces(7)).
    const startTicks = parseStat(readFileSync(`${procRoot}/self/stat`, 'latin1')).startTime;
    const uptimeMs = Number(readFileSync(`${procRoot}/uptime`, 'latin1').split(' ')[0]) * 1000;
    // Read right after the uptime: a preemption in between would date the start too early.
    const now = Number(process.hrtime.bigint()) / 1e6;
    const ageMs = uptimeMs - (startTicks * 1000) / TICKS_PER_SECOND;
    if (!Number.isFinite(ageMs)) return nodeStart;
    const started = now - Math.max(0, ageMs);
    return started >= nodeStart - MAX_EXEC_GAP_MS ? Math.min(started, nodeStart) : nodeStart;
  } catch {
    return nodeStart;
  }
}
