/**
 * Driver of native/nsm-helper, the single-threaded C helper (see native/PROTOCOL.md).
 *
 * Node.js cannot create or join a user namespace (it is multi-threaded: unshare/setns of
 * CLONE_NEWUSER fail with EINVAL), and a holder must be a tiny PID 1. This module starts the
 * helper (a holder's over its stdin and stdout, run and join with the protocol socket on fd
 * 3), sends the configuration frames, and turns the replies into typed results or errors.
 * It prints nothing.
 *
 * A helper FAIL becomes a SysError whose `call` is the failed step and whose `errno` is the
 * errno name, so the CLI prints e.g. `nsm: unshare(CLONE_NEWNET): EPERM: Operation not permitted`.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { accessSync, closeSync, constants as fsConstants, readFileSync, writeSync } from 'node:fs';
import type { Socket } from 'node:net';
import { userInfo } from 'node:os';
import {
  EXIT_NOT_EXECUTABLE,
  EXIT_NOT_FOUND,
  EXIT_NSM_FAILED,
  quoteInput,
  NsmError,
  SysError,
  UsageError,
} from './errors.js';
import {
  CHANNEL_STDIO,
  decodeReply,
  encodeFrame,
  extents,
  FrameDecoder,
  HelperExit,
  i64s,
  JoinFlag,
  joinNsPayload,
  Loopback,
  Msg,
  Prop,
  Setgroups,
  str,
  u32s,
  u8,
  type IdExtent,
  type Reply,
} from './helper-protocol.js';
import { inheritedFds } from './inherited-fds.js';
import { readAvailable, socketPair, spawnAndWait, spawnProcess, waitForChild, type StdioTarget } from './libc.js';
import { parseStat } from './parse.js';
import { helperBinary } from './native.js';
import * as addon from './spawn-addon.js';
import { exitStatus, forwardSignals } from './signals.js';
import { cloneFlags, nsTypeInfo, type NsType } from './nstypes.js';

export type { IdExtent } from './helper-protocol.js';

/** Mount propagation applied recursively to / in a new mount namespace. */
export type Propagation = 'private' | 'slave' | 'shared' | 'unchanged';

/**
 * How ids map into a new user namespace (the options of unshare(1)). Without any of these the
 * namespace has no maps and every id shows as the overflow id (65534).
 */
export interface UserMapping {
  /** The caller's uid and gid become 0 inside (`--map-root-user`). */
  root?: boolean;
  /** The caller's uid becomes this uid inside (`--map-user`). */
  user?: number;
  /** The caller's gid becomes this gid inside (`--map-group`). */
  group?: number;
  /**
   * Also map the caller's subordinate ranges from /etc/subuid and /etc/subgid, written with
   * newuidmap/newgidmap from the `uidmap` package (`--map-auto`). The range fills the lowest
   * ids inside that the single mapping above leaves free, one id shorter where they overlap,
   * as unshare(1) maps it (0 -> caller, 1..N-1 -> the range's first N-1 ids).
   */
  auto?: boolean;
  /** unshare(1) --map-users/--map-groups: one more block, after the single mapping above. */
  usersRange?: IdExtent;
  groupsRange?: IdExtent;
  /** Explicit uid_map extents; replace everything above for uids. */
  uidMap?: IdExtent[];
  /** Explicit gid_map extents; replace everything above for gids. */
  gidMap?: IdExtent[];
  /** Write explicit maps with newuidmap/newgidmap instead of directly (implied by `auto`). */
  tools?: boolean;
  /** /proc/PID/setgroups before a direct gid_map write; default 'deny' (needed unprivileged). */
  setgroups?: 'deny' | 'allow';
}

/** What a new environment consists of (holder and run modes). */
export interface NamespaceConfig {
  /** Namespace types to create; any order. */
  types: NsType[];
  /** Id mapping of the new user namespace (needs 'user'). */
  map?: UserMapping;
  /** Hostname of the new UTS namespace (needs 'uts'). */
  hostname?: string;
  /** Clock offsets of the new time namespace in seconds (needs 'time'). */
  timeOffsets?: { monotonic?: number; boottime?: number };
  /** Propagation of / in the new mount namespace (needs 'mnt'); the helper's default is private. */
  propagation?: Propagation;
  /** PID 1 mounts a fresh /proc (needs 'pid' and 'mnt'). */
  mountProc?: boolean;
  /** Mount a fresh /sys showing the new network namespace (needs 'net' and 'mnt'). */
  mountSys?: boolean;
  /** Bring `lo` up in the new network namespace; default true (needs 'net'). */
  loopback?: boolean;
  /** cgroup directories to join (their cgroup.procs) before anything is unshared. */
  cgroupDirs?: string[];
}

/** Where a helper's (or a command's) stdin/stdout/stderr go: inherited, /dev/null, or an open fd. */
export type { StdioTarget } from './libc.js';

