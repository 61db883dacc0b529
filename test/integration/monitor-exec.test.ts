/**
 * nsm monitor -v -p in event mode (proc connector, root) sees `nsm exec`'s namespace switch:
 * nsm-helper's setns(2), then its exec of the command in place (a uts namespace only: no
 * fork), whose event shows the new namespaces (a fork, for a pid or time namespace, would
 * show the parent's: src/core/monitor-tracker.ts parentSwitched). Each a JOIN reported via
 * an event, not by the safety-net rescan seconds later.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, create, isRoot, NSM, stateDir, uniqueName } from './lifecycle-helpers.js';

interface Ev {
  kind: string;
  type?: string;
  inode?: number;
  pid?: number;
  command?: string;
  from?: number;
  via?: string;
}

const procs: ChildProcess[] = [];

afterEach(async () => {
  for (const p of procs.splice(0)) {
    if (p.exitCode === null && p.signalCode === null) {
      p.kill('SIGKILL');
      await new Promise((r) => p.once('exit', r));
    }
  }
  await cleanup();
});

describe.skipIf(!isRoot)('monitor -p sees nsm exec join (root: proc connector)', () => {
  it('the joins of nsm exec are JOINs of nsm-helper (or the command it became), via events', async () => {
    const dir = stateDir();
    const name = uniqueName('mx');
    const env = await create(name, ['-t', 'uts'], { stateDir: dir });
    const uts = Number(/\d+/.exec(readlinkSync(`/proc/${env.pid}/ns/uts`))![0]);
    const ourUts = Number(/\d+/.exec(readlinkSync('/proc/self/ns/uts'))![0]);
    // The tree to follow: a shell that runs both execs once told to (a line on stdin).
    const script = `read go; "${process.execPath}" "${NSM}" exec -t uts ${name} true; "${process.execPath}" "${NSM}" exec -t uts -S 0 ${name} true; echo done`;
    const sh = spawn('sh', ['-c', script], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, NSM_STATE_DIR: dir } });
    procs.push(sh);
    const mon = spawn(process.execPath, [NSM, 'monitor', '--json', '-v', '-t', 'uts', '-p', String(sh.pid), '-d', '120'], { stdio: ['ignore', 'pipe', 'pipe'] });
    procs.push(mon);
    const events: Ev[] = [];
    createInterface({ input: mon.stdout! }).on('line', (l) => events.push(JSON.parse(l) as Ev));
    let stderr = '';
    mon.stderr!.on('data', (d) => (stderr += d));
    const until = async (cond: () => boolean, what: string, ms: number): Promise<void> => {
      const end = Date.now() + ms;
      while (!cond()) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await until(() => events.some((e) => e.kind === 'mode'), 'the monitor to start', 30_000);
    expect(events.find((e) => e.kind === 'mode')).toMatchObject({ mode: 'events' });
    // Subscribed before the mode line; give the connector helper a moment anyway.
    await new Promise((r) => setTimeout(r, 300));
    let out = '';
    sh.stdout!.on('data', (d) => (out += d));
    sh.stdin!.end('go\n');
    await until(() => out.includes('done'), 'both execs', 60_000);
    const joins = () => events.filter((e) => e.kind === 'ns-join' && e.type === 'uts' && e.inode === uts);
    // Events come within a flush; a rescan (every 5 s) would say via: 'rescan'.
    await until(() => joins().length >= 2, 'two JOINs', 3_000).catch(() => {});
    // The command is read when the record is handled: on a loaded host nsm may be exiting by
    // then, its arguments gone (proc(5): cmdline is empty once the mm is released), and only
    // its comm, "node", left to read. So with nsm-helper: its comm is "nsm:helper" (PR_SET_NAME
    // in nsm-helper.c), what is left once its arguments are gone.
    const isNsm = (c: string) => /nsm.* exec -t uts/.test(c) || c === 'node';
    // The helper is read as itself, or as the command it became by then (true).
    const isHelper = (c: string) => /nsm-helper join/.test(c) || c === 'nsm:helper' || c === 'true';
    const seen = joins().map((e) => ({ via: e.via, from: e.from, who: isHelper(e.command ?? '') ? 'helper' : isNsm(e.command ?? '') ? 'nsm' : e.command }));
    expect(seen, JSON.stringify(events.filter((e) => e.kind !== 'baseline'))).toEqual([
      { via: 'event', from: ourUts, who: 'helper' },
      { via: 'event', from: ourUts, who: 'helper' },
    ]);
    mon.kill('SIGINT');
    await new Promise((r) => mon.once('exit', r));
  }, 120_000);
});
