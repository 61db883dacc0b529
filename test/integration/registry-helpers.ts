/**
 * Shared pieces of the registry tests: private state directories, holder stand-ins, and
 * child processes. Everything started or made here is recorded and undone by cleanup().
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
export { nsfsMountsBelow } from '../support/mounts.js';
import { nsfsMountsBelow } from '../support/mounts.js';

export const isRoot = process.geteuid?.() === 0;
export const CHILD = new URL('../fixtures/registry-child.mjs', import.meta.url).pathname;

const processes: ChildProcess[] = [];
const dirs: string[] = [];

/** A fresh private state directory (mkdtemp: mode 0700, ours). */
export function tempStateDir(): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'nsm-registry-test-')));
  dirs.push(dir);
  return dir;
}

/** Remember a path to remove in cleanup(). */
export function removeLater(path: string): void {
  dirs.push(path);
}

export function track(child: ChildProcess): ChildProcess {
  processes.push(child);
  return child;
}

/**
 * A live process that is not a namespace holder: a `sleep` in a PID namespace of its own (a
 * record that names it can never name a process of the host's: should anything signal it, only
 * this sleep dies). Unprivileged, through a user namespace of its own. Its host pid.
 */
export async function startSleep(asUid?: number): Promise<{ pid: number }> {
  const ids = asUid === undefined ? {} : { uid: asUid, gid: asUid };
  const userns = asUid !== undefined || !isRoot ? ['--user', '--map-root-user'] : [];
  const unshare = track(spawn('unshare', [...userns, '--pid', '--fork', '--kill-child', 'sleep', '1000'], { stdio: 'ignore', ...ids }));
  for (let i = 0; i < 500; i++) {
    try {
      const children = readFileSync(`/proc/${unshare.pid}/task/${unshare.pid}/children`, 'utf8').trim();
      const pid = Number(children.split(' ')[0]);
      if (children !== '' && readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sleep') return { pid };
    } catch {
      // not there yet
    }
    await sleepMs(10);
  }
  throw new Error('sleep in a PID namespace of its own did not start');
}

const sleepMs = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A real namespace holder stand-in (root): `unshare --fork --pid --mount-proc` with new uts,
 * ipc and net, so `sleep` is PID 1 of a new PID namespace. Returns the pid of that sleep
 * (the holder; its namespaces are the new ones) and the unshare process around it.
 */
export async function startNsHolder(): Promise<{ pid: number; unshare: ChildProcess }> {
  const unshare = track(
    spawn('unshare', ['--fork', '--pid', '--mount-proc', '--kill-child', '--uts', '--ipc', '--net', 'sleep', '1000'], { stdio: 'ignore' }),
  );
  const ourNet = readlinkSync('/proc/self/ns/net');
  for (let i = 0; i < 500; i++) {
    try {
      const children = readFileSync(`/proc/${unshare.pid}/task/${unshare.pid}/children`, 'utf8').trim();
      if (children !== '') {
        const pid = Number(children.split(' ')[0]);
        const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
        if (comm === 'sleep' && readlinkSync(`/proc/${pid}/ns/net`) !== ourNet) return { pid, unshare };
      }
    } catch {
      // not there yet
    }
    await sleepMs(10);
  }
  throw new Error('unshare holder stand-in did not start');
}

/** Kill `pid` with SIGKILL and wait until it is gone or a zombie. */
export async function killAndWait(pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  for (let i = 0; i < 500; i++) {
    try {
      // A killed multi-threaded process (node) shows its leader as a zombie while the other
      // threads still exit; its files (and flocks) are released only when the last one has.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (/\) [ZX] /.test(stat) && readdirSync(`/proc/${pid}/task`).length <= 1) return;
    } catch {
      return;
    }
    await sleepMs(10);
  }
  throw new Error(`PID ${pid} did not die`);
}

export interface ChildResult {
  code: number | null;
  lines: Array<Record<string, unknown>>;
  stderr: string;
}

/** Run test/fixtures/registry-child.mjs with `args`, optionally under setpriv as another uid. */
export function runChild(args: string[], options: { env?: NodeJS.ProcessEnv; asUid?: number } = {}): Promise<ChildResult> {
  const argv = [CHILD, ...args];
  const [cmd, cmdArgs] =
    options.asUid === undefined
      ? [process.execPath, argv]
      : ['setpriv', [`--reuid=${options.asUid}`, `--regid=${options.asUid}`, '--clear-groups', process.execPath, ...argv]];
  const child = track(spawn(cmd, cmdArgs, { env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  return new Promise((resolve) => {
    child.on('close', (code) => {
      resolve({ code, stderr: err, lines: out.split('\n').filter(Boolean).map((l) => JSON.parse(l)) });
    });
  });
}

/** Start a child and resolve once it printed its first line (it keeps running). */
export function startChild(args: string[], env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; first: Record<string, unknown> }> {
  const child = track(spawn(process.execPath, [CHILD, ...args], { env, stdio: ['ignore', 'pipe', 'inherit'] }));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve({ child, first: JSON.parse(out.slice(0, nl)) });
    });
    child.on('close', (code) => reject(new Error(`child exited ${code} before reporting`)));
  });
}


/** Kill every process started here, detach mounts below our temp dirs, remove them. */
export async function cleanup(): Promise<void> {
  for (const p of processes.splice(0)) {
    if (p.exitCode === null && p.signalCode === null && p.pid !== undefined) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      await new Promise((r) => (p.exitCode !== null || p.signalCode !== null ? r(undefined) : p.once('close', r)));
    }
  }
  for (const dir of dirs.splice(0)) {
    for (const m of nsfsMountsBelow(dir).sort((a, b) => b.length - a.length)) {
      execFileSync('umount', ['-l', m]);
    }
    rmSync(dir, { recursive: true, force: true });
  }
}
