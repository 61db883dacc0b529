/**
 * `nsm adopt NAME TARGET` (issue 12 §3): an environment for namespaces nsm did not make, held
 * by pins (root) or by an nsm:holder that joined them (rootless). exec through the name lands
 * in the target's namespaces; destroy releases only what nsm added and leaves the target's
 * processes and namespaces as they were; --force ends them and says so. Real kernel: the
 * targets are `unshare` processes and an `ip netns add` name this file makes, killed by pid
 * and deleted afterwards; never a host process.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { alive, cleanup, identity, isRoot, mountsBelow, NSM, nsfsMountsBelow, nsm, ROOTLESS_UID, startUntilSleep, stateDir, uniqueName, waitFor } from './lifecycle-helpers.js';

const TYPES = ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'time', 'user', 'uts'];
const READ_NS = `for t in ${TYPES.join(' ')}; do readlink /proc/self/ns/$t; done`;

const netnsNames: string[] = [];
const dirs: string[] = [];

afterEach(async () => {
  // A holder an adopt left (a failed test): nsm's own, stopped by pid + start time.
  for (const dir of dirs.splice(0)) {
    let names: string[] = [];
    try {
      names = readdirSync(join(dir, 'envs'));
    } catch {
      // none
    }
    for (const n of names) {
      try {
        const rec = JSON.parse(readFileSync(join(dir, 'envs', n, 'env.json'), 'utf8'));
        if (rec.adopted?.heldBy === 'holder' && alive(rec.holder.pid, rec.holder.startTime)) process.kill(rec.holder.pid, 'SIGKILL');
      } catch {
        // no record
      }
    }
  }
  for (const n of netnsNames.splice(0)) spawnSync('ip', ['netns', 'delete', n]);
  await cleanup(); // removes the state directories, unmounting what is below them
});

/** Start `argv` (optionally as `uid`) and wait until it execs sleep. */
function nsOf(pid: number | 'self'): string[] {
  return TYPES.map((t) => readlinkSync(`/proc/${pid}/ns/${t}`));
}

function dirFor(uid?: number): string {
  const d = stateDir(uid);
  dirs.push(d);
  return d;
}

