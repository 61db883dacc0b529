/**
 * `nsm create NAME --type pid` alone gets a private /proc (issue 12 §3b): a new mount
 * namespace with a fresh procfs comes with it, as `unshare --pid --mount-proc` and the
 * original nsm's --type pid; --no-mount-proc keeps the host's. Real kernel.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, create, nsm, ROOTLESS_UID, stateDir, uniqueName } from './lifecycle-helpers.js';

afterEach(cleanup);

/** The pids exec sees in /proc of environment `name`. */
async function pidsInside(name: string, opts: { stateDir: string; uid?: number }): Promise<number[]> {
  const r = await nsm(['exec', name, '--', 'sh', '-c', 'ls /proc | grep "^[0-9]"'], opts);
  expect(r.stderr).toBe('');
  return r.stdout.trim().split('\n').map(Number);
}

describe('create --type pid', () => {
  it('gets a new mount namespace and a /proc showing only its own pid namespace', async () => {
    const dir = stateDir(ROOTLESS_UID);
    const opts = { stateDir: dir, uid: ROOTLESS_UID };
    const env = await create(uniqueName('pp'), ['--type', 'pid'], opts);
    expect(Object.keys(env.namespaces)).toContain('mnt');
    const pids = await pidsInside(env.name, opts);
    // The holder is PID 1; the rest are the exec's own few processes, never the host's.
    expect(pids).toContain(1);
    expect(pids.length).toBeLessThan(8);
  });

  it('--no-mount-proc keeps the parent /proc (and no mount namespace)', async () => {
    const dir = stateDir(ROOTLESS_UID);
    const opts = { stateDir: dir, uid: ROOTLESS_UID };
    const env = await create(uniqueName('pp'), ['--type', 'pid', '--no-mount-proc'], opts);
    expect(Object.keys(env.namespaces)).not.toContain('mnt');
    expect(await pidsInside(env.name, opts)).toContain(process.pid);
  });
});
