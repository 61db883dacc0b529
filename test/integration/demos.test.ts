/**
 * Every demo in demos/ runs to the end non-interactively (NSM_DEMO_YES=1), says what it
 * claims, and leaves nothing behind. A demo that exits 77 could not run on this host: the
 * test is reported as skipped with the reason the demo printed, never as passed.
 * Two runs are interrupted (SIGTERM to the script; SIGINT to its process group, as Ctrl-C
 * does) and must clean up all the same.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isRoot, ROOT, waitFor } from '../support/run.js';

const DEMOS = join(ROOT, 'demos');
const SKIPPED = 77;

/** The line each demo prints when its point held (a `=> ...` result line). */
const EXPECT: Record<string, RegExp> = {
  '01-uts-hostname.sh': /^=> inside: changed-inside, outside: still \S+$/m,
  '02-pid-namespace.sh': /^=> sleep is PID \d+ on the host and PID \d+ inside$/m,
  '03-net-namespace.sh': /^=> ping across the veth pair works both ways$/m,
  '04-mount-namespace.sh': /^=> the tmpfs hides \/tmp\/nsm-demo-\d+-mnt\.\w+ inside the environment only$/m,
  '05-user-namespace.sh': /^=> uid (65534|\d+) outside is uid 0 inside$/m,
  '06-ipc-namespace.sh': /^=> each side sees only its own message queue$/m,
  '07-mini-container.sh': /^=> the container sees its own root filesystem and \d+ mounts; the host's tree is gone$/m,
  '08-namespace-snoop.sh': /^=> found the environment demo-snoop-\d+ and the unshare'd sleep \(PID \d+\)$/m,
  '09-cgroup-namespace.sh': isRoot
    ? /^=> the sleep: outside 0::\/nsm-demo-\d+\/child, inside 0::\/child$/m
    : /^=> inside, every cgroup path of the holder is \/$/m,
};

interface DemoRun {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Run one demo in its own process group. `interrupt`, when given, is called with the
 * output so far until it returns a signal plan; then the signal is sent once.
 */
function runDemo(
  file: string,
  interrupt?: { when: (stdout: string) => boolean; signal: NodeJS.Signals; group: boolean },
): Promise<DemoRun> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [join(DEMOS, file)], {
      cwd: ROOT,
      detached: true, // its own process group: what is left of it can be found, Ctrl-C simulated
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NSM_DEMO_YES: '1', NO_COLOR: '1', FORCE_COLOR: undefined, NSM_STATE_DIR: undefined },
    });
    let stdout = '';
    let stderr = '';
    let sent = false;
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
      if (interrupt && !sent && interrupt.when(stdout)) {
        sent = true;
        process.kill(interrupt.group ? -child.pid! : child.pid!, interrupt.signal);
      }
    });
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // gone
      }
      reject(new Error(`${file} did not finish in 180 s\n${stdout}\n${stderr}`));
    }, 180_000);
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr, pgid: child.pid } as DemoRun & { pgid: number });
    });
  });
}

/** What a demo could leave behind, by the names the demos give things. */
function leftovers(): string[] {
  const found: string[] = [];
  const list = (dir: string) => (existsSync(dir) ? readdirSync(dir) : []);
  for (const e of list('/run/netns')) if (/^demo-/.test(e)) found.push(`/run/netns/${e}`);
  for (const e of list('/tmp')) if (e.startsWith('nsm-demo-')) found.push(`/tmp/${e}`);
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) if (line.includes('nsm-demo-')) found.push(`mount: ${line}`);
  const links = spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).stdout ?? '';
  for (const m of links.matchAll(/^\d+: (demo[he]\d+)[@:]/gm)) found.push(`link ${m[1]}`);
  const v2 = spawnSync('findmnt', ['-n', '-t', 'cgroup2', '-o', 'TARGET'], { encoding: 'utf8' }).stdout?.split('\n')[0];
  if (v2) for (const e of list(v2)) if (e.startsWith('nsm-demo-')) found.push(`cgroup ${v2}/${e}`);
  return found;
}

