/**
 * What `nsm create` loads. It is timed against C tools (bench/lifecycle.mjs), and a few Node
 * built-ins cost it milliseconds each: node:child_process and node:tty (both bring node:net
 * and node:stream) and node:crypto. The bundle's require() hands out stand-ins (scripts/lazy-require.js) that load them on first
 * use, the holder's helper is started with posix_spawn and output goes to the descriptors
 * (src/sys/stdio.ts). This runs the real bin/nsm with its stdout and stderr on pipes (as
 * the bench does) and lists the built-ins Node loaded.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
