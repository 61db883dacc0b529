/**
 * `nsm create` killed by SIGKILL while its helper waits for the acknowledgement of READY
 * (native/PROTOCOL.md, "READY and its acknowledgement"): no holder may outlive it unnoted.
 *
 * The window is a fraction of a millisecond, so the test does not try to hit it from outside:
 * the create runs with NSM_HELPER pointing at test/fixtures/helper-proxy.mjs, which relays
 * between the create and the real helper and kills the create at an exact point: when READY
 * arrives (the create never learns of the holder), or when the create's READY_ACK arrives
 * (it has noted the holder; the acknowledgement is dropped). Real create, real helper, real
 * kernel; the proxy only passes bytes on and closes the helper's stdin as a dead create's
 * pipe would be closed.
 *
 * Also here: the create killed half-way in netlimits.test.ts (after the acknowledgement)
 * must still leave a holder that gc stops; those tests wait for the helper to have exited.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alive, cleanup, identity, isRoot, nsm, recordPath, ROOTLESS_UID, stateDir, uniqueName, waitFor } from './lifecycle-helpers.js';

const PROXY = new URL('../fixtures/helper-proxy.mjs', import.meta.url).pathname;
const HELPER = new URL('../../native/build/nsm-helper', import.meta.url).pathname;

interface ProxyReport {
  holder?: { pid: number; startTime?: number };
  noted?: { holder?: { pid: number; startTime: number } } | null | string;
  frames: Array<{ code: number; payload: number | string }>;
  exit?: { status: number | null; signal: string | null };
  stderr: string;
}

const scratch: string[] = [];
const holders: Array<{ pid: number; startTime?: number }> = [];
const attempts: Array<{ name: string; dir: string; uid?: number }> = [];

afterEach(async () => {
  // Should a test fail: destroy a create that finished after all, kill exactly the holder it saw.
  for (const a of attempts.splice(0)) {
    if (existsSync(recordPath(a.dir, a.name))) await nsm(['destroy', '--force', a.name], { stateDir: a.dir, uid: a.uid });
  }
  for (const h of holders.splice(0)) {
    if (h.startTime !== undefined && alive(h.pid, h.startTime)) process.kill(h.pid, 'SIGKILL');
  }
  await cleanup();
});

afterAll(() => {
  for (const d of scratch.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** `nsm create NAME` through the proxy, killed at `when`; resolves with the proxy's report. */
async function killedCreate(when: 'ready' | 'ack', name: string, dir: string, uid: number | undefined): Promise<ProxyReport> {
  const reportDir = mkdtempSync(join(tmpdir(), 'nsm-proxy-report-'));
  scratch.push(reportDir);
  if (uid !== undefined && isRoot) chownSync(reportDir, uid, uid);
  const report = join(reportDir, 'report.json');
  attempts.push({ name, dir, uid });
  const r = await nsm(['create', name], {
    stateDir: dir,
    uid,
    env: { NSM_HELPER: PROXY, NSM_PROXY_HELPER: HELPER, NSM_PROXY_KILL: when, NSM_PROXY_REPORT: report },
  });
  await waitFor(() => existsSync(report), 'the proxy to report the helper exit');
  const rep = JSON.parse(readFileSync(report, 'utf8')) as ProxyReport;
  if (rep.holder) holders.push(rep.holder);
  expect(r.signal, `the create was not killed: ${r.code} ${r.stderr}`).toBe('SIGKILL');
  return rep;
}

const users: Array<[string, number | undefined]> = [
  ['as root', undefined],
  ['rootless', ROOTLESS_UID],
];

describe.each(users)('nsm create killed by SIGKILL before its helper let the holder go (%s)', (_, uid) => {
  it.each([
    ['when READY arrives, before the create read it', 'ready'],
    ['after it noted the holder, before its READY_ACK reached the helper', 'ack'],
  ] as const)('%s: the helper kills and reaps the holder; gc removes the reservation, with nothing to stop', async (__, when) => {
    const dir = stateDir(uid);
    const n = uniqueName('ck');
    const rep = await killedCreate(when, n, dir, uid);

    // The helper was holding a set-up holder back when the create died ...
    expect(rep.holder?.startTime, rep.stderr).toBeDefined();
    const holder = rep.holder!;
    if (when === 'ack') {
      // ... which the create had noted before it acknowledged (its reservation at that moment),
      expect(rep.noted).toMatchObject({ holder: { pid: holder.pid, startTime: holder.startTime } });
    } else {
      // ... of which the create knew nothing,
      const reservation = JSON.parse(readFileSync(join(dir, 'envs', n, 'reservation.json'), 'utf8'));
      expect(reservation.progress?.holder).toBeUndefined();
    }
    // and it read end of file instead of an acknowledgement: it killed the holder and reaped
    // it before it reported, so not even a zombie of that process is left.
    expect(rep.exit).toEqual({ status: 125, signal: null });
    expect(rep.frames.map((f) => f.code)).toEqual([0x30, 0x32]);
    expect(rep.frames[1]!.payload).toMatch(/^read\(NSM_READY_ACK\): end of file[^\0]*\0ECANCELED$/);
    expect(identity(holder.pid)?.startTime).not.toBe(holder.startTime);

    const gc = await nsm(['gc', '--json'], { stateDir: dir, uid });
    expect(gc.code, gc.stderr).toBe(0);
    const removed = JSON.parse(gc.stdout).removed;
    expect(removed).toHaveLength(1);
    expect(removed[0]).toMatchObject({ name: n, reason: 'stale-reservation' });
    expect(removed[0].holderStopped).toBeUndefined();
    expect(existsSync(join(dir, 'envs', n))).toBe(false);
    expect(existsSync(`/run/netns/${n}`)).toBe(false);
  });
});
