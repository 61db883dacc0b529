/**
 * Networking (--veth, --nat) and resource limits (--memory, --cpus, --pids) of environments,
 * through the real CLI on the real kernel. Root only, except the rootless refusals.
 *
 * Traffic stays between the two ends of a pair the test made (ping 10.x addresses of its
 * own veth); --nat is checked by the rules it adds, never by sending anything out. Every
 * test uses its own state directory and names; afterEach destroys through nsm and then
 * scrubs whatever a failed test could leave: the host veth, iptables rules or nft table
 * tagged with the name, cgroups named after it, and IPv4 forwarding as it was.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { alive, childrenOf, cleanup, comm, create, isRoot, nsm, parentOf, recordPath, remember, ROOTLESS_UID, stateDir, uniqueName, waitFor } from './lifecycle-helpers.js';
import { hostInterfaceName, nftTableName } from '../../src/core/network.js';

const ROOT = new URL('../..', import.meta.url).pathname;

/** Poll `probe` until it gives a value. */
async function until<T>(probe: () => T | undefined, what: string, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
const made: string[] = [];
const name = (prefix = 'nl') => {
  const n = uniqueName(prefix);
  made.push(n);
  return n;
};

const sh = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: 'utf8' });
const linkExists = (ifname: string) => sh('ip', ['link', 'show', 'dev', ifname]).status === 0;
const hasTool = (t: string) => sh('sh', ['-c', `command -v ${t}`]).status === 0;
const CGROUP = '/sys/fs/cgroup';

/** Every cgroup directory named nsm/env-NAME (or the older nsm/NAME) in any hierarchy. */
function cgroupDirsOf(n: string): string[] {
  const roots = readdirSync(CGROUP).map((h) => join(CGROUP, h)).concat(existsSync(`${CGROUP}/cgroup.procs`) ? [CGROUP] : []);
  return roots.flatMap((r) => [join(r, 'nsm', n), join(r, 'nsm', `env-${n}`)]).filter((d) => existsSync(d));
}

/** iptables rules (both tables) carrying the comment nsm:NAME, as -S prints them. */
function iptablesRulesOf(n: string): string[] {
  if (!hasTool('iptables')) return [];
  return ['filter', 'nat'].flatMap((t) =>
    sh('iptables', ['-w', '5', '-t', t, '-S']).stdout.split('\n').filter((l) => l.includes(`"nsm:${n}"`)).map((l) => `${t} ${l}`),
  );
}

function nftHasTable(n: string): boolean {
  return hasTool('nft') && sh('nft', ['list', 'table', 'ip', nftTableName(hostInterfaceName(n))]).status === 0;
}

/** Whatever a failed test could leave of environment `n` (after nsm destroy ran in cleanup()). */
async function scrub(n: string): Promise<void> {
  const ifname = hostInterfaceName(n);
  if (linkExists(ifname)) sh('ip', ['link', 'delete', 'dev', ifname]);
  for (const rule of iptablesRulesOf(n)) {
    const [table, , ...rest] = rule.split(' ');
    const chain = rule.split(' ')[2]!;
    // "-A CHAIN args" -> "-D CHAIN args", quotes as the shell would take them.
    sh('sh', ['-c', `iptables -w 5 -t ${table} -D ${chain} ${rest.slice(1).join(' ')}`]);
  }
  if (nftHasTable(n)) sh('nft', ['delete', 'table', 'ip', nftTableName(hostInterfaceName(n))]);
  for (const dir of cgroupDirsOf(n)) {
    await waitFor(() => {
      try {
        rmdirSync(dir);
        return true;
      } catch {
        return false;
      }
    }, `${dir} to be removable`);
    try {
      rmdirSync(join(dir, '..')); // nsm/, when no other environment is in it
    } catch {
      // still in use
    }
  }
}

