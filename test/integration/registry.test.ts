/**
 * The registry against real files, real processes and (as root) real namespaces.
 * Each test has its own NSM_STATE_DIR-style directory, passed as options.stateDir.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, fstatSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { attribute } from '../../src/core/attribution.js';
import {
  collectGarbage,
  EnvironmentExistsError,
  environmentNamesByInode,
  getEnvironment,
  holderState,
  HolderReusedError,
  listEnvironments,
  lockEnvironment,
  openVerified,
  processIdentity,
  readNamespaceInodes,
  removeNetnsLink,
  reserve,
  stateDirectory,
  type EnvRecord,
} from '../../src/core/registry.js';
import { scanHostSync } from '../../src/core/scan.js';
import { writeFileAtomic } from '../../src/sys/statefs.js';
import { cleanup, isRoot, killAndWait, nsfsMountsBelow, runChild, startChild, startNsHolder, startSleep, tempStateDir } from './registry-helpers.js';

afterEach(cleanup);

const ROOT_ONLY = 'needs root: creates PID/net/UTS/IPC namespaces and bind mounts';

/** Reserve and commit a record whose holder is `pid` (its real namespaces of `types`). */
function commitFor(stateDir: string, name: string, pid: number, types: Array<'net' | 'uts' | 'ipc' | 'pid'> = ['net', 'uts']): EnvRecord {
  const r = reserve(name, { stateDir });
  return r.commit({ types, holder: processIdentity(pid), namespaces: readNamespaceInodes(pid, types), options: { hostname: name } });
}

