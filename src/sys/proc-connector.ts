/**
 * The kernel's process events connector (netlink NETLINK_CONNECTOR, group CN_IDX_PROC):
 * fork, exec and exit of every process on the host, as they happen.
 *
 * The socket is read by `nsm-helper connector` (native/connector.c), which blocks in poll(2)
 * and, on each fork or exec, reads the process's /proc/PID/ns links at once, before writing
 * the record to us. Why not in Node: a namespace may live 10 ms, and the links must be read
 * while it does, whatever the main thread is doing (parsing a rescan, writing output). A
 * worker thread did the reading before; it cost a whole second V8 isolate (memory figures
 * in bench/RESULTS.md, "nsm serve"), the helper a small static process. It runs SCHED_RR as
 * root, so it reads even when both CPUs are busy (bench/RESULTS.md, "monitor").
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { StringDecoder } from 'node:string_decoder';
import { errnoName, SysError } from './errors.js';
import { helperBinary } from './native.js';
import { NS_TYPE_NAMES, type NsType } from './nstypes.js';

/**
 * What the connector helper reports (native/connector.c). Times are the kernel's (CLOCK_MONOTONIC, as a float of
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

export interface ProcConnectorOptions {
  types: readonly NsType[];
  procRoot?: string;
  /** Default 8 MiB: room for tens of thousands of events while the reader is descheduled (a tiny one in tests, to force loss). */
  rcvbuf?: number;
  ackTimeoutMs?: number;
}

/**
 * Ns fields of a fork/exec line: "-" gone, "?" unreadable, else inodes in `types` (column)
 * order, 0 for one not read, INODE:ID where the helper read the namespace's NS_GET_ID.
 */
function parseNs(field: string, types: readonly NsType[]): { ns?: Partial<Record<NsType, number>>; ids?: Partial<Record<NsType, number>>; gone?: true } | undefined {
  if (field === '-') return { gone: true };
  if (field === '?') return {};
  const inodes = field.split(',');
  if (inodes.length !== types.length) return undefined;
  const ns: Partial<Record<NsType, number>> = {};
  let ids: Partial<Record<NsType, number>> | undefined;
  for (let i = 0; i < types.length; i++) {
    const [inodeText, idText] = inodes[i]!.split(':');
    const inode = Number(inodeText);
    if (!Number.isSafeInteger(inode)) return undefined;
    if (inode > 0) ns[types[i]!] = inode;
    if (idText !== undefined) {
      const id = Number(idText);
      if (!Number.isSafeInteger(id) || id <= 0) return undefined;
      (ids ??= {})[types[i]!] = id;
    }
  }
  return ids ? { ns, ids } : { ns };
}

/** The command after the ns field: backslash and newline come escaped (\\, \n). */
function unescape(s: string): string {
  return s.includes('\\') ? s.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c)) : s;
}

/**
 * One record line of native/connector.c (its header comment has the protocol); undefined
 * for a line that is none. `types` are the requested types in column order. Exported for
 * unit tests.
 */
export function parseConnectorLine(line: string, types: readonly NsType[]): ConnectorRecord | undefined {
  const kind = line[0];
  const fields = line.split(' ', kind === 'f' ? 5 : 4);
  const ts = Number(fields[1]) / 1e6;
  const pid = Number(fields[2]);
  switch (kind) {
    case 'f':
    case 'e': {
      const nsAt = kind === 'f' ? 4 : 3;
      const read = fields[nsAt] === undefined ? undefined : parseNs(fields[nsAt]!, types);
      if (!read || !Number.isInteger(pid)) return undefined;
      const rec: ConnectorRecord = { kind: kind === 'f' ? 'fork' : 'exec', pid, ts, ns: read.ns };
      if (read.ids) rec.ids = read.ids;
      if (kind === 'f') rec.ppid = Number(fields[3]);
      if (read.gone) rec.gone = true;
      // The command is the rest of the line after the ns field (it may hold spaces).
      const before = fields.slice(0, nsAt + 1).join(' ').length;
      if (line.length > before) rec.command = unescape(line.slice(before + 1));
      return rec;
    }
    case 'x':
      return Number.isInteger(pid) ? { kind: 'exit', pid, ts } : undefined;
    case 'O':
      return { kind: 'overrun', ts };
    case 'm':
      return { kind: 'mounts', ts };
    default:
      return undefined;
  }
}

/**
 * A subscription to the process events connector, read by `nsm-helper connector`.
 * `open()` resolves once the kernel acknowledged the subscription, or rejects with a
 * SysError (EPERM, EPROTONOSUPPORT, ETIMEDOUT for no acknowledgement ...).
 */
