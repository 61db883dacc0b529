/**
 * Environments without root: create, exec, destroy as an unprivileged user (uid 65534 when
 * the suite runs as root, else ourselves), through a user namespace mapped to that user.
 */
import { afterEach, describe, expect, it, onTestFinished } from 'vitest';
import { existsSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { alive, childrenOf, cleanup, create, isRoot, mountsBelow, nsm, OTHER_UID, ROOTLESS_UID, stateDir, uniqueName, waitFor } from './lifecycle-helpers.js';

afterEach(cleanup);

const as = isRoot ? { uid: ROOTLESS_UID } : {};

describe('rootless environments', () => {
  it('create, exec (uid 0 inside is the creator outside), destroy: nothing left', async () => {
    const dir = stateDir(ROOTLESS_UID);
    const name = uniqueName('rl');
    const env = await create(name, [], { ...as, stateDir: dir });
    // Default for a non-root user: the root defaults plus user.
    expect(Object.keys(env.namespaces).sort()).toEqual(['cgroup', 'ipc', 'mnt', 'net', 'pid', 'user', 'uts']);
    expect(env.netnsLink).toBeNull(); // /run/netns is root's
    expect(readFileSync(`/proc/${env.pid}/status`, 'utf8')).toMatch(new RegExp(`^Uid:\\t${ROOTLESS_UID}\\t`, 'm'));

    const r = await nsm(['exec', name, '--', 'sh', '-c', 'id -u; cat /proc/self/uid_map; hostname; cat /proc/1/comm; ip -o link | wc -l; cat /proc/self/cgroup | grep -vc ":/$" || true'], {
      ...as,
      stateDir: dir,
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const [uid, map, host, pid1, links, notRoot] = r.stdout.trim().split('\n');
    expect(uid).toBe('0');
    expect(map!.trim().split(/\s+/)).toEqual(['0', String(ROOTLESS_UID), '1']);
    expect(host).toBe(name);
    expect(pid1).toBe('nsm:holder');
    expect(readFileSync(`/proc/${env.pid}/cmdline`, 'latin1').replace(/\0+$/, '')).toBe(`nsm:holder ${name}`);
    expect(links).toBe('1');
    expect(notRoot).toBe('0');

    // Exit statuses come through the native join as well.
    expect((await nsm(['exec', name, '--', 'sh', '-c', 'exit 3'], { ...as, stateDir: dir })).code).toBe(3);
    expect((await nsm(['exec', name, '--', 'sh', '-c', 'kill -9 $$'], { ...as, stateDir: dir })).code).toBe(137);

    // A process left inside; destroy ends it with the holder.
    await nsm(['exec', name, '--', 'sh', '-c', 'sleep 60 >/dev/null 2>&1 &'], { ...as, stateDir: dir });
    await waitFor(() => childrenOf(env.pid).length === 1, 'the holder to adopt the sleep');
    const inside = childrenOf(env.pid);
    const d = await nsm(['destroy', name], { ...as, stateDir: dir });
    expect(d.stderr).toBe('');
    expect(d.code).toBe(0);
    expect(d.stdout).toBe(`destroyed ${name} (holder PID ${env.pid}; stopped 1 process inside)\n`);
    expect(alive(env.pid)).toBe(false);
    expect(inside.some((p) => alive(p))).toBe(false);
    expect(existsSync(`${dir}/envs/${name}`)).toBe(false);
  });

  it('-t limits the join; the user namespace comes along, as the other namespaces are owned by it', async () => {
    const dir = stateDir(ROOTLESS_UID);
    const name = uniqueName('rl');
    const env = await create(name, ['-t', 'user,net,uts'], { ...as, stateDir: dir });
    const r = await nsm(['exec', '-t', 'net', name, '--', 'sh', '-c', 'readlink /proc/self/ns/net /proc/self/ns/uts'], { ...as, stateDir: dir });
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n').slice(0, 2)).toEqual([`net:[${env.namespaces.net}]`, readlinkSync('/proc/self/ns/uts')]);
  });

  it('--time with offsets, rootless', async () => {
    const dir = stateDir(ROOTLESS_UID);
    const name = uniqueName('rl');
    await create(name, ['-t', 'user,pid,mnt', '--boottime', '100000'], { ...as, stateDir: dir });
    const host = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    const r = await nsm(['exec', name, '--', 'cut', '-d', ' ', '-f1', '/proc/uptime'], { ...as, stateDir: dir });
    expect(Number(r.stdout)).toBeGreaterThanOrEqual(host + 100_000 - 1);
  });

  it('missing privilege is one line saying what is needed; --pin is refused; nothing is left', async () => {
    const dir = stateDir(ROOTLESS_UID);
    const name = uniqueName('rl');
    const net = await nsm(['create', '-t', 'net', name], { uid: ROOTLESS_UID, stateDir: dir });
    if (!isRoot || ROOTLESS_UID !== 0) {
      expect(net.code).toBe(1);
      expect(net.stderr.split('\n')[0]).toBe('nsm: creating a net namespace needs root, or add --user');
    }
    const pin = await nsm(['create', '--pin', name], { uid: ROOTLESS_UID, stateDir: dir });
    expect(pin.code).toBe(1);
    expect(pin.stderr.split('\n')[0]).toMatch(/^nsm: --pin needs root: /);
    expect(existsSync(`${dir}/envs/${name}`)).toBe(false);
    expect(mountsBelow(dir)).toEqual([]);
  });

  it.skipIf(!isRoot)('root enters a rootless environment; another unprivileged user gets a one-line error (root only: switches users)', async () => {
    // Root finds other users' environments in their default state directories
    // (/tmp/nsm-UID here, as setpriv leaves XDG_RUNTIME_DIR unset), so this one uses it.
    const name = uniqueName('rl');
    // That default directory is the user's own; remove it afterwards only if this test made it.
    const defaultDir = `/tmp/nsm-${ROOTLESS_UID}`;
    if (!existsSync(defaultDir)) onTestFinished(() => rmSync(defaultDir, { recursive: true, force: true }));
    const env = await create(name, ['-t', 'user,uts,net'], { uid: ROOTLESS_UID });
    const byRoot = await nsm(['exec', name, '--', 'sh', '-c', 'hostname; id -u'], { stateDir: stateDir() });
    expect(byRoot.stderr).toBe('');
    expect(byRoot.stdout).toBe(`${name}\n0\n`);
    const byOther = await nsm(['exec', name, '--', 'true'], { uid: OTHER_UID });
    expect(byOther.code).toBe(125);
    expect(byOther.stderr.split('\n')[0]).toBe(`nsm: no environment named ${name}`);
    expect(byOther.stderr.split('\n')[1]).toMatch(/^hint: other users' environments are not visible to you/);
    const d = await nsm(['destroy', name], { uid: ROOTLESS_UID });
    expect(d.code).toBe(0);
    expect(alive(env.pid)).toBe(false);
  });
});
