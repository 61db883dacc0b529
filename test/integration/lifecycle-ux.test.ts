/**
 * The first-hour frictions of issue 16 §1 around the lifecycle commands, on the real kernel:
 * destroy of a held environment (its record stays until the namespaces are gone, so
 * `destroy --force` can end what is left), fractional --timeout, diff's exit status as
 * diff(1)/cmp(1), exec without a command, gc -n --json, help's usage lines and aliases, and
 * /run/netns names of two state directories. Every process a test starts is inside an
 * environment it created; lifecycle-helpers.ts cleans up what a test made.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT } from '../support/run.js';
import { alive, cleanup, comm, create, identity, isRoot, NEVER_A_PID, nsm, recordPath, ROOTLESS_UID, stateDir, uniqueName, waitFor } from './lifecycle-helpers.js';

afterEach(cleanup);

/** As root the rootless-capable cases run as ROOTLESS_UID too; as a user, as ourselves. */
const asUser = isRoot ? { uid: ROOTLESS_UID } : {};

describe('destroy --timeout takes fractions of a second', () => {
  it('--timeout 0.2 is accepted; 0, -1 and "x" are one-line usage errors (exit 2)', async () => {
    const dir = stateDir(asUser.uid);
    const name = uniqueName('ux');
    await create(name, ['-t', 'uts'], { stateDir: dir, ...asUser });
    const ok = await nsm(['destroy', '--timeout', '0.2', name], { stateDir: dir, ...asUser });
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    for (const bad of ['0', '-1', 'x', '1e3']) {
      const r = await nsm(['destroy', `--timeout=${bad}`, name], { stateDir: dir, ...asUser });
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(`nsm: --timeout needs a positive number of seconds, not: ${bad}\n`);
    }
  });
});

describe('diff exits as diff(1): 0 same, 1 different, 2 trouble, with and without -q', () => {
  it('answers through its status in every form', async () => {
    const dir = stateDir(asUser.uid);
    const a = uniqueName('uxa');
    const b = uniqueName('uxb');
    await create(a, ['-t', 'uts'], { stateDir: dir, ...asUser });
    await create(b, ['-t', 'uts'], { stateDir: dir, ...asUser });
    const run = (args: string[]) => nsm(['diff', ...args], { stateDir: dir, ...asUser });
    for (const form of [[], ['-q'], ['--json']]) {
      expect((await run([...form, a, a])).code, `${form} same`).toBe(0);
      expect((await run([...form, '-t', 'uts', a, b])).code, `${form} different`).toBe(1);
      expect((await run([...form, '-t', 'net', a, b])).code, `${form} -t net: shared`).toBe(0);
      const missing = await run([...form, a, uniqueName('nope')]);
      expect(missing.code, `${form} missing`).toBe(2);
      expect(missing.stderr).toMatch(/^nsm: no environment named nope-[0-9a-f]+\n/);
      expect((await run([...form, a, 'x:1'])).code, `${form} usage`).toBe(2);
    }
    const human = await run([a, b]);
    expect(human.stdout).toContain('different');
  }, 120_000);

  it('help and the man page document the three statuses', async () => {
    const help = (await nsm(['help', 'diff'])).stdout;
    expect(help).toMatch(/^Exit status:\n {2}0 {2}every compared type is the same namespace on both sides\n {2}1 {2}some compared type/m);
    expect(help).toMatch(/^ {2}2 {2}trouble: /m);
    const page = readFileSync(join(ROOT, 'man', 'nsm-diff.1'), 'utf8');
    expect(page).toMatch(/some compared type is a different namespace on each side/i);
    expect(page).toMatch(/trouble: a usage error/i);
  });
});

describe('exec without a command points at enter', () => {
  it('one line naming nsm enter NAME, exit 125', async () => {
    const name = uniqueName('uxe');
    const r = await nsm(['exec', name]);
    expect(r.code).toBe(125);
    expect(r.stderr).toBe(`nsm: exec needs a command after the target (nsm exec ${name} -- COMMAND...); nsm enter ${name} starts a shell there\n`);
    const t = await nsm(['run', '-t', 'net', name]);
    expect(t.code).toBe(125);
    expect(t.stderr).toContain(`nsm enter ${name} starts a shell`);
  });
});