let forwarding: string | undefined;
/** nftables tables before the tests: iptables-nft makes `ip nat` and `ip filter` on its first rule. */
let tablesBefore: string[] = [];
const nftTables = () => (hasTool('nft') ? sh('nft', ['list', 'tables']).stdout.split('\n').filter(Boolean) : []);
beforeAll(() => {
  if (!isRoot) return;
  forwarding = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
  tablesBefore = nftTables();
});
afterEach(async () => {
  await cleanup();
  for (const n of made.splice(0)) await scrub(n);
});
afterAll(() => {
  // --nat turns forwarding on and leaves it on (as documented); the tests put it back.
  if (forwarding !== undefined) spawnSync('sh', ['-c', `echo ${forwarding} > /proc/sys/net/ipv4/ip_forward`]);
  // The tables iptables made for the tests' rules, if they hold no rule any more (only -P lines).
  for (const table of nftTables().filter((t) => !tablesBefore.includes(t))) {
    const m = /^table ip (nat|filter)$/.exec(table);
    if (m && sh('iptables', ['-w', '5', '-t', m[1]!, '-S']).stdout.split('\n').every((l) => l === '' || l.startsWith('-P '))) {
      sh('nft', ['delete', 'table', 'ip', m[1]!]);
    }
  }
});

/** A /30 for one test, outside the auto range: 10.1xx.yyy.0/30. */
function testSubnet(): { host: string; env: string; subnet: string; spec: string } {
  const a = 100 + Math.floor(Math.random() * 90);
  const b = Math.floor(Math.random() * 256);
  const c = Math.floor(Math.random() * 64) * 4;
  const net = `10.${a}.${b}`;
  return { host: `${net}.${c + 1}`, env: `${net}.${c + 2}`, subnet: `${net}.${c}/30`, spec: `${net}.${c + 1}/30,${net}.${c + 2}/30` };
}

/** Live processes whose environment has NSM_STATE_DIR=dir (a holder inherits it). */
function processesWithState(dir: string): number[] {
  return readdirSync('/proc')
    .filter((e) => /^[0-9]+$/.test(e))
    .map(Number)
    .filter((p) => {
      try {
        return p !== process.pid && alive(p) && readFileSync(`/proc/${p}/environ`, 'latin1').split('\0').includes(`NSM_STATE_DIR=${dir}`);
      } catch {
        return false;
      }
    });
}

/** The cgroup path of `pid` in the v1 hierarchy of `controller` (or v2 when there is none). */
function cgroupOf(pid: number, controller: string): string | undefined {
  const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n');
  const line = lines.find((l) => l.split(':')[1]!.split(',').includes(controller)) ?? lines.find((l) => l.startsWith('0::'));
  return line?.slice(line.indexOf(':', line.indexOf(':') + 1) + 1);
}