describe.skipIf(!isRoot)('nsm adopt as root: pins (root only: unshare -n and ip netns need it)', () => {
  it('adopt a PID: exec lands in its namespaces, ls names it, destroy leaves it as it was', async () => {
    const dir = dirFor();
    const pid = await startUntilSleep(['unshare', '-n', '-u', '-i', 'sleep', '60']);
    const before = identity(pid)!;
    const want = nsOf(pid);
    const name = uniqueName('ad');
    const a = await nsm(['adopt', '--json', name, String(pid)], { stateDir: dir });
    expect(a.stderr).toBe('');
    expect(a.code).toBe(0);
    const rec = JSON.parse(a.stdout).environment;
    // The types it does not share with us, held by pins in the state directory.
    expect(rec.types).toEqual(['ipc', 'uts', 'net']);
    expect(rec.adopted).toMatchObject({ target: String(pid), heldBy: 'pins', process: { pid } });
    expect(nsfsMountsBelow(dir)).toHaveLength(3);
    // Named in /run/netns as `ip netns attach NAME PID` does: ip netns exec finds it.
    netnsNames.push(name); // a failed test's link goes with ip netns delete
    expect(rec.netnsLink).toBe(`/run/netns/${name}`);
    const viaIp = spawnSync('ip', ['netns', 'exec', name, 'readlink', '/proc/self/ns/net'], { encoding: 'utf8' });
    expect(viaIp.stdout.trim()).toBe(want[TYPES.indexOf('net')]);

    const e = await nsm(['exec', name, '--', 'sh', '-c', READ_NS], { stateDir: dir });
    expect(e.stderr).toBe('');
    expect(e.stdout.trim().split('\n')).toEqual(want);
    expect((await nsm(['ls', '-t', 'net'], { stateDir: dir })).stdout).toContain(`nsm:${name}`);
    expect((await nsm(['inspect', name], { stateDir: dir })).stdout).toMatch(/adopted +from \d+ \(PID \d+\); held by bind mounts/);

    const d = await nsm(['destroy', name], { stateDir: dir });
    expect(d.stderr).toBe('');
    expect(d.code).toBe(0);
    expect(d.stdout).toContain('its processes left running');
    // As it was: the same process, in the same namespaces; nothing of nsm's left.
    expect(alive(pid, before.startTime)).toBe(true);
    expect(nsOf(pid)).toEqual(want);
    expect(mountsBelow(dir)).toEqual([]);
    expect(existsSync(join(dir, 'envs', name))).toBe(false);
    expect(existsSync(`/run/netns/${name}`)).toBe(false);
  });

  it('outlives its target through the pins; destroy --force ends what is in them and says so', async () => {
    const dir = dirFor();
    const pid = await startUntilSleep(['unshare', '-n', '-u', 'sleep', '60']);
    const want = nsOf(pid);
    const name = uniqueName('ad');
    expect((await nsm(['adopt', name, String(pid)], { stateDir: dir })).code).toBe(0);
    // A second process in its namespaces, then the target exits: the pins keep them.
    const second = await startUntilSleep(['nsenter', `--net=/proc/${pid}/ns/net`, `--uts=/proc/${pid}/ns/uts`, 'sleep', '60']);
    process.kill(pid, 'SIGKILL');
    await waitFor(() => !alive(pid), 'the target to exit');
    const e = await nsm(['exec', name, '--', 'sh', '-c', READ_NS], { stateDir: dir });
    expect(e.code).toBe(0);
    expect(e.stdout.trim().split('\n')).toEqual(want);
    const d = await nsm(['destroy', '--force', '--timeout', '1', name], { stateDir: dir });
    expect(d.stdout).toContain(`--force signalled PID ${second}`);
    if (d.code !== 0) {
      // A mount namespace another test made meanwhile (unshare -m, create -t mnt: private
      // propagation) copied the pins or the /run/netns link: destroy says so and keeps the
      // record; a later destroy finishes once those namespaces are gone.
      expect(d.stderr).toMatch(/^nsm: .*: destroyed, but its namespaces are still held: .* by a mount at (.*\/pins\/|\/run\/netns\/)/);
      await waitFor(() => spawnSync(process.execPath, [NSM, 'destroy', name], { env: { ...process.env, NSM_STATE_DIR: dir } }).status === 0, 'the copies to go', 60_000);
    }
    await waitFor(() => !alive(second), 'the process inside to end');
  }, 90_000);

  it('adopt netns:NAME: exec joins that net namespace; destroy leaves the ip netns name', async () => {
    const dir = dirFor();
    const ns = uniqueName('adn');
    expect(spawnSync('ip', ['netns', 'add', ns]).status).toBe(0);
    netnsNames.push(ns);
    const name = uniqueName('ad');
    const a = await nsm(['adopt', name, `netns:${ns}`], { stateDir: dir });
    expect(a.stderr).toBe('');
    expect(a.code).toBe(0);
    const e = await nsm(['exec', name, '--', 'readlink', '/proc/self/ns/net'], { stateDir: dir });
    expect(e.stderr).toBe('');
    expect(e.stdout.trim()).toBe(`net:[${statSync(`/run/netns/${ns}`).ino}]`);
    expect((await nsm(['destroy', name], { stateDir: dir })).code).toBe(0);
    expect(existsSync(`/run/netns/${ns}`)).toBe(true);
    expect(mountsBelow(dir)).toEqual([]);
  });

  it('adopt netns:NAME as NAME: the ip netns link is ip\'s, kept by destroy; another adopt of the name is refused', async () => {
    const dir = dirFor();
    const ns = uniqueName('adn');
    expect(spawnSync('ip', ['netns', 'add', ns]).status).toBe(0);
    netnsNames.push(ns);
    const a = await nsm(['adopt', '--json', ns, `netns:${ns}`], { stateDir: dir });
    expect([a.stderr, a.code]).toEqual(['', 0]);
    expect(JSON.parse(a.stdout).environment.netnsLink).toBeUndefined();
    // /run/netns/NS names another net namespace than this process's: taken, nothing made.
    const pid = await startUntilSleep(['unshare', '-n', 'sleep', '60']);
    const other = await nsm(['adopt', ns, String(pid)], { stateDir: dirFor() });
    expect(other.code).toBe(1);
    expect(other.stderr.split('\n')[0]).toBe(`nsm: /run/netns/${ns} is taken: another network namespace (an environment of another nsm state directory, or ip netns add) has the name ${ns}`);
    expect((await nsm(['destroy', ns], { stateDir: dir })).code).toBe(0);
    expect(spawnSync('ip', ['netns', 'exec', ns, 'true']).status).toBe(0);
  });

  it('refuses netns:NAME when /run/netns/NAME holds no network namespace: nothing recorded, no link made', async () => {
    const dir = dirFor();
    const ns = uniqueName('adu');
    const pid = await startUntilSleep(['unshare', '-u', 'sleep', '60']);
    const link = `/run/netns/${ns}`;
    // A UTS namespace bound where ip-netns(8) keeps network namespaces (this test's own process).
    expect(spawnSync('sh', ['-c', `touch ${link} && mount --bind /proc/${pid}/ns/uts ${link}`]).status).toBe(0);
    const name = uniqueName('ad');
    try {
      const a = await nsm(['adopt', name, `netns:${ns}`], { stateDir: dir });
      expect(a.stderr.split('\n')[0]).toBe(`nsm: netns:${ns}: not a network namespace (a uts namespace is mounted there)`);
      expect(a.code).not.toBe(0);
      expect(existsSync(`/run/netns/${name}`)).toBe(false);
      expect(existsSync(join(dir, 'envs')) ? readdirSync(join(dir, 'envs')) : []).toEqual([]);
      // exec: the helper checks the type before setns(2); said in one line, 125.
      const e = await nsm(['exec', `netns:${ns}`, 'true'], { stateDir: dir });
      expect([e.code, e.stderr]).toEqual([125, 'nsm: not a net namespace: the file to join is a uts namespace; nothing was joined\n']);
    } finally {
      if (existsSync(join(dir, 'envs', name))) await nsm(['destroy', name], { stateDir: dir }); // the link it made
      spawnSync('umount', [link]);
      spawnSync('rm', ['-f', link]);
    }
  });

  it('refuses an environment as target and a process that shares every namespace', async () => {
    const dir = dirFor();
    const self = await startUntilSleep(['sleep', '60']);
    const r = await nsm(['adopt', uniqueName('ad'), String(self)], { stateDir: dir });
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n')[0]).toMatch(/^nsm: PID \d+ shares every namespace with nsm: nothing to adopt$/);
    expect(existsSync(join(dir, 'envs')) ? readdirSync(join(dir, 'envs')) : []).toEqual([]);
  });
});