/** Holders a demo reported ("holder PID N") that are still nsm holders. */
function liveHolders(stdout: string): number[] {
  const pids = [...stdout.matchAll(/holder PID (\d+)/g)].map((m) => Number(m[1]));
  return [...new Set(pids)].filter((pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return !/^\d+ \(.*\) Z/.test(stat) && readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'nsm:holder';
    } catch {
      return false;
    }
  });
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The demo left nothing: no holder it started, no process of its group, no named thing. */
async function expectNothingLeft(run: DemoRun & { pgid?: number }, before: string[]): Promise<void> {
  const fresh = () => leftovers().filter((x) => !before.includes(x));
  // Processes that were only exiting get a moment (a holder's last SIGKILL, an exec's exit).
  await waitFor('the demo to leave nothing', () => liveHolders(run.stdout).length === 0 && fresh().length === 0 && !groupAlive(run.pgid!), 5_000).catch(() => undefined);
  expect(liveHolders(run.stdout), 'holders still running').toEqual([]);
  expect(fresh(), 'left behind').toEqual([]);
  expect(groupAlive(run.pgid!), 'a process of the demo is still running').toBe(false);
  // 06: the host queue it made is gone.
  const key = /Its key is (0x[0-9a-f]+)/.exec(run.stdout)?.[1];
  if (key) expect(spawnSync('ipcs', ['-q'], { encoding: 'utf8' }).stdout).not.toContain(key);
}

describe('demos', () => {

  it('demos/ has the nine walk-throughs of issue 5, executable, each with an expected line', () => {
    const files = readdirSync(DEMOS).filter((f) => /^\d\d-.*\.sh$/.test(f)).sort();
    expect(files).toEqual(Object.keys(EXPECT).sort());
    for (const f of files) expect(readFileSync(join(DEMOS, f), 'utf8').startsWith('#!/usr/bin/env bash\n'), f).toBe(true);
  });

  for (const [file, line] of Object.entries(EXPECT)) {
    it(`${file} runs to the end with NSM_DEMO_YES=1 and leaves nothing`, { timeout: 240_000 }, async (ctx) => {
      const before = leftovers();
      const run = await runDemo(file);
      if (run.status === SKIPPED) {
        await expectNothingLeft(run, before);
        const reason = /^SKIPPED: (.*)$/m.exec(run.stdout)?.[1] ?? 'no reason printed';
        ctx.skip(`${file}: ${reason}`);
        return;
      }
      expect(run.status, `${file} exited ${run.status} (${run.signal})\n${run.stdout}\n${run.stderr}`).toBe(0);
      expect(run.stdout).toMatch(line);
      await expectNothingLeft(run, before);
    });
  }

  it.skipIf(!isRoot)('03, killed with SIGTERM after the veth exists, cleans up and exits 143', { timeout: 120_000 }, async () => {
    const before = leftovers();
    const run = await runDemo('03-net-namespace.sh', { when: (out) => /^\$ ip -br link show demoh\d+$/m.test(out), signal: 'SIGTERM', group: false });
    expect(run.stdout).toMatch(/^created demo-net-\d+: holder PID \d+$/m);
    expect(run.status, run.stdout + run.stderr).toBe(143);
    await expectNothingLeft(run, before);
  });

  it.skipIf(!isRoot)('05, killed with SIGTERM while it runs as nobody, passes it on; both clean up', { timeout: 120_000 }, async () => {
    const before = leftovers();
    const run = await runDemo('05-user-namespace.sh', { when: (out) => /^=> uid \d+ outside is uid 0 inside$/m.test(out), signal: 'SIGTERM', group: false });
    expect(run.stdout).toMatch(/^created demo-user-\d+: holder PID \d+$/m);
    expect(run.status, run.stdout + run.stderr).toBe(143);
    await expectNothingLeft(run, before);
  });

  it('02, interrupted as by Ctrl-C (SIGINT to its process group) with a process inside, cleans up and exits 130', { timeout: 120_000 }, async () => {
    const before = leftovers();
    const run = await runDemo('02-pid-namespace.sh', { when: (out) => /^\$ nsm ps -p demo-pid-\d+$/m.test(out), signal: 'SIGINT', group: true });
    expect(run.stdout).toMatch(/^created demo-pid-\d+: holder PID \d+$/m);
    expect(run.status, run.stdout + run.stderr).toBe(130);
    await expectNothingLeft(run, before);
  });
});
