/**
 * Environments without root: create, exec, destroy as an unprivileged user (uid 65534 when
 * the suite runs as root, else ourselves), through a user namespace mapped to that user.
 */
import { afterEach, describe, expect, it, onTestFinished } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { alive, childrenOf, cleanup, comm, create, identity, isRoot, mountsBelow, nsm, OTHER_UID, ROOTLESS_UID, sleeperInOwnPidNs, stateDir, uniqueName, waitFor } from './lifecycle-helpers.js';

afterEach(cleanup);

const as = isRoot ? { uid: ROOTLESS_UID } : {};

/** Write `doc` as envs/NAME/FILE of user `uid`'s state directory, as that user would; removed after the test. */
function plantAs(uid: number, dir: string, name: string, file: string, doc: object): void {
  const plant = spawnSync(
    'setpriv',
    [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', 'sh', '-c', `umask 077; mkdir -p ${dir}/envs/${name} ${dir}/locks && cat > ${dir}/envs/${name}/${file}`],
    { input: JSON.stringify(doc) },
  );
  expect(plant.status).toBe(0);
  onTestFinished(() => {
    rmSync(`${dir}/envs/${name}`, { recursive: true, force: true });
    rmSync(`${dir}/locks/${name}`, { force: true });
  });
}

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
    expect(readFileSync(`/proc/${env.pid}/cmdline`, 'latin1')).toBe(`nsm:holder ${name}\0`);
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

  it('-t net alone gets a user namespace (mapped root); --pin is refused; nothing is left', async () => {
    const dir = stateDir(ROOTLESS_UID);
    const name = uniqueName('rl');
    // One rule for create and unshare: a non-root caller gets a user namespace with any types.
    const net = await nsm(['create', '-t', 'net', name], { uid: ROOTLESS_UID, stateDir: dir });
    expect(net.stderr).toBe('');
    expect(net.code).toBe(0);
    const inside = await nsm(['exec', name, '--', 'id', '-u'], { uid: ROOTLESS_UID, stateDir: dir });
    expect(inside.stdout).toBe('0\n');
    expect((await nsm(['destroy', '--force', name], { uid: ROOTLESS_UID, stateDir: dir })).code).toBe(0);
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

/**
 * Root's reach over other users' environments: by name, root inspects, enters, destroys and
 * collects any user's (their default directories /tmp/nsm-UID, as setpriv leaves
 * XDG_RUNTIME_DIR unusable for them), working in those directories as their owner; a name
 * two users have is ambiguous; a record a user wrote by hand does not steer root.
 */
describe.skipIf(!isRoot)("root and other users' environments (root only: switches users)", () => {
  const USERS = [ROOTLESS_UID, OTHER_UID] as const;

  /** /tmp/nsm-UID of `uid`, removed after the test when this test made it. */
  function defaultDir(uid: number): string {
    const dir = `/tmp/nsm-${uid}`;
    if (!existsSync(dir)) onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    return dir;
  }

  /** Paths below `dir` (and itself) not owned by `uid`. */
  function notOwnedBy(dir: string, uid: number): string[] {
    const out: string[] = [];
    const walk = (p: string): void => {
      const st = lstatSync(p);
      if (st.uid !== uid || st.gid !== uid) out.push(`${p} (${st.uid}:${st.gid})`);
      if (st.isDirectory()) for (const e of readdirSync(p)) walk(join(p, e));
    };
    walk(dir);
    return out;
  }

  it("inspect, exec (as that user's root), ls, diff, ps -p and destroy by name; the record goes and the directory stays the user's", async () => {
    const dir = defaultDir(OTHER_UID);
    const name = uniqueName('reach');
    const env = await create(name, [], { uid: OTHER_UID });
    const mine = stateDir(); // root's own (private) directory does not have the name

    const inspect = await nsm(['inspect', '--json', name], { stateDir: mine });
    expect(inspect.stderr).toBe('');
    expect(JSON.parse(inspect.stdout)).toMatchObject({ pid: env.pid });
    const exec = await nsm(['exec', name, 'sh', '-c', 'hostname; id -u; cat /proc/self/uid_map'], { stateDir: mine });
    expect(exec.stderr).toBe('');
    expect(exec.stdout.split('\n').slice(0, 2)).toEqual([name, '0']);
    expect(exec.stdout.split('\n')[2]!.trim().split(/\s+/)).toEqual(['0', String(OTHER_UID), '1']);
    // -t without user: root still goes through the user's user namespace (uid 0 inside is the user).
    const onlyUts = await nsm(['exec', '-t', 'uts', name, 'sh', '-c', 'readlink /proc/self/ns/user; cat /proc/self/uid_map'], { stateDir: mine });
    expect(onlyUts.stdout.split('\n')[0]).toBe(`user:[${env.namespaces.user}]`);
    expect(onlyUts.stdout.split('\n')[1]!.trim().split(/\s+/)).toEqual(['0', String(OTHER_UID), '1']);
    expect((await nsm(['diff', '-q', '-t', 'net', name, String(process.pid)], { stateDir: mine })).code).toBe(1);
    const ps = await nsm(['ps', '--json', '-t', 'net', '-p', name], { stateDir: mine });
    expect(ps.stderr).toBe('');
    expect(JSON.parse(ps.stdout).namespaces.map((n: { ns: number }) => n.ns)).toEqual([env.namespaces.net]);
    // Root's listing, without NSM_STATE_DIR, shows every user's environments (read-only here).
    const ls = await nsm(['ls', '--json', '-t', 'net']);
    expect(JSON.parse(ls.stdout).environments.filter((e: { name: string }) => e.name === name)).toMatchObject([{ uid: OTHER_UID, pid: env.pid, state: 'running' }]);

    const d = await nsm(['destroy', name], { stateDir: mine });
    expect(d.stderr).toBe('');
    expect(d.code).toBe(0);
    expect(d.stdout).toBe(`destroyed ${name} (holder PID ${env.pid})\n`);
    expect(alive(env.pid)).toBe(false);
    expect(existsSync(`${dir}/envs/${name}`)).toBe(false);
    expect(existsSync(`${dir}/locks/${name}`)).toBe(false);
    expect(notOwnedBy(dir, OTHER_UID)).toEqual([]);
    // Still the user's own: they create again there.
    const again = await create(name, ['-t', 'user,uts'], { uid: OTHER_UID });
    expect((await nsm(['destroy', name], { uid: OTHER_UID })).code).toBe(0);
    expect(alive(again.pid)).toBe(false);
  });

  it('a name two users have: one line naming both, with a hint; NSM_STATE_DIR picks one', async () => {
    const dirs = USERS.map(defaultDir);
    const name = uniqueName('twice');
    const envs = [];
    for (const uid of USERS) envs.push(await create(name, ['-t', 'user,uts'], { uid }));
    const mine = stateDir();
    const [low, high] = [...USERS].sort((a, b) => a - b);
    const both = `nsm: several users have an environment named ${name}: uid ${low} (/tmp/nsm-${low}), uid ${high} (/tmp/nsm-${high})`;
    const hint = `hint: pick one by its state directory: put NSM_STATE_DIR=/tmp/nsm-${low} (or another of them) before the nsm command`;

    const exec = await nsm(['exec', name, 'true'], { stateDir: mine });
    expect(exec.code).toBe(125);
    expect(exec.stderr).toBe(`${both}\n${hint}\n`);
    const destroy = await nsm(['destroy', name], { stateDir: mine });
    expect(destroy.code).toBe(1);
    expect(destroy.stderr).toBe(`${both}\n${hint}\n`);
    expect(envs.every((e) => alive(e.pid))).toBe(true);

    // NSM_STATE_DIR names one user's directory: root acts there, as that user.
    const first = await nsm(['exec', name, 'cat', '/proc/self/uid_map'], { stateDir: dirs[0] });
    expect(first.stdout.trim().split(/\s+/)).toEqual(['0', String(USERS[0]), '1']);
    const gone = await nsm(['destroy', name], { stateDir: dirs[0] });
    expect(gone.code).toBe(0);
    expect(alive(envs[0]!.pid)).toBe(false);
    expect(alive(envs[1]!.pid)).toBe(true);
    // Now only one user has it: found without help.
    const second = await nsm(['exec', name, 'cat', '/proc/self/uid_map'], { stateDir: mine });
    expect(second.stdout.trim().split(/\s+/)).toEqual(['0', String(USERS[1]), '1']);
    for (const [i, uid] of USERS.entries()) expect(notOwnedBy(dirs[i]!, uid)).toEqual([]);
  });

  it("gc: root collects a user's dead record as that user; the directory stays the user's", async () => {
    const dir = defaultDir(OTHER_UID);
    const name = uniqueName('dead');
    const env = await create(name, ['-t', 'user,uts'], { uid: OTHER_UID });
    process.kill(env.pid, 'SIGKILL');
    await waitFor(() => !alive(env.pid), 'the holder to die');
    // Root's gc covers every user's directory; -n only reports (this host's others are not touched).
    const dry = await nsm(['gc', '-n', '--json']);
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.stdout).removed.filter((r: { name: string }) => r.name === name)).toEqual([{ name, reason: 'dead', pid: env.pid, uid: OTHER_UID }]);
    expect(existsSync(`${dir}/envs/${name}`)).toBe(true);
    // The real collection only in that user's directory (NSM_STATE_DIR names it).
    const gc = await nsm(['gc'], { stateDir: dir });
    expect(gc.stderr).toBe('');
    expect(gc.stdout).toBe(`removed ${name} of uid ${OTHER_UID} (holder PID ${env.pid} exited)\n`);
    expect(existsSync(`${dir}/envs/${name}`)).toBe(false);
    expect(notOwnedBy(dir, OTHER_UID)).toEqual([]);
  });

  it("a reservation a user wrote by hand, naming root's process as its holder, does not make root kill it", async () => {
    const dir = defaultDir(OTHER_UID);
    const name = uniqueName('plantres');
    // root's own process, which the planted reservation calls the holder of a killed create:
    // a sleep in a PID namespace of its own (killed by cleanup()), never one of the host's.
    const victim = await sleeperInOwnPidNs();
    const reservation = {
      schemaVersion: 1,
      name,
      creator: { pid: 2147483647, startTime: 1 },
      creatorUid: OTHER_UID,
      reservedAt: new Date().toISOString(),
      nsmVersion: '0.1.0',
      progress: { holder: { pid: victim.pid, startTime: victim.startTime } },
    };
    plantAs(OTHER_UID, dir, name, 'reservation.json', reservation);
    const refusal = `nsm: refusing the reservation of ${name} of uid ${OTHER_UID}: its holder PID ${victim.pid} runs as uid 0`;
    const d = await nsm(['destroy', name], { stateDir: stateDir() });
    expect(d.code).toBe(1);
    expect(d.stderr.split('\n')[0]).toBe(refusal);
    const gc = await nsm(['gc', '--json'], { stateDir: dir });
    expect(JSON.parse(gc.stdout).kept).toEqual([{ name, reason: 'failed', message: refusal.slice('nsm: '.length), uid: OTHER_UID }]);
    expect(alive(victim.pid!)).toBe(true);
    expect(existsSync(`${dir}/envs/${name}/reservation.json`)).toBe(true);
  });

  it("a record a user wrote by hand, naming namespaces that are not the user's, does not steer root", async () => {
    const dir = defaultDir(OTHER_UID);
    const name = uniqueName('planted');
    // A process of that user, which the record calls its holder, in namespaces root made
    // (owned by the host's user namespace, not the user's). Its own pid namespace, not the
    // host's: were the check ever lost, destroy would end the processes of the record's pid
    // namespace, and that must never be the host's.
    const boxed = spawn(
      'unshare',
      ['--pid', '--fork', '--kill-child', '--mount-proc', '--net', '--uts', '--ipc', 'setpriv', `--reuid=${OTHER_UID}`, `--regid=${OTHER_UID}`, '--clear-groups', 'sleep', '1000'],
      { stdio: 'ignore' },
    );
    let holder = 0;
    onTestFinished(() => {
      if (holder > 0 && alive(holder)) process.kill(holder, 'SIGKILL');
      boxed.kill('SIGKILL');
    });
    await waitFor(() => (holder = childrenOf(boxed.pid!).find((p) => comm(p) === 'sleep') ?? 0) > 0, 'sleep to start');
    const inode = (type: string) => Number(/\[(\d+)\]/.exec(readlinkSync(`/proc/${holder}/ns/${type}`))![1]);
    // Guard: never point destroy at our (the host's) pid namespace, whatever nsm does.
    expect(readlinkSync(`/proc/${holder}/ns/pid`)).not.toBe(readlinkSync('/proc/self/ns/pid'));
    const types = ['user', 'ipc', 'uts', 'net', 'pid', 'mnt'];
    const record = {
      schemaVersion: 1,
      name,
      types,
      options: {},
      holder: { pid: holder, startTime: identity(holder)!.startTime },
      namespaces: Object.fromEntries(types.map((t) => [t, inode(t)])),
      pins: {},
      creatorUid: OTHER_UID,
      createdAt: new Date().toISOString(),
      nsmVersion: '0.1.0',
    };
    plantAs(OTHER_UID, dir, name, 'env.json', record);

    const refusal = `nsm: refusing environment ${name} of uid ${OTHER_UID}: its user namespace ${record.namespaces.user} was created by uid 0\n`;
    const d = await nsm(['destroy', name], { stateDir: stateDir() });
    expect(d.code).toBe(1);
    expect(d.stderr.split('\n')[0]).toBe(refusal.trim());
    expect(alive(holder)).toBe(true);
    const e = await nsm(['exec', '-t', 'net', name, 'true'], { stateDir: stateDir() });
    expect(e.code).toBe(125);
    expect(e.stderr.split('\n')[0]).toBe(refusal.trim());
    expect(existsSync(`${dir}/envs/${name}/env.json`)).toBe(true);
    expect(notOwnedBy(dir, OTHER_UID)).toEqual([]);
  });
});
