/**
 * The host scan `nsm ls` starts before anything else: bin/nsm loads this small module (its
 * own bundle, dist/early-scan.cjs) and starts the native scanner walking /proc on the other
 * CPU while Node loads and compiles the CLI; the CLI then adopts the running scan
 * (native-scan.ts adoptEarlyScan) instead of starting one. Everything here is unref'd, so a
 * scan the CLI never adopts (a usage error, --help) does not delay exit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { helperBinary } from './native.js';

/** The helper's exit, as child_process reports it. */
export interface ScanExit {
  status: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

/** A scan running in the native helper: its process and what it has printed so far. */
export interface EarlyScan {
  args: string[];
  child: ChildProcess;
  /** Output so far, until onStdout is replaced. */
  stdout: Buffer[];
  /** Where each chunk of output goes: first stdout.push, then the parser. */
  onStdout: (chunk: Buffer) => unknown;
  stderr: Buffer[];
  exit: Promise<ScanExit>;
}

/**
 * Start the helper. Its output goes to `onStdout`, which the caller may replace (an early
 * scan collects chunks until the CLI adopts it).
 */
export function spawnScan(helper: string, args: readonly string[]): EarlyScan {
  const child = spawn(helper, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  const scan: EarlyScan = { args: [...args], child, stdout, stderr, onStdout: (b) => stdout.push(b), exit: undefined as never };
  child.stdout!.on('data', (b: Buffer) => scan.onStdout(b));
  child.stderr!.on('data', (b: Buffer) => stderr.push(b));
  scan.exit = new Promise<ScanExit>((resolve) => {
    child.once('error', (error) => resolve({ status: null, signal: null, error }));
    child.once('close', (status, signal) => resolve({ status, signal }));
  });
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
  (scan.child.stdout as { unref?: () => void } | null)?.unref?.();
  (scan.child.stderr as { unref?: () => void } | null)?.unref?.();
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
