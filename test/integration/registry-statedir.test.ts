/**
 * The state directory: created private on demand, and refused when it could be someone
 * else's plant (symlink, foreign owner, group/world-writable), for root and for a real
 * unprivileged user (setpriv) using the default /tmp/nsm-$UID.
 */
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stateDirectory } from '../../src/core/registry.js';
import { cleanup, isRoot, removeLater, runChild, startSleep, tempStateDir } from './registry-helpers.js';

afterEach(cleanup);

const NEEDS_ROOT = 'needs root: chown to another uid and setpriv to an unprivileged user';

/** Environment for a child as another user: no XDG_RUNTIME_DIR, no NSM_STATE_DIR. */
function bareEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: '/', ...extra };
  return env;
}

describe('state directory checks', () => {
  it('creates a missing directory (and parents, for NSM_STATE_DIR) with mode 0700', () => {
    const base = tempStateDir();
    const dir = join(base, 'a', 'b');
    expect(stateDirectory({ stateDir: dir })).toBe(dir);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, 'envs')).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, 'locks')).mode & 0o777).toBe(0o700);
  });

  it('refuses a symlink, even to a good directory', () => {
    const base = tempStateDir();
    mkdirSync(join(base, 'real'), { mode: 0o700 });
    symlinkSync(join(base, 'real'), join(base, 'link'));
    expect(() => stateDirectory({ stateDir: join(base, 'link') })).toThrow(`unsafe state directory ${join(base, 'link')}: it is a symbolic link`);
    expect(existsSync(join(base, 'real', 'envs'))).toBe(false);
  });

  it('refuses a group- or world-writable directory and uses a merely readable one as it is', () => {
    const base = tempStateDir();
    const dir = join(base, 'd');
    mkdirSync(dir);
    chmodSync(dir, 0o770);
    expect(() => stateDirectory({ stateDir: dir })).toThrow(/it is writable by group or others \(mode 0770\)/);
    expect(statSync(dir).mode & 0o777).toBe(0o770);
    chmodSync(dir, 0o755);
    stateDirectory({ stateDir: dir });
    // Never chmod-ed: nsm changes no directory it did not make (its own files are 0600/0700).
    expect(statSync(dir).mode & 0o777).toBe(0o755);
    expect(statSync(join(dir, 'envs')).mode & 0o777).toBe(0o700);
  });

  it('refuses a file', () => {
    const f = join(tempStateDir(), 'plain');
    writeFileSync(f, '');
    expect(() => stateDirectory({ stateDir: f })).toThrow(`unsafe state directory ${f}: it is not a directory`);
  });

  it.skipIf(!isRoot)(`refuses a directory owned by another user (${NEEDS_ROOT})`, () => {
    const base = tempStateDir();
    const dir = join(base, 'foreign');
    mkdirSync(dir, { mode: 0o700 });
    chownSync(dir, 65534, 65534);
    expect(() => stateDirectory({ stateDir: dir })).toThrow(`unsafe state directory ${dir}: it is owned by uid 65534, not by uid 0`);
  });
});

describe('as an unprivileged user (setpriv)', () => {
  it.skipIf(!isRoot)(`uid 65534 without XDG_RUNTIME_DIR uses /tmp/nsm-65534 (0700, its own), and lists its records (${NEEDS_ROOT})`, async () => {
    const dir = '/tmp/nsm-65534';
    const existed = existsSync(dir);
    if (!existed) removeLater(dir);
    const r = await runChild(['statedir'], { asUid: 65534, env: bareEnv() });
    expect(r.stderr).toBe('');
    expect(r.lines[0]).toEqual({ ok: true, dir });
    const st = lstatSync(dir);
    expect(st.isDirectory()).toBe(true);
    expect(st.uid).toBe(65534);
    expect(st.mode & 0o777).toBe(0o700);
    if (existed) return; // someone else's state: do not add records to it

    const holder = await startSleep(65534); // its /proc/PID/ns links are readable only by its own uid (and root)
    const made = await runChild(['reserve', 'rootless', String(holder.pid), '0', '0'], { asUid: 65534, env: bareEnv() });
    expect(made.lines.map((l) => l.step)).toEqual(['reserved', 'committed']);
    expect(made.lines[1]).toMatchObject({ creatorUid: 65534 });
    const listed = await runChild(['list'], { asUid: 65534, env: bareEnv() });
    expect(listed.lines[0]).toMatchObject({ ok: true, environments: [{ name: 'rootless', uid: 65534, state: 'running', pid: holder.pid }] });
  });

  it.skipIf(!isRoot)(`uid 65534 with its own XDG_RUNTIME_DIR uses $XDG_RUNTIME_DIR/nsm; with someone else's, /tmp/nsm-UID (${NEEDS_ROOT})`, async () => {
    const base = tempStateDir();
    chmodSync(base, 0o755);
    const xdg = join(base, 'run-user');
    mkdirSync(xdg, { mode: 0o700 });
    chownSync(xdg, 65534, 65534);
    const own = await runChild(['statedir'], { asUid: 65534, env: bareEnv({ XDG_RUNTIME_DIR: xdg }) });
    expect(own.lines[0]).toEqual({ ok: true, dir: join(xdg, 'nsm') });
    expect(lstatSync(join(xdg, 'nsm')).uid).toBe(65534);

    // Someone else's XDG_RUNTIME_DIR (inherited through su, say) is not used. Another uid
    // here (65532, no account) so that /tmp/nsm-65534 of the test above is not touched twice.
    const rootsXdg = join(base, 'root-run');
    mkdirSync(rootsXdg, { mode: 0o700 });
    expect(existsSync('/tmp/nsm-65532')).toBe(false);
    removeLater('/tmp/nsm-65532');
    const other = await runChild(['statedir'], { asUid: 65532, env: bareEnv({ XDG_RUNTIME_DIR: rootsXdg }) });
    expect(other.lines[0]).toEqual({ ok: true, dir: '/tmp/nsm-65532' });
    expect(lstatSync('/tmp/nsm-65532').uid).toBe(65532);
  });

  it.skipIf(!isRoot)(`a squatted /tmp/nsm-UID is refused: a symlink, or a directory of another owner (${NEEDS_ROOT})`, async () => {
    // uid 65533 has no account here, so no one else's tests use /tmp/nsm-65533.
    const dir = '/tmp/nsm-65533';
    expect(existsSync(dir)).toBe(false);
    removeLater(dir);
    const target = tempStateDir();
    chownSync(target, 65533, 65533);
    symlinkSync(target, dir);
    const viaLink = await runChild(['statedir'], { asUid: 65533, env: bareEnv() });
    expect(viaLink.code).toBe(1);
    expect(viaLink.lines[0]).toMatchObject({ ok: false, message: `unsafe state directory ${dir}: it is a symbolic link` });
    expect(existsSync(join(target, 'envs'))).toBe(false);

    rmSync(dir);
    mkdirSync(dir, { mode: 0o700 }); // owned by root, as an attacker's would be by the attacker
    const foreign = await runChild(['statedir'], { asUid: 65533, env: bareEnv() });
    expect(foreign.lines[0]).toMatchObject({ ok: false, message: `unsafe state directory ${dir}: it is owned by uid 0, not by uid 65533` });

    chownSync(dir, 65533, 65533);
    chmodSync(dir, 0o777);
    const open = await runChild(['statedir'], { asUid: 65533, env: bareEnv() });
    expect(open.lines[0]).toMatchObject({ ok: false, message: `unsafe state directory ${dir}: it is writable by group or others (mode 0777)` });
  });
});