describe.skipIf(!isRoot)('--veth (root only: a veth pair in the host network namespace)', () => {
  it('picks a free /30, prints it, pings both ways, inspect shows it, destroy removes the host end', async () => {
    const dir = stateDir();
    const n = name();
    const r = await nsm(['create', n, '--veth'], { stateDir: dir });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const rec = JSON.parse(readFileSync(recordPath(dir, n), 'utf8'));
    remember({ name: n, pid: rec.holder.pid, namespaces: rec.namespaces, netnsLink: rec.netnsLink ?? null, pins: rec.pins }, { stateDir: dir });
    const ifname = hostInterfaceName(n);
    const m = new RegExp(`^  veth    ${ifname} (10\\.200\\.\\d+\\.\\d+)/30 \\(host\\) <-> eth0 (10\\.200\\.\\d+\\.\\d+)/30 \\(inside, default route via \\1\\)  \\(a free /30 of 10\\.200\\.0\\.0/16\\)$`, 'm').exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    const [, hostAddr, envAddr] = m!;
    expect(rec.options.veth).toMatchObject({ hostIf: ifname, envIf: 'eth0', hostAddress: `${hostAddr}/30`, envAddress: `${envAddr}/30`, picked: true });

    // the host end: up, with its address
    expect(sh('ip', ['-o', '-4', 'addr', 'show', 'dev', ifname]).stdout).toContain(`inet ${hostAddr}/30`);
    expect(sh('ip', ['-o', 'link', 'show', 'dev', ifname]).stdout).toMatch(/[<,]UP[,>]/);
    // inside: eth0 with its address, and the default route via the host end
    const inside = await nsm(['exec', n, '--', 'sh', '-c', 'ip -o -4 addr show dev eth0; ip route show default'], { stateDir: dir });
    expect(inside.code).toBe(0);
    expect(inside.stdout).toContain(`inet ${envAddr}/30`);
    expect(inside.stdout).toMatch(new RegExp(`^default via ${hostAddr.replace(/\./g, '\\.')} dev eth0`, 'm'));
    // ping from the environment to the host end, and from the host to the environment
    const out = await nsm(['exec', n, '--', 'ping', '-c1', '-W1', hostAddr!], { stateDir: dir });
    expect(out.code, out.stdout + out.stderr).toBe(0);
    expect(out.stdout).toMatch(/1 received/);
    const back = sh('ping', ['-c1', '-W1', envAddr!]);
    expect(back.status, back.stdout).toBe(0);

    const human = await nsm(['inspect', n], { stateDir: dir });
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`veth     ${ifname} ${hostAddr}/30 (host) <-> eth0 ${envAddr}/30 (inside), default route via ${hostAddr}`);
    const json = JSON.parse((await nsm(['inspect', '--json', n], { stateDir: dir })).stdout);
    expect(json.environment).toMatchObject({ name: n, veth: { hostIf: ifname, hostAddress: `${hostAddr}/30`, envAddress: `${envAddr}/30`, nat: null }, limits: null });

    const d = await nsm(['destroy', '--json', n], { stateDir: dir });
    expect(d.code, d.stderr).toBe(0);
    expect(JSON.parse(d.stdout).destroyed[0]).toMatchObject({ name: n, veth: ifname, cgroups: [], leftovers: [] });
    expect(linkExists(ifname)).toBe(false);
  });

  it('given addresses; the same subnet again is "address in use" (exit 1) and leaves nothing; bad syntax is exit 2', async () => {
    const net = testSubnet();
    const a = name();
    const env = await create(a, ['--veth', net.spec], { stateDir: stateDir() });
    expect(sh('ip', ['-o', '-4', 'addr', 'show', 'dev', hostInterfaceName(a)]).stdout).toContain(`inet ${net.host}/30`);

    const b = name();
    const dirB = stateDir();
    const r = await nsm(['create', b, '--veth', net.spec, '--nat', '--memory', '32M'], { stateDir: dirB });
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n')[0]).toBe(`nsm: --veth: address in use: ${net.subnet} overlaps ${net.host}/30 on ${hostInterfaceName(a)}`);
    // nothing half-made: no record, no holder, no veth, no NAT rule, no cgroup
    expect(existsSync(join(dirB, 'envs', b))).toBe(false);
    expect(processesWithState(dirB)).toEqual([]);
    expect(linkExists(hostInterfaceName(b))).toBe(false);
    expect(iptablesRulesOf(b)).toEqual([]);
    expect(cgroupDirsOf(b)).toEqual([]);

    for (const bad of ['10.1.2.3', '10.1.2.1/30,10.1.2.9/30', '10.1.2.0/30,10.1.2.1/30', '300.1.1.1/30,300.1.1.2/30']) {
      const u = await nsm(['create', b, '--veth', bad], { stateDir: dirB });
      expect(u.code, bad).toBe(2);
      expect(u.stderr).toMatch(/^nsm: --veth/);
      expect(existsSync(join(dirB, 'envs', b))).toBe(false);
    }
    expect(alive(env.pid)).toBe(true);
  });

  it('two concurrent creates pick two different /30s', async () => {
    const [a, b] = [name(), name()];
    const [dirA, dirB] = [stateDir(), stateDir()];
    const [ra, rb] = await Promise.all([nsm(['create', '--json', a, '--veth'], { stateDir: dirA }), nsm(['create', '--json', b, '--veth'], { stateDir: dirB })]);
    expect(ra.code, ra.stderr).toBe(0);
    expect(rb.code, rb.stderr).toBe(0);
    const [ja, jb] = [JSON.parse(ra.stdout), JSON.parse(rb.stdout)];
    remember(ja, { stateDir: dirA });
    remember(jb, { stateDir: dirB });
    expect(ja.veth.subnet).toMatch(/^10\.200\.\d+\.\d+\/30$/);
    expect(jb.veth.subnet).toMatch(/^10\.200\.\d+\.\d+\/30$/);
    expect(ja.veth.subnet).not.toBe(jb.veth.subnet);
    expect(ja.veth.picked && jb.veth.picked).toBe(true);
  });

  it('--nat adds the masquerade (and forward) rules, destroy removes exactly those', async () => {
    const n = name();
    const dir = stateDir();
    const env = await create(n, ['--veth', '--nat'], { stateDir: dir });
    const rec = JSON.parse(readFileSync(recordPath(dir, n), 'utf8'));
    const nat = rec.options.veth.nat;
    expect(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim()).toBe('1');
    if (nat.tool === 'iptables') {
      const rules = iptablesRulesOf(n);
      expect(rules).toHaveLength(3);
      expect(rules).toContainEqual(`nat -A POSTROUTING -s ${rec.options.veth.subnet} ! -o ${hostInterfaceName(n)} -m comment --comment "nsm:${n}" -j MASQUERADE`);
      expect(rules.filter((r) => r.startsWith('filter -A FORWARD'))).toHaveLength(2);
    } else {
      expect(nftHasTable(n)).toBe(true);
    }
    const d = await nsm(['destroy', '--json', n], { stateDir: dir });
    expect(d.code, d.stderr).toBe(0);
    expect(JSON.parse(d.stdout).destroyed[0]).toMatchObject({ nat: true, veth: hostInterfaceName(n) });
    expect(iptablesRulesOf(n)).toEqual([]);
    expect(nftHasTable(n)).toBe(false);
    expect(alive(env.pid)).toBe(false);
  });

  it('a failure after the holder started leaves nothing: no veth, no NAT rule, no cgroup, no record', async () => {
    const n = name();
    const dir = stateDir();
    const ifname = hostInterfaceName(n);
    // The host end's name is taken by something else (a veth of the test's own): creating the pair fails (EEXIST).
    const other = `nsmtp-${n.slice(-8)}`;
    expect(sh('ip', ['link', 'add', 'name', ifname, 'type', 'veth', 'peer', 'name', other]).status).toBe(0);
    try {
      const r = await nsm(['create', n, '--veth', '--nat', '--memory', '32M', '--pids', '20'], { stateDir: dir });
      expect(r.code).toBe(1);
      expect(r.stderr.split('\n')[0]).toBe(`nsm: --veth: a host interface named ${ifname} exists already (another environment named ${n}, in another state directory?)`);
      expect(existsSync(join(dir, 'envs', n))).toBe(false);
      expect(processesWithState(dir)).toEqual([]);
      expect(iptablesRulesOf(n)).toEqual([]);
      expect(nftHasTable(n)).toBe(false);
      expect(cgroupDirsOf(n)).toEqual([]);
      expect(linkExists(ifname) && linkExists(other)).toBe(true); // not nsm's: untouched
    } finally {
      sh('ip', ['link', 'delete', 'dev', ifname]);
    }
  });

  it('needs a new net namespace (usage error)', async () => {
    const r = await nsm(['create', name(), '-t', 'uts', '--veth'], { stateDir: stateDir() });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^nsm: --veth needs a new net namespace/);
  });
});

