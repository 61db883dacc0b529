/**
 * A user-mode network for an environment (--pasta, --net-mode): pasta (Debian package passt)
 * attached to the holder's network namespace gives it an interface with the host's address,
 * a default route and the host's DNS servers, without root; published ports (-p) are
 * pasta's -t/-u forwards. The process runs with the caller's privileges and is stopped by
 * its recorded pid and start time (destroy, gc, the undo of a killed create), never by name.
 */
import { hasErrno, NsmError, UsageError, quoteInput } from '../sys/errors.js';
import { ProcFs } from '../sys/procfs.js';
import { dirname, join } from 'node:path';
import { findProgram, hostDefaultGateway4, isSocket, readLogTail, readPidFile, slirpRequest, spawnDetached, tunUsable } from '../sys/usernet.js';
import type { EnvResources, EnvUserNet, ProcessIdentity, PublishedPort } from './record.js';
import { isAlive, stopProcess } from './processes.js';
import { helperBinary } from '../sys/native.js';

export type NetMode = EnvUserNet['mode'] | 'none';
export const NET_MODES: readonly NetMode[] = ['pasta', 'slirp4netns', 'none'];

/** --net-mode's value. */
export function parseNetMode(value: string): NetMode {
  if (!(NET_MODES as readonly string[]).includes(value)) throw new UsageError(`invalid --net-mode ${quoteInput(value)}: use ${NET_MODES.join(', ')}`);
  return value as NetMode;
}

function parsePort(text: string, what: string, whole: string): number {
  const n = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= 65535)) throw new UsageError(`invalid --publish ${quoteInput(whole)}: ${what} ${quoteInput(text)} is not a port (1-65535)`);
  return n;
}

/**
 * -p/--publish [HOSTADDR:]HOSTPORT:ENVPORT[/tcp|udp], podman's spelling; repeatable
 * (accumulates into `previous`). The host address defaults to 127.0.0.1: published on the
 * host's loopback only unless asked otherwise. An IPv6 host address goes in brackets.
 */
export function parsePublish(value: string, previous: PublishedPort[] = []): PublishedPort[] {
  const bad = (why: string): never => {
    throw new UsageError(`invalid --publish ${quoteInput(value)}: ${why}`);
  };
  let rest = value;
  let protocol: PublishedPort['protocol'] = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    const p = rest.slice(slash + 1);
    if (p !== 'tcp' && p !== 'udp') bad(`protocol ${quoteInput(p)} is not tcp or udp`);
    protocol = p as PublishedPort['protocol'];
    rest = rest.slice(0, slash);
  }
  let hostAddress = '127.0.0.1';
  const v6 = /^\[([0-9A-Fa-f:.]+)\]:(.*)$/.exec(rest);
  if (v6) {
    hostAddress = v6[1]!;
    rest = v6[2]!;
  }
  const parts = rest.split(':');
  if (!v6 && parts.length === 3) {
    hostAddress = parts.shift()!;
    if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(hostAddress) || hostAddress.split('.').some((b) => Number(b) > 255)) bad(`host address ${quoteInput(hostAddress)} is not an IPv4 address (IPv6 goes in brackets)`);
  }
  if (parts.length !== 2) bad('use [HOSTADDR:]HOSTPORT:ENVPORT[/tcp|udp]');
  const port = { hostAddress, hostPort: parsePort(parts[0]!, 'host port', value), envPort: parsePort(parts[1]!, 'environment port', value), protocol };
  if (previous.some((p) => p.hostPort === port.hostPort && p.protocol === port.protocol && p.hostAddress === port.hostAddress)) bad(`host port ${port.hostPort}/${protocol} is published twice`);
  return [...previous, port];
}

/** `options.userNet` of a record or reservation, when it has one of the expected shape. */
export function userNetOf(record: Pick<EnvResources, 'options'>): EnvUserNet | undefined {
  const u = record.options.userNet;
  return u && typeof u === 'object' && (u.mode === 'pasta' || u.mode === 'slirp4netns') && typeof u.pidFile === 'string' ? u : undefined;
}

/**
 * The program for `asked`, checked before anything is made: pasta, or slirp4netns when asked
 * for, and as the fallback of --pasta when pasta is not installed but slirp4netns is (the
 * command prints a note, fallbackNote). Neither: an error naming the Debian package passt.
 * @throws NsmError (exit 1).
 */
export function resolveNetMode(asked: EnvUserNet['mode'], _publish: readonly PublishedPort[]): { mode: EnvUserNet['mode']; program: string } {
  const pasta = findProgram('pasta');
  if (asked === 'pasta' && pasta) return { mode: 'pasta', program: pasta };
  const slirp = findProgram('slirp4netns');
  if (slirp) return { mode: 'slirp4netns', program: slirp };
  const what = asked === 'pasta' ? '--pasta needs pasta (Debian package passt) or slirp4netns, and neither is installed' : '--net-mode slirp4netns needs slirp4netns, which is not installed';
  throw new NsmError(what, { hint: 'install the Debian package passt (apt-get install passt), or slirp4netns' });
}

