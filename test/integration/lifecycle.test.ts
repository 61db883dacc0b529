/**
 * Named environments through the real CLI on the real kernel: create, enter/exec, destroy,
 * and what `ls` and `gc` make of them. Each test uses its own state directory and its own
 * environment names; lifecycle-helpers.ts cleans up exactly what a test made.
 *
 * Root-only tests (they create namespaces without a user namespace, bind-mount, link into
 * /run/netns) say so in their name and are skipped otherwise; rootless behaviour is in
 * lifecycle-rootless.test.ts.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname as osHostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  alive,
  childrenOf,
  cleanup,
  comm,
  create,
  identity,
  isRoot,
  mountsBelow,
  NSM,
  nsm,
  recordPath,
  ROOTLESS_UID,
  sleeperInOwnPidNs,
  stateDir,
  uniqueName,
  waitFor,
} from './lifecycle-helpers.js';
import { parseTarget, resolveTarget } from '../../src/core/target.js';
import { UsageError } from '../../src/sys/errors.js';

afterEach(cleanup);

const scratch = mkdtempSync(join(tmpdir(), 'nsm-lifecycle-scratch-'));
chmodSync(scratch, 0o755);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Live processes (not zombies) whose environment has NSM_STATE_DIR=dir: holders inherit it. */
function processesWithState(dir: string): number[] {
  return readdirSync('/proc')
    .filter((n) => /^[0-9]+$/.test(n))
    .map(Number)
    .filter((p) => {
      try {
        return alive(p) && p !== process.pid && readFileSync(`/proc/${p}/environ`, 'latin1').split('\0').includes(`NSM_STATE_DIR=${dir}`);
      } catch {
        return false;
      }
    });
}

const hostUptime = () => Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);

