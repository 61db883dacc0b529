/**
 * The real helper on the real kernel, through its real pipe protocol (native/PROTOCOL.md).
 *
 * Every helper this file starts carries NSM_TEST_TAG=<uuid> in its environment, and so do the
 * holders and commands it makes: `tagged()` finds whatever is still alive, so each test can
 * kill exactly what it created and the suite can prove that nothing was left behind.
 *
 * As root, "rootless" tests run the helper as uid/gid 65534; as any other user they run as
 * that user. Root-only tests say why in their name and are skipped otherwise.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  fstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmdirSync,
  rmSync,
  writeFileSync,
  existsSync,
} from 'node:fs';
import type { Socket } from 'node:net';
import { alive, childrenOf, identity, parentOf } from './lifecycle-helpers.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import {
  createHolder,
  helperPath,
  joinAndExec,
  runInNewNamespaces,
  type HelperOptions,
  type JoinTarget,
  type NamespaceConfig,
} from '../../src/sys/helper.js';
import { decodeReply, encodeFrame, FrameDecoder, i64s, Msg, PROTO_VERSION, str, u32s, type Reply } from '../../src/sys/helper-protocol.js';
import { NS_TYPE_NAMES, cloneFlags, type NsType } from '../../src/sys/nstypes.js';
import { SysError } from '../../src/sys/errors.js';

const TAG = randomUUID();
process.env.NSM_TEST_TAG = TAG;

const isRoot = process.getuid!() === 0;
/** As root: act as an unprivileged user. Otherwise: we already are one. */
const rootless: HelperOptions = isRoot ? { asUser: { uid: 65534, gid: 65534 } } : {};
const rootlessUid = isRoot ? 65534 : process.getuid!();

// ------------------------------------------------------------------ helpers

/** Pids (other than ours) whose environment carries this file's tag (or `needle`): everything we made. */
function tagged(needle = `NSM_TEST_TAG=${TAG}`): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/environ`, 'latin1').split('\0').includes(needle)) pids.push(Number(name));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}


async function waitFor(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function kill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

function status(pid: number, field: string): string | undefined {
  return new RegExp(`^${field}:\\s*(.*)$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
}


const scratch = mkdtempSync(join(tmpdir(), 'nsm-helper-test-'));
chmodSync(scratch, 0o755);

/** A file to send a command's stdout to. */
function output(): { fd: number; text: () => string } {
  const path = join(scratch, randomUUID());
  const fd = openSync(path, 'w+');
  return { fd, text: () => readFileSync(path, 'utf8') };
}

const opened: number[] = [];
function openTargets(pid: number, types: readonly NsType[]): JoinTarget[] {
  return types.map((type) => {
    const fd = openSync(`/proc/${pid}/ns/${type}`, 'r');
    opened.push(fd);
    return { type, fd, inode: fstatSync(fd, { bigint: true }).ino };
  });
}

/** Run a command in an environment and return its stdout. */
async function joinOutput(pid: number, types: readonly NsType[], script: string, opts: HelperOptions = {}): Promise<string> {
  const out = output();
  const code = await joinAndExec(openTargets(pid, types), ['sh', '-c', script], { ...opts, stdio: ['ignore', out.fd, 'inherit'] });
  expect(code).toBe(0);
  return out.text();
}

interface RawResult {
  code: number | null;
  replies: Reply[];
  stderr: string;
}

/**
 * Drive the helper by hand: `bytes` as they are, then (by default) end of stream; with `ack`,
 * the stream stays open until READY arrives, which is answered with READY_ACK before the end.
 */
