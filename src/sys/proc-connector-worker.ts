/**
 * Worker thread behind ProcConnector (src/sys/proc-connector.ts explains why a worker).
 *
 * Blocks in poll(2) on the connector socket and an eventfd (the main thread's stop
 * signal), so it uses no CPU while the host is quiet. On each fork or exec it reads the
 * process's /proc/PID/ns links straight away: a namespace made by `unshare -n sleep 0.01`
 * lives 10 ms, and by the time the main thread would get to it the process may be gone.
 * Each wake-up drains the socket and posts one batch.
 */
import { closeSync, fstatSync, openSync, readFileSync, readlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';
import { errnoName, errnoOf, SysError } from './errors.js';
import { NETLINK_CONNECTOR, NetlinkSocket } from './netlink.js';
import type { NsType } from './nstypes.js';
import { parseNsLink } from './parse.js';
import { CN_IDX_PROC, listenMessage, parseProcEvents, PROC_EVENT, type ConnectorRecord, type WorkerMessage, type WorkerParams } from './proc-connector.js';

const POLLIN = 0x1;
const POLLPRI = 0x2;

type PollFn = (fds: Buffer, nfds: number, timeout: number) => number;

interface WorkerLibc {
  poll: PollFn;
  errno: () => number;
  gettid: () => number;
  setpriority: (which: number, who: number, prio: number) => number;
  sched_setscheduler: (pid: number, policy: number, param: number[]) => number;
  ioctlU64: (fd: number, request: number, out: Array<number | bigint>) => number;
}

function loadLibc(): WorkerLibc {
  const require = createRequire(import.meta.url);
  const koffi = require('koffi') as typeof import('koffi');
  const c = koffi.load('libc.so.6');
  return {
    poll: c.func('int poll(_Inout_ void *fds, unsigned long nfds, int timeout)') as PollFn,
    errno: () => koffi.errno(),
    gettid: c.func('int gettid(void)'),
    setpriority: c.func('int setpriority(int which, int who, int prio)'),
    sched_setscheduler: c.func('int sched_setscheduler(int pid, int policy, const int *param)'),
    // ioctl is variadic; NS_GET_ID's shape only.
    ioctlU64: c.func('int ioctl(int fd, unsigned long request, _Out_ uint64_t *value)'),
  };
}

/**
 * Nice value of this thread. On a busy host a runnable thread at nice 0 can wait tens of
 * milliseconds for a CPU, longer than a namespace may live; at -10 (weight 9548 against
 * 1024, sched(7)) it runs almost as soon as an event wakes it, and it sleeps the rest of
 * the time. Niceness is per thread on Linux (setpriority(2), BUGS); it needs
 * CAP_SYS_NICE, and without it the thread simply keeps nice 0.
 */
const READER_NICE = -10;
/**
 * Better still, as root: SCHED_RR at the lowest real-time priority (sched(7)). A real-time
 * thread runs as soon as it wakes, ahead of every normal one, so the links of a process
 * that lives a fraction of a millisecond after exec are read before it exits even when
 * both CPUs are busy. It sleeps in poll(2) between events; should it ever spin, the
 * kernel's real-time throttling (/proc/sys/kernel/sched_rt_runtime_us) leaves the CPU to
 * others 5% of each second. Needs CAP_SYS_NICE; without it the nice value above stays.
 */
const SCHED_RR = 2;
const READER_RT_PRIORITY = 1;

const params = workerData as WorkerParams;
const port = parentPort!;

function post(m: WorkerMessage): void {
  port.postMessage(m);
}

/** Kernel event time (CLOCK_MONOTONIC ns) as float milliseconds (exact to well under a microsecond for centuries of uptime). */
function ms(ts: bigint): number {
  return Number(ts) / 1e6;
}

/** include/uapi/linux/nsfs.h: _IOR(0xb7, 13, __u64), Linux 6.18. */
const NS_GET_ID = 0x8008b70d;

class Reader {
  /** Namespace signature ("ino,ino,...") of each process seen, to notice when it changes. */
  private readonly sig = new Map<number, string>();
  /**
   * Ids of our own namespaces by inode: they live as long as we do, so their inodes cannot
   * be reused meanwhile and need no ioctl per event (most processes share them).
   */
  private readonly own = new Map<number, number>();
  /** NS_GET_ID works here (false after ENOTTY/EINVAL, or without the ioctl). */
  private ids: boolean;

  constructor(
    private readonly root: string,
    private readonly types: readonly NsType[],
    private readonly ioctlU64?: WorkerLibc['ioctlU64'],
  ) {
    this.ids = ioctlU64 !== undefined;
    for (const type of types) {
      const own = this.idAt(`${root}/self/ns/${type}`);
      if (own) this.own.set(own.inode, own.id);
    }
  }

  /** Inode and NS_GET_ID of the namespace file at `path`, from one open file; undefined when either cannot be read. */
  private idAt(path: string): { inode: number; id: number } | undefined {
    if (!this.ids) return undefined;
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch {
      return undefined; // gone since its link was read, or not ours
    }
    try {
      const out: Array<number | bigint> = [0];
      if (this.ioctlU64!(fd, NS_GET_ID, out) !== 0) {
        // ENOTTY/EINVAL: a kernel before 6.18; stop asking.
        this.ids = false;
        return undefined;
      }
      return { inode: fstatSync(fd).ino, id: Number(out[0]) };
    } finally {
      closeSync(fd);
    }
  }

  /**
   * NS_GET_ID of the namespaces that changed from `before` (or all, when nothing is known),
   * read at once after the links: a process that exits a millisecond after exec would be gone
   * by the time the main thread asks, and the id is what tells a new namespace at a reused
   * inode from the old one. An id is kept only when the file opened is still the inode the
   * link named (the process may have moved in between).
   */
  private readIds(pid: number, ns: Partial<Record<NsType, number>>, before: string | undefined): Partial<Record<NsType, number>> | undefined {
    if (!this.ids) return undefined;
    const was = before?.split(',');
    let ids: Partial<Record<NsType, number>> | undefined;
    this.types.forEach((type, i) => {
      const inode = ns[type];
      if (inode === undefined || (was && Number(was[i]) === inode)) return;
      const id = this.own.get(inode) ?? this.idAt(`${this.root}/${pid}/ns/${type}`);
      const value = typeof id === 'number' ? id : id?.inode === inode ? id.id : undefined;
      if (value !== undefined) (ids ??= {})[type] = value;
    });
    return ids;
  }

  /**
   * The process's namespaces, 'gone' when it has already exited (ENOENT/ESRCH: a zombie's
   * links are gone too), or undefined when its links may not be read (EACCES): then there
   * is nothing left to learn about it.
   */
  readNs(pid: number): Partial<Record<NsType, number>> | 'gone' | undefined {
    const ns: Partial<Record<NsType, number>> = {};
    for (const type of this.types) {
      try {
        const ref = parseNsLink(readlinkSync(`${this.root}/${pid}/ns/${type}`));
        if (ref) ns[type] = ref.inode;
      } catch (err) {
        const code = errnoOf(err) ?? '';
        if (Object.keys(ns).length > 0 && ['ENOENT', 'ESRCH', 'EACCES'].includes(code)) return ns;
        if (code === 'ENOENT' || code === 'ESRCH') return 'gone';
        if (code === 'EACCES') return undefined;
        throw err;
      }
    }
    return ns;
  }

  /** Command line, read only when the namespaces differ from what the process (or its parent) had: only then is it shown. */
  private command(pid: number): string | undefined {
    try {
      const raw = readFileSync(`${this.root}/${pid}/cmdline`, 'latin1');
      const args = raw.split('\0');
      if (args[args.length - 1] === '') args.pop();
      if (args.length > 0) return Buffer.from(args.join(' '), 'latin1').toString('utf8');
      return readFileSync(`${this.root}/${pid}/comm`, 'utf8').trimEnd();
    } catch {
      return undefined;
    }
  }

  record(kind: 'fork' | 'exec', pid: number, ts: bigint, ppid?: number): ConnectorRecord {
    const read = this.readNs(pid);
    const ns = read === 'gone' ? undefined : read;
    const rec: ConnectorRecord = { kind, pid, ts: ms(ts), ns };
    if (ppid !== undefined) rec.ppid = ppid;
    if (read === 'gone') rec.gone = true;
    if (!ns) return rec;
    const sig = this.types.map((t) => ns[t] ?? 0).join(',');
    const before = this.sig.get(kind === 'fork' && ppid !== undefined ? ppid : pid);
    if (before !== sig) {
      const ids = this.readIds(pid, ns, before);
      if (ids) rec.ids = ids;
      rec.command = this.command(pid);
    }
    this.sig.set(pid, sig);
    return rec;
  }

  exited(pid: number): void {
    this.sig.delete(pid);
  }
}

/**
 * Main-thread wake-ups are coalesced: a batch waits at most this long for company. The
 * links are already read by then; only the bookkeeping and the printing wait.
 */
const FLUSH_MS = 20;

function run(): void {
  let sock: NetlinkSocket | undefined;
  let mountsFd: number | undefined;
  try {
    const { poll, errno, gettid, setpriority, sched_setscheduler, ioctlU64 } = loadLibc();
    const PRIO_PROCESS = 0;
    setpriority(PRIO_PROCESS, gettid(), READER_NICE);
    sched_setscheduler(gettid(), SCHED_RR, [READER_RT_PRIORITY]);
    const sk = new NetlinkSocket(NETLINK_CONNECTOR, { nonBlocking: true });
    sock = sk;
    const rcvbuf = sk.setReceiveBuffer(params.rcvbuf);
    sk.bind(CN_IDX_PROC);
    // proc(5): /proc/PID/mountinfo is pollable; POLLPRI when a mount or unmount changes our
    // mount namespace's table (ip netns add/delete), so the rescan need not wait its period.
    mountsFd = openSync(`${params.procRoot}/self/mountinfo`, 'r');
    const reader = new Reader(params.procRoot, params.types, ioctlU64);
    const buf = Buffer.alloc(64 * 1024);
    const fds = Buffer.alloc(24); // struct pollfd[3]: { int fd; short events; short revents; }
    fds.writeInt32LE(sk.fd, 0);
    fds.writeInt16LE(POLLIN, 4);
    fds.writeInt32LE(params.stopFd, 8);
    fds.writeInt16LE(POLLIN, 12);
    fds.writeInt32LE(mountsFd, 16);
    fds.writeInt16LE(POLLPRI, 20);
    const revents = (i: number): number => fds.readInt16LE(i * 8 + 6);

    /** Wait for the socket, a mount change or the stop signal (or the timeout); false once told to stop. */
    const wait = (timeoutMs: number): boolean => {
      for (let i = 0; i < 3; i++) fds.writeInt16LE(0, i * 8 + 6);
      for (;;) {
        const rc = poll(fds, 3, timeoutMs);
        if (rc >= 0) break;
        const e = errno();
        if (errnoName(e) !== 'EINTR') throw new SysError('poll', errnoName(e), 'proc connector');
      }
      return revents(1) === 0;
    };

    let pending: ConnectorRecord[] = [];
    let acked: number | undefined;
    const cookie = (Math.random() * 0x7fffffff) >>> 0;

    /** Read everything queued. */
    const drain = (): void => {
      for (;;) {
        let n: number;
        try {
          n = sk.recv(buf);
        } catch (err) {
          // netlink(7): ENOBUFS means the receive queue overflowed and messages were dropped.
          if (errnoOf(err) === 'ENOBUFS') {
            pending.push({ kind: 'overrun', ts: ms(process.hrtime.bigint()) });
            continue;
          }
          throw err;
        }
        if (n < 0) return;
        for (const ev of parseProcEvents(buf, n)) {
          switch (ev.what) {
            case 'fork':
              // A new thread shares its process's namespaces; the rescan sees threads that move.
              if (!ev.thread) pending.push(reader.record('fork', ev.pid, ev.ts, ev.ppid));
              break;
            case 'exec':
              pending.push(reader.record('exec', ev.pid, ev.ts));
              break;
            case 'exit':
              if (!ev.thread) {
                reader.exited(ev.pid);
                pending.push({ kind: 'exit', pid: ev.pid, ts: ms(ev.ts) });
              }
              break;
            case 'ack':
              // Acks are multicast to every listener; ours carries our cookie + 1.
              if (ev.ack === ((cookie + 1) >>> 0)) acked = ev.err;
              break;
            case 'other':
              break;
          }
        }
      }
    };

    sk.send(listenMessage(cookie));
    const deadline = Date.now() + params.ackTimeoutMs;
    while (acked === undefined) {
      const left = deadline - Date.now();
      // No ack: a kernel without the connector, or we are not in the initial user and
      // PID namespaces (cn_proc.c ignores such listeners without a word).
      if (left <= 0) {
        post({ t: 'error', call: 'proc connector', errno: 'ETIMEDOUT', target: 'PROC_CN_MCAST_LISTEN' });
        return;
      }
      if (!wait(left)) return;
      drain();
    }
    if (acked !== 0) {
      post({ t: 'error', call: 'proc connector', errno: errnoName(acked), target: 'PROC_CN_MCAST_LISTEN' });
      return;
    }
    // Kernel 6.6+ (struct proc_input) filters in the kernel, so UID/GID/SID/COMM events are
    // never queued; older kernels ignore an 8-byte request and keep sending everything,
    // which parseProcEvents() then skips.
    sk.send(listenMessage(cookie + 2, PROC_EVENT.FORK | PROC_EVENT.EXEC | PROC_EVENT.EXIT));
    post({ t: 'ready', rcvbuf, filtered: true });
    // The links are read as soon as an event arrives; only the hand-over to the main thread
    // waits up to FLUSH_MS, so a burst of events costs it one wake-up, not one per event.
    let lastPost = 0;
    let timeout = -1;
    while (wait(timeout)) {
      if (revents(0) !== 0) drain();
      if (revents(2) !== 0) pending.push({ kind: 'mounts', ts: ms(process.hrtime.bigint()) });
      const now = performance.now();
      if (pending.length > 0 && now - lastPost >= FLUSH_MS) {
        post({ t: 'batch', records: pending });
        pending = [];
        lastPost = now;
      }
      timeout = pending.length > 0 ? Math.max(0, Math.ceil(lastPost + FLUSH_MS - now)) : -1;
    }
    // Told to stop: what was read so far still counts (exits just before the end). Not a
    // last drain: reading the links of a backlog could keep a loaded host's monitor past
    // its --duration.
    if (pending.length > 0) post({ t: 'batch', records: pending });
  } catch (err) {
    const e = err instanceof SysError ? err : SysError.fromNode(err, 'proc connector');
    post({ t: 'error', call: e.call, errno: e.errno, target: e.target });
  } finally {
    sock?.close();
    if (mountsFd !== undefined) closeSync(mountsFd);
    port.close();
  }
}

run();