describe.skipIf(!isRoot)('create and exec as root (root only: namespaces without a user namespace, /run/netns)', () => {
  it('every type is isolated: observed from inside and from outside', async () => {
    const dir = stateDir();
    const name = uniqueName();
    const env = await create(name, ['--time', '--boottime', '100000', '-t', 'mnt,uts,ipc,pid,net,cgroup'], { stateDir: dir });
    expect(Object.keys(env.namespaces).sort()).toEqual(['cgroup', 'ipc', 'mnt', 'net', 'pid', 'time', 'uts']);
    for (const [type, inode] of Object.entries(env.namespaces)) {
      expect(readlinkSync(`/proc/${env.pid}/ns/${type}`), type).toBe(`${type}:[${inode}]`);
      expect(readlinkSync(`/proc/self/ns/${type}`), type).not.toBe(`${type}:[${inode}]`);
    }
    const mnt = join(scratch, name);
    spawnSync('mkdir', [mnt]);
    const script = [
      'hostname',
      'ip -o link | wc -l',
      'ip -o link show lo | grep -c "[<,]UP[,>]"',
      'cat /proc/1/comm',
      `mount -t tmpfs ${name} ${mnt} && grep -c " ${mnt} " /proc/self/mountinfo`,
      'ipcmk -Q | grep -o "[0-9]*$"',
      'ipcs -q | awk \'$1 ~ /^0x/ {print $1}\'',
      'cat /proc/self/cgroup | grep -vc ":/$"',
      'cut -d" " -f1 /proc/uptime',
      'echo "$NSM_ENV"',
    ].join('; ');
    const before = hostUptime();
    const r = await nsm(['exec', name, '--', 'sh', '-c', script], { stateDir: dir });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const [host, links, loUp, pid1, mounted, , queueKey, cgroup, uptime, nsmEnv] = r.stdout.trim().split('\n');
    // uts: the environment's name inside, ours unchanged outside
    expect(host).toBe(name);
    expect(osHostname()).not.toBe(name);
    // net: only lo, and it is up
    expect(links).toBe('1');
    expect(loUp).toBe('1');
    // pid: PID 1 inside is the holder; ps outside tells it by the environment's name
    expect(pid1).toBe('nsm:holder');
    expect(spawnSync('ps', ['-o', 'comm=,args=', '-p', String(env.pid)], { encoding: 'utf8' }).stdout.trim().split(/\s+/)).toEqual(['nsm:holder', 'nsm:holder', name]);
    // mnt: the tmpfs is there inside, not outside
    expect(mounted).toBe('1');
    expect(mountsBelow(mnt)).toEqual([]);
    // ipc: the queue made inside is not in our ipcs
    expect(queueKey).toMatch(/^0x[0-9a-f]+$/);
    expect(spawnSync('ipcs', ['-q'], { encoding: 'utf8' }).stdout).not.toContain(queueKey);
    // cgroup: the root inside, in every hierarchy (this host mounts v1 and v2 side by side);
    // outside, at least one of ours is not at its root
    expect(cgroup).toBe('0');
    expect(readFileSync('/proc/self/cgroup', 'utf8')).toMatch(/:\/.+$/m);
    // time: the boottime offset shows in /proc/uptime
    expect(Number(uptime)).toBeGreaterThanOrEqual(before + 100_000 - 1);
    expect(Number(uptime)).toBeLessThan(hostUptime() + 100_000 + 60);
    expect(nsmEnv).toBe(name);
  });

  it('prints the holder and one line per namespace; JSON has name, pid and namespaces', async () => {
    const dir = stateDir();
    const name = uniqueName();
    const r = await nsm(['create', name], { stateDir: dir });
    expect(r.code).toBe(0);
    const rec = JSON.parse(readFileSync(recordPath(dir, name), 'utf8'));
    const { remember } = await import('./lifecycle-helpers.js');
    remember({ name, pid: rec.holder.pid, namespaces: rec.namespaces, netnsLink: rec.netnsLink ?? null, pins: rec.pins }, { stateDir: dir });
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe(`created ${name}: holder PID ${rec.holder.pid}`);
    expect(lines.slice(1).map((l) => l.trim().split(/\s+/).slice(0, 2))).toEqual(
      ['cgroup', 'ipc', 'uts', 'net', 'pid', 'mnt'].map((t) => [t, String(rec.namespaces[t])]),
    );
    expect(rec.types).toEqual(['cgroup', 'ipc', 'uts', 'net', 'pid', 'mnt']);
    expect(rec.options).toMatchObject({ hostname: name, mountProc: true, mountSys: true, loopback: true });
    expect(rec.creatorUid).toBe(0);
    expect(rec.holder.startTime).toBe(identity(rec.holder.pid)!.startTime);

    const name2 = uniqueName();
    const env2 = await create(name2, ['-t', 'net,uts', '--hostname', 'h2', '--no-lo'], { stateDir: dir });
    expect(Object.keys(env2.namespaces).sort()).toEqual(['net', 'uts']);
    const j = await nsm(['exec', name2, '--', 'sh', '-c', 'hostname; ip -o link show lo | grep -c "[<,]UP[,>]"'], { stateDir: dir });
    expect(j.stdout).toBe('h2\n0\n');
  });

  it('links a new net namespace into /run/netns so ip netns sees it, and destroy removes it', async () => {
    const dir = stateDir();
    const name = uniqueName();
    const env = await create(name, ['-t', 'net'], { stateDir: dir });
    expect(env.netnsLink).toBe(`/run/netns/${name}`);
    expect(spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout).toContain(name);
    const ipExec = spawnSync('ip', ['netns', 'exec', name, 'readlink', '/proc/self/ns/net'], { encoding: 'utf8' });
    expect(ipExec.stdout.trim()).toBe(`net:[${env.namespaces.net}]`);
    const d = await nsm(['destroy', name], { stateDir: dir });
    expect(d.code).toBe(0);
    expect(d.stdout).toContain(`removed /run/netns/${name}`);
    expect(existsSync(`/run/netns/${name}`)).toBe(false);
  });

  it('refuses a name ip netns already has, and leaves nothing', async () => {
    const dir = stateDir();
    const name = uniqueName();
    expect(spawnSync('ip', ['netns', 'add', name]).status).toBe(0);
    try {
      const r = await nsm(['create', name], { stateDir: dir });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^nsm: /run/netns/${name} is taken: another network namespace .* has the name ${name}\n`));
      expect(existsSync(join(dir, 'envs', name))).toBe(false);
      expect(mountsBelow(dir)).toEqual([]);
    } finally {
      spawnSync('ip', ['netns', 'delete', name]);
    }
  });

  it('a failure after the holder started undoes everything: no holder, mount, link or record', async () => {
    const dir = stateDir();
    const name = uniqueName();
    // A dangling symlink passes the early check (it does not exist as far as stat knows) but
    // makes the O_EXCL create of the link fail, after the holder and the pins were made.
    symlinkSync('/nonexistent/nsm-test', `/run/netns/${name}`);
    try {
      const r = await nsm(['create', '--pin', name], { stateDir: dir });
      expect(r.code).toBe(1);
      expect(r.stderr.split('\n')[0]).toBe(`nsm: /run/netns/${name} is taken: another network namespace (an environment of another nsm state directory, or ip netns add) has the name ${name}`);
      expect(existsSync(join(dir, 'envs', name))).toBe(false);
      expect(mountsBelow(dir)).toEqual([]);
      await waitFor(() => processesWithState(dir).length === 0, 'the holder to be gone');
    } finally {
      rmSync(`/run/netns/${name}`, { force: true });
    }
  });

  it('an existing live name: exit 1 "already exists (holder PID n)"; an invalid name: exit 2', async () => {
    const dir = stateDir();
    const name = uniqueName();
    const env = await create(name, ['-t', 'uts'], { stateDir: dir });
    const again = await nsm(['create', '-t', 'uts', name], { stateDir: dir });
    expect(again.code).toBe(1);
    expect(again.stderr.split('\n')[0]).toBe(`nsm: environment ${name} already exists (holder PID ${env.pid})`);
    for (const bad of ['-x', '.hidden', 'a/b', 'x'.repeat(65), 'sp ace']) {
      const r = await nsm(['create', '--', bad], { stateDir: dir });
      expect(r.code, bad).toBe(2);
      expect(r.stderr, bad).toMatch(/^nsm: invalid environment name/);
    }
  });

  it('a dead entry is recreated with a warning', async () => {
    const dir = stateDir();
    const name = uniqueName();
    const first = await create(name, ['-t', 'uts'], { stateDir: dir });
    process.kill(first.pid, 'SIGKILL');
    await waitFor(() => !alive(first.pid), 'the holder to die');
    const r = await nsm(['create', '--json', '-t', 'uts', name], { stateDir: dir });
    expect(r.code).toBe(0);
    const { remember } = await import('./lifecycle-helpers.js');
    const second = remember(JSON.parse(r.stdout), { stateDir: dir });
    expect(second.pid).not.toBe(first.pid);
    expect(r.stderr).toBe(`nsm: warning: environment ${name} was dead (holder PID ${first.pid}: it has exited); recreated it\n`);
  });

  it('--pin: namespaces outlive the holder; the pinned environment can be joined; destroy unmounts the pins', async () => {
    const dir = stateDir();
    const name = uniqueName();
    const env = await create(name, ['--pin', '-t', 'net,uts,mnt,ipc'], { stateDir: dir });
    const pins = Object.values(env.pins);
    expect(pins).toHaveLength(4);
    expect(mountsBelow(join(dir, 'envs', name)).filter((m) => m.includes('/pins/')).sort()).toEqual([...pins].sort());
    process.kill(env.pid, 'SIGKILL');
    await waitFor(() => !alive(env.pid), 'the holder to die');
    const ls = JSON.parse((await nsm(['ls', '--json'], { stateDir: dir })).stdout);
    expect(ls.environments.find((e: { name: string }) => e.name === name)?.state).toBe('pinned');
    const r = await nsm(['exec', name, '--', 'hostname'], { stateDir: dir });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`${name}\n`);
    const d = await nsm(['destroy', name], { stateDir: dir });
    expect(d.stdout).toContain('unmounted 4 pins');
    if (d.code !== 0) {
      // A mount namespace another test made meanwhile (unshare -m, create -t mnt) copied the
      // pins (they sit below a private mount: no propagation): destroy says so, keeps the
      // record (state held), and a later destroy finishes once those namespaces are gone.
      expect(d.stderr).toMatch(/^nsm: .*: destroyed, but its namespaces are still held: .* by a mount at .*\/pins\//);
      await waitFor(() => spawnSync(process.execPath, [NSM, 'destroy', name], { env: { ...process.env, NSM_STATE_DIR: dir } }).status === 0, 'the copies of the pins to go', 60_000);
    }
    expect(mountsBelow(dir)).toEqual([]);
    expect(existsSync(`/run/netns/${name}`)).toBe(false);
  }, 90_000);

  it('a pinned PID namespace whose holder died: exec says no process can join it (exit 125); the other types still can be joined', async () => {
    const dir = stateDir();
    const name = uniqueName();
    const env = await create(name, ['--pin', '-t', 'pid,uts'], { stateDir: dir });
    process.kill(env.pid, 'SIGKILL');
    await waitFor(() => !alive(env.pid), 'the holder to die');
    for (const extra of [[], ['-S', '0']]) {
      const r = await nsm(['exec', ...extra, name, '--', 'true'], { stateDir: dir });
      expect(r.code).toBe(125);
      expect(r.stderr).toBe(
        'nsm: cannot start the command in the PID namespace: its init (the first process, e.g. the holder) has exited, and the kernel lets no process join a PID namespace after that\n' +
          'hint: join the other namespaces only (-t TYPES without pid), or nsm destroy it\n',
      );
    }
    const uts = await nsm(['exec', '-t', 'uts', name, '--', 'hostname'], { stateDir: dir });
    expect(uts.stdout).toBe(`${name}\n`);
  });

  it('a pinned mount namespace whose holder died: a --wd missing there is refused (125), one that is there is used', async () => {
    const dir = stateDir();
    const name = uniqueName();
    const env = await create(name, ['--pin', '-t', 'mnt,uts'], { stateDir: dir });
    process.kill(env.pid, 'SIGKILL');
    await waitFor(() => !alive(env.pid), 'the holder to die');
    // No process shows that root to check the path from outside: the join itself must refuse.
    const missing = await nsm(['exec', '--wd', '/nsm/not/there', name, '--', 'pwd'], { stateDir: dir });
    expect([missing.code, missing.stdout, missing.stderr]).toEqual([125, '', 'nsm: working directory /nsm/not/there does not exist in the environment\n']);
    const there = await nsm(['exec', '--wd', '/tmp', name, '--', 'pwd'], { stateDir: dir });
    expect([there.code, there.stdout]).toEqual([0, '/tmp\n']);
  });
});

describe("the command line: nsm's options end where the command starts (as nsenter, unshare(1), ip netns exec)", () => {
  it('exec NAME CMD ARGS passes the options after CMD to it', async () => {
    const dir = stateDir(isRoot ? undefined : ROOTLESS_UID);
    const name = uniqueName('argv');
    await create(name, ['-t', isRoot ? 'uts,net' : 'user,uts,net'], { stateDir: dir });
    const run = (args: string[]) => nsm(args, { stateDir: dir });

    const addr = await run(['exec', name, 'ip', '-br', 'addr']);
    expect(addr.stderr).toBe('');
    expect(addr.code).toBe(0);
    expect(addr.stdout.trim().split('\n').map((l) => l.split(/\s+/)[0])).toEqual(['lo']);
    expect((await run(['exec', name, '--', 'ip', '-br', 'addr'])).stdout).toBe(addr.stdout);
    expect((await run(['exec', name, 'sh', '-c', 'exit 3'])).code).toBe(3);
    const echo = await run(['exec', name, 'echo', '-t', 'x']);
    expect(echo.stderr).toBe('');
    expect(echo.stdout).toBe('-t x\n');
    // Options before and after NAME are still nsm's, up to the command.
    const wd = await run(['exec', '--wd', '/usr', name, '-t', 'uts', 'sh', '-c', 'pwd; hostname; echo "$@"', 'sh', '--wd', '/']);
    expect(wd.stdout).toBe(`/usr\n${name}\n--wd /\n`);
    expect((await run(['shell', name, 'sh', '-c', 'echo "$NSM_ENV" -t'])).stdout).toBe(`${name} -t\n`);

    // A command that starts with '-' needs '--'; without it, it is an unknown option of nsm's.
    const dash = await run(['exec', name, '-br', 'addr']);
    expect(dash.code).toBe(125);
    expect(dash.stderr).toBe("nsm: unknown option '-br'\nhint: nsm's options end where the command starts; put -- before a command that starts with -\n");
    const dashed = await run(['exec', name, '--', '-br']);
    expect(dashed.code).toBe(127);
    expect(dashed.stderr).toMatch(/^nsm: execvp\(-br\): ENOENT/);
    // exec without a command stays a usage error (125, as every nsm failure of exec: README
    // "Exit codes"), and says that enter starts a shell.
    const none = await run(['exec', name]);
    expect(none.code).toBe(125);
    expect(none.stderr).toBe(`nsm: exec needs a command after the target (nsm exec ${name} -- COMMAND...); nsm enter ${name} starts a shell there\n`);
  });

  it('unshare: nsm unshare --net ip -br link lists only lo; -V after the command is the command\'s', async () => {
    const link = await nsm(['unshare', '--net', ...(isRoot ? [] : ['--user']), 'ip', '-br', 'link']);
    expect(link.stderr).toBe('');
    expect(link.code).toBe(0);
    expect(link.stdout.trim().split('\n').map((l) => l.split(/\s+/)[0])).toEqual(['lo']);
    const v = await nsm(['unshare', '--uts', ...(isRoot ? [] : ['--user']), 'sh', '-c', 'echo "$0"', '-V']);
    expect(v.stdout).toBe('-V\n');
    expect((await nsm(['unshare', '--uts', ...(isRoot ? [] : ['--user']), '--', 'sh', '-c', 'exit 4'])).code).toBe(4);
  });
});

describe.skipIf(!isRoot)('exec: exit status, signals, both ways the helper runs the command (root only: environments without a user namespace)', () => {
  // in place: no pid or time namespace, the helper execs the command; forked: those apply to children only.
  const paths = [
    ['helper execs in place', ['-t', 'uts,mnt,net,ipc']],
    ['helper forks', ['-t', 'uts,pid,mnt', '--time']],
  ] as const;

  it.each(paths)('%s: the command\'s status, 127, 126, 128+9, 128+15', async (_, args) => {
    const dir = stateDir();
    const name = uniqueName();
    await create(name, args, { stateDir: dir });
    const run = (argv: string[]) => nsm(['exec', name, '--', ...argv], { stateDir: dir });
    expect((await run(['true'])).code).toBe(0);
    expect((await run(['sh', '-c', 'exit 3'])).code).toBe(3);
    const missing = await run(['nsm-no-such-command']);
    expect(missing.code).toBe(127);
    expect(missing.stderr).toMatch(/^nsm: execvp\(nsm-no-such-command\): ENOENT/);
    const file = join(scratch, `${name}-not-executable`);
    writeFileSync(file, '#!/bin/sh\n', { mode: 0o644 });
    const noexec = await run([file]);
    expect(noexec.code).toBe(126);
    expect(noexec.stderr).toMatch(/EACCES/);
    // A file without a #! line runs through /bin/sh, as execvp(3) and a shell run it.
    const bare = join(scratch, `${name}-no-shebang`);
    writeFileSync(bare, 'echo "no #! line: $0"\nexit 5\n', { mode: 0o755 });
    expect(await run([bare])).toMatchObject({ code: 5, stdout: `no #! line: ${bare}\n` });
    expect((await run(['sh', '-c', 'kill -9 $$'])).code).toBe(128 + 9);
    expect((await run(['sh', '-c', 'kill -15 $$'])).code).toBe(128 + 15);
    // stdin passes through
    const cat = await nsm(['exec', name, '--', 'cat'], { stateDir: dir, input: 'through stdin\n' });
    expect(cat.stdout).toBe('through stdin\n');
  });

  it.each(paths)('%s: SIGTERM, SIGHUP, SIGINT, SIGQUIT sent to nsm (no terminal) reach the command; the path is the expected one', async (path, args) => {
    const dir = stateDir();
    const name = uniqueName();
    await create(name, args, { stateDir: dir });
    const codes: Record<string, number> = { TERM: 42, HUP: 43, INT: 44, QUIT: 45 };
    for (const [sig, code] of Object.entries(codes)) {
      let nsmPid = 0;
      // The mark says the trap is set: a signal before that would (rightly) end sh by it.
      const mark = join(scratch, `${name}.${sig}.trapped`);
      const running = nsm(['exec', name, '--', 'sh', '-c', `trap "exit ${code}" ${sig}; touch ${mark}; while :; do sleep 0.05; done`], {
        stateDir: dir,
        onSpawn: (c) => (nsmPid = c.pid!),
      });
      await waitFor(() => existsSync(mark), 'the command to set its trap');
      // The command (exec'd in place by the helper) or the helper (which forked it) is nsm's child.
      const child = childrenOf(nsmPid).map(comm).find((c) => c === 'sh' || c === 'nsm:helper');
      expect(child).toBe(path === 'helper execs in place' ? 'sh' : 'nsm:helper');
      process.kill(nsmPid, `SIG${sig}` as NodeJS.Signals);
      const r = await running;
      expect(r.code, `SIG${sig}`).toBe(code);
    }
  });

  it('SIGTERM to nsm with a command that does not catch it: 128+15', async () => {
    const dir = stateDir();
    const name = uniqueName();
    await create(name, ['-t', 'uts,pid,mnt'], { stateDir: dir });
    let nsmPid = 0;
    const running = nsm(['exec', name, '--', 'sleep', '30'], { stateDir: dir, onSpawn: (c) => (nsmPid = c.pid!) });
    // nsm's child, or the helper's that joined the pid namespace.
    await waitFor(() => childrenOf(nsmPid).some((c) => comm(c) === 'sleep' || childrenOf(c).some((g) => comm(g) === 'sleep')), 'sleep to start');
    process.kill(nsmPid, 'SIGTERM');
    expect((await running).code).toBe(128 + 15);
  });

  it('-t joins only some namespaces; --wd sets the directory; a missing --wd is refused with 125', async () => {
    const dir = stateDir();
    const name = uniqueName();
    const env = await create(name, ['-t', 'uts,net,mnt'], { stateDir: dir });
    const r = await nsm(['exec', '-t', 'net', '--wd', '/usr', name, '--', 'sh', '-c', 'readlink /proc/self/ns/net /proc/self/ns/uts; pwd'], { stateDir: dir });
    expect(r.stdout.split('\n')).toEqual([`net:[${env.namespaces.net}]`, readlinkSync('/proc/self/ns/uts'), '/usr', '']);
    const missing = await nsm(['exec', '--wd', '/nsm/not/there', name, '--', 'true'], { stateDir: dir });
    expect(missing.code).toBe(125);
    expect(missing.stderr).toMatch(/^nsm: working directory \/nsm\/not\/there does not exist in the environment/);
    const notMine = await nsm(['exec', '-t', 'pid', name, '--', 'true'], { stateDir: dir });
    expect(notMine.code).toBe(125);
    expect(notMine.stderr).toMatch(/has no pid namespace of its own/);
  });

  it('enter runs $SHELL (else /bin/sh) and the command after --', async () => {
    const dir = stateDir();
    const name = uniqueName();
    await create(name, ['-t', 'uts'], { stateDir: dir });
    const shell = await nsm(['enter', name], { stateDir: dir, input: 'hostname; echo "$NSM_ENV"; exit 5\n', env: { SHELL: '/bin/sh' } });
    expect(shell.stdout).toBe(`${name}\n${name}\n`);
    expect(shell.code).toBe(5);
    const cmd = await nsm(['shell', name, '--', 'hostname'], { stateDir: dir });
    expect(cmd.stdout).toBe(`${name}\n`);
  });

  it('an unknown name: 125 with a clear message', async () => {
    const r = await nsm(['exec', uniqueName('nope'), '--', 'true'], { stateDir: stateDir() });
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/^nsm: no environment named nope-[0-9a-f]+\n/);
  });
});

