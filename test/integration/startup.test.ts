/**
 * What `nsm create` loads. It is timed against C tools (bench/lifecycle.mjs), and a few Node
 * built-ins cost it milliseconds each: node:child_process and node:tty (both bring node:net
 * and node:stream) and node:crypto. The bundle's require() hands out stand-ins (scripts/lazy-require.js) that load them on first
 * use, the holder's helper is started with posix_spawn and output goes to the descriptors
 * (src/sys/stdio.ts). This runs the real bin/nsm with its stdout and stderr on pipes (as
 * the bench does) and lists the built-ins Node loaded.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NSM } from '../support/run.js';

const scratch = mkdtempSync(join(tmpdir(), 'nsm-startup-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

// Prints the built-ins loaded while nsm ran, one per line, to fd 3.
const preload = join(scratch, 'modules.cjs');
writeFileSync(
  preload,
  "process.on('exit', () => require('fs').writeSync(3, process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice(13)).join('\\n') + '\\n'));\n",
);

function loadedBy(args: string[], env: NodeJS.ProcessEnv = {}): { status: number | null; stderr: string; modules: string[] } {
  const r = spawnSync(process.execPath, ['-r', preload, NSM, ...args], {
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    env: { ...process.env, NSM_STATE_DIR: join(scratch, 'state'), ...env },
    encoding: 'utf8',
  });
  return { status: r.status, stderr: r.stderr, modules: String(r.output[3]).trim().split('\n') };
}

const HEAVY = ['child_process', 'crypto', 'tty', 'net', 'stream'];

describe('nsm create loads none of node:child_process, node:crypto, node:tty, node:net, node:stream', () => {
  it('from parsing through reserving the name, starting the helper and reporting its failure', () => {
    // /bin/false as the helper: the create goes as far as it can without privileges and fails.
    const r = loadedBy(['create', 'startup-test'], { NSM_HELPER: '/bin/false' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^nsm: nsm-helper exited with status 1 without a report/);
    expect(r.modules).toContain('vm'); // the list is real
    expect(r.modules.filter((m) => HEAVY.includes(m))).toEqual([]);
  });

});

// Also notes every native addon Node loads (process.dlopen: koffi's is one), to fd 3.
const addons = join(scratch, 'addons.cjs');
writeFileSync(
  addons,
  "const dl = process.dlopen; const seen = []; process.dlopen = function (m, f, ...r) { seen.push(f); return dl.call(this, m, f, ...r); };\n" +
    "process.on('exit', () => require('fs').writeSync(3, process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice(13)).concat(seen.map((f) => 'addon ' + f)).join('\\n') + '\\n'));\n",
);

describe.skipIf(process.geteuid?.() !== 0)('nsm exec NAME|PID|netns:X loads no koffi (root: the helper joins; nsm reads and opens files only)', () => {
  const tag = randomBytes(3).toString('hex');
  const env = `st-${tag}`;
  const netns = `nsm-st-${tag}`;
  const state = join(scratch, 'exec-state');
  let sleeper: ReturnType<typeof spawn> | undefined;
  afterAll(() => {
    spawnSync(process.execPath, [NSM, 'destroy', env], { env: { ...process.env, NSM_STATE_DIR: state } });
    spawnSync('ip', ['netns', 'del', netns]);
    sleeper?.kill('SIGKILL');
  });

  it('an environment, a process, an ip netns name: the command runs, and neither koffi nor a heavy built-in is loaded (nsm-spawn.node at most)', async () => {
    expect(spawnSync(process.execPath, [NSM, 'create', env], { env: { ...process.env, NSM_STATE_DIR: state } }).status).toBe(0);
    expect(spawnSync('ip', ['netns', 'add', netns]).status).toBe(0);
    sleeper = spawn('unshare', ['-n', '-u', 'sleep', '60'], { stdio: 'ignore' });
    // The sleeper is ours once unshare has exec'd sleep: its net namespace differs from ours.
    const ours = spawnSync('readlink', ['/proc/self/ns/net'], { encoding: 'utf8' }).stdout;
    for (let i = 0; i < 100 && spawnSync('readlink', [`/proc/${sleeper.pid}/ns/net`], { encoding: 'utf8' }).stdout === ours; i++) await new Promise((r) => setTimeout(r, 20));
    for (const target of [env, String(sleeper.pid), `netns:${netns}`]) {
      const r = spawnSync(process.execPath, ['-r', addons, NSM, 'exec', target, 'sh', '-c', 'exit 7'], {
        stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
        env: { ...process.env, NSM_STATE_DIR: state },
        encoding: 'utf8',
      });
      const loaded = String(r.output[3]).trim().split('\n');
      expect([target, r.stderr, r.status]).toEqual([target, '', 7]);
      expect(loaded).toContain('vm'); // the list is real
      // Only nsm's own spawn module (native/spawn-addon.c) where it was built. Nor node:module
      // (it brings Node's ES module loader): it is only for createRequire, to load koffi.
      expect(loaded.filter((m) => (m.startsWith('addon ') && !m.endsWith('/native/build/nsm-spawn.node')) || [...HEAVY, 'module'].includes(m)), target).toEqual([]);
    }
    // Where the module was not built (no Node headers), koffi does the same.
    const fallback = spawnSync(process.execPath, ['-r', addons, NSM, 'exec', env, 'sh', '-c', 'exit 7'], {
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      env: { ...process.env, NSM_STATE_DIR: state, NSM_NO_SPAWN_ADDON: '1' },
      encoding: 'utf8',
    });
    expect([fallback.stderr, fallback.status]).toEqual(['', 7]);
    expect(String(fallback.output[3])).toMatch(/addon .*koffi\.node/);
  });
});

// Rootless: a user's exec into their own environment joins its user namespace; without a
// terminal nsm asks nothing of the kernel itself (whose user namespace it is matters only for
// a terminal: src/core/join.ts), so it loads no koffi either.
describe('nsm exec of a user into their own environment, not on a terminal, loads no koffi', () => {
  const uid = process.geteuid?.() === 0 ? 65534 : process.geteuid!();
  const as = (argv: string[]) => (uid === process.geteuid?.() ? argv : ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', ...argv]);
  // Readable by that user: the scratch directory is ours alone.
  const shared = mkdtempSync(join(tmpdir(), 'nsm-startup-rl-'));
  const state = join(shared, 'state');
  const env = `st-rl-${randomBytes(3).toString('hex')}`;
  const run = (args: string[], extra: string[] = []) => {
    const argv = as([process.execPath, ...extra, NSM, ...args]);
    return spawnSync(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe', 'pipe'], env: { ...process.env, NSM_STATE_DIR: state }, encoding: 'utf8' });
  };
  afterAll(() => {
    run(['destroy', env]);
    rmSync(shared, { recursive: true, force: true });
  });

  it('the command runs in the environment, and no addon but nsm-spawn.node is loaded', () => {
    chmodSync(shared, 0o755);
    const preload = join(shared, 'addons.cjs');
    writeFileSync(preload, readFileSync(addons));
    mkdirSync(state, { mode: 0o700 });
    chownSync(state, uid, uid);
    const made = run(['create', env, '-t', 'user,uts']);
    expect([made.stderr, made.status]).toEqual(['', 0]);
    const r = run(['exec', env, 'sh', '-c', 'hostname; exit 7'], ['-r', preload]);
    expect([r.stdout.trim(), r.stderr, r.status]).toEqual([env, '', 7]);
    const loaded = String(r.output[3]).trim().split('\n');
    expect(loaded).toContain('vm'); // the list is real
    expect(loaded.filter((m) => m.startsWith('addon ') && !m.endsWith('/native/build/nsm-spawn.node'))).toEqual([]);
  });
});