export interface HelperOptions {
  /** Path of nsm-helper; default: $NSM_HELPER, else native/build/nsm-helper of this package. */
  helperPath?: string;
  /** Run the helper as this user (needs root); the caller's ids used for mapping follow it. */
  asUser?: { uid: number; gid: number };
}

export interface ExecOptions extends HelperOptions {
  /** Environment of the command (default: process.env). PATH in it finds the command. */
  env?: NodeJS.ProcessEnv;
  /** stdin, stdout, stderr of the command; default all inherited (terminal passes through). */
  stdio?: [StdioTarget, StdioTarget, StdioTarget];
  /**
   * While the command runs, forward SIGTERM and SIGHUP sent to this process to it, and keep
   * this process alive on SIGINT, SIGQUIT and SIGWINCH without forwarding them: those come
   * from the terminal, which already sent them to the whole foreground process group,
   * command included. Default true. Set false when the caller handles signals itself.
   */
  forwardSignals?: boolean;
}

/** runInNewNamespaces(): unshare(1)'s --root, --wd and --kill-child. */
export interface RunOptions extends ExecOptions {
  /** chroot(2) of the command; it then starts in `/` unless `cwd` says otherwise. */
  root?: string;
  /** Working directory of the command (after `root`); it must exist. */
  cwd?: string;
  /** Signal number the command (or its init) gets when nsm dies; default SIGKILL. */
  killSignal?: number;
}

/** One namespace to join: an fd the caller opened and whose inode it checked. */
export interface JoinTarget {
  type: NsType;
  /** Open fd of the namespace file (e.g. /proc/PID/ns/net), owned by the caller. */
  fd: number;
  /** Its inode as recorded at creation; the helper checks it again with fstat. */
  inode: bigint;
  /** Its recorded NS_GET_ID, which the helper checks where the kernel answers (ioctl_ns(2), 6.18). */
  id?: bigint;
}

export interface JoinOptions extends ExecOptions {
  /** Working directory inside; falls back to / when missing or unreachable there. */
  cwd?: string;
  /**
   * Uid and gid of the command (nsenter -S/-G): set even without a user namespace; a joined
   * user namespace sets both anyway, to 0 unless given (as nsenter does). -G (or a joined
   * user namespace) drops the supplementary groups.
   */
  uid?: number;
  gid?: number;
  /** nsenter --preserve-credentials: a joined user namespace changes no ids and no groups. */
  preserveCredentials?: boolean;
  /** nsenter --keep-caps: the capabilities a joined user namespace gives become ambient. */
  keepCaps?: boolean;
  /** nsenter -F: exec in place (a joined pid namespace holds only the command's children). */
  noFork?: boolean;
  /** `cwd` was asked for (--cwd): missing inside is an error; else the helper falls back to /. */
  cwdAsked?: boolean;
  /** An open directory to chroot(2) to after joining (nsenter -r); owned by the caller. */
  rootFd?: number;
  /** An open directory to work in after joining and chroot (nsenter -w); owned by the caller. */
  wdFd?: number;
  /** ip netns exec's private mounts after joining (a fresh /sys); a name also binds /etc/netns/NAME/*. */
  netnsExec?: string;
  /** cgroup directories the command's process joins (writes itself to cgroup.procs) before it execs. */
  cgroupDirs?: readonly string[];
  /** The command starts a new session, the terminal among its stdio its controlling one (a pty of ours: src/sys/pty.ts). */
  newSession?: boolean;
}

export interface HolderInfo {
  /** Pid of the holder (PID 1 inside) as the caller's pid namespace sees it. */
  pid: number;
  /** Start time of the holder (/proc/PID/stat field 22, clock ticks since boot). */
  startTime?: number;
}

/** Absolute path of the helper binary; a clear error when it was not built. */
export function helperPath(override?: string): string {
  if (override === undefined) return helperBinary();
  try {
    accessSync(override, fsConstants.X_OK);
  } catch (err) {
    throw new NsmError(`the native helper is missing: ${override}`, {
      hint: 'run npm install (it builds native/ with make and a C compiler)',
      cause: err,
    });
  }
  return override;
}

// ------------------------------------------------------------------ mapping

/** One subordinate id range from /etc/subuid or /etc/subgid. */
export interface SubidRange {
  start: number;
  count: number;
}

/** First range of `user` (by name or numeric id) in an /etc/subuid-format text. */
export function parseSubid(text: string, user: string, id: number): SubidRange | undefined {
  for (const line of text.split('\n')) {
    const [owner, start, count] = line.trim().split(':');
    if (owner === undefined || start === undefined || count === undefined || line.trim().startsWith('#')) continue;
    if (owner !== user && owner !== String(id)) continue;
    const s = Number(start);
    const n = Number(count);
    if (Number.isSafeInteger(s) && Number.isSafeInteger(n) && n > 0) return { start: s, count: n };
  }
  return undefined;
}