describe('atomic record writes', () => {
  it('replaces the file whole, leaves no temp files, and mode 0600', () => {
    const dir = tempStateDir();
    const file = join(dir, 'env.json');
    for (let i = 0; i < 50; i++) writeFileAtomic(file, JSON.stringify({ i, pad: 'x'.repeat(i * 100) }));
    expect(JSON.parse(readFileSync(file, 'utf8')).i).toBe(49);
    expect(readdirSync(dir)).toEqual(['env.json']);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('a failed write leaves neither the file nor a temp file', () => {
    const dir = tempStateDir();
    expect(() => writeFileAtomic(join(dir, 'missing', 'env.json'), '{}')).toThrow(/ENOENT/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a concurrent reader never sees a partial record', async () => {
    const dir = tempStateDir();
    const file = join(dir, 'env.json');
    writeFileAtomic(file, JSON.stringify({ pad: 'y'.repeat(200_000) }));
    const reader = runChild(['read-loop', file, '1500']);
    const end = Date.now() + 1500;
    let writes = 0;
    while (Date.now() < end) {
      writeFileAtomic(file, JSON.stringify({ writes, pad: 'z'.repeat(100_000 + (writes % 7) * 50_000) }));
      writes++;
      await new Promise((r) => setImmediate(r));
    }
    const { lines } = await reader;
    expect(writes).toBeGreaterThan(10);
    expect(lines[0]).toMatchObject({ ok: true, bad: 0 });
    expect(lines[0]!.reads as number).toBeGreaterThan(10);
    expect(readdirSync(dir)).toEqual(['env.json']);
  });
});

describe('reserve, commit, abort (one process)', () => {
  it('commit writes env.json with the schema, removes the reservation, and a second reserve fails with the holder pid', async () => {
    const stateDir = tempStateDir();
    const sleeper = await startSleep();
    const r = reserve('web', { stateDir });
    expect(r.dir).toBe(join(stateDir, 'envs', 'web'));
    expect(readdirSync(r.dir)).toEqual(['reservation.json']);
    expect(r.replaced).toBeUndefined();
    // While reserved: a second reserve in the same process is refused as "being created".
    expect(() => reserve('web', { stateDir })).toThrow(/environment web already exists: it is being created \(by nsm PID \d+\)/);
    const record = r.commit({
      types: ['uts', 'net'],
      holder: processIdentity(sleeper.pid!),
      namespaces: readNamespaceInodes(sleeper.pid!, ['uts', 'net']),
      options: { hostname: 'web', loopback: true, veth: { peer: 'x' } },
    });
    expect(record).toMatchObject({ schemaVersion: 1, name: 'web', types: ['uts', 'net'], creatorUid: process.geteuid!(), pins: {} });
    expect(record.holder.startTime).toBe(Number(readFileSync(`/proc/${sleeper.pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[19]));
    expect(readdirSync(r.dir)).toEqual(['env.json']);
    expect(JSON.parse(readFileSync(join(r.dir, 'env.json'), 'utf8'))).toEqual(record);
    r.abort(); // no-op after commit
    expect(existsSync(join(r.dir, 'env.json'))).toBe(true);

    let caught: unknown;
    try {
      reserve('web', { stateDir });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(EnvironmentExistsError);
    expect((caught as EnvironmentExistsError).message).toBe(`environment web already exists (holder PID ${sleeper.pid})`);
    expect((caught as EnvironmentExistsError).exitCode).toBe(1);
    expect((caught as EnvironmentExistsError).pid).toBe(sleeper.pid);
  });

  it('abort leaves nothing: no directory, no lock file; the name is free again', () => {
    const stateDir = tempStateDir();
    const r = reserve('tmp1', { stateDir });
    writeFileSync(join(r.dir, 'scratch'), 'x');
    r.abort();
    expect(readdirSync(join(stateDir, 'envs'))).toEqual([]);
    expect(readdirSync(join(stateDir, 'locks'))).toEqual([]);
    reserve('tmp1', { stateDir }).abort();
  });

  it('invalid names are usage errors before anything is touched', () => {
    const stateDir = tempStateDir();
    expect(() => reserve('../x', { stateDir })).toThrow(/invalid environment name/);
    expect(readdirSync(stateDir)).toEqual([]);
  });

  it('a dead entry is replaced and reported, not refused', async () => {
    const stateDir = tempStateDir();
    const sleeper = await startSleep();
    const old = commitFor(stateDir, 'db', sleeper.pid!);
    await killAndWait(sleeper.pid!);
    const r = reserve('db', { stateDir });
    expect(r.replaced).toEqual({ record: old, state: 'dead' });
    expect(readdirSync(r.dir)).toEqual(['reservation.json']);
    r.abort();
  });
});

describe('holder state and identity', () => {
  it('running, then dead after SIGKILL (plain process)', async () => {
    const stateDir = tempStateDir();
    const sleeper = await startSleep();
    const record = commitFor(stateDir, 'p', sleeper.pid!);
    expect(holderState(record)).toBe('running');
    await killAndWait(sleeper.pid!);
    expect(holderState(record)).toBe('dead');
    expect(() => openVerified(record)).toThrow(`environment p is dead: its holder PID ${sleeper.pid} has exited`);
  });

  it('reused: a live process with the pid but another start time; openVerified refuses (exit 125)', async () => {
    const stateDir = tempStateDir();
    const other = await startSleep();
    const real = commitFor(stateDir, 'r', other.pid!);
    const record: EnvRecord = { ...real, holder: { pid: other.pid!, startTime: real.holder.startTime + 1 } };
    expect(holderState(record)).toBe('reused');
    let caught: unknown;
    try {
      openVerified(record);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(HolderReusedError);
    expect((caught as HolderReusedError).message).toBe(`holder PID ${other.pid} is not this environment's holder any more: it died and the PID was reused`);
    expect((caught as HolderReusedError).hint).toBe('run nsm gc');
    expect((caught as HolderReusedError).exitCode).toBe(125);
  });

  it('refuses a type the environment does not have', async () => {
    const stateDir = tempStateDir();
    const sleeper = await startSleep();
    const record = commitFor(stateDir, 'q', sleeper.pid!);
    expect(() => openVerified(record, ['mnt'])).toThrow(/has no mnt namespace of its own \(it has: uts, net\)/);
  });

  it.skipIf(!isRoot)('a real holder (unshare --fork --pid --mount-proc): running, fds match, SIGKILL -> dead', async () => {
    const stateDir = tempStateDir();
    const holder = await startNsHolder();
    const types = ['ipc', 'uts', 'net', 'pid'] as const;
    const record = commitFor(stateDir, 'real', holder.pid, [...types]);
    expect(holderState(record)).toBe('running');
    const v = openVerified(record);
    expect(v.via).toBe('holder');
    // nsenter order: ipc, uts, net, pid.
    expect(v.namespaces.map((n) => n.type)).toEqual(['ipc', 'uts', 'net', 'pid']);
    for (const n of v.namespaces) {
      expect(fstatSync(n.fd).ino).toBe(record.namespaces[n.type]);
      expect(readlinkSync(`/proc/${holder.pid}/ns/${n.type}`)).toBe(`${n.type}:[${n.inode}]`);
      expect(readlinkSync(`/proc/self/fd/${n.fd}`)).toBe(`${n.type}:[${n.inode}]`);
    }
    const fds = v.namespaces.map((n) => n.fd);
    v.close();
    v.close();
    for (const fd of fds) expect(() => fstatSync(fd)).toThrow(/EBADF/);
    const only = openVerified(record, ['net']);
    expect(only.namespaces.map((n) => n.type)).toEqual(['net']);
    only.close();

    await killAndWait(holder.pid);
    expect(holderState(record)).toBe('dead');
  });

  it.skipIf(!isRoot)('a live pid with the right start time but other namespaces is refused by the inode check', async () => {
    const stateDir = tempStateDir();
    const holder = await startNsHolder();
    const stranger = await startSleep();
    const real = commitFor(stateDir, 'inode', holder.pid, ['net', 'uts']);
    // The stranger is alive with its own true start time: only the inodes can tell.
    const record: EnvRecord = { ...real, holder: processIdentity(stranger.pid!) };
    expect(holderState(record)).toBe('running');
    expect(() => openVerified(record)).toThrow(`holder PID ${stranger.pid} is not this environment's holder any more: it died and the PID was reused`);
  });

  it.skipIf(!isRoot)('pinned: holder dead, bind mounts hold the namespaces; openVerified goes through the pins; gc keeps it', async () => {
    const stateDir = tempStateDir();
    const holder = await startNsHolder();
    const r = reserve('pinned', { stateDir });
    const types = ['net', 'uts'] as const;
    const pins: Record<string, string> = {};
    execFileSync('mkdir', ['-p', join(r.dir, 'pins')]);
    for (const t of types) {
      const path = r.pinPath(t);
      writeFileSync(path, '');
      execFileSync('mount', ['--bind', `/proc/${holder.pid}/ns/${t}`, path]);
      pins[t] = path;
    }
    const record = r.commit({ types: [...types], holder: processIdentity(holder.pid), namespaces: readNamespaceInodes(holder.pid, [...types]), pins });
    expect(holderState(record)).toBe('running');
    await killAndWait(holder.pid);
    expect(holderState(record)).toBe('pinned');
    const v = openVerified(record);
    expect(v.via).toBe('pins');
    for (const n of v.namespaces) expect(fstatSync(n.fd).ino).toBe(record.namespaces[n.type]);
    v.close();
    expect(collectGarbage({ stateDir }).removed).toEqual([]);
    expect(() => reserve('pinned', { stateDir })).toThrow(`environment pinned already exists (pinned; holder PID ${holder.pid} has exited)`);
    expect(listEnvironments({ stateDir }).environments.map((e) => [e.name, e.state])).toEqual([['pinned', 'pinned']]);

    // destroy's path: lock, remove. The pins are detached, nothing is left.
    const lock = lockEnvironment('pinned', { stateDir });
    expect(lock.record).toEqual(record);
    expect(lock.state()).toBe('pinned');
    lock.remove();
    lock.release();
    expect(nsfsMountsBelow(stateDir)).toEqual([]);
    expect(readdirSync(join(stateDir, 'envs'))).toEqual([]);
    expect(readdirSync(join(stateDir, 'locks'))).toEqual([]);
  });
});

describe('listing, lookup and gc', () => {
  it('lists records with state; gc removes exactly the dead, reused and stale ones', async () => {
    const stateDir = tempStateDir();
    const alive = await startSleep();
    const doomed = await startSleep();
    const other = await startSleep();
    commitFor(stateDir, 'alive', alive.pid!);
    commitFor(stateDir, 'dead', doomed.pid!);
    // "reused": a record whose holder pid is a live process with another start time.
    const reusedReservation = reserve('reused', { stateDir });
    const id = processIdentity(other.pid!);
    reusedReservation.commit({ types: ['net'], holder: { pid: id.pid, startTime: id.startTime + 7 }, namespaces: readNamespaceInodes(other.pid!, ['net']) });
    // A creator killed mid-create leaves a reservation behind.
    const hung = await runChildHang(stateDir, 'stale');
    await killAndWait(hung);
    await killAndWait(doomed.pid!);

    const listing = listEnvironments({ stateDir });
    expect(listing.environments.map((e) => [e.name, e.state])).toEqual([
      ['alive', 'running'],
      ['dead', 'dead'],
      ['reused', 'reused'],
    ]);
    expect(listing.creating.map((c) => [c.name, c.creatorPid])).toEqual([['stale', hung]]);
    expect(getEnvironment('alive', { stateDir }).record.holder.pid).toBe(alive.pid);
    expect(() => getEnvironment('nope', { stateDir })).toThrow('no environment named nope');

    const dry = collectGarbage({ stateDir, dryRun: true });
    expect(dry.removed.map((r) => r.name)).toEqual(['dead', 'reused', 'stale']);
    expect(readdirSync(join(stateDir, 'envs')).sort()).toEqual(['alive', 'dead', 'reused', 'stale']);

    const gc = collectGarbage({ stateDir });
    expect(gc.removed).toEqual([
      { name: 'dead', reason: 'dead', pid: doomed.pid },
      { name: 'reused', reason: 'reused', pid: other.pid },
      { name: 'stale', reason: 'stale-reservation', pid: hung },
    ]);
    expect(gc.kept).toEqual([]);
    expect(readdirSync(join(stateDir, 'envs'))).toEqual(['alive']);
    expect(readdirSync(join(stateDir, 'locks'))).toEqual(['alive']);
    expect(collectGarbage({ stateDir }).removed).toEqual([]);
  });

  it('gc skips an entry another nsm holds (a create in progress)', () => {
    const stateDir = tempStateDir();
    const r = reserve('busy', { stateDir });
    const gc = collectGarbage({ stateDir });
    expect(gc.removed).toEqual([]);
    expect(gc.kept).toEqual([{ name: 'busy', reason: 'busy', message: 'another nsm process holds it' }]);
    r.abort();
  });

  it('lockEnvironment: missing name, busy name', () => {
    const stateDir = tempStateDir();
    stateDirectory({ stateDir });
    expect(() => lockEnvironment('ghost', { stateDir })).toThrow('no environment named ghost');
    const r = reserve('x', { stateDir });
    expect(() => lockEnvironment('x', { stateDir })).toThrow(/being created/);
    r.abort();
  });

  it('a corrupt record is reported, never removed or replaced', () => {
    const stateDir = tempStateDir();
    stateDirectory({ stateDir });
    mkdirSync(join(stateDir, 'envs', 'bad'));
    writeFileSync(join(stateDir, 'envs', 'bad', 'env.json'), '{"schemaVersion":1,');
    expect(listEnvironments({ stateDir }).problems.map((p) => p.name)).toEqual(['bad']);
    expect(() => reserve('bad', { stateDir })).toThrow(/record of environment bad is unreadable/);
    expect(collectGarbage({ stateDir }).kept.map((k) => [k.name, k.reason])).toEqual([['bad', 'unreadable']]);
  });

  it.skipIf(!isRoot)('gc removes a dead record\'s netns link only while it still names the recorded namespace', async () => {
    const stateDir = tempStateDir();
    const holder = await startNsHolder();
    const link = join(stateDir, 'netns-link');
    writeFileSync(link, '');
    execFileSync('mount', ['--bind', `/proc/${holder.pid}/ns/net`, link]);
    const r = reserve('linked', { stateDir });
    r.commit({ types: ['net'], holder: processIdentity(holder.pid), namespaces: readNamespaceInodes(holder.pid, ['net']), netnsLink: link });
    await killAndWait(holder.pid);
    // The link keeps the net namespace alive, but it is not a pin: the environment is dead.
    expect(getEnvironment('linked', { stateDir }).state).toBe('dead');
    const gc = collectGarbage({ stateDir });
    expect(gc.removed).toEqual([{ name: 'linked', reason: 'dead', pid: holder.pid, netnsLink: link }]);
    expect(existsSync(link)).toBe(false);
    expect(nsfsMountsBelow(stateDir)).toEqual([]);
  });

  it.skipIf(!isRoot)('removeNetnsLink leaves a link that names another namespace alone', async () => {
    const stateDir = tempStateDir();
    const holder = await startNsHolder();
    const link = join(stateDir, 'netns-link');
    writeFileSync(link, '');
    execFileSync('mount', ['--bind', `/proc/self/ns/net`, link]);
    const record = commitFor(stateDir, 'l', holder.pid, ['net']);
    expect(removeNetnsLink({ ...record, netnsLink: link })).toBe(false);
    expect(nsfsMountsBelow(stateDir)).toEqual([link]);
  });
});

describe('attribution', () => {
  it.skipIf(!isRoot)(`namespaces of live environments are nsm:NAME; a dead one's are not (${ROOT_ONLY})`, async () => {
    const stateDir = tempStateDir();
    const a = await startNsHolder();
    const b = await startNsHolder();
    const recA = commitFor(stateDir, 'envA', a.pid, ['net', 'uts', 'ipc', 'pid']);
    const recB = commitFor(stateDir, 'envB', b.pid, ['net']);
    const names = environmentNamesByInode(scanHostSync(), { stateDir });
    for (const t of ['net', 'uts', 'ipc', 'pid'] as const) expect(names.get(recA.namespaces[t]!)).toBe('envA');
    expect(names.get(recB.namespaces.net!)).toBe('envB');

    // Through attribute(), as nsm ls does, with the state directory from NSM_STATE_DIR.
    const saved = process.env.NSM_STATE_DIR;
    process.env.NSM_STATE_DIR = stateDir;
    try {
      const scan = scanHostSync();
      attribute(scan);
      const ns = scan.namespaces.find((n) => n.inode === recA.namespaces.uts)!;
      expect(ns.owners).toContainEqual({ kind: 'nsm', id: 'envA', name: 'envA' });
      await killAndWait(b.pid);
      const after = scanHostSync();
      attribute(after);
      expect(after.namespaces.flatMap((n) => n.owners).filter((o) => o.kind === 'nsm' && o.name === 'envB')).toEqual([]);
    } finally {
      if (saved === undefined) delete process.env.NSM_STATE_DIR;
      else process.env.NSM_STATE_DIR = saved;
    }
  });
});

/** Start a child that reserves `name` in `stateDir` and hangs; returns its pid. */
async function runChildHang(stateDir: string, name: string): Promise<number> {
  const { first } = await startChild(['hang', name], { ...process.env, NSM_STATE_DIR: stateDir });
  expect(first).toMatchObject({ ok: true, step: 'reserved' });
  return first.pid as number;
}