describe('help: required operands and every alias', () => {
  it('nsm --help shows create <name> and destroy|rm|del', async () => {
    const text = (await nsm(['--help'])).stdout;
    expect(text).toMatch(/^ {2}create\|new \[options\] <name> /m);
    expect(text).toMatch(/^ {2}destroy\|rm\|del \[options\] \[names\.\.\.\] /m);
    expect(text).toMatch(/^ {2}exec\|run \[options\] <target> <command\.\.\.> /m);
    expect(text).toMatch(/^ {2}ls\|list \[options\] /m);
    expect(text).toMatch(/^ {2}completion <shell> /m);
  });

  it("each command's help names all its aliases", async () => {
    expect((await nsm(['help', 'del'])).stdout).toMatch(/^Usage: nsm destroy\|rm\|del \[options\] \[names\.\.\.\]$/m);
    expect((await nsm(['create', '--help'])).stdout).toMatch(/^Usage: nsm create\|new \[options\] <name>$/m);
    expect((await nsm(['exec', '--help'])).stdout).toMatch(/^Usage: nsm exec\|run \[options\] <target> <command\.\.\.>$/m);
  });
});

/** Kill `pid` only if it is still in the net namespace `inode` (one of a test's own environments). */
function killIfInNet(pid: number | undefined, inode: number): void {
  if (pid === undefined) return;
  try {
    if (readlinkSync(`/proc/${pid}/ns/net`) === `net:[${inode}]`) process.kill(pid, 'SIGKILL');
  } catch {
    // gone
  }
}