describe.skipIf(!isRoot)('identity: a dead or reused holder is never joined (root only)', () => {
  it('holder killed with SIGKILL: ls shows it dead, exec refuses, gc cleans record and /run/netns link', async () => {
    const dir = stateDir();
    const name = uniqueName();
    const env = await create(name, ['-t', 'net,uts'], { stateDir: dir });
    process.kill(env.pid, 'SIGKILL');
    await waitFor(() => !alive(env.pid), 'the holder to die');
    const ls = await nsm(['ls'], { stateDir: dir });
    expect(ls.stdout).toMatch(new RegExp(`^${name} +uts,net +${env.pid} dead `, 'm'));
    const r = await nsm(['exec', name, '--', 'true'], { stateDir: dir });
    expect(r.code).toBe(125);
    expect(r.stderr.split('\n')[0]).toBe(`nsm: environment ${name} is dead: its holder PID ${env.pid} has exited`);
    const gc = await nsm(['gc'], { stateDir: dir });
    expect(gc.code).toBe(0);
    expect(gc.stdout).toContain(`removed ${name}`);
    expect(existsSync(recordPath(dir, name))).toBe(false);
    expect(existsSync(`/run/netns/${name}`)).toBe(false);
  });

  it('a record whose pid is another live process: exec refuses with 125 and says to run nsm gc', async () => {
    const dir = stateDir();
    const name = uniqueName();
    await create(name, ['-t', 'uts'], { stateDir: dir });
    const stranger = await sleeperInOwnPidNs();
    const path = recordPath(dir, name);
    const rec = JSON.parse(readFileSync(path, 'utf8'));
    rec.holder = { pid: stranger.pid, startTime: stranger.startTime };
    writeFileSync(path, JSON.stringify(rec));
    const r = await nsm(['exec', name, '--', 'hostname'], { stateDir: dir });
    expect(r.code).toBe(125);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      `nsm: holder PID ${stranger.pid} is not this environment's holder any more: it died and the PID was reused\nhint: run nsm gc\n`,
    );
  });
});