/** A single mapping plus a range placed at the lowest inside ids the single one leaves free. */
function withRange(single: IdExtent | undefined, range: SubidRange | undefined): IdExtent[] {
  if (!range) return single ? [single] : [];
  if (!single) return [{ inside: 0, outside: range.start, count: range.count }];
  // unshare(1)'s add_single_map_range (util-linux sys-utils/unshare.c): the range starts at 0
  // inside and loses its topmost id when the single id falls in it (inside or outside, bounds
  // included), then splits around the single id. So --map-root-user --map-auto with a range
  // of 65536 maps 0 -> the caller and 1..65535 -> the first 65535 ids of the range, as the
  // man page's example shows: 65536 ids inside in all.
  const overlaps = (id: number, start: number, count: number): boolean => id >= start && id <= start + count;
  const count = overlaps(single.outside, range.start, range.count) || overlaps(single.inside, 0, range.count) ? range.count - 1 : range.count;
  const outerOffset = Math.min(single.outside > range.start ? single.outside - range.start : 0, count);
  const innerOffset = Math.min(single.inside, count);
  const skip = (id: number, taken: number): number => (id === taken ? id + 1 : id);
  const lo: IdExtent = { inside: 0, outside: range.start, count: Math.min(innerOffset, outerOffset) };
  const mid: IdExtent = { inside: skip(lo.inside + lo.count, single.inside), outside: skip(lo.outside + lo.count, single.outside), count: Math.abs(outerOffset - innerOffset) };
  const hi: IdExtent = { inside: skip(mid.inside + mid.count, single.inside), outside: skip(mid.outside + mid.count, single.outside), count: count - lo.count - mid.count };
  return [single, ...[lo, mid, hi].filter((e) => e.count > 0)];
}

/**
 * `block` without the id `single` maps inside: unshare(1) --map-users leaves a hole there,
 * since two extents may not map the same id inside (user_namespaces(7)).
 */
function withHole(block: IdExtent | undefined, single: number | undefined): IdExtent[] {
  if (!block) return [];
  if (single === undefined || single < block.inside || single >= block.inside + block.count) return [block];
  const before = single - block.inside;
  const out: IdExtent[] = [];
  if (before > 0) out.push({ inside: block.inside, outside: block.outside, count: before });
  if (block.count - before - 1 > 0) out.push({ inside: single + 1, outside: block.outside + before + 1, count: block.count - before - 1 });
  return out;
}

export interface IdMaps {
  uidMap: IdExtent[];
  gidMap: IdExtent[];
  /** Write them with newuidmap/newgidmap. */
  tools: boolean;
}

/**
 * The uid_map/gid_map extents for `m`, for a caller with `ids`. `subid` supplies the
 * subordinate ranges for `auto` (read from /etc/subuid and /etc/subgid when omitted).
 */
export function computeIdMaps(
  m: UserMapping,
  ids: { uid: number; gid: number; user: string },
  subid?: { uid?: SubidRange; gid?: SubidRange },
): IdMaps {
  const singleUid = m.root ? 0 : m.user;
  const singleGid = m.root ? 0 : m.group;
  let uidRange: SubidRange | undefined;
  let gidRange: SubidRange | undefined;
  if (m.auto) {
    uidRange = subid ? subid.uid : readSubid('/etc/subuid', ids.user, ids.uid);
    gidRange = subid ? subid.gid : readSubid('/etc/subgid', ids.user, ids.uid);
    if (!uidRange || !gidRange) {
      const file = uidRange ? '/etc/subgid' : '/etc/subuid';
      throw new NsmError(`no subordinate id range for ${ids.user} in ${file}`, {
        hint: `add one, e.g. usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${ids.user}`,
      });
    }
  }
  const uidMap = m.uidMap ?? [...withRange(singleUid === undefined ? undefined : { inside: singleUid, outside: ids.uid, count: 1 }, uidRange), ...withHole(m.usersRange, singleUid)];
  const gidMap = m.gidMap ?? [...withRange(singleGid === undefined ? undefined : { inside: singleGid, outside: ids.gid, count: 1 }, gidRange), ...withHole(m.groupsRange, singleGid)];
  return { uidMap, gidMap, tools: Boolean(m.auto || m.tools) };
}

function readSubid(file: string, user: string, id: number): SubidRange | undefined {
  try {
    return parseSubid(readFileSync(file, 'utf8'), user, id);
  } catch {
    return undefined;
  }
}

// ------------------------------------------------------------------ config

const PROPAGATION: Record<Propagation, number> = {
  private: Prop.PRIVATE,
  slave: Prop.SLAVE,
  shared: Prop.SHARED,
  unchanged: Prop.UNCHANGED,
};

