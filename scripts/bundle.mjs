// Bundle the compiled CLI (dist/cli.js) into one CommonJS file, dist/nsm.cjs, and the early
// scan of `nsm ls` into dist/early-scan.cjs (bin/nsm loads both). Loading one file instead of
// ~80 modules is most of Node's start-up for nsm. Each bundle starts with a build id that
// bin/nsm checks a code cache against (see there).
import { build } from 'esbuild';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';

const buildId = `/* nsm build ${randomBytes(8).toString('hex')} */`;
const importMetaUrl = "const __nsmUrl = require('node:url').pathToFileURL(__filename).href;";
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  external: ['koffi', 'prom-client'],
  minify: true,
  keepNames: true,
  logLevel: 'warning',
  define: { 'import.meta.url': '__nsmUrl' },
};

rmSync('dist/cache', { recursive: true, force: true });
const prologue = readFileSync(new URL('./lazy-require.js', import.meta.url), 'utf8');
await build({ ...common, entryPoints: ['dist/cli.js'], outfile: 'dist/nsm.cjs', banner: { js: `${buildId}\n${importMetaUrl}\n${prologue}` } });
await build({ ...common, entryPoints: ['dist/sys/early-scan.js'], outfile: 'dist/early-scan.cjs', banner: { js: `${buildId}\n${importMetaUrl}` } });

// dist/commands.json: which command each word names (names and aliases), and what bin/nsm
// does for it before loading the CLI. Written from the command table, the one list of them.
const { COMMAND_TABLE } = await import(new URL('../dist/commands/table.js', import.meta.url).href);
const words = {};
for (const c of COMMAND_TABLE) {
  const entry = { name: c.name, ...(c.lean ? { lean: true } : {}), ...(c.earlyScan ? { earlyScan: true } : {}) };
  for (const word of [c.name, ...(c.aliases ?? [])]) words[word] = entry;
}
writeFileSync('dist/commands.json', `${JSON.stringify(words)}\n`);