describe.skipIf(!isRoot)('resource limits (root only: this host has its controllers on cgroup v1)', () => {
  it('--memory and --cpus are in the cgroup files; inside, the cgroup is / in those hierarchies', async () => {
    const dir = stateDir();
    const n = name();
    await create(n, ['--memory', '64M', '--cpus', '0.5'], { stateDir: dir });
    const rec = JSON.parse(readFileSync(recordPath(dir, n), 'utf8'));
    const cgroups: Array<{ version: number; controllers: string[]; dir: string }> = rec.options.limits.cgroups;
    expect(rec.options.limits).toMatchObject({ memory: 64 * 1024 * 1024, cpus: 0.5 });
    const mem = cgroups.find((c) => c.controllers.includes('memory'))!;
    const cpu = cgroups.find((c) => c.controllers.includes('cpu'))!;
    expect(mem.dir.endsWith(`/nsm/env-${n}`)).toBe(true);
    const file = (c: { version: number; dir: string }, v1: string, v2: string) => readFileSync(join(c.dir, c.version === 2 ? v2 : v1), 'utf8').trim();
    expect(file(mem, 'memory.limit_in_bytes', 'memory.max')).toBe(String(64 * 1024 * 1024));
    expect(file(cpu, 'cpu.cfs_quota_us', 'cpu.max').split(' ')[0]).toBe('50000');

    const r = await nsm(['exec', n, '--', 'cat', '/proc/self/cgroup'], { stateDir: dir });
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    for (const c of cgroups) {
      const line = lines.find((l) => (c.version === 2 ? l.startsWith('0::') : l.split(':')[1]!.split(',').some((x) => c.controllers.includes(x))));
      expect(line, `${c.controllers} in ${r.stdout}`).toMatch(/:\/$/);
    }
    // from outside, the holder is in nsm/env-NAME
    expect(cgroupOf(rec.holder.pid, 'memory')).toBe(`/nsm/env-${n}`);

    const json = JSON.parse((await nsm(['inspect', '--json', n], { stateDir: dir })).stdout);
    expect(json.environment.limits.memory).toMatchObject({ max: 64 * 1024 * 1024, cgroup: mem.dir });
    expect(json.environment.limits.memory.current).toBeGreaterThan(0);
    expect(json.environment.limits.cpus).toMatchObject({ max: 0.5 });
    expect(json.environment.limits.pids).toBeNull();
    const human = (await nsm(['inspect', n], { stateDir: dir })).stdout;
    expect(human).toMatch(new RegExp(`│ memory │ 64 MiB │ [0-9.]+ [KM]iB.*│ ${mem.dir} +│`));

    const d = await nsm(['destroy', '--json', n], { stateDir: dir });
    expect(d.code, d.stderr).toBe(0);
    expect(JSON.parse(d.stdout).destroyed[0].cgroups.sort()).toEqual(cgroups.map((c) => c.dir).sort());
    expect(cgroupDirsOf(n)).toEqual([]);
  });

  it('--pids 5: a process inside exceeding it is refused a fork (EAGAIN)', async () => {
    const dir = stateDir();
    const n = name();
    await create(n, ['--pids', '5'], { stateDir: dir });
    const rec = JSON.parse(readFileSync(recordPath(dir, n), 'utf8'));
    const pidsDir = rec.options.limits.cgroups.find((c: { controllers: string[] }) => c.controllers.includes('pids')).dir;
    expect(readFileSync(join(pidsDir, 'pids.max'), 'utf8').trim()).toBe('5');
    // The holder and perl are 2 of the 5: the 4th child cannot be forked.
    const perl = 'my @k; for (1..8) { my $p = fork; if (!defined $p) { print "refused after ", scalar(@k), ": $!\\n"; last } if (!$p) { sleep 30; exit 0 } push @k, $p } kill "KILL", @k; waitpid($_, 0) for @k;';
    const r = await nsm(['exec', n, '--', 'perl', '-e', perl], { stateDir: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('refused after 3: Resource temporarily unavailable');
    expect(Number(/^max (\d+)/m.exec(readFileSync(join(pidsDir, 'pids.events'), 'utf8'))![1])).toBeGreaterThanOrEqual(1);
    const json = JSON.parse((await nsm(['inspect', '--json', n], { stateDir: dir })).stdout);
    expect(json.environment.limits.pids).toMatchObject({ max: 5, current: 1 });
    expect(json.environment.limits.pids.refusedForks).toBeGreaterThanOrEqual(1);
  });

  it("exec'd processes land in the cgroups (native path: the command joins, not the helper; in-process: nsm moves back out)", async () => {
    const dir = stateDir();
    const n = name();
    await create(n, ['--memory', '128M', '--pids', '50'], { stateDir: dir });
    const rec = JSON.parse(readFileSync(recordPath(dir, n), 'utf8'));
    const memDir: string = rec.options.limits.cgroups.find((c: { controllers: string[] }) => c.controllers.includes('memory')).dir;
    const procs = () => readFileSync(join(memDir, 'cgroup.procs'), 'utf8').trim().split('\n').filter(Boolean).map(Number);

    // native (the default for an environment with cgroups): nsm -> nsm:helper -> sleep
    let nsmPid = 0;
    const running = nsm(['exec', n, '--', 'sleep', '30'], { stateDir: dir, onSpawn: (c) => (nsmPid = c.pid!) });
    const helper = await until(() => childrenOf(nsmPid).find((p) => comm(p) === 'nsm:helper'), 'the helper');
    const sleeper = await until(() => childrenOf(helper).find((p) => comm(p) === 'sleep'), 'the command');
    expect(cgroupOf(sleeper, 'memory')).toBe(`/nsm/env-${n}`);
    expect(cgroupOf(sleeper, 'pids')).toBe(`/nsm/env-${n}`);
    expect(procs()).toContain(sleeper);
    expect(procs()).not.toContain(helper);
    expect(cgroupOf(helper, 'memory')).not.toBe(`/nsm/env-${n}`);
    process.kill(sleeper, 'SIGKILL');
    await running;

    // in-process (forced through the library): the command is forked inside; nsm leaves at once
    const script = `import(${JSON.stringify(`${ROOT}dist/core/exec.js`)}).then((m) => m.execInEnvironment(${JSON.stringify(n)}, ['sh', '-c', 'cat /proc/self/cgroup; exec sleep 30'], { path: 'in-process' })).then((c) => process.exit(c))`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, NSM_STATE_DIR: dir }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    try {
      await waitFor(() => out.includes('0::'), 'the in-process command to print its cgroups');
      const memLine = out.split('\n').find((l) => l.split(':')[1] === 'memory');
      expect(memLine, out).toMatch(/:\/$/);
      const sh2 = await until(() => childrenOf(child.pid!).find((p) => comm(p) === 'sleep'), 'the in-process command');
      expect(procs()).toContain(sh2);
      await waitFor(() => cgroupOf(child.pid!, 'memory') !== `/nsm/env-${n}`, 'nsm to leave the cgroup');
      expect(procs()).not.toContain(child.pid);
      expect(cgroupOf(child.pid!, 'pids')).not.toBe(`/nsm/env-${n}`);
    } finally {
      child.kill('SIGKILL');
      for (const p of procs()) if (comm(p) === 'sleep') process.kill(p, 'SIGKILL');
    }
  });

  it('gc removes a dead environment with its NAT rules and cgroups', async () => {
    const dir = stateDir();
    const n = name();
    const env = await create(n, ['--veth', '--nat', '--pids', '10'], { stateDir: dir });
    expect(cgroupDirsOf(n)).toHaveLength(1);
    process.kill(env.pid, 'SIGKILL');
    await waitFor(() => !alive(env.pid), 'the holder to die');
    const r = await nsm(['gc', '--json'], { stateDir: dir });
    expect(r.code, r.stderr).toBe(0);
    const removed = JSON.parse(r.stdout).removed;
    expect(removed).toHaveLength(1);
    expect(removed[0]).toMatchObject({ name: n, reason: 'dead', nat: true });
    expect(removed[0].cgroups).toHaveLength(1);
    expect(iptablesRulesOf(n)).toEqual([]);
    expect(nftHasTable(n)).toBe(false);
    expect(cgroupDirsOf(n)).toEqual([]);
    // The pair dies with its namespace (veth(4)), kept until gc removed the /run/netns link.
    await waitFor(() => !linkExists(hostInterfaceName(n)), 'the veth to go with the namespace');
  });
});


/**
 * Start `nsm create` and stop it (SIGSTOP, then SIGKILL) as soon as its reservation notes a
 * holder and its helper has let the holder go (the holder is no longer the child of a child
 * of the create): after that it still creates the veth and runs iptables for --nat, so it has
 * made a holder, cgroups and perhaps more that it cannot undo once killed. (Killed between
 * the note and the helper's exit, it would leave no holder at all: the helper, still waiting
 * for the acknowledgement, kills it; create-killed.test.ts tests that.)
 */
async function killCreateAfterHolder(n: string, dir: string, args: string[]): Promise<{ pid: number; startTime: number }> {
  // A loaded machine may deschedule this poll while the create finishes: that try did not
  // kill it half-way, so its environment is destroyed and the kill tried again.
  for (let attempt = 1; ; attempt++) {
    const holder = await tryKillCreateAfterHolder(n, dir, args);
    if (holder) return holder;
    const d = await nsm(['destroy', n], { stateDir: dir });
    expect(d.code, d.stderr).toBe(0);
    expect(attempt, 'the create finished before the test could stop it, three times').toBeLessThan(3);
  }
}

/** One try of killCreateAfterHolder: undefined when the create finished first. */
async function tryKillCreateAfterHolder(n: string, dir: string, args: string[]): Promise<{ pid: number; startTime: number } | undefined> {
  let child: ReturnType<typeof spawn> | undefined;
  const done = nsm(['create', n, ...args], { stateDir: dir, onSpawn: (c) => (child = c) });
  const reservation = join(dir, 'envs', n, 'reservation.json');
  const end = Date.now() + 10_000;
  let holder: { pid: number; startTime: number } | undefined;
  const heldBack = (pid: number) => {
    const helper = parentOf(pid);
    return helper !== undefined && parentOf(helper) === child!.pid;
  };
  // Poll without yielding: the create must not get far while we sleep.
  while ((!holder || heldBack(holder.pid)) && Date.now() < end) {
    try {
      holder ??= JSON.parse(readFileSync(reservation, 'utf8')).progress?.holder;
    } catch {
      // not there yet, or being replaced
    }
    if (existsSync(recordPath(dir, n))) break;
  }
  child!.kill('SIGSTOP');
  child!.kill('SIGKILL');
  const r = await done;
  if (r.signal === null && r.code === 0) return undefined;
  expect(r.signal).toBe('SIGKILL');
  expect(holder).toBeDefined();
  killedCreates.push(holder!);
  return holder!;
}

/** Holders of killed creates: stopped after each test, should gc not have done it. */
const killedCreates: Array<{ pid: number; startTime: number }> = [];
afterEach(async () => {
  for (const h of killedCreates.splice(0)) {
    if (alive(h.pid, h.startTime)) process.kill(h.pid, 'SIGKILL');
    await waitFor(() => !alive(h.pid, h.startTime), `holder ${h.pid} to exit`);
  }
});

describe.skipIf(!isRoot)('a create killed by SIGKILL half-way (root only: --veth, --nat, limits)', () => {
  it('leaves a holder and cgroups that gc stops and removes, with anything else it made', async () => {
    const dir = stateDir();
    const n = name('sk');
    const holder = await killCreateAfterHolder(n, dir, ['--veth', testSubnet().spec, '--nat', '--memory', '32M']);
    expect(alive(holder.pid, holder.startTime)).toBe(true);
    expect(cgroupDirsOf(n)).toHaveLength(1);

    const r = await nsm(['gc', '--json'], { stateDir: dir });
    expect(r.code, r.stderr).toBe(0);
    const removed = JSON.parse(r.stdout).removed;
    expect(removed).toHaveLength(1);
    expect(removed[0]).toMatchObject({ name: n, reason: 'stale-reservation', holderStopped: holder.pid });
    expect(alive(holder.pid, holder.startTime)).toBe(false);
    expect(cgroupDirsOf(n)).toEqual([]);
    expect(iptablesRulesOf(n)).toEqual([]);
    expect(existsSync(`/run/netns/${n}`)).toBe(false);
    expect(existsSync(join(dir, 'envs', n))).toBe(false);
    await waitFor(() => !linkExists(hostInterfaceName(n)), 'the veth to go with the namespace');
  });

  it('is undone by nsm destroy NAME, which says so', async () => {
    const dir = stateDir();
    const n = name('sk');
    const holder = await killCreateAfterHolder(n, dir, ['--veth', testSubnet().spec, '--memory', '32M']);
    const d = await nsm(['destroy', n], { stateDir: dir });
    expect(d.code, d.stderr).toBe(0);
    expect(d.stdout).toBe(`destroyed ${n} (a create that never finished; its holder PID ${holder.pid} stopped; removed 1 cgroup)\n`);
    expect(alive(holder.pid, holder.startTime)).toBe(false);
    expect(cgroupDirsOf(n)).toEqual([]);
    expect(existsSync(join(dir, 'envs', n))).toBe(false);
  });

  it('is undone by the next create of the name, which then succeeds', async () => {
    const dir = stateDir();
    const n = name('sk');
    const holder = await killCreateAfterHolder(n, dir, ['--veth', testSubnet().spec, '--nat', '--pids', '20']);
    const again = await create(n, ['-t', 'uts'], { stateDir: dir });
    expect(again.pid).not.toBe(holder.pid);
    expect(alive(holder.pid, holder.startTime)).toBe(false);
    expect(cgroupDirsOf(n)).toEqual([]);
    expect(iptablesRulesOf(n)).toEqual([]);
    const d = await nsm(['destroy', n], { stateDir: dir });
    expect(d.code, d.stderr).toBe(0);
  });
});

describe('without root', () => {
  it.skipIf(!isRoot)('--veth and limits are refused in one line each, and nothing is made (run as nobody)', async () => {
    const dir = stateDir(ROOTLESS_UID);
    for (const args of [['--veth'], ['--memory', '64M'], ['--pids', '5'], ['--cpus', '0.5']]) {
      const n = name();
      const r = await nsm(['create', n, ...args], { stateDir: dir, uid: ROOTLESS_UID });
      expect(r.code, args.join(' ')).toBe(1);
      const [line, hint, rest] = r.stderr.split('\n');
      expect(line).toMatch(args[0] === '--veth' ? /^nsm: --veth needs root: / : new RegExp(`^nsm: ${args[0]} without root needs a delegated cgroup v2 subtree`));
      expect(hint).toMatch(/^hint: /);
      expect(rest).toBe('');
      expect(existsSync(join(dir, 'envs', n))).toBe(false);
    }
    expect(processesWithState(dir)).toEqual([]);
  });
});