function needTypes(types: ReadonlySet<NsType>, what: string, ...need: NsType[]): void {
  const missing = need.filter((t) => !types.has(t));
  if (missing.length > 0) throw new UsageError(`${what} needs the ${missing.join(' and ')} namespace type${missing.length > 1 ? 's' : ''}`);
}

/** The configuration frames (without CFG_END) for holder and run modes; validates combinations. */
export function encodeNamespaceConfig(config: NamespaceConfig, ids: { uid: number; gid: number; user: string }): Buffer[] {
  const types = new Set(config.types);
  const frames = [encodeFrame(Msg.CFG_NSTYPES, u32s(cloneFlags(types)))];
  if (config.map) {
    needTypes(types, 'an id mapping', 'user');
    const maps = computeIdMaps(config.map, ids);
    if (maps.uidMap.length > 0) frames.push(encodeFrame(Msg.CFG_UID_MAP, extents(maps.uidMap)));
    if (maps.gidMap.length > 0) frames.push(encodeFrame(Msg.CFG_GID_MAP, extents(maps.gidMap)));
    if (maps.tools) frames.push(encodeFrame(Msg.CFG_MAP_TOOLS));
    else if (config.map.setgroups) {
      frames.push(encodeFrame(Msg.CFG_SETGROUPS, u8(config.map.setgroups === 'allow' ? Setgroups.ALLOW : Setgroups.DENY)));
    }
  }
  if (config.hostname !== undefined) {
    needTypes(types, 'a hostname', 'uts');
    if (config.hostname.length === 0 || Buffer.byteLength(config.hostname) > 64) {
      throw new UsageError(`hostname must be 1 to 64 bytes, not: ${quoteInput(config.hostname)}`);
    }
    frames.push(encodeFrame(Msg.CFG_HOSTNAME, str(config.hostname)));
  }
  if (config.timeOffsets) {
    needTypes(types, 'a time offset', 'time');
    const { monotonic = 0, boottime = 0 } = config.timeOffsets;
    frames.push(encodeFrame(Msg.CFG_TIMEOFFSETS, i64s(BigInt(Math.trunc(monotonic)), BigInt(Math.trunc(boottime)))));
  }
  if (config.propagation !== undefined) {
    needTypes(types, 'mount propagation', 'mnt');
    frames.push(encodeFrame(Msg.CFG_PROPAGATION, u8(PROPAGATION[config.propagation])));
  }
  if (config.mountProc) {
    needTypes(types, 'mounting /proc', 'pid', 'mnt');
    frames.push(encodeFrame(Msg.CFG_MOUNT_PROC));
  }
  if (config.mountSys) {
    needTypes(types, 'mounting /sys', 'net', 'mnt');
    frames.push(encodeFrame(Msg.CFG_MOUNT_SYS));
  }
  if (config.loopback !== undefined && types.has('net')) {
    frames.push(encodeFrame(Msg.CFG_LOOPBACK, u8(config.loopback ? Loopback.UP : Loopback.DOWN)));
  }
  for (const dir of config.cgroupDirs ?? []) frames.push(encodeFrame(Msg.CFG_CGROUP, str(dir)));
  return frames;
}

function argvFrames(argv: readonly string[]): Buffer[] {
  if (argv.length === 0 || argv[0] === '') throw new UsageError('no command given');
  return argv.map((a) => encodeFrame(Msg.CFG_ARG, str(a)));
}

// ------------------------------------------------------------------ talking

interface Outcome {
  replies: Reply[];
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  protocolError?: Error;
}

interface Session {
  /** What signals are forwarded to: the helper's pid (not yet reaped) or its ChildProcess. */
  target: number | ChildProcess;
  done: Promise<Outcome>;
}

function callerIds(opts: HelperOptions): { uid: number; gid: number; user: string } {
  if (opts.asUser) return { ...opts.asUser, user: String(opts.asUser.uid) };
  const uid = process.getuid!();
  return {
    uid,
    gid: process.getgid!(),
    // Only --map-auto reads it (to match /etc/subuid): looked up then, not on every create.
    get user() {
      try {
        return userInfo().username;
      } catch {
        return String(uid); // no passwd entry: match /etc/subuid by numeric id only
      }
    },
  };
}

type SessionOptions = HelperOptions & {
  stdio: [StdioTarget, StdioTarget, StdioTarget];
  env?: NodeJS.ProcessEnv;
  /** Fds of ours the helper inherits under the same numbers (the namespaces to join). */
  extraFds?: number[];
  /** Runs once the helper has exited, before it is reaped (stop signalling its pid there). */
  onExit?: () => void;
};

