/**
 * Starting the native helper without koffi: libuv's process handle (the binding under
 * child_process.spawn), with a socket pair for the protocol (libuv's "pipe" stdio), read and
 * written with plain node:fs calls. `nsm exec` then loads neither koffi (its native module and
 * the libc bindings) nor child_process's JavaScript (net, streams, dgram), which would each
 * cost more than the spawn itself (bench/RESULTS.md).
 *
 * The handles come from process.binding(), Node's documented-deprecated (DEP0111) access to
 * them, unchanged from Node 20 to 24; when it is missing or changed, or would print the
 * deprecation warning (--pending-deprecation), available() says no and the caller takes the
 * koffi path (src/sys/libc.ts spawnProcess).
 */
import { readSync, writeSync } from 'node:fs';
import { errnoName, SysError } from './errors.js';
import type { StdioTarget } from './libc.js';

interface ProcessHandle {
  pid: number;
  onexit: (exitCode: number, signal: string) => void;
  spawn(options: object): number;
  close(): void;
}
interface PipeHandle {
  fd: number;
  close(): void;
}
interface Bindings {
  Process: new () => ProcessHandle;
  Pipe: new (type: number) => PipeHandle;
  SOCKET: number;
}

let bindings: Bindings | null | undefined;

/** libuv's handles, or null where this Node does not give them quietly. */
function load(): Bindings | null {
  if (bindings !== undefined) return bindings;
  bindings = null;
  const pending = process.execArgv.includes('--pending-deprecation') || /--pending-deprecation/.test(process.env.NODE_OPTIONS ?? '') || process.env.NODE_PENDING_DEPRECATION === '1';
  // Not in @types/node: process.binding is documented as deprecated only.
  const bind = (process as unknown as { binding?: (name: string) => Record<string, unknown> }).binding;
  if (pending || typeof bind !== 'function') return null;
  try {
    const { Process } = bind.call(process, 'process_wrap') as { Process?: Bindings['Process'] };
    const { Pipe, constants } = bind.call(process, 'pipe_wrap') as { Pipe?: Bindings['Pipe']; constants?: { SOCKET?: number } };
    if (typeof Process === 'function' && typeof Pipe === 'function' && typeof constants?.SOCKET === 'number') bindings = { Process, Pipe, SOCKET: constants.SOCKET };
  } catch {
    // not this Node's shape: the koffi path
  }
  return bindings;
}

/** Whether spawnWithSocket() can be used here. */
export function available(): boolean {
  return load() !== null;
}

export interface SocketChild {
  pid: number;
  /** Our end of the protocol socket (non-blocking); closed by `done`. */
  sock: number;
  /** The child's exit; `replies`: everything it wrote to the socket, read once it has exited. */
  done: Promise<{ status: number | null; signal: NodeJS.Signals | null; replies: Buffer }>;
}

/**
 * Start `path` with `argv` (argv[0] included), stdio from `stdio`, each fd of `pass` under its
 * own number, and one end of a new socket pair as fd `sockAt` (above all of those).
 * `onExit` runs once the child has exited (stop signalling its pid there).
 * @throws SysError('spawn', errno) when it cannot be started.
 */
export function spawnWithSocket(
  path: string,
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  stdio: readonly StdioTarget[],
  pass: readonly number[],
  sockAt: number,
  onExit?: () => void,
): SocketChild {
  const b = load();
  if (!b) throw new Error('internal: libuv handles are not available');
  const pipe = new b.Pipe(b.SOCKET);
  const slots: object[] = Array.from({ length: sockAt + 1 }, (_, i) => {
    if (i < 3) {
      const t = stdio[i] ?? 'inherit';
      return t === 'ignore' ? { type: 'ignore' } : { type: 'fd', fd: t === 'inherit' ? i : t };
    }
    return pass.includes(i) ? { type: 'fd', fd: i } : { type: 'ignore' };
  });
  slots[sockAt] = { type: 'pipe', handle: pipe };
  const child = new b.Process();
  let exited!: (end: { status: number | null; signal: NodeJS.Signals | null }) => void;
  const ended = new Promise<{ status: number | null; signal: NodeJS.Signals | null }>((resolve) => (exited = resolve));
  child.onexit = (exitCode, signal) => {
    onExit?.();
    child.close();
    exited({ status: signal ? null : exitCode, signal: signal ? (signal as NodeJS.Signals) : null });
  };
  const envPairs = Object.entries(env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`]));
  const err = child.spawn({ file: path, args: [...argv], envPairs, stdio: slots, detached: false, windowsHide: false, windowsVerbatimArguments: false });
  if (err !== 0) {
    child.close();
    pipe.close();
    throw new SysError('spawn', errnoName(-err), path);
  }
  const sock = pipe.fd;
  const done = ended.then((end) => {
    try {
      return { ...end, replies: drain(sock) };
    } finally {
      pipe.close();
    }
  });
  return { pid: child.pid, sock, done };
}

/** Write all of `bytes` to the non-blocking socket `fd` (EAGAIN: wait for the reader a little). */
export function writeAll(fd: number, bytes: Buffer): void {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let sent = 0; sent < bytes.length; ) {
    try {
      sent += writeSync(fd, bytes, sent);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}

/** What is waiting in the non-blocking socket `fd` (the peer has exited: no more comes). */
function drain(fd: number): Buffer {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(65536);
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, buf, 0, buf.length, null);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') break;
      throw err;
    }
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  return Buffer.concat(chunks);
}
