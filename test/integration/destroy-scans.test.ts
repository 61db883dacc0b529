/**
 * How many host scans `nsm destroy` runs (each one a walk of all of /proc): one, the
 * verification of what still holds the namespaces, when the environment's own procfs shows
 * its holder alone in its pid namespace (src/core/pidns-alone.ts); a second one, before the
 * SIGTERMs, to find the processes inside otherwise. The scans are counted through NSM_HELPER,
 * a wrapper that notes its arguments and runs the real helper. As root and rootless.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
});
