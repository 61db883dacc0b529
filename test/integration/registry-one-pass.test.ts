/**
 * One pass over the state per command (issue 11 §3), seen from outside with strace(1): what
 * `nsm exec` and `nsm ls` open while they run. `nsm exec` reads the holder's /proc/PID/stat
 * once (after the namespace files are open: the read that guards against a reused pid), and
 * `nsm ls` reads each record once, for the NAME column and the ENVIRONMENTS section alike.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanup, create, NSM, recordPath, stateDir, uniqueName } from './lifecycle-helpers.js';

const strace = spawnSync('strace', ['-V'], { encoding: 'utf8' }).status === 0;
const why = strace ? '' : ' (skipped: strace(1) is not installed)';

/** The paths `nsm ARGS` (and its children) opened, one per openat(2) call, as strace saw them. */
function openedBy(args: readonly string[], dir: string): string[] {
  const log = join(dir, `strace-${process.pid}-${Math.random().toString(16).slice(2)}.txt`);
  const env = { ...process.env, NSM_STATE_DIR: dir, NO_COLOR: '1' };
  const r = spawnSync('strace', ['-f', '-qq', '-e', 'trace=openat', '-o', log, process.execPath, NSM, ...args], { env, encoding: 'utf8', cwd: '/' });
  expect(r.status, r.stderr).toBe(0);
  const text = readFileSync(log, 'utf8');
  rmSync(log);
  return [...text.matchAll(/openat\([^,]*, "([^"]*)"/g)].map((m) => m[1]!);
}

describe.skipIf(!strace)(`one pass over the state per command${why}`, () => {
  afterAll(cleanup);

  it("nsm exec reads the holder's /proc/PID/stat once", async () => {
    const dir = stateDir();
    const env = await create(uniqueName('onepass'), [], { stateDir: dir });
    const opened = openedBy(['exec', env.name, 'true'], dir);
    expect(opened.filter((p) => p === `/proc/${env.pid}/stat`)).toHaveLength(1);
  });

  it('nsm ls reads each record once, and names the environment in both places', async () => {
    const dir = stateDir();
    const env = await create(uniqueName('onepass'), [], { stateDir: dir });
    const record = recordPath(dir, env.name);
    expect(openedBy(['ls'], dir).filter((p) => p === record)).toHaveLength(1);
    expect(openedBy(['ls', '--json'], dir).filter((p) => p === record)).toHaveLength(1);
    const doc = JSON.parse(spawnSync(process.execPath, [NSM, 'ls', '--json'], { env: { ...process.env, NSM_STATE_DIR: dir }, encoding: 'utf8' }).stdout) as {
      namespaces: Array<{ ns: number; owners: Array<{ kind: string; name: string }> }>;
      environments: Array<{ name: string; state: string; namespaces: Record<string, number> }>;
    };
    const listed = doc.environments.find((e) => e.name === env.name)!;
    expect(listed.state).toBe('running');
    const named = doc.namespaces.filter((n) => n.owners.some((o) => o.kind === 'nsm' && o.name === env.name)).map((n) => n.ns).sort();
    expect(named).toEqual(Object.values(listed.namespaces).sort());
  });
});