describe.skipIf(!isRoot)('targets: inspect, diff and ps take environment names (root only: environments without a user namespace)', () => {
  it('a name resolves to its running holder; a dead one and a bad word are refused', async () => {
    const dir = stateDir();
    const name = uniqueName();
    const env = await create(name, ['-t', 'uts'], { stateDir: dir });
    const t = resolveTarget(parseTarget(name), undefined, { stateDir: dir });
    expect(t).toMatchObject({ pid: env.pid, startTime: env.startTime, label: `environment ${name} (holder PID ${env.pid})`, env: name });
    expect(resolveTarget(parseTarget(String(process.pid)))).toMatchObject({ pid: process.pid, label: `PID ${process.pid}` });
    expect(() => parseTarget('no/such')).toThrow(UsageError);
    expect(() => parseTarget('0')).toThrow(UsageError);
    expect(() => resolveTarget(parseTarget(uniqueName('nope')), undefined, { stateDir: dir })).toThrow(/^no environment named nope-/);

    const inspect = JSON.parse((await nsm(['inspect', '--json', name], { stateDir: dir })).stdout);
    expect(inspect.pid).toBe(env.pid);
    expect(inspect.namespaces.find((n: { type: string }) => n.type === 'uts').ns).toBe(env.namespaces.uts);
    const diff = await nsm(['diff', '-t', 'uts,net', '--json', name, String(process.pid)], { stateDir: dir });
    expect(diff.stderr).toBe('');
    const d = JSON.parse(diff.stdout);
    expect(JSON.stringify(d)).toContain(`environment ${name} (holder PID ${env.pid})`);

    process.kill(env.pid, 'SIGKILL');
    await waitFor(() => !alive(env.pid), 'the holder to die');
    const dead = await nsm(['inspect', name], { stateDir: dir });
    expect(dead.code).toBe(1);
    expect(dead.stderr.split('\n')[0]).toBe(`nsm: environment ${name} has no running holder (it is dead): there is no process to look at`);
  });
});

