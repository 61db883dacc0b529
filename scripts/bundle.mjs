// Bundle the compiled CLI (dist/cli.js) into CommonJS files bin/nsm loads (loading one file
// instead of ~90 modules is most of Node's start-up for nsm):
//   dist/cmd/FILE.cjs  one per declaration module of src/commands/ (exec.cjs: exec and enter):
//                      the whole command table, but only that module's actions; the others'
//                      are stubs. On this kind of machine reading and compiling a file costs
//                      in proportion to its size, so `nsm exec` loads no listing, monitor or
//                      metrics code at all (bench/RESULTS.md).
//   dist/nsm.cjs       everything: for help, an unknown word, no command at all.
//   dist/early-scan.cjs the early /proc scan of `nsm ls` (src/sys/early-scan.ts).
// and dist/commands.json: for each word of the table (names and aliases), its command, its
// bundle and what bin/nsm does before loading it. Each bundle starts with a build id that
// bin/nsm checks a code cache against.
import { build } from 'esbuild';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';

const buildId = `/* nsm build ${randomBytes(8).toString('hex')} */`;
const importMetaUrl = "const __nsmUrl = require('node:url').pathToFileURL(__filename).href;";
const prologue = readFileSync(new URL('./lazy-require.js', import.meta.url), 'utf8');
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
const cliBanner = { js: `${buildId}\n${importMetaUrl}\n${prologue}` };

/** An esbuild plugin: every `./actions/X.js` not imported by `keep` (a declaration module) is a stub. */
const onlyActionsOf = (keep) => ({
  name: 'only-actions-of',
  setup(b) {
    b.onResolve({ filter: /^\.\/actions\// }, (args) => (resolve(args.importer) === keep ? undefined : { path: args.path, namespace: 'stub' }));
    b.onLoad({ filter: /.*/, namespace: 'stub' }, () => ({ contents: "export function run() { throw new Error('internal: this command is not in this bundle'); }" }));
  },
});

rmSync('dist/cache', { recursive: true, force: true });
rmSync('dist/cmd', { recursive: true, force: true });
mkdirSync('dist/cmd');
await build({ ...common, entryPoints: ['dist/cli.js'], outfile: 'dist/nsm.cjs', banner: cliBanner });
await build({ ...common, entryPoints: ['dist/sys/early-scan.js'], outfile: 'dist/early-scan.cjs', banner: { js: `${buildId}\n${importMetaUrl}` } });

// Which declaration module declares each command: the modules of dist/commands/ whose exports
// include command declarations (an object with a name and an action).
const isDeclaration = (v) => v !== null && typeof v === 'object' && typeof v.name === 'string' && typeof v.action === 'function';
const bundleOf = new Map();
for (const file of readdirSync('dist/commands').filter((f) => f.endsWith('.js'))) {
  const path = resolve('dist/commands', file);
  const declared = Object.values(await import(new URL(`file://${path}`).href)).filter(isDeclaration);
  if (declared.length === 0) continue;
  const name = basename(file, '.js');
  await build({ ...common, entryPoints: ['dist/cli.js'], outfile: `dist/cmd/${name}.cjs`, banner: cliBanner, plugins: [onlyActionsOf(path)] });
  for (const d of declared) bundleOf.set(d.name, name);
}

const { COMMAND_TABLE } = await import(new URL('../dist/commands/table.js', import.meta.url).href);
const words = {};
for (const c of COMMAND_TABLE) {
  if (!bundleOf.has(c.name)) throw new Error(`no bundle declares command ${c.name}`);
  const entry = { name: c.name, bundle: bundleOf.get(c.name), ...(c.lean ? { lean: true } : {}), ...(c.earlyScan ? { earlyScan: true } : {}) };
  for (const word of [c.name, ...(c.aliases ?? [])]) words[word] = entry;
}
writeFileSync('dist/commands.json', `${JSON.stringify(words)}\n`);