describe.skipIf(!isRoot)('nsm adopt rootless, as uid 65534: a holder that joined them (root only: switching users needs root)', () => {
  it("adopts one's own unshare -r process, exec lands there, destroy stops only nsm's holder", async () => {
    const dir = dirFor(ROOTLESS_UID);
    const pid = await startUntilSleep(['unshare', '-r', '-n', '-u', 'sleep', '60'], ROOTLESS_UID);
    const before = identity(pid)!;
    const want = nsOf(pid);
    const name = uniqueName('adr');
    const a = await nsm(['adopt', '--json', name, String(pid)], { stateDir: dir, uid: ROOTLESS_UID });
    expect(a.stderr).toBe('');
    expect(a.code).toBe(0);
    const rec = JSON.parse(a.stdout).environment;
    expect(rec.types).toEqual(['user', 'uts', 'net']);
    expect(rec.adopted.heldBy).toBe('holder');
    const holder = rec.holder;
    expect(holder.pid).not.toBe(pid);
    expect(readFileSync(`/proc/${holder.pid}/comm`, 'utf8').trim()).toBe('nsm:holder');
    for (const t of ['user', 'uts', 'net']) expect(readlinkSync(`/proc/${holder.pid}/ns/${t}`)).toBe(readlinkSync(`/proc/${pid}/ns/${t}`));

    const e = await nsm(['exec', name, '--', 'sh', '-c', READ_NS], { stateDir: dir, uid: ROOTLESS_UID });
    expect(e.stderr).toBe('');
    expect(e.stdout.trim().split('\n')).toEqual(want);
    expect((await nsm(['inspect', name], { stateDir: dir, uid: ROOTLESS_UID })).stdout).toContain(`held by nsm:holder PID ${holder.pid}`);

    const d = await nsm(['destroy', name], { stateDir: dir, uid: ROOTLESS_UID });
    expect(d.stderr).toBe('');
    expect(d.code).toBe(0);
    expect(alive(holder.pid, holder.startTime)).toBe(false);
    expect(alive(pid, before.startTime)).toBe(true);
    expect(nsOf(pid)).toEqual(want);
  });

  it("refuses another user's process in one line, exit 1, and leaves nothing", async () => {
    const dir = dirFor(ROOTLESS_UID);
    const theirs = await startUntilSleep(['unshare', '-n', 'sleep', '60']);
    const r = await nsm(['adopt', uniqueName('adr'), String(theirs)], { stateDir: dir, uid: ROOTLESS_UID });
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n')[0]).toMatch(/^nsm: PID \d+: permission denied/);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('nsm:'))).toHaveLength(1);
    expect(existsSync(join(dir, 'envs')) ? readdirSync(join(dir, 'envs')) : []).toEqual([]);
  });
});