describe.skipIf(!isRoot)('destroy of a held environment keeps its record for destroy --force (root: exec -t net, bind mounts)', () => {
  it('a process left in its net namespace: held, gc keeps it, create/exec refuse; destroy --force kills it and says what', async () => {
    const dir = stateDir();
    const name = uniqueName('uxh');
    const env = await create(name, [], { stateDir: dir });
    // The case: a command started into only its net namespace leaves a process behind.
    const started = await nsm(['exec', '-t', 'net', name, '--', 'sh', '-c', 'sleep 1000 >/dev/null 2>&1 &'], { stateDir: dir });
    expect(started.code).toBe(0);
    let sleeper: number | undefined;
    try {
      const d = await nsm(['destroy', '--timeout', '0.5', name], { stateDir: dir });
      expect(d.code).toBe(1);
      sleeper = Number(/by PID ([0-9]+) \(sleep\)/.exec(d.stderr)?.[1]);
      expect(comm(sleeper)).toBe('sleep');
      expect(d.stdout).toContain(`destroyed, but still held: ${name} (`);
      expect(d.stdout).toContain('record kept (state held)');
      expect(d.stderr).toContain(`nsm: ${name}: destroyed, but its namespaces are still held: net:[${env.namespaces.net}] by PID ${sleeper} (sleep)\n`);
      expect(d.stderr).toContain(`hint: nsm destroy --force ${name} ends the processes still in them; nsm why ${env.namespaces.net} shows what holds it;`);

      const listed = JSON.parse((await nsm(['ls', '--json'], { stateDir: dir })).stdout).environments;
      expect(listed).toEqual([expect.objectContaining({ name, state: 'held' })]);
      const dry = await nsm(['gc', '-n', '--json'], { stateDir: dir });
      expect(dry.code).toBe(0);
      expect(JSON.parse(dry.stdout)).toMatchObject({ removed: [], kept: [{ name, reason: 'held' }] });
      const gc = await nsm(['gc'], { stateDir: dir });
      expect(gc.code).toBe(0);
      expect(existsSync(recordPath(dir, name))).toBe(true);
      expect((await nsm(['exec', name, 'true'], { stateDir: dir })).stderr).toContain(`environment ${name} was destroyed`);
      const again = await nsm(['create', name], { stateDir: dir });
      expect(again.code).toBe(1);
      expect(again.stderr).toContain(`environment ${name} was destroyed, but its namespaces are still held`);
      expect(alive(sleeper)).toBe(true);

      const forced = await nsm(['destroy', '--force', '--timeout', '0.5', name], { stateDir: dir });
      expect(forced.stderr).toBe('');
      expect(forced.code).toBe(0);
      expect(forced.stdout).toBe(`destroyed ${name} (held after an earlier destroy; killed PID ${sleeper} (sleep 1000))\n`);
      await waitFor(() => !alive(sleeper!), 'the sleep to die');
      expect(existsSync(join(dir, 'envs', name))).toBe(false);
      expect((await nsm(['destroy', name], { stateDir: dir })).stderr).toContain(`no environment named ${name}`);
    } finally {
      killIfInNet(sleeper, env.namespaces.net!);
    }
  }, 60_000);

  it('held by a bind mount: gc keeps the record while it is mounted and removes it once unmounted', async () => {
    const dir = stateDir();
    const name = uniqueName('uxm');
    const env = await create(name, ['-t', 'uts,net'], { stateDir: dir });
    const pin = join(dir, 'uts-pin');
    writeFileSync(pin, '');
    expect(spawnSync('mount', ['--bind', `/proc/${env.pid}/ns/uts`, pin]).status).toBe(0);
    try {
      const d = await nsm(['destroy', '--json', name], { stateDir: dir });
      expect(d.code).toBe(1);
      const doc = JSON.parse(d.stdout).destroyed[0];
      expect(doc).toMatchObject({ name, held: true, killed: [], remaining: [{ kind: 'mount', type: 'uts', inode: env.namespaces.uts, path: pin }] });
      // --force ends processes, never a mount: still held, record kept.
      const forced = await nsm(['destroy', '--force', name], { stateDir: dir });
      expect(forced.code).toBe(1);
      expect(forced.stderr).toContain(`uts:[${env.namespaces.uts}] by a mount at ${pin}`);
      expect(forced.stderr).toContain('unmount the listed mounts (umount PATH)');
      const kept = JSON.parse((await nsm(['gc', '--json'], { stateDir: dir })).stdout);
      expect(kept.kept).toEqual([expect.objectContaining({ name, reason: 'held' })]);
    } finally {
      spawnSync('umount', ['-l', pin]);
    }
    const dry = JSON.parse((await nsm(['gc', '-n', '--json'], { stateDir: dir })).stdout);
    expect(dry.removed).toEqual([expect.objectContaining({ name, reason: 'released' })]);
    const gc = await nsm(['gc'], { stateDir: dir });
    expect(gc.stdout).toContain(`removed ${name} (destroyed earlier; nothing holds its namespaces any more)`);
    expect(existsSync(join(dir, 'envs', name))).toBe(false);
  }, 60_000);

  it('destroy --force of a held record ends nothing outside the recorded namespaces (a record naming the host net namespace)', async () => {
    // A process of ours, in a private pid namespace but the host's net namespace; a record
    // (as a destroy would leave it) that claims the host net namespace as its own. Its holder
    // is an exited process, so this test ends nothing even where held records are unknown.
    const dir = stateDir();
    const name = uniqueName('uxf');
    const child = spawn('unshare', ['--pid', '--fork', '--kill-child', 'sleep', '60'], { stdio: 'ignore' });
    try {
      const sleeper = await (async () => {
        let found: number | undefined;
        await waitFor(() => {
          const kids = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
          found = kids.find((k) => comm(k) === 'sleep');
          return found !== undefined;
        }, 'sleep in its own pid namespace');
        return found!;
      })();
      expect(readlinkSync(`/proc/${sleeper}/ns/pid`)).not.toBe(readlinkSync('/proc/self/ns/pid'));
      const hostNet = Number(/\[([0-9]+)\]/.exec(readlinkSync('/proc/self/ns/net'))![1]);
      const st = identity(sleeper)!.startTime;
      const gone = { pid: NEVER_A_PID };
      const record = {
        schemaVersion: 1,
        name,
        types: ['net'],
        options: {},
        // A holder that has exited (as after a destroy): no nsm, old or new, judges this one running.
        holder: { pid: gone.pid, startTime: 1 },
        namespaces: { net: hostNet },
        pins: {},
        creatorUid: 0,
        createdAt: new Date().toISOString(),
        nsmVersion: '0',
        destroyed: { at: new Date().toISOString(), holds: [{ kind: 'process', type: 'net', inode: hostNet, pid: sleeper, startTime: st, comm: 'sleep' }] },
      };
      await nsm(['ls'], { stateDir: dir }); // makes the state directory's layout
      spawnSync('mkdir', ['-p', join(dir, 'envs', name), join(dir, 'locks')]);
      writeFileSync(recordPath(dir, name), JSON.stringify(record));
      const forced = await nsm(['destroy', '--force', '--timeout', '0.2', name], { stateDir: dir });
      expect(forced.stdout).not.toContain('killed');
      expect(alive(sleeper)).toBe(true);
    } finally {
      child.kill('SIGKILL');
    }
  }, 60_000);
});

