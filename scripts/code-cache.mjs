// Write the V8 code caches bin/nsm loads the CLI with (dist/cache/COMMAND.cache): one for
// each command measured against a C tool (ls, exec, create), made by running it, so that V8
// includes every function it compiled on its way, and default.cache (from --version) for
// the rest. exec and create run against a throw-away state directory with a helper that
// fails at once (/bin/false): the path through the CLI is the same up to the holder.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const nsm = (args, env = {}) =>
  spawnSync(process.execPath, ['bin/nsm', ...args], { stdio: 'ignore', env: { ...process.env, NSM_WRITE_CODE_CACHE: '1', ...env } });

const state = mkdtempSync(join(tmpdir(), 'nsm-code-cache-'));
try {
  nsm(['--version']);
  nsm(['ls']);
  nsm(['create', 'nsm-code-cache'], { NSM_STATE_DIR: state, NSM_HELPER: '/bin/false' });
  nsm(['exec', 'nsm-code-cache', '--', 'true'], { NSM_STATE_DIR: state });
} finally {
  rmSync(state, { recursive: true, force: true });
}
for (const command of ['default', 'ls', 'create', 'exec']) {
  if (!existsSync(join('dist', 'cache', `${command}.cache`))) throw new Error(`code cache not written: dist/cache/${command}.cache`);
}
