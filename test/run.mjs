#!/usr/bin/env node
// `npm test`: the suite (vitest, arguments passed on), from a copy of the checkout when the
// suite's unprivileged user cannot reach the checkout itself.
//
// As root, the rootless tests run nsm and its helper as uid 65534 (setpriv). Reaching a file
// takes search (x) permission on every directory above it (path_resolution(7)), and root's
// home on Debian (/root) and any `mktemp -d` are 0700: there those tests would all fail with
// EACCES. The suite then runs from a copy in a new directory under the temporary directory,
// which everyone may enter, and the copy is removed afterwards.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const NOBODY = 65534;
const root = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
const vitest = ['node_modules/vitest/vitest.mjs', 'run', '--config', 'test/vitest.config.ts', ...process.argv.slice(2)];

/** Whether uid 65534 can run `file` (test(1) -x as that user, through setpriv: root only). */
function nobodyCanRun(file) {
  const r = spawnSync('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', 'test', '-x', file]);
  // Without setpriv the rootless tests cannot switch users either: nothing to copy for.
  return r.error !== undefined || r.status === 0;
}

function run(cwd) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, vitest, { cwd, stdio: 'inherit' });
    // ^C reaches vitest too (same process group): wait for it, then clean up.
    const ignore = () => {};
    process.on('SIGINT', ignore);
    process.on('SIGTERM', () => child.kill('SIGTERM'));
    child.on('close', (status, signal) => resolve(status ?? (signal ? 1 : 0)));
  });
}

let cwd = root;
let copy;
const probe = join(root, 'native', 'build', 'nsm-helper');
if (process.geteuid?.() === 0 && !nobodyCanRun(probe)) {
  copy = mkdtempSync(join(tmpdir(), 'nsm-test-'));
  chmodSync(copy, 0o755);
  if (!nobodyCanRun(process.execPath)) {
    process.stderr.write(`test: uid ${NOBODY} cannot run ${process.execPath} either: the rootless tests will fail\n`);
  }
  // Everything but .git: the tests find the built CLI, helper, fixtures and README beside them.
  const entries = readdirSync(root).filter((e) => e !== '.git').map((e) => join(root, e));
  const cp = spawnSync('cp', ['-a', ...entries, copy], { stdio: 'inherit' });
  if (cp.status !== 0) {
    rmSync(copy, { recursive: true, force: true });
    process.stderr.write(`test: could not copy ${root} to ${copy}\n`);
    process.exit(1);
  }
  process.stderr.write(
    `test: uid ${NOBODY} (the rootless tests' user) cannot reach ${root} (a directory above it is not searchable): running the suite from a copy in ${copy}\n`,
  );
  cwd = copy;
}

let status;
try {
  status = await run(cwd);
} finally {
  if (copy) rmSync(copy, { recursive: true, force: true });
}
process.exit(status);
