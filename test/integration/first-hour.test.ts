/**
 * What a person meets in the first hour (issue 16): bin/nsm run before the build, `nsm version`,
 * and `npm test` in a checkout the rootless tests' user (uid 65534) cannot reach.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isRoot, nsm, ROOT } from '../support/run.js';

const scratch = mkdtempSync(join(tmpdir(), 'nsm-firsthour-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('bin/nsm before `npm install`', () => {
  // A checkout as cloned: bin/ but no dist/ (and no native/build/).
  const pkg = join(scratch, 'unbuilt');
  mkdirSync(join(pkg, 'bin'), { recursive: true });
  copyFileSync(join(ROOT, 'bin', 'nsm'), join(pkg, 'bin', 'nsm'));
  copyFileSync(join(ROOT, 'bin', 'package.json'), join(pkg, 'bin', 'package.json'));

  it.each([[['ls']], [['--version']], [['exec', 'web', '--', 'true']], [['create', 'web']]])('nsm %j says to build, in one line, exit 1', (args) => {
    const r = spawnSync(process.execPath, [join(pkg, 'bin', 'nsm'), ...args], { encoding: 'utf8' });
    expect(r).toMatchObject({ status: 1, stdout: '', stderr: 'nsm: not built yet: run npm install (or npm run build)\n' });
  });
});

describe('nsm version', () => {
  it('is a usage error that points at --version', () => {
    expect(nsm(['version'])).toEqual({ status: 2, stdout: '', stderr: "nsm: unknown command 'version' (did you mean --version?)\n" });
  });
});

/**
 * test/run.mjs (npm test) against a stand-in checkout: its vitest reports what it sees
 * (where it runs, whether uid 65534 can run the helper there) and exits 7.
 */
describe.skipIf(!isRoot)('npm test in a checkout uid 65534 cannot reach (root: setpriv)', () => {
  const VITEST = `
    import { spawnSync } from 'node:child_process';
    import { writeFileSync } from 'node:fs';
    const reach = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'test', '-x', process.cwd() + '/native/build/nsm-helper']).status === 0;
    writeFileSync(process.env.REPORT, JSON.stringify({ cwd: process.cwd(), reach, args: process.argv.slice(2) }));
    process.exit(7);
  `;
  function standIn(parent: string): string {
    const dir = join(parent, 'nsm');
    mkdirSync(join(dir, 'test'), { recursive: true });
    mkdirSync(join(dir, 'native', 'build'), { recursive: true });
    mkdirSync(join(dir, 'node_modules', 'vitest'), { recursive: true });
    copyFileSync(join(ROOT, 'test', 'run.mjs'), join(dir, 'test', 'run.mjs'));
    writeFileSync(join(dir, 'node_modules', 'vitest', 'vitest.mjs'), VITEST);
    writeFileSync(join(dir, 'native', 'build', 'nsm-helper'), '#!/bin/sh\n', { mode: 0o755 });
    return dir;
  }
  const runTests = (dir: string, report: string) =>
    spawnSync(process.execPath, [join(dir, 'test', 'run.mjs'), 'test/unit/x.test.ts'], {
      encoding: 'utf8',
      env: { ...process.env, REPORT: report, TMPDIR: join(scratch, 'tmp') },
    });
  mkdirSync(join(scratch, 'tmp'), { recursive: true, mode: 0o755 });
  chmodSync(scratch, 0o755);

  it('runs the suite from a copy uid 65534 can reach, passes its status on and removes the copy', () => {
    const closed = join(scratch, 'closed');
    mkdirSync(closed, { mode: 0o700 });
    const dir = standIn(closed);
    const report = join(scratch, 'closed.json');
    const r = runTests(dir, report);
    expect(r.status).toBe(7);
    expect(r.stderr).toMatch(/^test: uid 65534 \(the rootless tests' user\) cannot reach .*closed\/nsm .*: running the suite from a copy in /);
    const seen = JSON.parse(readFileSync(report, 'utf8'));
    expect(seen.cwd).not.toBe(dir);
    expect(seen.cwd.startsWith(join(scratch, 'tmp'))).toBe(true);
    expect(seen.reach).toBe(true);
    expect(seen.args).toEqual(['run', '--config', 'test/vitest.config.ts', 'test/unit/x.test.ts']);
    expect(existsSync(seen.cwd)).toBe(false);
    expect(readdirSync(join(scratch, 'tmp'))).toEqual([]);
  });

  it('runs in place where uid 65534 can reach the checkout', () => {
    const open = join(scratch, 'open');
    mkdirSync(open, { mode: 0o755 });
    const dir = standIn(open);
    const report = join(scratch, 'open.json');
    const r = runTests(dir, report);
    expect(r.status).toBe(7);
    expect(r.stderr).toBe('');
    const seen = JSON.parse(readFileSync(report, 'utf8'));
    expect(seen).toMatchObject({ cwd: dir, reach: true });
  });
});