/**
 * Start the helper in `mode` with the protocol socket (its number in argv), `extraFds` and
 * the fds nsm inherited (src/sys/inherited-fds.ts: the helper passes those on to the
 * command, as nsenter does) under their own numbers, send `frames` + CFG_END, and
 * resolve with its replies and exit status once it has exited. Started with posix_spawn
 * (nsm's own module, src/sys/spawn-addon.ts, else koffi's src/sys/libc.ts), as the holder is: child_process.spawn() with a socket and its streams
 * loads and sets up much of node's stream machinery on every `nsm exec` (bench/RESULTS.md). The replies (STARTED or FAIL: a few bytes) wait
 * in the socket until the helper has exited and are read then. `asUser` (tests, as root)
 * needs a uid change posix_spawn cannot make: startHelperAsUser().
 */
function startHelper(mode: 'run' | 'join', frames: Buffer[], opts: SessionOptions): Session {
  if (opts.asUser) return startHelperAsUser(mode, frames, opts);
  const path = helperPath(opts.helperPath);
  // nsm's own spawn module where it was built (no koffi: src/sys/spawn-addon.ts), else koffi.
  const sys = addon.usable(opts.stdio) ? addon : { socketPair, spawnProcess, waitForChild, readAvailable };
  const [ours, theirs] = sys.socketPair();
  let pid: number;
  try {
    pid = sys.spawnProcess(path, [path, mode, String(theirs)], opts.env ?? process.env, opts.stdio, [theirs, ...(opts.extraFds ?? []), ...inheritedFds()]);
  } catch (err) {
    closeSync(ours);
    throw SysError.fromNode(err, 'spawn', path);
  } finally {
    closeSync(theirs);
  }
  try {
    const bytes = Buffer.concat([...frames, encodeFrame(Msg.CFG_END)]);
    for (let sent = 0; sent < bytes.length; ) sent += writeSome(ours, bytes, sent);
  } catch (err) {
    // The helper may exit (after FAIL) before reading everything we sent: EPIPE is expected.
    if ((err as NodeJS.ErrnoException).code !== 'EPIPE') {
      closeSync(ours);
      throw SysError.fromNode(err, 'write', `${path} socket`);
    }
  }
  const done = sys.waitForChild(pid, opts.onExit).then(
    (end) => {
      try {
        return outcomeOf(sys.readAvailable(ours), Buffer.alloc(0), end.status, end.signal);
      } finally {
        closeSync(ours);
      }
    },
    (err: unknown) => {
      closeSync(ours);
      throw err;
    },
  );
  return { target: pid, done };
}

/** writeSync(), waiting for the reader while a non-blocking socket is full (EAGAIN). */
function writeSome(fd: number, bytes: Buffer, from: number): number {
  for (;;) {
    try {
      return writeSync(fd, bytes, from);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
  }
}

/** startHelper() for `asUser`: child_process.spawn() can change the uid; replies are read as they come. */
function startHelperAsUser(mode: 'run' | 'join', frames: Buffer[], opts: SessionOptions): Session {
  // The extra fds under their own numbers (the frames name them so), the socket above them.
  const extra = opts.extraFds ?? [];
  const sockAt = Math.max(2, ...extra) + 1;
  const stdio: StdioOptions = Array.from({ length: sockAt + 1 }, (_, i) => (i < 3 ? opts.stdio[i]! : extra.includes(i) ? i : 'ignore'));
  stdio[sockAt] = 'pipe';
  const path = helperPath(opts.helperPath);
  const child = spawn(path, [mode, String(sockAt)], {
    stdio,
    env: opts.env ?? process.env,
    uid: opts.asUser?.uid,
    gid: opts.asUser?.gid,
  });
  const sock = child.stdio[sockAt] as Socket;
  const decoder = new FrameDecoder();
  const outcome: Outcome = { replies: [], code: null, signal: null, stderr: '' };

  const done = new Promise<Outcome>((resolve, reject) => {
    child.once('error', (err) => reject(SysError.fromNode(err, 'spawn', path)));
    sock.on('data', (chunk: Buffer) => {
      if (outcome.protocolError) return;
      try {
        for (const frame of decoder.push(chunk)) outcome.replies.push(decodeReply(frame));
      } catch (err) {
        outcome.protocolError = err as Error;
      }
    });
    // The helper may exit (after FAIL) before reading everything we sent: EPIPE is expected.
    sock.on('error', () => {});
    child.once('close', (code, signal) => {
      opts.onExit?.();
      outcome.code = code;
      outcome.signal = signal;
      if (!outcome.protocolError && decoder.pending > 0) {
        outcome.protocolError = new Error(`nsm-helper's reply was cut short (${decoder.pending} bytes of a frame)`);
      }
      resolve(outcome);
    });
  });
  sock.write(Buffer.concat([...frames, encodeFrame(Msg.CFG_END)]));
  return { target: child, done };
}

function hintFor(step: string, errno: string): string | undefined {
  if (/^execvp\(new[ug]idmap\)$/.test(step) && errno === 'ENOENT') {
    return 'install the uidmap package (apt-get install uidmap): it provides newuidmap and newgidmap';
  }
  if (/^new[ug]idmap /.test(step)) return 'check the ranges in /etc/subuid and /etc/subgid for this user';
  if (step === 'unshare(CLONE_NEWUSER)' && (errno === 'EPERM' || errno === 'ENOSPC' || errno === 'EUSERS')) {
    return 'user namespaces may be disabled or exhausted: see sysctl user.max_user_namespaces (and kernel.unprivileged_userns_clone)';
  }
  if (step.startsWith('unshare(') && errno === 'EPERM') {
    return "run as root, or add the 'user' namespace type to create it rootless";
  }
  return undefined;
}

/** The error to throw for a helper session that did not succeed. */
function failure(out: Outcome): NsmError {
  if (out.protocolError) {
    return new NsmError(`nsm-helper protocol error: ${out.protocolError.message}`, { exitCode: EXIT_NSM_FAILED });
  }
  const fail = out.replies.find((r) => r.kind === 'fail');
  if (fail && fail.kind === 'fail') {
    const exitCode =
      out.code === HelperExit.NOEXEC ? EXIT_NOT_EXECUTABLE : out.code === HelperExit.NOTFOUND ? EXIT_NOT_FOUND : EXIT_NSM_FAILED;
    const lastLine = out.stderr.trim().split('\n').pop();
    return new SysError(fail.step, fail.errno, undefined, { exitCode, hint: hintFor(fail.step, fail.errno) ?? (lastLine || undefined) });
  }
  const how = out.signal ? `was killed by ${out.signal}` : `exited with status ${out.code}`;
  const said = out.stderr.trim();
  return new NsmError(`nsm-helper ${how} without a report${said ? `: ${said.split('\n').pop()}` : ''}`, { exitCode: EXIT_NSM_FAILED });
}

/** /proc/PID/stat field 22 (start time), or undefined if the process is gone. */
function readStartTime(pid: number): number | undefined {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8')).startTime;
  } catch {
    return undefined;
  }
}

