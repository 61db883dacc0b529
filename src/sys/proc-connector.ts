/**
 * The kernel's process events connector (netlink NETLINK_CONNECTOR, group CN_IDX_PROC):
 * fork, exec and exit of every process on the host, as they happen. Layouts from
 * linux/connector.h and linux/cn_proc.h (uapi); checked on kernel 6.18.
 *
 * The socket is read by a worker thread (src/sys/proc-connector-worker.ts) that blocks in
 * poll(2) through koffi and, on each fork or exec, reads the process's /proc/PID/ns links
 * at once, before posting to the main thread. Why a worker rather than koffi's async calls
 * (`recv.async`, run on libuv's pool with the links read in the callback): a namespace may
 * live 10 ms, and the links must be read while it does. In the worker the read follows the
 * event by well under a millisecond (p50) whatever the main thread is doing; with recv.async the read
 * waits for the main thread's event loop, which is busy for milliseconds at a time parsing
 * a rescan or writing output, and a blocking recv.async also holds one of libuv's four pool
 * threads for good. Measured in bench/monitor/reader-latency.mjs (figures in
 * bench/RESULTS.md, "monitor", "Reading the connector").
 */
import { createRequire } from 'node:module';
import { existsSync, writeSync, closeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { errnoName, NsmError, SysError } from './errors.js';
import type { NsType } from './nstypes.js';

// linux/netlink.h
const NLMSG_HDRLEN = 16;
const NLMSG_DONE = 3;
// linux/connector.h: struct cb_id { idx, val } of the process events connector.
export const CN_IDX_PROC = 1;
const CN_VAL_PROC = 1;
const CN_MSG_LEN = 20; // struct cn_msg: cb_id(8) seq(4) ack(4) len(2) flags(2)
// linux/cn_proc.h
const PROC_CN_MCAST_LISTEN = 1;
export const PROC_EVENT = {
  NONE: 0x0,
  FORK: 0x1,
  EXEC: 0x2,
  EXIT: 0x80000000,
} as const;
/** Offset of struct proc_event in a message: nlmsghdr + cn_msg. */
const EV = NLMSG_HDRLEN + CN_MSG_LEN;
/** struct proc_event: what(4) cpu(4) timestamp_ns(8, aligned) event_data. */
const EV_DATA = EV + 16;

/** One event the monitor cares about, decoded from the wire. Pids are thread-group ids (processes). */
export type ProcEvent =
  | { what: 'fork'; pid: number; ppid: number; thread: boolean; ts: bigint }
  | { what: 'exec'; pid: number; ts: bigint }
  | { what: 'exit'; pid: number; thread: boolean; ts: bigint }
  | { what: 'ack'; ack: number; err: number }
  | { what: 'other'; code: number };

/**
 * The subscribe request: nlmsghdr + cn_msg + payload. `eventMask` (kernel 6.6+, struct
 * proc_input) asks the kernel to send only those events; without it the payload is the
 * bare enum proc_cn_mcast_op that every kernel since 2.6.15 accepts and acknowledges.
 * The acknowledgement is multicast to every listener and carries our cn_msg.ack + 1
 * (cn_proc_ack(); its seq is the kernel's own counter), so `cookie` tells ours apart.
 */
export function listenMessage(cookie: number, eventMask?: number): Buffer {
  const payload = eventMask === undefined ? 4 : 8;
  const msg = Buffer.alloc(NLMSG_HDRLEN + CN_MSG_LEN + payload);
  msg.writeUInt32LE(msg.length, 0); // nlmsg_len
  msg.writeUInt16LE(NLMSG_DONE, 4); // nlmsg_type: the connector takes one message, sent as DONE
  msg.writeUInt32LE(cookie >>> 0, 8); // nlmsg_seq
  msg.writeUInt32LE(CN_IDX_PROC, 16);
  msg.writeUInt32LE(CN_VAL_PROC, 20);
  msg.writeUInt32LE(cookie >>> 0, 24); // cn_msg.seq
  msg.writeUInt32LE(cookie >>> 0, 28); // cn_msg.ack: the kernel's ack carries cookie + 1
  msg.writeUInt16LE(payload, 32);
  msg.writeUInt32LE(PROC_CN_MCAST_LISTEN, 36);
  if (eventMask !== undefined) msg.writeUInt32LE(eventMask >>> 0, 40);
  return msg;
}

/**
 * Decode the netlink messages in `buf[0, n)` (one datagram). Exported for unit tests on
 * captured bytes. Messages that are not process events are skipped.
 */
export function parseProcEvents(buf: Buffer, n: number): ProcEvent[] {
  const events: ProcEvent[] = [];
  for (let off = 0; off + NLMSG_HDRLEN <= n; ) {
    const len = buf.readUInt32LE(off);
    if (len < NLMSG_HDRLEN || off + len > n) break;
    if (len >= NLMSG_HDRLEN + CN_MSG_LEN + 16 && buf.readUInt32LE(off + 16) === CN_IDX_PROC && buf.readUInt32LE(off + 20) === CN_VAL_PROC) {
      events.push(decodeEvent(buf, off));
    }
    off += (len + 3) & ~3;
  }
  return events;
}

function decodeEvent(buf: Buffer, base: number): ProcEvent {
  const what = buf.readUInt32LE(base + EV);
  const ts = buf.readBigUInt64LE(base + EV + 8);
  const d = base + EV_DATA;
  switch (what) {
    case PROC_EVENT.FORK: {
      // fork_proc_event: parent_pid parent_tgid child_pid child_tgid
      const childPid = buf.readInt32LE(d + 8);
      const childTgid = buf.readInt32LE(d + 12);
      return { what: 'fork', pid: childTgid, ppid: buf.readInt32LE(d + 4), thread: childPid !== childTgid, ts };
    }
    case PROC_EVENT.EXEC:
      // exec_proc_event: process_pid process_tgid (after exec the thread is the leader)
      return { what: 'exec', pid: buf.readInt32LE(d + 4), ts };
    case PROC_EVENT.EXIT: {
      // exit_proc_event: process_pid process_tgid exit_code exit_signal parent_pid parent_tgid
      const pid = buf.readInt32LE(d);
      const tgid = buf.readInt32LE(d + 4);
      return { what: 'exit', pid: tgid, thread: pid !== tgid, ts };
    }
    case PROC_EVENT.NONE:
      return { what: 'ack', ack: buf.readUInt32LE(base + 28), err: buf.readUInt32LE(d) };
    default:
      return { what: 'other', code: what };
  }
}

/**
 * What the worker posts. Times are the kernel's (CLOCK_MONOTONIC, as a float of
 * milliseconds); `ns` is absent when the process was gone before its links could be read.
 */
export type ConnectorRecord =
  | {
      kind: 'fork' | 'exec';
      pid: number;
      ppid?: number;
      ts: number;
      ns?: Partial<Record<NsType, number>>;
      /** NS_GET_ID of the namespaces that changed, read right after the links (absent: not read). */
      ids?: Partial<Record<NsType, number>>;
      command?: string;
      gone?: true;
    }
  | { kind: 'exit'; pid: number; ts: number }
  /** recv(2) failed with ENOBUFS: the socket's queue overflowed and events were dropped. */
  | { kind: 'overrun'; ts: number }
  /** Our mount namespace's mount table changed (a bind mount may pin or release a namespace). */
  | { kind: 'mounts'; ts: number };

/** Worker -> main thread messages. */
export type WorkerMessage =
  | { t: 'ready'; rcvbuf: number; filtered: boolean }
  | { t: 'batch'; records: ConnectorRecord[] }
  | { t: 'error'; call: string; errno: string; target?: string };

export interface WorkerParams {
  types: readonly NsType[];
  /** eventfd the main thread writes to when the worker must stop. */
  stopFd: number;
  procRoot: string;
  /** Receive buffer to ask for (bytes). */
  rcvbuf: number;
  /** How long to wait for the kernel's acknowledgement of the subscription. */
  ackTimeoutMs: number;
}

interface EventfdLib {
  eventfd(initval: number, flags: number): number;
  errno(): number;
}
let efdLib: EventfdLib | undefined;

function loadEventfd(): EventfdLib {
  if (efdLib) return efdLib;
  const require = createRequire(import.meta.url);
  const koffi = require('koffi') as typeof import('koffi');
  const c = koffi.load('libc.so.6');
  efdLib = { eventfd: c.func('int eventfd(unsigned int initval, int flags)'), errno: () => koffi.errno() };
  return efdLib;
}

/** The worker module beside this one (dist/sys/), also when this code runs bundled in dist/nsm.js. */
function workerPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const candidate of [join(here, 'proc-connector-worker.js'), join(here, 'sys', 'proc-connector-worker.js'), join(here, '..', '..', 'dist', 'sys', 'proc-connector-worker.js')]) {
    if (existsSync(candidate)) return candidate;
  }
  throw new NsmError('monitor: the connector worker (dist/sys/proc-connector-worker.js) is missing', { hint: 'rebuild with: npm run build' });
}

