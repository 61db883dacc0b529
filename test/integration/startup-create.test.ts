/**
 * What `nsm create` loads besides Node (startup.test.ts covers the built-ins and `nsm exec`):
 * nsm's own Node-API module (native/spawn-addon.c) makes every libc call of a plain create
 * (the lock, the pipes, posix_spawn and poll around the holder's helper, NS_GET_ID, the
 * /run/netns mounts), so it loads no koffi; with the module left out (NSM_NO_SPAWN_ADDON=1)
 * koffi makes them, and the environment is the same. Root, and rootless through setpriv.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NSM, isRoot } from '../support/run.js';

const NOBODY = 65534;
const scratch = mkdtempSync(join(tmpdir(), 'nsm-startup-create-'));
chmodSync(scratch, 0o755); // the preload below is read by nobody too
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

// Notes every native addon Node loads (process.dlopen: koffi's is one) to fd 3.
const addons = join(scratch, 'addons.cjs');
writeFileSync(
  addons,
  "const dl = process.dlopen; const seen = []; process.dlopen = function (m, f, ...r) { seen.push(f); return dl.call(this, m, f, ...r); };\n" +
    "process.on('exit', () => require('fs').writeSync(3, seen.join('\\n') + '\\n'));\n",
);

interface Run {
  status: number | null;
  stderr: string;
  addons: string[];
}

function run(args: string[], state: string, opts: { user?: number; env?: NodeJS.ProcessEnv } = {}): Run {
  const argv = [process.execPath, '-r', addons, NSM, ...args];
  const [cmd, ...rest] = opts.user === undefined ? argv : ['setpriv', `--reuid=${opts.user}`, `--regid=${opts.user}`, '--clear-groups', ...argv];
  const r = spawnSync(cmd!, rest, {
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    env: { ...process.env, NSM_STATE_DIR: state, NSM_NO_SPAWN_ADDON: undefined, ...opts.env },
    encoding: 'utf8',
  });
  return { status: r.status, stderr: r.stderr, addons: String(r.output[3] ?? '').trim().split('\n').filter(Boolean) };
}

const OWN = /\/native\/build\/nsm-spawn\.node$/;

function createAndUse(state: string, types: string[], opts: { user?: number; env?: NodeJS.ProcessEnv } = {}): Run {
  const name = `sc-${randomBytes(3).toString('hex')}`;
  const made = run(['create', name, ...types], state, opts);
  try {
    expect([made.stderr, made.status]).toEqual(['', 0]);
    // The environment is whole: a command runs in it.
    const used = run(['exec', name, 'sh', '-c', 'exit 7'], state, opts);
    expect([used.stderr, used.status]).toEqual(['', 7]);
  } finally {
    const gone = run(['destroy', name], state, opts);
    expect([gone.stderr, gone.status]).toEqual(['', 0]);
  }
  return made;
}

describe.skipIf(!isRoot)('nsm create loads no koffi (needs root: as root, and as nobody through setpriv)', () => {
  it('as root, default types (a /run/netns link, so mount(2) too): nsm-spawn.node only; koffi where the module is left out', () => {
    const state = join(scratch, 'root');
    const own = createAndUse(state, []);
    expect(own.addons.length).toBe(1);
    expect(own.addons.filter((f) => !OWN.test(f))).toEqual([]);
    const fallback = createAndUse(state, [], { env: { NSM_NO_SPAWN_ADDON: '1' } });
    expect(fallback.addons.some((f) => /koffi\.node$/.test(f))).toBe(true);
    expect(fallback.addons.filter((f) => OWN.test(f))).toEqual([]);
  });

  it('rootless (uid 65534, a user namespace): nsm-spawn.node only; koffi where the module is left out', () => {
    const state = join(scratch, 'nobody');
    mkdirSync(state, { mode: 0o700 });
    chownSync(state, NOBODY, NOBODY);
    const own = createAndUse(state, ['-t', 'user,net,uts,ipc'], { user: NOBODY });
    expect(own.addons.length).toBe(1);
    expect(own.addons.filter((f) => !OWN.test(f))).toEqual([]);
    const fallback = createAndUse(state, ['-t', 'user,net,uts,ipc'], { user: NOBODY, env: { NSM_NO_SPAWN_ADDON: '1' } });
    expect(fallback.addons.some((f) => /koffi\.node$/.test(f))).toBe(true);
  });
});