export interface HolderOptions extends HelperOptions {
  /** The environment's name: `ps -o args` then shows the holder as "nsm:holder NAME". */
  name?: string;
  /**
   * Called once with the holder as soon as it is set up, while the helper still waits for the
   * acknowledgement that lets it live on (NSM_READY_ACK, sent when this returns): the place to
   * note it where whoever cleans up after a killed caller will find it (create's
   * reservation). Until then a caller killed by SIGKILL leaves no holder: the helper reads end
   * of file and kills it. The holder is the helper's unreaped child meanwhile, so its pid
   * names it and no other process. If this throws, no acknowledgement is sent (the helper
   * kills the holder) and createHolder throws that error.
   */
  onReady?: (holder: HolderInfo) => void;
  /**
   * nsm adopt: hold these existing namespaces instead of creating any (config.types must be
   * empty). The holder joins them (user first) and is forked after, so it is in a joined pid
   * namespace too; the fds stay open and owned by the caller.
   */
  join?: readonly JoinTarget[];
}

/** The helper's replies in `stdout`, decoded; a protocol fault is kept in the outcome. */
function outcomeOf(stdout: Buffer, stderr: Buffer, code: number | null, signal: NodeJS.Signals | null): Outcome {
  const outcome: Outcome = { replies: [], code, signal, stderr: stderr.subarray(0, 4096).toString('utf8') };
  const decoder = new FrameDecoder();
  try {
    for (const frame of decoder.push(stdout)) outcome.replies.push(decodeReply(frame));
    if (decoder.pending > 0) outcome.protocolError = new Error(`nsm-helper's reply was cut short (${decoder.pending} bytes of a frame)`);
  } catch (err) {
    outcome.protocolError = err as Error;
  }
  return outcome;
}

/**
 * What the driver answers to the helper's stdout (spawnAndWait's `answer`): nothing until a
 * whole frame arrived; to READY, READY_ACK once `onReady` has returned (an exception from it
 * goes to the caller, with no acknowledgement); to anything else, or bytes it cannot decode,
 * an empty answer, which closes the helper's stdin without an acknowledgement (outcomeOf()
 * decodes the whole output again afterwards and reports what was wrong).
 */
function acknowledgeReady(onReady: (holder: HolderInfo) => void): (chunk: Buffer) => Buffer | undefined {
  const decoder = new FrameDecoder();
  return (chunk) => {
    let reply: Reply | undefined;
    try {
      const frame = decoder.push(chunk)[0];
      if (frame === undefined) return undefined;
      reply = decodeReply(frame);
    } catch {
      return Buffer.alloc(0);
    }
    if (reply.kind !== 'ready') return Buffer.alloc(0);
    // The holder is set up and waits for its release: its start time is stable now.
    onReady({ pid: reply.pid, startTime: readStartTime(reply.pid) });
    return encodeFrame(Msg.READY_ACK);
  };
}