describe.skipIf(!isRoot)('destroy (root only: links into /run/netns, nsenter from outside)', () => {
  it('leaves no process, mount, /run/netns link or record; a second destroy is exit 1', async () => {
    const dir = stateDir();
    const name = uniqueName();
    const env = await create(name, ['--pin'], { stateDir: dir });
    // A process inside, orphaned to the holder.
    await nsm(['exec', name, '--', 'sh', '-c', 'sleep 60 >/dev/null 2>&1 &'], { stateDir: dir });
    await waitFor(() => childrenOf(env.pid).length === 1, 'the holder to adopt the sleep');
    const inside = childrenOf(env.pid);
    const d = await nsm(['destroy', name], { stateDir: dir });
    expect(d.stderr).toBe('');
    expect(d.code).toBe(0);
    expect(d.stdout).toBe(`destroyed ${name} (holder PID ${env.pid}; stopped 1 process inside; unmounted 6 pins; removed /run/netns/${name})\n`);
    expect(alive(env.pid)).toBe(false);
    expect(inside.every((p) => !alive(p))).toBe(true);
    expect(mountsBelow(dir)).toEqual([]);
    expect(existsSync(`/run/netns/${name}`)).toBe(false);
    expect(existsSync(join(dir, 'envs', name))).toBe(false);
    const again = await nsm(['destroy', name], { stateDir: dir });
    expect(again.code).toBe(1);
    expect(again.stderr.split('\n')[0]).toBe(`nsm: no environment named ${name}`);
  });

  it('a process that entered from outside the pid namespace is reported (pid + command), exit 1; --force ends it', async () => {
    const dir = stateDir();
    const name = uniqueName();
    const env = await create(name, ['-t', 'net,uts,pid,mnt'], { stateDir: dir });
    const escaped = spawn('nsenter', ['-t', String(env.pid), '-n', '-u', 'sleep', '60'], { stdio: 'ignore' });
    try {
      await waitFor(() => comm(escaped.pid!) === 'sleep' && readlinkSync(`/proc/${escaped.pid}/ns/net`) === `net:[${env.namespaces.net}]`, 'nsenter to exec sleep');
      const d = await nsm(['destroy', '--timeout', '1', name], { stateDir: dir });
      expect(d.code).toBe(1);
      expect(d.stderr).toContain(`nsm: ${name}: destroyed, but its namespaces are still held: `);
      expect(d.stderr).toContain(`net:[${env.namespaces.net}] by PID ${escaped.pid} (sleep)`);
      expect(d.stderr).toContain(`uts:[${env.namespaces.uts}] by PID ${escaped.pid} (sleep)`);
      expect(d.stderr).toContain(`hint: nsm destroy --force ${name} ends the processes still in them; nsm why `);
      expect(alive(escaped.pid!)).toBe(true);
      // The record stays (state held), so that the --force the hint names finds it.
      expect(JSON.parse(readFileSync(recordPath(dir, name), 'utf8')).destroyed.holds).toEqual(
        expect.arrayContaining([expect.objectContaining({ kind: 'process', type: 'net', inode: env.namespaces.net, pid: escaped.pid })]),
      );
      const forced = await nsm(['destroy', '--force', '--timeout', '1', name], { stateDir: dir });
      expect(forced.stderr).toBe('');
      expect(forced.code).toBe(0);
      expect(forced.stdout).toBe(`destroyed ${name} (held after an earlier destroy; killed PID ${escaped.pid} (sleep 60))\n`);
      await waitFor(() => !alive(escaped.pid!), 'the escaped sleep to die');
      expect(existsSync(join(dir, 'envs', name))).toBe(false);

      // Make another environment with an escaped process and destroy it with --force.
      const name2 = uniqueName();
      const env2 = await create(name2, ['-t', 'net,uts,pid,mnt'], { stateDir: dir });
      const escaped2 = spawn('nsenter', ['-t', String(env2.pid), '-n', 'sleep', '60'], { stdio: 'ignore' });
      await waitFor(() => comm(escaped2.pid!) === 'sleep' && readlinkSync(`/proc/${escaped2.pid}/ns/net`) === `net:[${env2.namespaces.net}]`, 'nsenter to exec sleep');
      const f = await nsm(['destroy', '--force', '--timeout', '1', name2], { stateDir: dir });
      expect(f.stderr).toBe('');
      expect(f.code).toBe(0);
      expect(alive(escaped2.pid!)).toBe(false);
    } finally {
      escaped.kill('SIGKILL');
    }
  });

  it('an unknown name is exit 1; --all destroys every environment of the state directory', async () => {
    const dir = stateDir();
    const unknown = await nsm(['destroy', 'nsm-never-created'], { stateDir: dir });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr.split('\n')[0]).toBe('nsm: no environment named nsm-never-created');
    const a = await create(uniqueName(), ['-t', 'uts'], { stateDir: dir });
    const b = await create(uniqueName(), ['-t', 'uts,net'], { stateDir: dir });
    const all = await nsm(['destroy', '--all', '--json'], { stateDir: dir });
    expect(all.code).toBe(0);
    const doc = JSON.parse(all.stdout);
    expect(doc.schemaVersion).toBe(1);
    expect(doc.destroyed.map((d: { name: string }) => d.name).sort()).toEqual([a.name, b.name].sort());
    expect(doc.destroyed.every((d: { remaining: unknown[]; verified: boolean }) => d.remaining.length === 0 && d.verified)).toBe(true);
    expect(alive(a.pid) || alive(b.pid)).toBe(false);
  });
});