export interface ProcConnectorOptions {
  types: readonly NsType[];
  procRoot?: string;
  /** Default 8 MiB: room for tens of thousands of events while the reader is descheduled (a tiny one in tests, to force loss). */
  rcvbuf?: number;
  ackTimeoutMs?: number;
}

/**
 * A subscription to the process events connector, read by a worker thread.
 * `open()` resolves once the kernel acknowledged the subscription, or rejects with a
 * SysError (EPERM, EPROTONOSUPPORT, ETIMEDOUT for no acknowledgement ...).
 */
export class ProcConnector {
  private stopped = false;
  private readonly exited: Promise<void>;

  private constructor(
    private readonly worker: Worker,
    private readonly stopFd: number,
    readonly rcvbuf: number,
    readonly filtered: boolean,
  ) {
    this.exited = new Promise((resolve) => worker.once('exit', () => resolve()));
  }

  static open(options: ProcConnectorOptions, onRecords: (records: ConnectorRecord[]) => void, onError: (err: SysError) => void): Promise<ProcConnector> {
    const lib = loadEventfd();
    const EFD_CLOEXEC = 0o2000000;
    const stopFd = lib.eventfd(0, EFD_CLOEXEC);
    if (stopFd < 0) throw new SysError('eventfd', errnoName(lib.errno()));
    const params: WorkerParams = {
      types: options.types,
      stopFd,
      procRoot: options.procRoot ?? '/proc',
      rcvbuf: options.rcvbuf ?? 8 << 20,
      ackTimeoutMs: options.ackTimeoutMs ?? 2000,
    };
    // The worker needs no stdin and must not keep the process alive on its own once stopped.
    const worker = new Worker(workerPath(), { workerData: params, stdout: false, stderr: false });
    return new Promise((resolve, reject) => {
      let conn: ProcConnector | undefined;
      worker.on('message', (m: WorkerMessage) => {
        if (m.t === 'batch') onRecords(m.records);
        else if (m.t === 'ready') {
          conn = new ProcConnector(worker, stopFd, m.rcvbuf, m.filtered);
          resolve(conn);
        } else {
          const err = new SysError(m.call, m.errno, m.target);
          if (conn) onError(err);
          else {
            closeSync(stopFd);
            reject(err);
          }
        }
      });
      worker.once('error', (e) => {
        const err = new SysError('worker', 'EIO', 'proc connector', { cause: e });
        if (conn) onError(err);
        else reject(err);
      });
      worker.once('exit', () => {
        if (!conn) reject(new SysError('worker', 'EIO', 'proc connector exited early'));
      });
    });
  }

  /** Stop the worker (wakes its poll(2) through the eventfd) and wait for it to exit. */
  async close(): Promise<void> {
    if (this.stopped) return this.exited;
    this.stopped = true;
    const one = Buffer.alloc(8);
    one.writeBigUInt64LE(1n);
    writeSync(this.stopFd, one);
    // The worker leaves poll(2) at once; terminate() is the fallback should it be stuck elsewhere.
    const timer = setTimeout(() => void this.worker.terminate(), 2000);
    await this.exited;
    clearTimeout(timer);
    closeSync(this.stopFd);
  }
}
