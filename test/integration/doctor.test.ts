/**
 * `nsm doctor` for real: as root and as an unprivileged user (setpriv --reuid=65534), its
 * JSON, its exit code, and whether its namespace verdicts agree with unshare(1) run
 * directly by the test.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NS_TYPES } from '../../src/sys/nstypes.js';

const NSM = fileURLToPath(new URL('../../bin/nsm', import.meta.url));
const isRoot = process.geteuid?.() === 0;
const NOBODY = ['--reuid=65534', '--regid=65534', '--clear-groups'];
// Every test here needs root (both describes skip otherwise), and a file whose tests all
// skip runs no afterAll: the scratch directory is made only when it will be used and removed.
const scratch = isRoot ? mkdtempSync(join(tmpdir(), 'nsm-doctor-test-')) : join(tmpdir(), 'nsm-doctor-test-unused');
if (isRoot) chmodSync(scratch, 0o755); // nobody must reach its own state directory inside
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface Doc {
  schemaVersion: number;
  ok: boolean;
  uid: number;
  checks: Array<{ id: string; title: string; status: 'ok' | 'warn' | 'fail'; detail: string; fix?: string }>;
}

function run(args: string[], env: NodeJS.ProcessEnv, asNobody = false) {
  const argv = asNobody ? ['setpriv', ...NOBODY, process.execPath, NSM, ...args] : [process.execPath, NSM, ...args];
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function doctorJson(env: NodeJS.ProcessEnv, asNobody = false): { doc: Doc; status: number | null; stderr: string } {
  const r = run(['doctor', '--json'], env, asNobody);
  expect(r.stdout, r.stderr).not.toBe('');
  return { doc: JSON.parse(r.stdout) as Doc, status: r.status, stderr: r.stderr };
}

function check(doc: Doc, id: string) {
  const c = doc.checks.find((x) => x.id === id);
  expect(c, `check ${id}`).toBeDefined();
  return c!;
}

/** The exit code and `ok` agree with the statuses: 1 exactly when something failed. */
function expectConsistent(doc: Doc, status: number | null, stderr: string): void {
  const failed = doc.checks.filter((c) => c.status === 'fail').map((c) => c.id);
  expect(doc.schemaVersion).toBe(1);
  expect(doc.ok).toBe(failed.length === 0);
  expect(status).toBe(failed.length === 0 ? 0 : 1);
  if (failed.length > 0) expect(stderr).toContain(`failed: ${failed.join(', ')}`);
  else expect(stderr).toBe('');
}

/** Can unshare(1) create `long` here, run by the test itself (as root, or as nobody through a user namespace)? */
function unshareWorks(long: string, asNobody: boolean): boolean {
  const args = asNobody ? [...NOBODY, 'unshare', '--user', '--map-root-user', ...(long === 'user' ? [] : [`--${long}`]), 'true'] : [`--${long}`, 'true'];
  return spawnSync(asNobody ? 'setpriv' : 'unshare', args).status === 0;
}

describe.skipIf(!isRoot)('nsm doctor as root (the test runs as root)', () => {
  const state = join(scratch, 'root-state');

  it('prints every check as JSON and exits 0 exactly when none failed', () => {
    const { doc, status, stderr } = doctorJson({ NSM_STATE_DIR: state });
    expectConsistent(doc, status, stderr);
    expect(doc.uid).toBe(0);
    expect(doc.checks.length).toBeGreaterThanOrEqual(20);
    expect(check(doc, 'state-dir')).toMatchObject({ status: 'ok', detail: `${state} (NSM_STATE_DIR): created on first use` });
    expect(check(doc, 'helper').status).toBe('ok');
    expect(check(doc, 'kernel').detail).toMatch(/^Linux \d+\.\d+/);
  });

  it('its namespace verdicts agree with unshare(1) run as root', () => {
    const { doc } = doctorJson({ NSM_STATE_DIR: state });
    for (const t of NS_TYPES) {
      expect(check(doc, `ns.${t.name}`).status, t.name).toBe(unshareWorks(t.unshareLong, false) ? 'ok' : 'fail');
    }
  });

  it('a missing helper fails and exits 1', () => {
    const { doc, status, stderr } = doctorJson({ NSM_STATE_DIR: state, NSM_HELPER: join(scratch, 'no-such-helper') });
    expectConsistent(doc, status, stderr);
    expect(check(doc, 'helper')).toMatchObject({ status: 'fail', fix: 'unset NSM_HELPER' });
    expect(status).toBe(1);
  });

  it('the table names each check and ends with the summary', () => {
    const r = run(['doctor'], { NSM_STATE_DIR: state });
    expect(r.stdout).toContain('CHECK');
    expect(r.stdout).toContain('native helper');
    expect(r.stdout).toMatch(/22 checks, \d+ failed, \d+ warnings\n$/);
  });
});

describe.skipIf(!isRoot)('nsm doctor as an unprivileged user (setpriv --reuid=65534; needs root to switch)', () => {
  const state = join(scratch, 'nobody-state');
  // In beforeAll, not here: a skipped describe's body still runs when tests are collected,
  // and only root may give the directory away.
  beforeAll(() => {
    mkdirSync(state, { mode: 0o700 });
    chownSync(state, 65534, 65534);
  });

  it('reports for uid 65534 and exits 0 exactly when none failed', () => {
    const { doc, status, stderr } = doctorJson({ NSM_STATE_DIR: state }, true);
    expectConsistent(doc, status, stderr);
    expect(doc.uid).toBe(65534);
    expect(check(doc, 'state-dir')).toMatchObject({ status: 'ok', detail: `${state} (NSM_STATE_DIR): 0 environments` });
    // nobody has no sub-id range here unless the host gave it one.
    expect(check(doc, 'subuid').detail).toContain('nobody');
    expect(check(doc, 'ns.net').detail).toMatch(/in a user namespace/);
  });

  it('its namespace verdicts agree with unshare --user --map-root-user run as nobody', () => {
    const { doc } = doctorJson({ NSM_STATE_DIR: state }, true);
    for (const t of NS_TYPES) {
      expect(check(doc, `ns.${t.name}`).status, t.name).toBe(unshareWorks(t.unshareLong, true) ? 'ok' : 'fail');
    }
  });

  it("a state directory it cannot write (root's, 0700) fails and exits 1", () => {
    const rootOwned = join(scratch, 'root-only');
    mkdirSync(rootOwned, { mode: 0o700 });
    const { doc, status, stderr } = doctorJson({ NSM_STATE_DIR: join(rootOwned, 'nsm') }, true);
    expectConsistent(doc, status, stderr);
    expect(check(doc, 'state-dir')).toMatchObject({ status: 'fail', fix: 'export NSM_STATE_DIR=$(mktemp -d)' });
    expect(check(doc, 'state-dir').detail).toContain(`you may not search ${rootOwned} (EACCES)`);
    expect(status).toBe(1);
  });
});