/**
 * The helper as another user (`asUser`: tests, as root), with child_process.spawn(), which
 * can change the uid; the same conversation as spawnAndWait() with `answer`: stdin stays open
 * after `input` until `answer` returns the bytes to end it with.
 */
function spawnAs(
  path: string,
  args: readonly string[],
  input: Buffer,
  user: { uid: number; gid: number },
  answer: (chunk: Buffer) => Buffer | undefined,
): Promise<{ status: number | null; signal: NodeJS.Signals | null; stdout: Buffer; stderr: Buffer }> {
  return new Promise((resolve, reject) => {
    const child = spawn(path, args, { stdio: ['pipe', 'pipe', 'pipe'], uid: user.uid, gid: user.gid });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let replied = false;
    let thrown: { error: unknown } | undefined;
    child.once('error', (err) => reject(SysError.fromNode(err, 'spawn', path)));
    // The helper may exit (after FAIL) before reading everything we sent: EPIPE is expected.
    child.stdin!.on('error', () => {});
    child.stderr!.on('data', (d: Buffer) => stderr.push(d));
    child.stdout!.on('data', (d: Buffer) => {
      stdout.push(d);
      if (replied) return;
      let reply: Buffer | undefined;
      try {
        reply = answer(d);
      } catch (err) {
        thrown = { error: err };
        reply = Buffer.alloc(0);
      }
      if (reply === undefined) return;
      replied = true;
      child.stdin!.end(reply);
    });
    child.once('close', (status, signal) => {
      if (thrown) reject(thrown.error);
      else resolve({ status, signal, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr) });
    });
    child.stdin!.write(input);
  });
}

/**
 * Create the namespaces in `config` and their holder: a tiny process named "nsm:holder", PID 1
 * of the new pid namespace (if any), which keeps them alive, reaps orphans, and exits on
 * SIGTERM/SIGINT (taking everything in its pid namespace with it). Resolves once the holder
 * is fully set up and the helper has exited; the holder is then nobody's child here.
 *
 * The helper runs as `nsm-helper holder - [NAME]`, a plain child waited for synchronously:
 * the configuration goes to its stdin, READY or FAIL comes back on its stdout; to READY the
 * driver answers READY_ACK on the still open stdin once `onReady` has noted the holder, and
 * only then does the helper let the holder live on and exit. A caller killed before that
 * (its end of stdin closes with it) leaves no holder: the helper kills it. The call returns
 * once the helper has exited and the holder has let go of those pipes (it does before
 * READY). It is started with posix_spawn (src/sys/libc.ts), which costs Node far less than
 * child_process's spawn() with a socket and streams (bench/RESULTS.md); only `asUser`
 * (tests, as root) takes child_process.spawn(), which can change the uid, and has the same
 * conversation. Signals that arrive meanwhile are dispatched after it returns.
 *
 * @throws SysError (call = failed step, errno name) when a step failed; nothing is left behind.
 */
