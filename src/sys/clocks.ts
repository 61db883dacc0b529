/**
 * The current value of the clocks a time namespace offsets (time_namespaces(7)), in whole
 * seconds, for checking an offset before it is written.
 */
import { readFileSync } from 'node:fs';

export type OffsetClock = 'monotonic' | 'boottime';

/** CLOCK_MONOTONIC or CLOCK_BOOTTIME now, in seconds (fraction dropped). */
export function clockSeconds(clock: OffsetClock): number {
  // process.hrtime is CLOCK_MONOTONIC (libuv uv_hrtime); /proc/uptime's first field is
  // CLOCK_BOOTTIME (fs/proc/uptime.c: ktime_get_boottime_ts64).
  if (clock === 'monotonic') return process.hrtime()[0];
  return Math.floor(Number(readFileSync('/proc/uptime', 'latin1').split(' ')[0]));
}
