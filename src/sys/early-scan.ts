/**
 * The host scan `nsm ls` starts before anything else: bin/nsm loads this small module (its
 * own bundle, dist/early-scan.cjs) and starts the native scanner walking /proc on the other
 * CPU while Node loads and compiles the CLI; the CLI then adopts the running scan
 * (native-scan.ts adoptEarlyScan) instead of starting one. Everything here is unref'd, so a
 * scan the CLI never adopts (a usage error, --help) does not delay exit.
 */
import { spawn } from 'node:child_process';
import { Socket } from 'node:net';
import * as addon from './spawn-addon.js';
import { helperBinary } from './native.js';

/** The helper's exit, as child_process reports it. */
export interface ScanExit {
  status: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

/** The scanner's process, however it was started (child_process, or nsm-spawn.node's posix_spawn). */
export interface ScanProcess {
  /** Undefined when it could not be started (exit then says why). */
  readonly pid: number | undefined;
  /** Signal it (SIGTERM by default) unless it has been reaped. */
  kill(signal?: NodeJS.Signals): void;
  /** Whether it (its pipes and its end) keeps Node's event loop alive. */
  ref(): void;
  unref(): void;
}

/** A scan running in the native helper: its process and what it has printed so far. */
export interface EarlyScan {
  args: string[];
  child: ScanProcess;
  /** Output so far, until onStdout is replaced. */
  stdout: Buffer[];
  /** Where each chunk of output goes: first stdout.push, then the parser. */
  onStdout: (chunk: Buffer) => unknown;
  stderr: Buffer[];
  exit: Promise<ScanExit>;
}

/**
 * Start the helper. Its output goes to `onStdout`, which the caller may replace (an early
 * scan collects chunks until the CLI adopts it). Through nsm-spawn.node where it is built
 * (posix_spawn: child_process's spawn fork(2)s all of Node, bench/RESULTS.md), else
 * child_process.
 */
export function spawnScan(helper: string, args: readonly string[]): EarlyScan {
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  const scan: EarlyScan = { args: [...args], child: undefined as never, stdout, stderr, onStdout: (b) => stdout.push(b), exit: undefined as never };
  if (addon.piped()) return spawnPiped(scan, helper);
  const child = spawn(helper, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (b: Buffer) => scan.onStdout(b));
  child.stderr!.on('data', (b: Buffer) => stderr.push(b));
  scan.exit = new Promise<ScanExit>((resolve) => {
    child.once('error', (error) => resolve({ status: null, signal: null, error }));
    child.once('close', (status, signal) => resolve({ status, signal }));
  });
  scan.child = {
    get pid() {
      return child.pid;
    },
    kill: (signal) => void child.kill(signal),
    ref: () => {
      child.ref();
      (child.stdout as Socket | null)?.ref();
      (child.stderr as Socket | null)?.ref();
    },
    unref: () => {
      child.unref();
      (child.stdout as Socket | null)?.unref();
      (child.stderr as Socket | null)?.unref();
    },
  };
  return scan;
}

/**
 * spawnScan through nsm-spawn.node: the pipes are read as sockets of Node's event loop (as
 * child_process reads them); once both have ended the helper has exited or is about to,
 * and it is reaped (child-wait.ts) — only then, so an unref'd scan holds nothing.
 */
function spawnPiped(scan: EarlyScan, helper: string): EarlyScan {
  let started: { pid: number; stdout: number; stderr: number };
  try {
    started = addon.spawnPiped(helper, [helper, ...scan.args]);
  } catch (error) {
    scan.child = { pid: undefined, kill: () => undefined, ref: () => undefined, unref: () => undefined };
    scan.exit = Promise.resolve({ status: null, signal: null, error: error as Error });
    return scan;
  }
  const { pid } = started;
  const out = new Socket({ fd: started.stdout, readable: true, writable: false });
  const err = new Socket({ fd: started.stderr, readable: true, writable: false });
  out.on('data', (b: Buffer) => scan.onStdout(b));
  err.on('data', (b: Buffer) => scan.stderr.push(b));
  let reaped = false;
  const closed = (s: Socket) => new Promise<void>((resolve) => s.once('close', () => resolve()));
  scan.exit = Promise.all([closed(out), closed(err)])
    .then(() => addon.waitForChild(pid, () => (reaped = true)))
    .then(
      ({ status, signal }) => ({ status, signal }),
      (error: Error) => ({ status: null, signal: null, error }),
    );
  scan.child = {
    pid,
    kill: (signal = 'SIGTERM') => {
      try {
        if (!reaped) process.kill(pid, signal);
      } catch {
        // already gone (as ChildProcess.kill, no error)
      }
    },
    ref: () => {
      out.ref();
      err.ref();
    },
    unref: () => {
      out.unref();
      err.unref();
    },
  };
  return scan;
}

/** A full scan of the host, unref'd; undefined when the helper is missing (the CLI's own scan reports that). */
export function startEarlyScan(): EarlyScan | undefined {
  let helper: string;
  try {
    helper = helperBinary();
  } catch {
    return undefined;
  }
  const scan = spawnScan(helper, ['scan']);
  scan.child.unref();
  return scan;
}

/** The early scan bin/nsm started, handed over by the CLI's main(); taken by the first scan it covers. */
let early: EarlyScan | undefined;

export function adoptEarlyScan(scan: EarlyScan | undefined): void {
  early = scan;
}

/** The adopted early scan, once: the caller uses it or ends it. */
export function takeEarlyScan(): EarlyScan | undefined {
  const scan = early;
  early = undefined;
  return scan;
}
