// Write the V8 code caches bin/nsm loads each bundle with (dist/cache/BUNDLE.cache, see
// scripts/bundle.mjs). A cache holds what V8 compiled while the command ran, so the commands
// measured against C tools run for real (ls; create against a throw-away state directory
// with a helper that fails at once, /bin/false: the path through the CLI is the same up to
// the holder; exec through the helper into a namespace file, see below); every other bundle's cache
// comes from `nsm COMMAND --help`, help.cjs's from `nsm help`, and
// dist/nsm.cjs's from an unknown command.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const nsm = (args, env = {}) =>
  spawnSync(process.execPath, ['bin/nsm', ...args], { stdio: 'ignore', env: { ...process.env, NSM_WRITE_CODE_CACHE: '1', ...env } });

const words = JSON.parse(readFileSync('dist/commands.json', 'utf8'));
const bundles = new Map(Object.values(words).map((c) => [c.bundle, c.name]));
const state = mkdtempSync(join(tmpdir(), 'nsm-code-cache-'));
try {
  nsm(['help']);
  // dist/nsm.cjs runs for a word that is no command: an unknown one.
  nsm(['version']);
  nsm(['ls']);
  nsm(['create', 'nsm-code-cache'], { NSM_STATE_DIR: state, NSM_HELPER: '/bin/false' });
  // exec's cache from a real join, so that the way through the helper is compiled code at
  // start, not compiled again at every exec: a namespace file of nsm's own (root joins its
  // own UTS namespace; anyone else is refused by setns(2) after the helper started). Not
  // through a throw-away environment: a build must make no namespaces, and one killed
  // half-way would leave a holder no gc can find (its state directory is removed).
  nsm(['exec', '/proc/self/ns/uts', '--', 'true'], { NSM_STATE_DIR: state });
  for (const [bundle, command] of bundles) {
    if (!existsSync(join('dist', 'cache', `${bundle}.cache`))) nsm([command, '--help']);
  }
} finally {
  rmSync(state, { recursive: true, force: true });
}
for (const bundle of ['nsm', ...bundles.keys()]) {
  if (!existsSync(join('dist', 'cache', `${bundle}.cache`))) throw new Error(`code cache not written: dist/cache/${bundle}.cache`);
}
