/**
 * How many host scans `nsm destroy` runs (each one a walk of all of /proc): one, the
 * verification of what still holds the namespaces, when the environment's own procfs shows
 * its holder alone in its pid namespace (src/core/pidns-alone.ts); a second one, before the
 * SIGTERMs, to find the processes inside otherwise. The scans are counted through NSM_HELPER,
 * a wrapper that notes its arguments and runs the real helper. As root and rootless.
 */
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { alive, cleanup, create, isRoot, nsm, ROOTLESS_UID, stateDir, uniqueName, waitFor, type NsmOptions } from './lifecycle-helpers.js';

afterEach(cleanup);

const scratch = mkdtempSync(join(tmpdir(), 'nsm-destroy-scans-'));
chmodSync(scratch, 0o777);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const realHelper = new URL('../../native/build/nsm-helper', import.meta.url).pathname;

/** A helper that appends its arguments to a fresh log, then is the real one. */
function countingHelper(): { helper: string; scans: () => string[] } {
  const dir = mkdtempSync(join(scratch, 'h-'));
  chmodSync(dir, 0o777);
  const log = join(dir, 'log');
  const helper = join(dir, 'helper');
  writeFileSync(helper, `#!/bin/sh\necho "$*" >> ${log}\nexec ${realHelper} "$@"\n`, { mode: 0o755 });
  return { helper, scans: () => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter((l) => l.startsWith('scan ')) : []) };
}

/** `nsm destroy ARGS NAME` through a counting helper: its output and the scans it made. */
async function countedDestroy(name: string, opts: NsmOptions, args: string[] = []): Promise<{ stdout: string; scans: string[] }> {
  const counted = countingHelper();
  const d = await nsm(['destroy', ...args, name], { ...opts, env: { NSM_HELPER: counted.helper } });
  expect(d.stderr).toBe('');
  expect(d.code).toBe(0);
  return { stdout: d.stdout, scans: counted.scans() };
}

/** Start a process inside `name` that writes "term" to the returned file when SIGTERMed. */
async function trappedInside(name: string, opts: NsmOptions): Promise<string> {
  const dir = mkdtempSync(join(scratch, 'm-'));
  chmodSync(dir, 0o777);
  const [ready, mark] = [join(dir, 'ready'), join(dir, 'term')];
  const r = await nsm(['exec', name, '--', 'sh', '-c', `(trap 'echo term > ${mark}; exit 0' TERM; echo > ${ready}; while :; do sleep 0.05; done) >/dev/null 2>&1 &`], opts);
  expect([r.stderr, r.code]).toEqual(['', 0]);
  await waitFor(() => existsSync(ready), 'the trap to be set');
  return mark;
}

const modes: Array<[string, number | undefined]> = [
  ['as root', undefined],
  ['rootless', ROOTLESS_UID],
];