/** The note --pasta prints when it falls back to slirp4netns, or undefined when it does not. */
export function fallbackNote(asked: EnvUserNet['mode'] | 'none' | undefined): string | undefined {
  if (asked !== 'pasta' || findProgram('pasta') || !findProgram('slirp4netns')) return undefined;
  return 'nsm: note: pasta is not installed (Debian package passt): using slirp4netns; the host is 10.0.2.2 inside\n';
}

/** slirp4netns's fixed addresses (slirp4netns(1), default --cidr 10.0.2.0/24): the host's loopback is the gateway. */
const SLIRP_HOST = '10.0.2.2';

/** The address that means the host's loopback inside, for `mode`. */
export function userNetHostAddress(mode: EnvUserNet['mode']): string | undefined {
  return mode === 'pasta' ? pastaHostAddress() : SLIRP_HOST;
}

/** slirp4netns's API socket (slirp4netns(1) --api-socket): beside the pid file. */
export function slirpApiSocket(net: EnvUserNet): string {
  return join(dirname(net.pidFile), 'usernet.sock');
}

/**
 * slirp4netns's arguments (slirp4netns(1)): the holder by PID (it joins the holder's user
 * namespace too when it has one), or for nsm unshare its own fds 3 and 4 as paths. A tap
 * device configured with 10.0.2.100, the gateway 10.0.2.2 (the host's loopback) and DNS at
 * 10.0.2.3; ports are published afterwards through the API socket (add_hostfwd).
 */
export function slirpArgs(net: EnvUserNet, target: UserNetTarget): string[] {
  const args = ['--configure', '--mtu=65520', `--api-socket=${slirpApiSocket(net)}`];
  if (target.nsFds) {
    if (target.nsFds.user !== undefined) args.push('--userns-path=/proc/self/fd/4');
    args.push('--netns-type=path', '/proc/self/fd/3', 'tap0');
  } else {
    args.push(String(target.holderPid), 'tap0');
  }
  return args;
}

/**
 * pasta's arguments for the holder `holderPid`'s network namespace. Rootless: its user and
 * network namespace files (pasta(1) --userns, --netns), joined with the user's own
 * privileges. Root: the /run/netns link, because pasta drops its capabilities before it opens
 * the namespace, and /proc/PID/ns of a process with more capabilities is then refused
 * (ptrace(2) access mode check); pasta also exits by itself when that link is removed
 * (pasta(1) --no-netns-quit). --runas 0: root's pasta stays root (its default is nobody,
 * which may not join root's namespace). Only what is published is forwarded (-t/-u), and
 * nothing from the environment's loopback to the host's (-T none -U none): the host is
 * reached through the gateway address instead (pasta(1) NOTES, --no-map-gw).
 */
export function pastaArgs(net: EnvUserNet, target: UserNetTarget): string[] {
  const args = ['--config-net', '--quiet', '-P', net.pidFile];
  if (target.nsFds) {
    // Its own fds (nsm unshare): /proc/self/fd/N passes the ptrace(2) access check, whoever owns the holder.
    if (target.euid === 0) args.push('--runas', '0');
    args.push('--netns', '/proc/self/fd/3');
    if (target.nsFds.user !== undefined) args.push('--userns', '/proc/self/fd/4');
  } else if (target.euid === 0) {
    if (!target.netnsLink) throw new NsmError('--pasta as root needs the /run/netns link: pasta joins the namespace through it', { hint: 'drop --no-netns-link' });
    args.push('--runas', '0', '--netns', target.netnsLink);
  } else {
    args.push('--netns', `/proc/${target.holderPid}/ns/net`, '--userns', `/proc/${target.holderPid}/ns/user`);
  }
  const forwards = (proto: PublishedPort['protocol']) => net.publish.filter((p) => p.protocol === proto).map((p) => `${p.hostAddress}/${p.hostPort}:${p.envPort}`);
  for (const [flag, proto] of [['-t', 'tcp'], ['-u', 'udp']] as const) {
    const specs = forwards(proto);
    if (specs.length === 0) args.push(flag, 'none');
    for (const spec of specs) args.push(flag, spec);
  }
  args.push('-T', 'none', '-U', 'none');
  return args;
}