describe.skipIf(!isRoot)('concurrent creates (root only: default types)', () => {
  it('20 parallel creates of distinct names all succeed', async () => {
    const dir = stateDir();
    const names = Array.from({ length: 20 }, () => uniqueName('par'));
    const runs = await Promise.all(names.map((n) => nsm(['create', '--json', '-t', 'uts,net,ipc', n], { stateDir: dir })));
    const { remember } = await import('./lifecycle-helpers.js');
    for (const r of runs) if (r.code === 0) remember(JSON.parse(r.stdout), { stateDir: dir });
    expect(runs.map((r) => [r.code, r.stderr])).toEqual(names.map(() => [0, '']));
    const pids = runs.map((r) => JSON.parse(r.stdout).pid);
    expect(new Set(pids).size).toBe(20);
    const ls = JSON.parse((await nsm(['ls', '--json'], { stateDir: dir })).stdout);
    expect(ls.environments.map((e: { name: string; state: string }) => `${e.name}:${e.state}`).sort()).toEqual(names.map((n) => `${n}:running`).sort());
  }, 60_000);

  it('10 parallel creates of one name: exactly one succeeds, the others fail cleanly', async () => {
    const dir = stateDir();
    const name = uniqueName('same');
    const runs = await Promise.all(Array.from({ length: 10 }, () => nsm(['create', '--json', '-t', 'uts,net', name], { stateDir: dir })));
    const { remember } = await import('./lifecycle-helpers.js');
    const ok = runs.filter((r) => r.code === 0);
    for (const r of ok) remember(JSON.parse(r.stdout), { stateDir: dir });
    expect(ok).toHaveLength(1);
    const winner = JSON.parse(ok[0]!.stdout).pid;
    for (const r of runs.filter((x) => x.code !== 0)) {
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^nsm: environment ${name} already exists( \\(holder PID ${winner}\\)|: it is being created)`));
    }
    // Only the winner's holder exists: no loser left a holder, mount or link.
    const holders = processesWithState(dir);
    expect(holders).toEqual([winner]);
    expect(mountsBelow(dir)).toEqual([]);
  }, 60_000);
});

describe('unshare', () => {
  const userArgs = isRoot ? [] : ['--user'];

  it('runs the command in new namespaces and leaves nothing behind', async () => {
    const r = await nsm(['unshare', ...userArgs, '--net', '--pid', '--mount', '--', 'sh', '-c', 'ip -o link | wc -l; cat /proc/1/comm; echo $$']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('1\nnsm:init\n2\n');
    expect(r.code).toBe(0);
  });

  it('exit status: own, 127, 128+N', async () => {
    expect((await nsm(['unshare', ...userArgs, '--uts', '--', 'sh', '-c', 'exit 7'])).code).toBe(7);
    const missing = await nsm(['unshare', ...userArgs, '--uts', '--', 'nsm-no-such-command']);
    expect(missing.code).toBe(127);
    expect((await nsm(['unshare', ...userArgs, '--pid', '--', 'sh', '-c', 'kill -9 $$'])).code).toBe(137);
  });

  it('without root, --net alone comes with a user namespace (mapped root), as without types', async () => {
    const r = await nsm(['unshare', '--net', '--', 'cat', '/proc/self/uid_map'], { uid: isRoot ? 65534 : undefined });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split(/\s+/)).toEqual(['0', String(isRoot ? 65534 : process.getuid!()), '1']);
  });
});