describe.each(modes)('destroy %s: a scan for the processes inside only when there can be some', (_mode, uid) => {
  const skip = uid === undefined && !isRoot;
  const as = (): NsmOptions => ({ uid, stateDir: stateDir(uid) });

  it.skipIf(skip)('the holder alone: one scan (the verification, of fds and mounts too), nothing stopped', async () => {
    const opts = as();
    const name = uniqueName('ds');
    const env = await create(name, [], opts);
    const d = await countedDestroy(name, opts);
    expect(d.stdout).toMatch(new RegExp(`^destroyed ${name} \\(holder PID ${env.pid}[;)]`));
    expect(d.stdout).not.toContain('stopped');
    expect(d.scans).toHaveLength(1);
    expect(d.scans[0]).not.toMatch(/--no-fds|--no-mounts/);
    expect(alive(env.pid, env.startTime)).toBe(false);
  });

  it.skipIf(skip)('a process inside: found by the first scan and given SIGTERM (its trap runs) before the holder goes', async () => {
    const opts = as();
    const name = uniqueName('ds');
    await create(name, [], opts);
    const mark = await trappedInside(name, opts);
    const d = await countedDestroy(name, opts);
    expect(d.stdout).toMatch(/stopped [12] process(es)? inside/);
    expect(readFileSync(mark, 'utf8')).toBe('term\n');
    expect(d.scans).toHaveLength(2);
  });

  it.skipIf(skip)("a procfs of another pid namespace over its /proc (one process in it) is not taken for its own: the scan finds the process inside", async () => {
    const opts = as();
    const name = uniqueName('ds');
    const env = await create(name, [], opts);
    const dir = mkdtempSync(join(scratch, 'p-'));
    chmodSync(dir, 0o777);
    const ready = join(dir, 'ready');
    // unshare stays inside (in its pid namespace); the sleep is PID 1, alone, of the one below.
    const nested = `unshare --pid --fork sh -c 'mount -t proc proc /proc && echo > ${ready} && exec sleep 60' >/dev/null 2>&1 &`;
    const r = await nsm(['exec', name, '--', 'sh', '-c', nested], opts);
    expect([r.stderr, r.code]).toEqual(['', 0]);
    await waitFor(() => existsSync(ready), 'the nested procfs to be mounted');
    const d = await countedDestroy(name, opts, ['--timeout', '0.5']);
    expect(d.stdout).toContain('stopped 1 process inside');
    expect(d.scans).toHaveLength(2);
    expect(alive(env.pid, env.startTime)).toBe(false);
  });

  it.skipIf(skip)('a /proc inside that only looks like its procfs (a tmpfs with 1/ns/pid naming its pid namespace) is not trusted: the scan finds the process inside', async () => {
    const opts = as();
    const name = uniqueName('ds');
    const env = await create(name, [], opts);
    const mark = await trappedInside(name, opts);
    const fake = `mount -t tmpfs none /proc && mkdir -p /proc/1/ns && ln -s 'pid:[${env.namespaces.pid}]' /proc/1/ns/pid`;
    const m = await nsm(['exec', name, '--', 'sh', '-c', fake], opts);
    expect([m.stderr, m.code]).toEqual(['', 0]);
    const d = await countedDestroy(name, opts);
    expect(d.stdout).toMatch(/stopped [12] process(es)? inside/);
    expect(readFileSync(mark, 'utf8')).toBe('term\n');
    expect(d.scans).toHaveLength(2);
  });

  it.skipIf(skip)("a directory of its own procfs bind-mounted over /proc (/proc/1/task: one entry, \"1\", of its pid namespace) is not trusted: the scan finds the process inside", async () => {
    const opts = as();
    const name = uniqueName('ds');
    const env = await create(name, [], opts);
    const dir = mkdtempSync(join(scratch, 't-'));
    chmodSync(dir, 0o777);
    const [ready, mark] = [join(dir, 'ready'), join(dir, 'term')];
    const r = await nsm(['exec', name, '--', 'sh', '-c', `(trap 'echo term > ${mark}; exit 0' TERM; echo > ${ready}; while :; do sleep 0.05; done) >/dev/null 2>&1 &`], opts);
    expect([r.stderr, r.code]).toEqual(['', 0]);
    await waitFor(() => existsSync(ready), 'the trap to be set');
    const m = await nsm(['exec', name, '--', 'mount', '--bind', '/proc/1/task', '/proc'], opts);
    expect([m.stderr, m.code]).toEqual(['', 0]);
    const counted = countingHelper();
    const d = await nsm(['destroy', name], { ...opts, env: { NSM_HELPER: counted.helper } });
    expect(d.stderr).toBe('');
    expect(d.code).toBe(0);
    expect(d.stdout).toMatch(/stopped [12] process(es)? inside/);
    expect(readFileSync(mark, 'utf8')).toBe('term\n');
    expect(counted.scans()).toHaveLength(2);
    expect(alive(env.pid, env.startTime)).toBe(false);
  });
});

