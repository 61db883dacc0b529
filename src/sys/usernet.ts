/**
 * The user-mode network programs an environment's network can come from: pasta (Debian
 * package passt) and slirp4netns. Finding them, running them, reading what they leave.
 */
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, closeSync, constants, fstatSync, lstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { connect } from 'node:net';
import { delimiter, join } from 'node:path';
import { firstExecutable } from './firewall.js';

/**
 * The absolute path of program `name` in PATH, or undefined. The usual system directories
 * only when PATH is unset or empty: a PATH that leaves a program out means it (and is how
 * the slirp4netns fallback is chosen and tested).
 */
export function findProgram(name: string): string | undefined {
  const path = process.env.PATH ?? '';
  return firstExecutable(path === '' ? ['/usr/bin', '/usr/sbin', '/bin', '/sbin'] : path.split(delimiter), name);
}

/** The first line `path --version` prints, or undefined when it prints none. */
export function programVersion(path: string): string | undefined {
  const r = spawnSync(path, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 5000 });
  const line = `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n').find((l) => l.trim() !== '')?.trim();
  if (line && /unknown version/.test(line)) {
    // Debian's passt builds print no version: the package's own says which snapshot it is.
    const d = spawnSync('dpkg-query', ['-S', path], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 });
    const pkg = /^([^:\s]+):/.exec(d.stdout ?? '')?.[1];
    const v = pkg ? spawnSync('dpkg-query', ['-W', '-f=${Version}', pkg], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).stdout : '';
    if (pkg && v) return `Debian package ${pkg} ${v}`;
  }
  return line;
}

/**
 * Start `path args` in a session of its own with no stdio (it logs to a file), not waited for:
 * it is to outlive us. `fds` become its fds 3, 4, ... Returns its pid (known as soon as
 * fork(2) returned), or throws.
 */
export function spawnDetached(path: string, args: readonly string[], fds: readonly number[] = [], logFile?: string): number {
  // A log file, when given, is its stdout and stderr (opened here, closed once it is forked).
  const log = logFile === undefined ? undefined : openSync(logFile, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o600);
  let child;
  try {
    child = spawn(path, args, { stdio: ['ignore', log ?? 'ignore', log ?? 'ignore', ...fds], detached: true });
  } finally {
    if (log !== undefined) closeSync(log);
  }
  child.on('error', () => {}); // reported by the caller, who finds no process
  child.unref();
  if (child.pid === undefined) throw new Error(`cannot run ${path}`);
  return child.pid;
}

/** The last lines of a log file (up to 4 KiB), or ''. */
export function readLogTail(path: string): string {
  try {
    const text = readFileSync(path, 'utf8');
    return text.slice(-4096);
  } catch {
    return '';
  }
}

/** The pid a program wrote to `path` (pasta -P), or undefined when there is none yet. */
export function readPidFile(path: string): number | undefined {
  let text: string;
  let fd: number | undefined;
  try {
    // Non-blocking, no symlink, a regular file only: the path comes from a record, which
    // root may read in a user's directory (a FIFO there must not hang it).
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
    if (!fstatSync(fd).isFile()) return undefined;
    const buf = Buffer.alloc(32);
    text = buf.subarray(0, readSync(fd, buf, 0, buf.length, 0)).toString('latin1');
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  const pid = Number(text.trim());
  return Number.isSafeInteger(pid) && pid > 1 ? pid : undefined;
}

/** The IPv4 gateway of the host's first default route (/proc/net/route, proc(5)), e.g. "192.0.2.1". */
export function hostDefaultGateway4(procRoot = '/proc'): string | undefined {
  let text: string;
  try {
    text = readFileSync(join(procRoot, 'net', 'route'), 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 3 || f[1] !== '00000000') continue;
    const hex = f[2]!; // little-endian
    const bytes = [0, 1, 2, 3].map((i) => parseInt(hex.slice(i * 2, i * 2 + 2), 16)).reverse();
    if (bytes.some(Number.isNaN)) continue;
    return bytes.join('.');
  }
  return undefined;
}

/** Whether this process may open /dev/net/tun read-write: pasta makes its tap device through it. */
export function tunUsable(): boolean {
  try {
    accessSync('/dev/net/tun', constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** Whether `path` is a Unix socket (not following a symlink). */
export function isSocket(path: string): boolean {
  try {
    return lstatSync(path).isSocket();
  } catch {
    return false;
  }
}

/** One request to slirp4netns's API socket (slirp4netns(1) "API"): a JSON object written, the JSON reply read to end of file. */
export function slirpRequest(socket: string, request: object, timeoutMs = 5000): Promise<{ return?: unknown; error?: unknown }> {
  return new Promise((resolve) => {
    const c = connect(socket);
    let data = '';
    const done = (r: { return?: unknown; error?: unknown }) => {
      c.destroy();
      resolve(r);
    };
    c.setTimeout(timeoutMs, () => done({ error: { desc: 'no answer from its API socket' } }));
    c.on('connect', () => c.end(JSON.stringify(request)));
    c.on('data', (d) => (data += d));
    c.on('error', (err) => done({ error: { desc: err.message } }));
    c.on('end', () => {
      try {
        done(JSON.parse(data) as { return?: unknown; error?: unknown });
      } catch {
        done({ error: { desc: `unreadable answer: ${data.slice(0, 200)}` } });
      }
    });
  });
}