export class ProcConnector {
  private stopped = false;
  private killed = false;
  private killTimer: NodeJS.Timeout | undefined;
  private closed: Promise<void> | undefined;
  /** The kernel filters events by type (Linux 6.6+); older kernels' extra events are skipped by the helper. */
  readonly filtered = true;

  private constructor(
    private readonly child: ChildProcess,
    private readonly exited: Promise<void>,
    readonly rcvbuf: number,
  ) {}

  static open(options: ProcConnectorOptions, onRecords: (records: ConnectorRecord[]) => void, onError: (err: SysError) => void): Promise<ProcConnector> {
    // Column order (native/nstypes.h): the order of the helper's inode fields.
    const types = NS_TYPE_NAMES.filter((t) => options.types.includes(t));
    const mask = types.reduce((m, t) => m | (1 << NS_TYPE_NAMES.indexOf(t)), 0);
    const args = ['connector', '--types', String(mask), '--rcvbuf', String(options.rcvbuf ?? 8 << 20), '--ack-ms', String(options.ackTimeoutMs ?? 2000)];
    if (options.procRoot) args.push('--proc', options.procRoot);
    // A session of its own (detached: setsid): Ctrl-C on nsm's terminal signals the foreground
    // process group, and must stop nsm (which then closes our stdin), not kill us under it.
    const child = spawn(helperBinary(), args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
    return new Promise((resolve, reject) => {
      let conn: ProcConnector | undefined;
      let partial = '';
      const decoder = new StringDecoder('utf8');
      let stderr = '';
      let failed: SysError | undefined;
      const failWith = (err: SysError): void => {
        if (failed) return;
        failed = err;
        if (conn) {
          if (!conn.stopped) onError(err);
        } else reject(err);
      };
      child.stdout!.on('data', (chunk: Buffer) => {
        // Lines are bytes; a command line is UTF-8 more often than not (as the kernel keeps it).
        const lines = (partial + decoder.write(chunk)).split('\n');
        partial = lines.pop()!;
        const records: ConnectorRecord[] = [];
        for (const line of lines) {
          if (line.startsWith('R ')) {
            conn = new ProcConnector(child, exited, Number(line.slice(2)));
            resolve(conn);
          } else if (line.startsWith('E ')) {
            const [, call, errno, ...target] = line.split(' ');
            failWith(new SysError(call!, errnoName(Number(errno)), target.length > 0 ? target.join(' ') : undefined));
          } else {
            const rec = parseConnectorLine(line, types);
            if (rec) records.push(rec);
            else failWith(new SysError('proc connector', 'EIO', `unexpected line from nsm-helper connector: ${JSON.stringify(line.slice(0, 80))}`));
          }
        }
        if (records.length > 0 && conn && !failed) onRecords(records);
      });
      child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
      child.stdin!.on('error', () => {}); // EPIPE once it has exited: reported by 'close' below
      child.once('error', (err) => failWith(SysError.fromNode(err, 'spawn', helperBinary())));
      child.once('close', (status, signal) => {
        if (conn?.stopped) return;
        const why = signal ? `killed by ${signal}` : `exit status ${status}`;
        failWith(new SysError('proc connector', 'EIO', `nsm-helper connector stopped: ${why}${stderr ? `: ${stderr.trim()}` : ''}`));
      });
    });
  }

  /**
   * Stop the helper (EOF on its stdin: it writes what it has read and exits) and wait for it,
   * at most `waitMs` (default 2 s): then it is killed, and what it had not written yet is lost.
   * Resolves to whether it ended by itself.
   */
  async close(waitMs = 2000): Promise<boolean> {
    if (!this.stopped) {
      this.stopped = true;
      this.child.stdin!.end();
      // It leaves poll(2) on EOF at once; SIGKILL should it take longer (a loaded host, a deadline).
      // Killed, it is not waited for: on a loaded host its exit and reaping take a while, and
      // what it had not written is lost either way. Nothing it wrote is read after this.
      const killed = new Promise<void>((resolve) => {
        this.killTimer = setTimeout(() => {
          this.killed = true;
          this.child.stdout!.destroy();
          this.child.kill('SIGKILL');
          resolve();
        }, waitMs);
      });
      void this.exited.then(() => clearTimeout(this.killTimer));
      this.closed = Promise.race([this.exited, killed]);
    }
    await this.closed;
    return !this.killed;
  }
}