describe.skipIf(!isRoot)('/run/netns is shared by every state directory (root: links in /run/netns)', () => {
  it("a name another state directory's environment links is refused without advice to delete it; netns:NAME stays that one's", async () => {
    const a = stateDir();
    const b = stateDir();
    const name = uniqueName('uxn');
    const env = await create(name, ['-t', 'net,uts'], { stateDir: a });
    expect(env.netnsLink).toBe(`/run/netns/${name}`);
    const clash = await nsm(['create', '-t', 'net,uts', name], { stateDir: b });
    expect(clash.code).toBe(1);
    expect(clash.stderr).toBe(
      `nsm: /run/netns/${name} is taken: another network namespace (an environment of another nsm state directory, or ip netns add) has the name ${name}\n` +
        `hint: pick another name; nsm why ${env.namespaces.net} shows what it is\n`,
    );
    expect(existsSync(join(b, 'envs', name))).toBe(false);
    expect(readlinkSync(`/proc/${env.pid}/ns/net`)).toBe(`net:[${env.namespaces.net}]`);
    const inside = await nsm(['exec', `netns:${name}`, 'readlink', '/proc/self/ns/net'], { stateDir: a });
    expect(inside.stdout).toBe(`net:[${env.namespaces.net}]\n`);
  });

  it('a link left as a bare mount point (a destroy killed between the detach and the unlink) is removed by the next destroy', async () => {
    const dir = stateDir();
    const name = uniqueName('uxb');
    const env = await create(name, ['-t', 'net,uts'], { stateDir: dir });
    expect(env.netnsLink).toBe(`/run/netns/${name}`);
    // What umount2(MNT_DETACH) leaves before the unlink: the empty file the bind mount was on.
    expect(spawnSync('umount', [`/run/netns/${name}`]).status).toBe(0);
    expect(statSync(`/run/netns/${name}`).size).toBe(0);
    const d = await nsm(['destroy', name], { stateDir: dir });
    expect(d.code).toBe(0);
    expect(existsSync(`/run/netns/${name}`)).toBe(false);
  });

  it("gc and destroy of another state directory's record never remove a link that is not its namespace (inode reused, ID differs)", async () => {
    const a = stateDir();
    const b = stateDir();
    const name = uniqueName('uxr');
    const env = await create(name, ['-t', 'net,uts'], { stateDir: a });
    const ids = JSON.parse(readFileSync(recordPath(a, name), 'utf8')).ids;
    if (ids?.net === undefined) return; // a kernel without NS_GET_ID (before 6.18): the inode is all there is
    // B's record of a namespace that had that inode before (its ID differs), whose holder has
    // exited: what B's gc sees if its link was deleted by hand and the inode went to A's.
    const gone = { pid: NEVER_A_PID };
    const stale = {
      schemaVersion: 1,
      name,
      types: ['net'],
      options: {},
      holder: { pid: gone.pid, startTime: 1 },
      namespaces: { net: env.namespaces.net },
      ids: { net: ids.net + 1 },
      pins: {},
      netnsLink: `/run/netns/${name}`,
      creatorUid: 0,
      createdAt: new Date().toISOString(),
      nsmVersion: '0',
    };
    await nsm(['ls'], { stateDir: b });
    spawnSync('mkdir', ['-p', join(b, 'envs', name), join(b, 'locks')]);
    writeFileSync(recordPath(b, name), JSON.stringify(stale));
    const dry = JSON.parse((await nsm(['gc', '-n', '--json'], { stateDir: b })).stdout);
    expect(dry.removed).toEqual([{ name, reason: 'dead', pid: gone.pid }]);
    const gc = await nsm(['gc', '--json'], { stateDir: b });
    expect(JSON.parse(gc.stdout).removed).toEqual([{ name, reason: 'dead', pid: gone.pid }]);
    expect(existsSync(`/run/netns/${name}`)).toBe(true);
    // gc removed B's entry: plant it again for destroy.
    spawnSync('mkdir', ['-p', join(b, 'envs', name)]);
    writeFileSync(recordPath(b, name), JSON.stringify(stale));
    const d = await nsm(['destroy', '--json', name], { stateDir: b });
    expect(d.code).toBe(0);
    expect(JSON.parse(d.stdout).destroyed[0].netnsLink).toBeUndefined();
    expect(existsSync(`/run/netns/${name}`)).toBe(true);
    expect((await nsm(['exec', name, 'true'], { stateDir: a })).code).toBe(0);
  });
});