/**
 * A node script that mounts, at its first argument, a FUSE filesystem whose daemon (itself)
 * never answers, not even FUSE_INIT, through nsm's own module's mount(); writes its pid to the
 * second and sleeps. Anything that looks up or opens a path there waits (killable only by SIGKILL).
 */
const addonPath = new URL('../../native/build/nsm-spawn.node', import.meta.url).pathname;
const silentFuse = `
const fs = require('node:fs');
const m = { exports: {} };
process.dlopen(m, ${JSON.stringify(addonPath)});
const fd = fs.openSync('/dev/fuse', 'r+');
const rc = m.exports.mount('nsm-silent', process.argv[2], 'fuse', 0, 'fd=' + fd + ',rootmode=40000,user_id=' + process.getuid() + ',group_id=' + process.getgid());
if (rc !== 0) { console.error('mount: ' + rc); process.exit(1); }
fs.writeFileSync(process.argv[3], String(process.pid));
setInterval(() => {}, 1 << 30);
`;

/** The host pid of the process running `script` in the pid namespace `pidNs` (one we started there). */
function hostPidOf(script: string, pidNs: number): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/ns/pid`) !== `pid:[${pidNs}]`) continue;
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').includes(script)) return Number(entry);
    } catch {
      // gone, or not ours to read
    }
  }
  return undefined;
}

/** Whether `uid` (undefined: us) may open /dev/fuse to mount a FUSE filesystem. */
function fuseOpenable(uid: number | undefined): boolean {
  try {
    const mode = statSync('/dev/fuse').mode;
    return uid === undefined ? isRoot : (mode & 0o006) === 0o006;
  } catch {
    return false;
  }
}

describe.each(modes)('destroy %s: nothing inside the environment can make it wait', (_mode, uid) => {
  const skip = (uid === undefined && !isRoot) || !existsSync(addonPath) || !fuseOpenable(uid);
  const as = (): NsmOptions => ({ uid, stateDir: stateDir(uid) });

  // Skipped rootless where /dev/fuse is not open to every user (Debian: 0666; this VM: 0600).
  it.skipIf(skip)('a FUSE filesystem that never answers, mounted at /proc inside: destroy ends, after scanning for the processes inside', async () => {
    const opts = as();
    const name = uniqueName('ds');
    const env = await create(name, [], opts);
    const dir = mkdtempSync(join(scratch, 'fuse-'));
    chmodSync(dir, 0o777);
    const script = join(dir, 'silent-fuse.cjs');
    writeFileSync(script, silentFuse, { mode: 0o644 });
    const pidFile = join(dir, 'pid');
    const r = await nsm(['exec', name, '--', 'sh', '-c', `${process.execPath} ${script} /proc ${pidFile} >/dev/null 2>&1 &`], opts);
    expect([r.stderr, r.code]).toEqual(['', 0]);
    await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8') !== '', 'the FUSE filesystem to be mounted');
    // Its pid on the host (the file has the one of the environment's pid namespace).
    const daemon = hostPidOf(script, env.namespaces.pid!);
    expect(daemon).toBeGreaterThan(1);
    let timer: NodeJS.Timeout | undefined;
    try {
      // Without the guard destroy sleeps in the kernel for the daemon: only SIGKILL ends it.
      const d = await nsm(['destroy', '--timeout', '0.5', name], { ...opts, onSpawn: (c) => (timer = setTimeout(() => c.kill('SIGKILL'), 20_000)) });
      expect(d.signal).toBeNull();
      expect(d.stderr).toBe('');
      expect(d.code).toBe(0);
      expect(d.stdout).toContain('stopped 1 process inside');
      expect(alive(env.pid, env.startTime)).toBe(false);
    } finally {
      clearTimeout(timer);
      // The daemon is ours (started inside the environment above): its end aborts the FUSE connection.
      try {
        if (hostPidOf(script, env.namespaces.pid!) === daemon) process.kill(daemon!, 'SIGKILL');
      } catch {
        // ended with the environment
      }
    }
  }, 60_000);
});