export async function createHolder(config: NamespaceConfig, opts: HolderOptions = {}): Promise<HolderInfo> {
  const join = opts.join ?? [];
  const frames =
    join.length > 0
      ? join.map((t) => encodeFrame(Msg.CFG_JOIN_NS, joinNsPayload(t.fd, nsTypeInfo(t.type).cloneFlag, t.inode, t.id)))
      : encodeNamespaceConfig(config, callerIds(opts));
  const path = helperPath(opts.helperPath);
  const args = ['holder', CHANNEL_STDIO, ...(opts.name !== undefined ? [opts.name] : [])];
  const input = Buffer.concat([...frames, encodeFrame(Msg.CFG_END)]);
  let info: HolderInfo | undefined;
  const answer = acknowledgeReady((holder) => {
    info = holder;
    opts.onReady?.(holder);
  });
  const r = opts.asUser ? await spawnAs(path, args, input, opts.asUser, answer) : spawnAndWait(path, [path, ...args], input, process.env, answer, join.map((t) => t.fd));
  const out = outcomeOf(r.stdout, r.stderr, r.status, r.signal);
  if (info && out.code === HelperExit.OK && !out.protocolError && !out.replies.some((reply) => reply.kind === 'fail')) {
    return info;
  }
  // Acknowledged, but the helper did not finish cleanly (killed after it let the holder go):
  // the holder must not survive it. Not acknowledged: the helper killed it already.
  if (info && info.startTime !== undefined && readStartTime(info.pid) === info.startTime) {
    try {
      process.kill(info.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  throw failure(out);
}

async function execSession(mode: 'run' | 'join', frames: Buffer[], opts: ExecOptions, extraFds?: number[]): Promise<number> {
  // Before the spawn: see forwardSignals() for the window this closes.
  const forwarder = opts.forwardSignals === false ? undefined : forwardSignals();
  let session: Session;
  try {
    session = startHelper(mode, frames, {
      ...opts,
      stdio: opts.stdio ?? ['inherit', 'inherit', 'inherit'],
      extraFds,
      onExit: () => forwarder?.restore(),
    });
  } catch (err) {
    forwarder?.restore();
    throw err;
  }
  forwarder?.attach(session.target);
  try {
    const out = await session.done;
    if (out.protocolError || out.replies.some((r) => r.kind === 'fail') || !out.replies.some((r) => r.kind === 'started')) throw failure(out);
    // Exit statuses follow the shell: 128+N for a signal (the helper already encodes the command's).
    return exitStatus(out.code, out.signal) ?? EXIT_NSM_FAILED;
  } finally {
    forwarder?.restore();
  }
}

/**
 * Create the namespaces in `config` and run `argv` inside (`nsm unshare [types] -- CMD`).
 * With a new pid namespace the command runs under a small init ("nsm:init") that forwards
 * signals and reaps orphans. Nothing is left behind when this resolves.
 *
 * @returns the command's exit status (128+N when it died of signal N).
 * @throws SysError when setup failed (exitCode 125) or the command could not be executed
 *   (call `execvp(CMD)`, exitCode 127 when not found, 126 when not executable).
 */
export async function runInNewNamespaces(config: NamespaceConfig, argv: readonly string[], opts: RunOptions = {}): Promise<number> {
  const frames = encodeNamespaceConfig(config, callerIds(opts));
  if (opts.root !== undefined) frames.push(encodeFrame(Msg.CFG_ROOT, str(opts.root)));
  if (opts.cwd !== undefined) frames.push(encodeFrame(Msg.CFG_CWD, str(opts.cwd)));
  if (opts.killSignal !== undefined) frames.push(encodeFrame(Msg.CFG_KILL_SIGNAL, u32s(opts.killSignal)));
  frames.push(...argvFrames(argv));
  return execSession('run', frames, opts);
}

/**
 * Join the namespaces behind `targets` (fds the caller opened and checked; user first, then
 * nsenter's order) and run `argv` there, as uid/gid 0 of a joined user namespace unless
 * `uid`/`gid` say otherwise. Needed for anything that includes a user namespace, which a
 * multi-threaded process cannot join. The fds stay open and owned by the caller.
 *
 * @returns the command's exit status (128+N when it died of signal N).
 * @throws SysError as runInNewNamespaces does; ESTALE when an fd's inode is not `inode`.
 */
export async function joinAndExec(targets: readonly JoinTarget[], argv: readonly string[], opts: JoinOptions = {}): Promise<number> {
  if (targets.length === 0) throw new UsageError('nothing to join');
  const frames = targets.map((t) => encodeFrame(Msg.CFG_JOIN_NS, joinNsPayload(t.fd, nsTypeInfo(t.type).cloneFlag, t.inode, t.id)));
  if (opts.uid !== undefined || opts.gid !== undefined) frames.push(encodeFrame(Msg.CFG_JOIN_IDS, u32s(opts.uid ?? 0, opts.gid ?? 0)));
  const flags =
    (opts.uid !== undefined ? JoinFlag.SETUID : 0) |
    (opts.gid !== undefined ? JoinFlag.SETGID : 0) |
    (opts.preserveCredentials ? JoinFlag.PRESERVE_CRED : 0) |
    (opts.keepCaps ? JoinFlag.KEEP_CAPS : 0) |
    (opts.noFork ? JoinFlag.NO_FORK : 0) |
    (opts.cwdAsked ? JoinFlag.CWD_ASKED : 0);
  if (flags !== 0) frames.push(encodeFrame(Msg.CFG_JOIN_FLAGS, u32s(flags)));
  const dirFds: number[] = [];
  if (opts.rootFd !== undefined) {
    frames.push(encodeFrame(Msg.CFG_JOIN_ROOT, u32s(opts.rootFd)));
    dirFds.push(opts.rootFd);
  }
  if (opts.wdFd !== undefined) {
    frames.push(encodeFrame(Msg.CFG_JOIN_WD, u32s(opts.wdFd)));
    dirFds.push(opts.wdFd);
  }
  if (opts.netnsExec !== undefined) frames.push(encodeFrame(Msg.CFG_NETNS_EXEC, str(opts.netnsExec)));
  for (const dir of opts.cgroupDirs ?? []) frames.push(encodeFrame(Msg.CFG_CGROUP, str(dir)));
  if (opts.cwd !== undefined) frames.push(encodeFrame(Msg.CFG_CWD, str(opts.cwd)));
  if (opts.newSession) frames.push(encodeFrame(Msg.CFG_NEW_SESSION, Buffer.alloc(0)));
  frames.push(...argvFrames(argv));
  return execSession('join', frames, opts, [...targets.map((t) => t.fd), ...dirFds]);
}