function rawHelper(argv: string[], bytes: Buffer, opts: { end?: boolean; ack?: boolean; onStarted?: (c: ReturnType<typeof spawn>) => void } = {}): Promise<RawResult> {
  const child = spawn(helperPath(), argv, { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
  const sock = child.stdio[3] as Socket;
  const decoder = new FrameDecoder();
  const result: RawResult = { code: null, replies: [], stderr: '' };
  child.stderr!.on('data', (d) => (result.stderr += d));
  sock.on('error', () => {});
  sock.on('data', (d: Buffer) => {
    for (const f of decoder.push(d)) {
      const r = decodeReply(f);
      result.replies.push(r);
      if (r.kind === 'started') opts.onStarted?.(child);
      if (r.kind === 'ready' && opts.ack) sock.end(encodeFrame(Msg.READY_ACK));
    }
  });
  sock.write(bytes);
  if (opts.end !== false && !opts.ack) sock.end();
  return new Promise((resolve) => child.once('close', (code) => resolve({ ...result, code })));
}

const cfg = (...frames: Buffer[]) => Buffer.concat([...frames, encodeFrame(Msg.CFG_END)]);


interface StdioHolderResult extends RawResult {
  helperPid: number;
  /** The holder as READY named it, seen by the test when READY arrived. */
  ready?: { pid: number; startTime: number | undefined; parent: number | undefined; uts: string };
}

/**
 * `nsm-helper holder - NAME` driven over stdin and stdout as createHolder() drives it (as the
 * rootless user when root), but with the answer to READY in the test's hands: `answer` returns
 * the bytes to write before stdin is closed (READY_ACK, something else, or nothing).
 */
function stdioHolder(types: NsType[], answer: Buffer, env: NodeJS.ProcessEnv = process.env): Promise<StdioHolderResult> {
  const child = spawn(helperPath(), ['holder', '-', 'ack-test'], { stdio: ['pipe', 'pipe', 'pipe'], env, ...(isRoot ? { uid: 65534, gid: 65534 } : {}) });
  const decoder = new FrameDecoder();
  const result: StdioHolderResult = { code: null, replies: [], stderr: '', helperPid: child.pid! };
  child.stdin!.on('error', () => {});
  child.stderr!.on('data', (d) => (result.stderr += d));
  child.stdout!.on('data', (d: Buffer) => {
    for (const f of decoder.push(d)) {
      const r = decodeReply(f);
      result.replies.push(r);
      if (r.kind !== 'ready') continue;
      result.ready = { pid: r.pid, startTime: identity(r.pid)?.startTime, parent: parentOf(r.pid), uts: readlinkSync(`/proc/${r.pid}/ns/uts`) };
      child.stdin!.end(answer);
    }
  });
  child.stdin!.write(cfg(encodeFrame(Msg.CFG_NSTYPES, u32s(cloneFlags(types)))));
  return new Promise((resolve) => child.once('close', (code) => resolve({ ...result, code })));
}

/** Pids of the processes in the namespace `link` names (readlink of /proc/PID/ns/uts, e.g. `uts:[4026532245]`). */
function inUtsNamespace(link: string): number[] {
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .filter((p) => {
      try {
        return readlinkSync(`/proc/${p}/ns/uts`) === link;
      } catch {
        return false;
      }
    });
}

// Every test kills exactly what it made; this catches any test that did not.
afterEach(() => {
  for (const fd of opened.splice(0)) closeSync(fd);
});

afterAll(async () => {
  const left = tagged();
  for (const pid of left) kill(pid);
  rmSync(scratch, { recursive: true, force: true });
  expect(left, 'processes left behind by helper tests').toEqual([]);
});

// ------------------------------------------------------------------ holder

describe('holder', () => {
  it.skipIf(!isRoot)('as root: every namespace type, isolated from the caller (root only: uses the host as root)', async () => {
    const h = await createHolder({
      types: [...NS_TYPE_NAMES],
      map: { root: true },
      hostname: 'nsm-all-types',
      mountProc: true,
      mountSys: true,
      timeOffsets: { monotonic: 50_000, boottime: 100_000 },
    });
    try {
      for (const t of NS_TYPE_NAMES) {
        expect(readlinkSync(`/proc/${h.pid}/ns/${t}`), t).not.toBe(readlinkSync(`/proc/self/ns/${t}`));
      }
      expect(status(h.pid, 'Name')).toBe('nsm:holder');
      expect(status(h.pid, 'NSpid')).toBe(`${h.pid}\t1`);
      expect(h.startTime).toBeGreaterThan(0);

      const hostUptime = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
      const lines = (
        await joinOutput(
          h.pid,
          NS_TYPE_NAMES,
          'hostname; cat /sys/class/net/lo/flags; ls /sys/class/net | tr "\\n" " "; echo; cat /proc/1/comm; ls /proc | grep -c "^[0-9]"; cut -d" " -f1 /proc/uptime',
        )
      ).split('\n');
      expect(lines[0]).toBe('nsm-all-types');
      expect(Number(lines[1]) & 1).toBe(1); // IFF_UP
      expect(lines[2]!.trim()).toBe('lo'); // fresh /sys: only the new net ns
      expect(lines[3]).toBe('nsm:holder'); // fresh /proc: PID 1 is the holder
      expect(Number(lines[4])).toBeLessThan(5); // holder, sh, ls, grep
      expect(Number(lines[5])).toBeGreaterThanOrEqual(hostUptime + 100_000 - 1); // time ns joined
    } finally {
      kill(h.pid);
    }
  });

  it('rootless: user + every other type, joined as uid 0 whose map shows the creator', async () => {
    const h = await createHolder(
      { types: [...NS_TYPE_NAMES], map: { root: true }, hostname: 'rootless', mountProc: true },
      rootless,
    );
    try {
      expect(status(h.pid, 'Uid')!.split('\t')[0]).toBe(String(rootlessUid));
      const lines = (await joinOutput(h.pid, NS_TYPE_NAMES, 'id -u; id -g; cat /proc/self/uid_map; hostname; cat /proc/1/comm', rootless)).split('\n');
      expect(lines[0]).toBe('0');
      expect(lines[1]).toBe('0');
      expect(lines[2]!.trim().split(/\s+/)).toEqual(['0', String(rootlessUid), '1']);
      expect(lines[3]).toBe('rootless');
      expect(lines[4]).toBe('nsm:holder');
    } finally {
      kill(h.pid);
    }
  });

  it('a named holder shows as "nsm:holder NAME" in ps; comm and environment stay', async () => {
    const name = `web-${'x'.repeat(60)}`; // 64 bytes, the longest environment name
    const h = await createHolder({ types: ['user', 'uts'], map: { root: true } }, { ...rootless, name });
    try {
      // Exactly the title: no NUL padding for a reader (ls, jq) to trim.
      expect(readFileSync(`/proc/${h.pid}/cmdline`, 'latin1')).toBe(`nsm:holder ${name}\0`);
      expect(spawnSync('ps', ['-o', 'args=', '-p', String(h.pid)], { encoding: 'utf8' }).stdout.trim()).toBe(`nsm:holder ${name}`);
      expect(status(h.pid, 'Name')).toBe('nsm:holder');
      expect(readFileSync(`/proc/${h.pid}/environ`, 'latin1').split('\0')).toContain(`NSM_TEST_TAG=${TAG}`);
    } finally {
      kill(h.pid);
    }
  });

  it('the title fits whatever argv[0] is: it only reuses the argument strings', async () => {
    const name = 'n'.repeat(64);
    const r = spawnSync(helperPath(), ['holder', '-', name], {
      argv0: 'h', // the shortest: "h holder - NAME" is exactly as long as "nsm:holder NAME"
      // The acknowledgement sent ahead, which only a driver with nothing to note may do.
      input: Buffer.concat([cfg(encodeFrame(Msg.CFG_NSTYPES, u32s(cloneFlags(['user', 'uts'])))), encodeFrame(Msg.READY_ACK)]),
      ...(isRoot ? { uid: 65534, gid: 65534 } : {}),
    });
    const replies = new FrameDecoder().push(r.stdout).map(decodeReply);
    expect(replies).toHaveLength(1);
    expect(replies[0]!.kind).toBe('ready');
    const pid = (replies[0] as { pid: number }).pid;
    try {
      expect(r.status).toBe(0);
      expect(readFileSync(`/proc/${pid}/cmdline`, 'latin1')).toBe(`nsm:holder ${name}\0`);
    } finally {
      kill(pid);
    }
  });

  it('started the older way, over a socket on fd 3 (holder 3), it works alike, untitled, acknowledged on the socket', async () => {
    const r = await rawHelper(['holder', '3'], cfg(encodeFrame(Msg.CFG_NSTYPES, u32s(cloneFlags(['user', 'uts'])))), { ack: true });
    const ready = r.replies.find((x) => x.kind === 'ready') as { pid: number } | undefined;
    try {
      expect(r.code).toBe(0);
      expect(r.replies.map((x) => x.kind)).toEqual(['ready']);
      expect(status(ready!.pid, 'Name')).toBe('nsm:holder');
      expect(readFileSync(`/proc/${ready!.pid}/cmdline`, 'latin1').split('\0').slice(1, 3)).toEqual(['holder', '3']);
    } finally {
      if (ready) kill(ready.pid);
    }
  });

  it('over a socket (holder 3), a driver that shuts its side after READY without acknowledging it leaves no holder', async () => {
    let holder: { pid: number; startTime: number | undefined } | undefined;
    const child = spawn(helperPath(), ['holder', '3'], { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
    const sock = child.stdio[3] as Socket;
    const decoder = new FrameDecoder();
    const replies: Reply[] = [];
    sock.on('error', () => {});
    sock.on('data', (d: Buffer) => {
      for (const f of decoder.push(d)) {
        const r = decodeReply(f);
        replies.push(r);
        if (r.kind === 'ready') {
          holder = { pid: r.pid, startTime: identity(r.pid)?.startTime };
          sock.end();
        }
      }
    });
    sock.write(cfg(encodeFrame(Msg.CFG_NSTYPES, u32s(cloneFlags(['user', 'uts', 'pid'])))));
    const code = await new Promise((resolve) => child.once('close', resolve));
    expect(holder?.startTime).toBeDefined();
    try {
      expect(code).toBe(125);
      expect(replies[1]).toMatchObject({ kind: 'fail', step: expect.stringMatching(/^read\(NSM_READY_ACK\): end of file/), errno: 'ECANCELED' });
      expect(identity(holder!.pid)?.startTime).not.toBe(holder!.startTime);
    } finally {
      if (identity(holder!.pid)?.startTime === holder!.startTime) kill(holder!.pid);
    }
  });

  it('resident memory of a holder is at most 1 MiB (VmRSS)', async () => {
    const h = await createHolder({ types: ['user', 'pid', 'mnt', 'net', 'uts', 'ipc'], map: { root: true }, mountProc: true }, rootless);
    try {
      const rssKb = Number(/(\d+) kB/.exec(status(h.pid, 'VmRSS')!)![1]);
      expect(rssKb).toBeGreaterThan(0);
      expect(rssKb).toBeLessThanOrEqual(1024);
    } finally {
      kill(h.pid);
    }
  });

  it('holds no descriptor of its caller: only /dev/null on 0-2', async () => {
    const h = await createHolder({ types: ['user', 'uts'], map: { root: true } }, rootless);
    try {
      // Its socket to the helper (fd 3) it closes once it has read NSM_SYNC_DETACH, which the
      // helper sends as its last act: it may still be open for a moment.
      await waitFor(() => !existsSync(`/proc/${h.pid}/fd/3`), 'the holder to close its socket to the helper');
      const fds = readdirSync(`/proc/${h.pid}/fd`);
      expect(fds.sort()).toEqual(['0', '1', '2']);
      for (const fd of fds) expect(readlinkSync(`/proc/${h.pid}/fd/${fd}`)).toBe('/dev/null');
      expect(Number(status(h.pid, 'PPid'))).not.toBe(process.pid);
    } finally {
      kill(h.pid);
    }
  });

  it('SIGTERM to the holder ends it and everything inside', async () => {
    const h = await createHolder({ types: ['user', 'pid', 'mnt'], map: { root: true }, mountProc: true }, rootless);
    try {
      // The background sleep is orphaned inside and adopted by the holder (PID 1).
      await joinOutput(h.pid, ['user', 'pid', 'mnt'], 'sleep 1000 >/dev/null 2>&1 &', rootless);
      await waitFor(() => childrenOf(h.pid).length === 1, 'the holder to adopt the sleep');
      const inside = childrenOf(h.pid);
      process.kill(h.pid, 'SIGTERM');
      await waitFor(() => !alive(h.pid) && inside.every((p) => !alive(p)), 'the holder and its sleep to end');
    } finally {
      kill(h.pid);
    }
  });

  it('SIGHUP does not end a holder; SIGINT does', async () => {
    const h = await createHolder({ types: ['user', 'pid'], map: { root: true } }, rootless);
    try {
      process.kill(h.pid, 'SIGHUP');
      await new Promise((r) => setTimeout(r, 100));
      expect(alive(h.pid)).toBe(true);
      process.kill(h.pid, 'SIGINT');
      await waitFor(() => !alive(h.pid), 'SIGINT to end the holder');
    } finally {
      kill(h.pid);
    }
  });

  it('an unprivileged caller without a user namespace gets EPERM from the step that failed', async () => {
    const err = await createHolder({ types: ['net'] }, rootless).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SysError);
    expect((err as SysError).message).toMatch(/^unshare\(CLONE_NEWNET\): EPERM: operation not permitted$/i);
    expect((err as SysError).call).toBe('unshare(CLONE_NEWNET)');
    expect((err as SysError).hint).toMatch(/'user' namespace type/);
  });

  it.skipIf(!isRoot)('joins a cgroup before unsharing cgroup, so it is the root inside (root only: writes cgroup.procs)', async () => {
    const base = existsSync('/sys/fs/cgroup/cgroup.procs') ? '/sys/fs/cgroup' : '/sys/fs/cgroup/pids';
    const dir = join(base, `nsm-test-${TAG}`);
    mkdirSync(dir);
    try {
      const out = output();
      const code = await runInNewNamespaces({ types: ['cgroup'], cgroupDirs: [dir] }, ['sh', '-c', 'cat /proc/self/cgroup; cat /proc/$$/cgroup >/dev/null'], {
        stdio: ['ignore', out.fd, 'inherit'],
      });
      expect(code).toBe(0);
      const line = out.text().split('\n').find((l) => (base.endsWith('pids') ? l.includes(':pids:') : l.startsWith('0::')));
      expect(line).toMatch(/:\/$/);
    } finally {
      await waitFor(() => {
        try {
          rmdirSync(dir);
          return true;
        } catch {
          return false;
        }
      }, `${dir} to be empty`);
    }
  });
});

// ------------------------------------------------------------------ holder: READY and its acknowledgement

describe('holder: it lives on only once the driver acknowledges READY (NSM_READY_ACK)', () => {
  const types: NsType[] = ['user', 'uts', 'pid'];

  it('acknowledged: the helper exits 0 and the holder lives on, reparented; killed by pid, it and its namespaces go', async () => {
    const r = await stdioHolder(types, encodeFrame(Msg.READY_ACK));
    const ready = r.ready!;
    try {
      expect(r.code).toBe(0);
      expect(r.replies.map((x) => x.kind)).toEqual(['ready']);
      // When READY arrived it was the helper's child, still held back.
      expect(ready.parent).toBe(r.helperPid);
      expect(identity(ready.pid)?.startTime).toBe(ready.startTime);
      expect(alive(ready.pid)).toBe(true);
      expect(parentOf(ready.pid)).not.toBe(r.helperPid);
      expect(inUtsNamespace(ready.uts)).toEqual([ready.pid]);
    } finally {
      kill(ready.pid);
    }
    await waitFor(() => !alive(ready.pid), 'the holder to die');
    expect(inUtsNamespace(ready.uts)).toEqual([]);
  });

  it('not acknowledged (stdin closed after READY, as when the driver dies): the helper kills and reaps the holder, then reports ECANCELED and exits 125', async () => {
    const r = await stdioHolder(types, Buffer.alloc(0));
    const ready = r.ready!;
    expect(ready.parent).toBe(r.helperPid);
    expect(ready.startTime).toBeDefined();
    try {
      expect(r.code).toBe(125);
      expect(r.replies.map((x) => x.kind)).toEqual(['ready', 'fail']);
      expect(r.replies[1]).toMatchObject({ step: expect.stringMatching(/^read\(NSM_READY_ACK\): end of file/), errno: 'ECANCELED' });
      // Reaped before the helper reported: no process of that pid and start time, not even a zombie.
      expect(identity(ready.pid)?.startTime).not.toBe(ready.startTime);
      expect(inUtsNamespace(ready.uts)).toEqual([]);
    } finally {
      if (identity(ready.pid)?.startTime === ready.startTime) kill(ready.pid);
    }
  });

  it.each([
    ['another message', encodeFrame(Msg.CFG_END), /^read\(NSM_READY_ACK\): unexpected NSM_CFG_END \(0x20\)$/],
    ['READY_ACK with a payload', encodeFrame(Msg.READY_ACK, u32s(1)), /^read\(NSM_READY_ACK\): payload of 4 bytes, expected 0$/],
    ['half a frame', encodeFrame(Msg.READY_ACK).subarray(0, 3), /^read\(NSM_READY_ACK\): got 3 of 6 header bytes$/],
  ])('answered with %s: the holder is killed and reaped, EPROTO, exit 125', async (_, answer, step) => {
    const r = await stdioHolder(types, answer);
    const ready = r.ready!;
    try {
      expect(r.code).toBe(125);
      expect(r.replies[1]).toMatchObject({ kind: 'fail', step: expect.stringMatching(step), errno: 'EPROTO' });
      expect(identity(ready.pid)?.startTime).not.toBe(ready.startTime);
    } finally {
      if (identity(ready.pid)?.startTime === ready.startTime) kill(ready.pid);
    }
  });

  it('READY to a driver that stopped reading (stdout closed): EPIPE (SIGPIPE is ignored), the holder is killed, exit 125', async () => {
    const needle = `NSM_TEST_CASE=${randomUUID()}`;
    const child = spawn(helperPath(), ['holder', '-', 'ack-test'], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, NSM_TEST_CASE: needle.split('=')[1] },
      ...(isRoot ? { uid: 65534, gid: 65534 } : {}),
    });
    child.stdout!.destroy(); // the only reader of the helper's stdout: writing READY fails
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    child.stdin!.on('error', () => {});
    child.stdin!.write(cfg(encodeFrame(Msg.CFG_NSTYPES, u32s(cloneFlags(types))))); // and stdin stays open
    const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.once('exit', (c, s) => resolve([c, s])));
    child.stdin!.end();
    const left = tagged(needle);
    for (const pid of left) kill(pid);
    expect(signal).toBeNull();
    expect(code).toBe(125);
    expect(stderr).toMatch(/^nsm-helper: write\(NSM_READY\): EPIPE: /);
    expect(left).toEqual([]);
  });

  it('createHolder() notes the holder (onReady) before it acknowledges; if onReady throws, no holder is left and that error is thrown', async () => {
    let seen: { pid: number; parent: string | undefined; startTime?: number } | undefined;
    const h = await createHolder({ types }, { onReady: (holder) => (seen = { ...holder, parent: status(parentOf(holder.pid)!, 'Name') }) });
    try {
      expect(seen).toMatchObject({ pid: h.pid, startTime: h.startTime });
      expect(seen!.parent).toBe('nsm:helper'); // still the helper's child: not acknowledged yet
    } finally {
      kill(h.pid);
    }

    for (const opts of [{}, rootless]) {
      let noted: { pid: number; startTime?: number } | undefined;
      const err = await createHolder({ types }, {
        ...opts,
        onReady: (holder) => {
          noted = holder;
          throw new Error('cannot note it');
        },
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toBe('cannot note it');
      expect(noted?.startTime).toBeDefined();
      expect(identity(noted!.pid)?.startTime).not.toBe(noted!.startTime);
    }
  });
});

// ------------------------------------------------------------------ run

describe('run', () => {
  const withPid: NamespaceConfig = { types: ['user', 'pid', 'mnt'], map: { root: true }, mountProc: true };
  const withoutPid: NamespaceConfig = { types: ['user', 'net'], map: { root: true } };
  const cases = [
    ['with a pid namespace (under nsm:init)', withPid],
    ['without a pid namespace (exec directly)', withoutPid],
  ] as const;

  it.each(cases)('exit codes %s: 0, 3, 128+9', async (_, config) => {
    expect(await runInNewNamespaces(config, ['true'], { ...rootless, stdio: ['ignore', 'ignore', 'inherit'] })).toBe(0);
    expect(await runInNewNamespaces(config, ['sh', '-c', 'exit 3'], rootless)).toBe(3);
    expect(await runInNewNamespaces(config, ['sh', '-c', 'kill -9 $$'], rootless)).toBe(137);
  });

  it.each(cases)('command not found: 127, not executable: 126 %s', async (_, config) => {
    const missing = await runInNewNamespaces(config, ['nsm-no-such-command'], rootless).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(SysError);
    expect(missing).toMatchObject({ call: 'execvp(nsm-no-such-command)', errno: 'ENOENT', exitCode: 127 });

    const file = join(scratch, 'not-executable');
    writeFileSync(file, '#!/bin/sh\n', { mode: 0o644 });
    const noexec = await runInNewNamespaces(config, [file], rootless).catch((e: unknown) => e);
    expect(noexec).toMatchObject({ call: `execvp(${file})`, errno: 'EACCES', exitCode: 126 });
  });

  it('time offsets show in /proc/uptime inside', async () => {
    const out = output();
    const host = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    const code = await runInNewNamespaces({ types: ['user', 'time'], map: { root: true }, timeOffsets: { boottime: 100_000 } }, ['cat', '/proc/uptime'], {
      ...rootless,
      stdio: ['ignore', out.fd, 'inherit'],
    });
    expect(code).toBe(0);
    const inside = Number(out.text().split(' ')[0]);
    expect(inside).toBeGreaterThanOrEqual(host + 100_000 - 1);
    expect(inside).toBeLessThan(host + 100_000 + 60);
  });

  it('the command is PID 2 under nsm:init and sees a fresh /proc', async () => {
    const out = output();
    await runInNewNamespaces(withPid, ['sh', '-c', 'echo $$; cat /proc/1/comm'], { ...rootless, stdio: ['ignore', out.fd, 'inherit'] });
    expect(out.text()).toBe('2\nnsm:init\n');
  });

  it('nsm:init shows in ps as "nsm:init CMD", with nothing after the title', async () => {
    const out = output();
    await runInNewNamespaces(withPid, ['/bin/sh', '-c', 'tr "\\0" "|" < /proc/1/cmdline'], { ...rootless, stdio: ['ignore', out.fd, 'inherit'] });
    expect(out.text()).toBe('nsm:init sh|');
  });

  it.each(cases)('SIGTERM sent to the helper reaches the command %s', async (_, config) => {
    const frames = cfg(
      encodeFrame(Msg.CFG_NSTYPES, u32s(cloneFlags(config.types))),
      encodeFrame(Msg.CFG_UID_MAP, u32s(0, isRoot ? 0 : process.getuid!(), 1)),
      ...(config.mountProc ? [encodeFrame(Msg.CFG_MOUNT_PROC)] : []),
      ...['sh', '-c', 'trap "exit 42" TERM; while :; do sleep 0.05; done'].map((a) => encodeFrame(Msg.CFG_ARG, str(a))),
    );
    const r = await rawHelper(['run', '3'], frames, { end: false, onStarted: (c) => setTimeout(() => c.kill('SIGTERM'), 100) });
    expect(r.replies[0]).toMatchObject({ kind: 'started' });
    expect(r.code).toBe(42);
  });

  it('a killed helper takes its command with it', async () => {
    const frames = cfg(
      encodeFrame(Msg.CFG_NSTYPES, u32s(cloneFlags(['user', 'pid']))),
      encodeFrame(Msg.CFG_UID_MAP, u32s(0, isRoot ? 0 : process.getuid!(), 1)),
      encodeFrame(Msg.CFG_ARG, str('sleep')),
      encodeFrame(Msg.CFG_ARG, str('1000')),
    );
    let pid = 0;
    const r = await rawHelper(['run', '3'], frames, {
      end: false,
      onStarted: (c) => {
        pid = c.pid ?? 0;
        c.kill('SIGKILL');
      },
    });
    expect(r.code).toBe(null);
    expect(pid).toBeGreaterThan(0);
    await waitFor(() => tagged().length === 0, 'the command of a killed helper to die');
  });

  it.skipIf(!isRoot)('map tools: a PATH without newuidmap is a clear error naming uidmap (root only: runs as 65534)', async () => {
    const err = await runInNewNamespaces(
      { types: ['user'], map: { uidMap: [{ inside: 0, outside: 65534, count: 1 }], gidMap: [{ inside: 0, outside: 65534, count: 1 }], tools: true } },
      ['true'],
      { ...rootless, env: { ...process.env, PATH: '/nonexistent' } },
    ).catch((e: unknown) => e);
    expect(err).toMatchObject({ call: 'execvp(newuidmap)', errno: 'ENOENT', exitCode: 125 });
    expect((err as SysError).hint).toMatch(/uidmap package/);
  });
});

// ------------------------------------------------------------------ map-auto

describe('newuidmap/newgidmap (map-auto)', () => {
  let why = '';
  let saved: { subuid: string; subgid: string } | undefined;

  beforeAll(() => {
    if (!isRoot) return void (why = 'not root: cannot install uidmap or add a subordinate range');
    // test/setup/host-packages.ts installs uidmap before the suite starts.
    if (spawnSync('sh', ['-c', 'command -v newuidmap && command -v newgidmap']).status !== 0) {
      return void (why = 'newuidmap/newgidmap missing (apt-get install uidmap)');
    }
    saved = { subuid: readFileSync('/etc/subuid', 'utf8'), subgid: readFileSync('/etc/subgid', 'utf8') };
    // A range for uid 65534 while these tests run; restored exactly in afterAll.
    writeFileSync('/etc/subuid', `${saved.subuid}65534:300000:65536\n`);
    writeFileSync('/etc/subgid', `${saved.subgid}65534:300000:65536\n`);
  }, 180_000);

  afterAll(() => {
    if (saved) {
      writeFileSync('/etc/subuid', saved.subuid);
      writeFileSync('/etc/subgid', saved.subgid);
    }
  });

  it('maps 0 -> caller and 1..65535 -> the subordinate range, as unshare(1) --map-auto (root only: edits /etc/subuid)', async (ctx) => {
    if (why) ctx.skip(why);
    const out = output();
    const code = await runInNewNamespaces({ types: ['user'], map: { root: true, auto: true } }, ['sh', '-c', 'cat /proc/self/uid_map /proc/self/gid_map'], {
      ...rootless,
      stdio: ['ignore', out.fd, 'inherit'],
    });
    expect(code).toBe(0);
    const rows = out.text().trim().split('\n').map((l) => l.trim().split(/\s+/).join(' '));
    expect(rows).toEqual(['0 65534 1', '1 300000 65535', '0 65534 1', '1 300000 65535']);
  });

  it('a holder with map-auto, joined (root only: edits /etc/subuid)', async (ctx) => {
    if (why) ctx.skip(why);
    const h = await createHolder({ types: ['user', 'pid', 'mnt'], map: { root: true, auto: true }, mountProc: true }, rootless);
    try {
      const text = await joinOutput(h.pid, ['user', 'pid', 'mnt'], 'id -u; wc -l < /proc/self/uid_map', rootless);
      expect(text).toBe('0\n2\n');
    } finally {
      kill(h.pid);
    }
  });
});

// ------------------------------------------------------------------ join

describe('join', () => {
  it('refuses an fd whose inode is not the recorded one (a reused pid cannot redirect a join)', async () => {
    const h = await createHolder({ types: ['user', 'uts'], map: { root: true } }, rootless);
    try {
      const [user, uts] = openTargets(h.pid, ['user', 'uts']);
      const err = await joinAndExec([user!, { ...uts!, inode: uts!.inode + 1n }], ['true'], rootless).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SysError);
      expect(err).toMatchObject({ errno: 'ESTALE', exitCode: 125 });
      // The helper gets the fd under our number (src/sys/helper.ts startHelper).
      expect((err as SysError).call).toBe(`uts namespace fd ${uts!.fd} is inode ${uts!.inode}, expected ${uts!.inode + 1n}`);
    } finally {
      kill(h.pid);
    }
  });

  it('refuses an fd of another namespace type', async () => {
    const h = await createHolder({ types: ['user', 'uts'], map: { root: true } }, rootless);
    try {
      const [user, uts] = openTargets(h.pid, ['user', 'uts']);
      const err = await joinAndExec([user!, { ...uts!, type: 'net' }], ['true'], rootless).catch((e: unknown) => e);
      expect(err).toMatchObject({ errno: 'EINVAL', exitCode: 125 });
      expect((err as SysError).call).toBe(`fd ${uts!.fd} is a namespace of type 0x4000000, not net`);
    } finally {
      kill(h.pid);
    }
  });

  it('uses the working directory when it exists inside, / otherwise, and the given env', async () => {
    const h = await createHolder({ types: ['user', 'mnt'], map: { root: true } }, rootless);
    try {
      const targets = openTargets(h.pid, ['user', 'mnt']);
      for (const [cwd, expected] of [['/tmp', '/tmp'], ['/nsm/does/not/exist', '/']] as const) {
        const out = output();
        const code = await joinAndExec(targets, ['sh', '-c', 'pwd; echo "$NSM_X"'], {
          ...rootless,
          cwd,
          env: { PATH: process.env.PATH, NSM_X: 'x-value', NSM_TEST_TAG: TAG },
          stdio: ['ignore', out.fd, 'inherit'],
        });
        expect(code).toBe(0);
        expect(out.text()).toBe(`${expected}\nx-value\n`);
      }
    } finally {
      kill(h.pid);
    }
  });

  it('exit status and 128+N pass through a join', async () => {
    const h = await createHolder({ types: ['user', 'pid'], map: { root: true } }, rootless);
    try {
      const targets = openTargets(h.pid, ['user', 'pid']);
      expect(await joinAndExec(targets, ['sh', '-c', 'exit 7'], rootless)).toBe(7);
      expect(await joinAndExec(targets, ['sh', '-c', 'kill -TERM $$'], rootless)).toBe(128 + 15);
    } finally {
      kill(h.pid);
    }
  });
});

// ------------------------------------------------------------------ bad messages

describe('malformed configuration: FAIL with a step, nothing left', () => {
  const nstypes = encodeFrame(Msg.CFG_NSTYPES, u32s(cloneFlags(['uts'])));
  const bad: Array<[string, string, Buffer, RegExp, string]> = [
    ['wrong version byte', 'holder', encodeFrame(Msg.CFG_NSTYPES, u32s(0), 7), new RegExp(`^read\\(config\\): protocol version 7, nsm-helper speaks version ${PROTO_VERSION}$`), 'EPROTO'],
    ['empty stream', 'holder', Buffer.alloc(0), /^read\(config\): got 0 of 6 header bytes$/, 'EPROTO'],
    ['short header', 'run', Buffer.from([PROTO_VERSION, 0x10, 4]), /^read\(config\): got 3 of 6 header bytes$/, 'EPROTO'],
    ['short payload', 'holder', Buffer.concat([Buffer.from([PROTO_VERSION, Msg.CFG_HOSTNAME, 10, 0, 0, 0]), Buffer.from('abc')]), /^read\(config\): NSM_CFG_HOSTNAME: got 3 of 10 payload bytes$/, 'EPROTO'],
    ['no CFG_END', 'holder', nstypes, /^read\(config\): got 0 of 6 header bytes$/, 'EPROTO'],
    ['unknown code', 'holder', cfg(encodeFrame(0x7f)), /^read\(config\): unexpected unknown message \(0x7f\)$/, 'EPROTO'],
    ['a reply code as config', 'holder', cfg(encodeFrame(Msg.READY, u32s(1))), /^read\(config\): unexpected NSM_READY \(0x30\)$/, 'EPROTO'],
    ['oversized length', 'holder', Buffer.from([PROTO_VERSION, Msg.CFG_CWD, 0, 0, 0, 0x10]), /^read\(config\): NSM_CFG_CWD of 268435456 bytes \(at most 1048576\)$/, 'EMSGSIZE'],
    ['wrong payload size', 'holder', cfg(encodeFrame(Msg.CFG_NSTYPES, Buffer.alloc(3))), /^read\(config\): NSM_CFG_NSTYPES payload is 3 bytes, expected 4$/, 'EPROTO'],
    ['a frame twice', 'holder', cfg(nstypes, nstypes), /^read\(config\): NSM_CFG_NSTYPES given twice$/, 'EPROTO'],
    ['join frame in holder mode', 'holder', cfg(nstypes, encodeFrame(Msg.CFG_CWD, str('/'))), /^read\(config\): NSM_CFG_CWD is not valid in this mode$/, 'EPROTO'],
    ['hostname without uts', 'holder', cfg(encodeFrame(Msg.CFG_NSTYPES, u32s(cloneFlags(['net']))), encodeFrame(Msg.CFG_HOSTNAME, str('x'))), /^config: NSM_CFG_HOSTNAME needs CLONE_NEWUTS$/, 'EINVAL'],
    ['offsets without time', 'holder', cfg(nstypes, encodeFrame(Msg.CFG_TIMEOFFSETS, i64s(1n, 2n))), /^config: NSM_CFG_TIMEOFFSETS needs CLONE_NEWTIME$/, 'EINVAL'],
    ['unknown namespace bit', 'holder', cfg(encodeFrame(Msg.CFG_NSTYPES, u32s(0x1))), /^config: NSM_CFG_NSTYPES 0x1 has bits/, 'EINVAL'],
    ['run without a command', 'run', cfg(nstypes), /^config: no command \(NSM_CFG_ARG\)$/, 'EINVAL'],
    ['join without namespaces', 'join', cfg(encodeFrame(Msg.CFG_ARG, str('true'))), /^config: join without NSM_CFG_JOIN_NS$/, 'EINVAL'],
    ['join fd that is the socket', 'join', cfg(encodeFrame(Msg.CFG_JOIN_NS, Buffer.concat([u32s(3, cloneFlags(['net'])), Buffer.alloc(8)]))), /^config: NSM_CFG_JOIN_NS fd 3 is stdio or the protocol socket$/, 'EINVAL'],
    ['join fd that is not open', 'join', cfg(encodeFrame(Msg.CFG_JOIN_NS, Buffer.concat([u32s(9, cloneFlags(['net'])), Buffer.alloc(8)])), encodeFrame(Msg.CFG_ARG, str('true'))), /^fstat\(net namespace fd 9\)$/, 'EBADF'],
  ];

  it.each(bad)('%s', async (_, mode, bytes, step, errno) => {
    const r = await rawHelper([mode, '3'], bytes);
    expect(r.code).toBe(125);
    expect(r.replies).toHaveLength(1);
    const fail = r.replies[0]!;
    expect(fail.kind).toBe('fail');
    if (fail.kind === 'fail') {
      expect(fail.step).toMatch(step);
      expect(fail.errno).toBe(errno);
    }
    expect(tagged()).toEqual([]);
  });

  // The same faults, with the configuration on stdin and the reply on stdout (holder -).
  it.each(bad.filter(([, mode]) => mode === 'holder'))('over stdin and stdout: %s', (_, __, bytes, step, errno) => {
    const r = spawnSync(helperPath(), ['holder', '-', 'bad-config'], { input: bytes });
    expect(r.status).toBe(125);
    const replies = new FrameDecoder().push(r.stdout).map(decodeReply);
    expect(replies).toEqual([{ kind: 'fail', step: expect.stringMatching(step), errno }]);
    expect(tagged()).toEqual([]);
  });

  it('a bad command line prints usage and exits 125', async () => {
    const usage = [[], ['holder'], ['bogus', '3'], ['run', '1'], ['run', 'x'], ['run', '-'], ['join', '-'], ['holder', '3', ''], ['run', '3', 'name'], ['holder', '-', 'a', 'b']];
    for (const argv of usage) {
      const r = spawnSync(helperPath(), argv, { encoding: 'utf8' });
      expect(r.status, argv.join(' ')).toBe(125);
      expect(r.stderr).toMatch(/^usage: nsm-helper holder\|run\|join SYNCFD/);
    }
  });

  it('a missing helper binary is a clear error with a hint', () => {
    expect(() => helperPath(join(scratch, 'no-helper'))).toThrow(/the native helper is missing/);
    try {
      helperPath(join(scratch, 'no-helper'));
    } catch (e) {
      expect((e as { hint?: string }).hint).toMatch(/npm install/);
    }
  });
});