/** Whose network pasta serves, and how it reaches it. */
export interface UserNetTarget {
  holderPid: number;
  holderStartTime: number;
  /** As root: the /run/netns link pasta opens (create). */
  netnsLink?: string;
  euid: number;
  /** nsm unshare: the holder's open namespace files, handed to pasta as its fds 3 (net) and 4 (user). */
  nsFds?: { net: number; user?: number };
  /** Pinned namespaces outlive their holder by design (create --pin): pasta then does too, until destroy or gc. */
  pinned?: boolean;
  /**
   * nsm unshare: the process whose exit also ends the holder (netwatch --owner): nsm itself.
   * The pid file's directory is then the owner's own, which netwatch removes if the owner dies.
   */
  owner?: ProcessIdentity;
}

/** The last line of pasta's log that says something (not its syslog complaints). */
function pastaReason(log: string): string {
  const lines = log.split('\n').map((l) => l.trim()).filter((l) => l && !/Failed to send \d+ bytes to syslog/.test(l) && !/Don't run as root/.test(l));
  return (lines.at(-1) ?? 'it exited without a message').replace(/^[\d.]+:?\s*/, '').replace(/^(ERROR|WARNING|INFO):\s*/, '');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How long pasta may take to set the network up before create gives up. */
const START_TIMEOUT_MS = 10_000;

/**
 * Start the user-mode network of `net` for the holder; resolves with the process once it is
 * set up. pasta runs under `nsm-helper netwatch` (native/netwatch.c), which ends it when the
 * holder exits (a pidfd of the holder) and takes it along when it is itself killed
 * (PR_SET_PDEATHSIG): that watcher is the process nsm records and stops. It runs in a
 * session of its own, pasta in its foreground (pasta(1) -f), so its pid is known the moment
 * it is forked: `noteProcess` records it before anything else happens, and a create killed
 * while pasta sets up leaves a process gc finds by that note. Ready is when pasta wrote its
 * pid file (pasta(1) -P: "once initialisation is done"; the caller removed any old one).
 * @throws NsmError with pasta's own one-line reason (a port in use, no /dev/net/tun ...).
 */
export async function startUserNet(
  net: EnvUserNet,
  program: string,
  target: UserNetTarget,
  noteProcess: (p: ProcessIdentity) => void,
): Promise<ProcessIdentity> {
  const log = userNetLogFile(net);
  const owner = target.owner ? ['--owner', String(target.owner.pid), String(target.owner.startTime), '--rmdir', dirname(net.pidFile)] : [];
  const fds = target.nsFds ? [target.nsFds.net, ...(target.nsFds.user !== undefined ? [target.nsFds.user] : [])] : [];
  const slirp = net.mode === 'slirp4netns';
  const programArgs = slirp ? slirpArgs(net, target) : [...pastaArgs(net, target), '-f', '-l', log];
  // slirp4netns logs to stderr: into the log file (pasta writes its own, -l).
  const pid = spawnDetached(helperBinary(), ['netwatch', ...owner, ...(target.pinned ? ['0', '0'] : [String(target.holderPid), String(target.holderStartTime)]), program, ...programArgs], fds, slirp ? log : undefined);
  // Ready: pasta wrote its pid file; slirp4netns listens on its API socket, which it binds
  // once the interface is configured.
  const ready = () => (slirp ? isSocket(slirpApiSocket(net)) : readPidFile(net.pidFile) !== undefined);
  let p: ProcessIdentity | undefined;
  try {
    p = { pid, startTime: new ProcFs().readStat(pid).startTime };
  } catch {
    // exited (and reaped) already: its log says why
  }
  if (p) noteProcess(p);
  const until = Date.now() + START_TIMEOUT_MS;
  let pause = 1;
  while (p && isAlive(p) && !ready() && Date.now() < until) {
    await sleep(pause);
    pause = Math.min(pause * 2, 10);
  }
  let failed: string | undefined;
  if (p && isAlive(p) && ready()) {
    if (!slirp) return p;
    failed = await publishThroughSlirp(slirpApiSocket(net), net.publish);
    if (failed === undefined) return p;
  }
  if (p) await stopProcess(p, { graceMs: 0 });
  const name = slirp ? 'slirp4netns' : 'pasta';
  const reason = failed ?? (p && Date.now() >= until ? `not set up after ${START_TIMEOUT_MS / 1000} s` : pastaReason(readLogTail(log)));
  const hint = /tun/i.test(reason) && !tunUsable()
    ? '/dev/net/tun must be readable and writable by you (mode 0666, as udev sets it on Debian)'
    : /bind|in use/i.test(reason) ? 'a published host port is taken: pick another' : undefined;
  throw new NsmError(`${name} failed: ${reason}`, hint ? { hint } : {});
}

/**
 * Publish `ports` through slirp4netns's API (slirp4netns(1) add_hostfwd, one JSON request per
 * connection); undefined when all are published, else the first refusal.
 */
async function publishThroughSlirp(socket: string, ports: readonly PublishedPort[]): Promise<string | undefined> {
  for (const p of ports) {
    const reply = await slirpRequest(socket, { execute: 'add_hostfwd', arguments: { proto: p.protocol, host_addr: p.hostAddress, host_port: p.hostPort, guest_port: p.envPort } });
    if (reply.error !== undefined) return `cannot publish ${p.hostAddress}:${p.hostPort}: ${typeof reply.error === 'object' && reply.error && 'desc' in reply.error ? String((reply.error as { desc: unknown }).desc) : JSON.stringify(reply.error)}`;
  }
  return undefined;
}

/** Where pasta logs (pasta(1) -l): beside its pid file. */
export function userNetLogFile(net: EnvUserNet): string {
  return join(dirname(net.pidFile), 'usernet.log');
}

/** Whether `pid` looks like the network process of `net` (its program's name), started at or after `notBefore`. */
function looksLikeOurs(net: EnvUserNet, pid: number, notBefore: number, proc: ProcFs): ProcessIdentity | undefined {
  try {
    const stat = proc.readStat(pid);
    const comm = stat.comm;
    const named = net.mode === 'pasta' ? /^(pasta|passt)/.test(comm) : comm.startsWith('slirp4netns');
    if (!named || stat.startTime < notBefore) return undefined;
    return { pid, startTime: stat.startTime };
  } catch {
    return undefined;
  }
}

/**
 * The process `net` names: the noted one, or for a create killed before it noted it, the pid
 * in its pid file if that process is the program and started after the creator
 * (`notBefore`, its start time); for a noted watcher that has gone, the pasta it may leave
 * for a moment (orphanedProgram). Undefined when there is none alive.
 */
export function userNetProcess(net: EnvUserNet, notBefore = 0, procRoot?: string): ProcessIdentity | undefined {
  if (net.process) return isAlive(net.process) ? net.process : orphanedProgram(net, net.process);
  const pid = readPidFile(net.pidFile);
  if (pid === undefined) return undefined;
  const p = looksLikeOurs(net, pid, notBefore, new ProcFs(procRoot));
  return p && isAlive(p) ? p : undefined;
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** How long a synchronous stop waits for the process to exit after SIGKILL (so its ports are free). */
const EXIT_WAIT_MS = 2000;

/** How long a synchronous stop gives the process after SIGTERM before SIGKILL. */
const TERM_WAIT_MS = 500;

function signalNow(p: ProcessIdentity, signal: NodeJS.Signals, waitMs: number): boolean {
  if (!isAlive(p)) return false;
  try {
    process.kill(p.pid, signal);
  } catch (err) {
    if (hasErrno(err, 'ESRCH')) return false;
    throw err;
  }
  const until = Date.now() + waitMs;
  while (isAlive(p) && Date.now() < until) sleepSync(2);
  return true;
}

/**
 * The pasta a netwatch process ran, still alive after the watcher went (a SIGKILLed watcher's
 * pasta gets its own SIGKILL from the kernel, PR_SET_PDEATHSIG, a moment later): the pid in
 * the pid file, if that is pasta and started after the watcher.
 */
function orphanedProgram(net: EnvUserNet, watcher: ProcessIdentity): ProcessIdentity | undefined {
  const pid = readPidFile(net.pidFile);
  if (pid === undefined || pid === watcher.pid) return undefined;
  const p = looksLikeOurs(net, pid, watcher.startTime, new ProcFs());
  return p && isAlive(p) ? p : undefined;
}

/** gc and the undo of a killed create: stop `net`'s process now (SIGTERM, SIGKILL, identity checked), and its pasta. */
export function stopUserNetNow(net: EnvUserNet, notBefore = 0): boolean {
  const p = userNetProcess(net, notBefore);
  if (!p) return false;
  signalNow(p, 'SIGTERM', TERM_WAIT_MS);
  signalNow(p, 'SIGKILL', EXIT_WAIT_MS);
  const left = orphanedProgram(net, p);
  if (left) signalNow(left, 'SIGKILL', EXIT_WAIT_MS);
  return true;
}

/** destroy: stop `net`'s process (SIGTERM, then SIGKILL), and wait for it (and its pasta) to exit. */
export async function stopUserNet(net: EnvUserNet): Promise<boolean> {
  const p = userNetProcess(net);
  if (!p) return false;
  const stopped = await stopProcess(p, { graceMs: 500 });
  const left = orphanedProgram(net, p);
  if (left) await stopProcess(left, { graceMs: 0 });
  return stopped;
}

/** The host's loopback as seen inside a pasta environment: the gateway pasta copies from the host. */
export function pastaHostAddress(): string | undefined {
  return hostDefaultGateway4();
}
