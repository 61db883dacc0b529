// Bundle the compiled CLI (dist/cli.js) into CommonJS files bin/nsm loads (loading one file
// instead of ~90 modules is most of Node's start-up for nsm):
//   dist/cmd/FILE.cjs  one per declaration module of src/commands/ (exec.cjs: exec and enter):
//                      a command table of only that module's commands (bin/nsm loads it for
//                      those words only, and their command lines reach no other command), and
//                      only that module's actions; the others' are stubs. On this kind of
//                      machine reading, deserialising and initialising a bundle costs in
//                      proportion to its size, so `nsm exec` loads no other command's
//                      declarations, option parsers, listing, monitor or metrics code at all
//                      (bench/RESULTS.md). The completion bundle keeps the whole table: it
//                      walks every command.
//   dist/cmd/help.cjs  the whole table, no actions: help, -h, -V, no command at all.
//   dist/nsm.cjs       everything: for any other word that is no command (a typo).
//   dist/early-scan.cjs the early /proc scan of `nsm ls` (src/sys/early-scan.ts).
// and dist/commands.json: for each word of the table (names and aliases), its command, its
// bundle and what bin/nsm does before loading it. Each bundle starts with a build id that
// bin/nsm checks a code cache against.
import { build } from 'esbuild';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';

const buildId = `/* nsm build ${randomBytes(8).toString('hex')} */`;
// import.meta.url, worked out when first read (it is read only to find koffi, the helper and
// other files on first use): pathToFileURL at every start would cost the commands that never do.
// import.meta.dirname (src/sys/native.ts finds the package with it) needs no URL at all.
const importMetaUrl =
  "const __nsmMeta = { get url() { const url = require('node:url').pathToFileURL(__filename).href; Object.defineProperty(this, 'url', { value: url }); return url; }, get dirname() { return require('node:path').dirname(__filename); } };";
const prologue = readFileSync(new URL('./lazy-require.js', import.meta.url), 'utf8');
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  external: ['koffi', 'prom-client'],
  minify: true,
  // No keepNames: its __name() call after every function and class costs each start; the
  // error classes name themselves (this.name), and nothing reads another function's name.
  logLevel: 'warning',
  define: { 'import.meta': '__nsmMeta' },
};
const cliBanner = { js: `${buildId}\n${importMetaUrl}\n${prologue}` };

/**
 * An esbuild plugin: every `./actions/X.js` not imported by `keep` (a declaration module) is a
 * stub; and with `table` (the source of a command table module: that module's commands only),
 * program.js's `./table.js` is that instead of the whole table.
 */
const onlyActionsOf = (keep, table) => ({
  name: 'only-actions-of',
  setup(b) {
    b.onResolve({ filter: /^\.\/actions\// }, (args) => (resolve(args.importer) === keep ? undefined : { path: args.path, namespace: 'stub' }));
    b.onLoad({ filter: /.*/, namespace: 'stub' }, () => ({ contents: "export function run() { throw new Error('internal: this command is not in this bundle'); }" }));
    if (table === undefined) return;
    const program = resolve('dist/commands/program.js');
    b.onResolve({ filter: /^\.\/table\.js$/ }, (args) => (resolve(args.importer) === program ? { path: keep, namespace: 'table' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'table' }, () => ({ contents: table, resolveDir: resolve('dist/commands') }));
  },
});

rmSync('dist/cache', { recursive: true, force: true });
rmSync('dist/cmd', { recursive: true, force: true });
mkdirSync('dist/cmd');
await build({ ...common, entryPoints: ['dist/cli.js'], outfile: 'dist/nsm.cjs', banner: cliBanner });
// With the stand-ins too: the early scan loads node:child_process only where nsm-spawn.node is not built.
await build({ ...common, entryPoints: ['dist/sys/early-scan.js'], outfile: 'dist/early-scan.cjs', banner: { js: `${buildId}\n${importMetaUrl}\n${prologue}` } });

// Which declaration module declares each command: the modules of dist/commands/ whose exports
// include command declarations (an object with a name and an action).
const isDeclaration = (v) => v !== null && typeof v === 'object' && typeof v.name === 'string' && typeof v.action === 'function';
const { COMMAND_TABLE } = await import(new URL('../dist/commands/table.js', import.meta.url).href);
/** The bundles that keep the whole table (completion walks every command). */
const WHOLE_TABLE = new Set(['completion']);
const bundleOf = new Map();
for (const file of readdirSync('dist/commands').filter((f) => f.endsWith('.js'))) {
  const path = resolve('dist/commands', file);
  const declared = Object.entries(await import(new URL(`file://${path}`).href)).filter(([, v]) => isDeclaration(v));
  if (declared.length === 0) continue;
  const name = basename(file, '.js');
  // This module's commands, in the table's order (help lists them so).
  const exportOf = new Map(declared.map(([key, d]) => [d, key]));
  const own = COMMAND_TABLE.filter((d) => exportOf.has(d)).map((d) => exportOf.get(d));
  const table = WHOLE_TABLE.has(name) ? undefined : `import { ${own.join(', ')} } from ${JSON.stringify(path)};\nexport const COMMAND_TABLE = [${own.join(', ')}];\n`;
  await build({ ...common, entryPoints: ['dist/cli.js'], outfile: `dist/cmd/${name}.cjs`, banner: cliBanner, plugins: [onlyActionsOf(path, table)] });
  for (const [, d] of declared) bundleOf.set(d.name, name);
}

// dist/cmd/help.cjs: the whole table and no command's actions, for the words that run no
// command (nsm's own -V and -h, help, nothing at all): they need every declaration but none of
// the listing, monitor or lifecycle code dist/nsm.cjs also has. Anything else that is no
// command word (a typo, `nsm -- ls`) still loads dist/nsm.cjs.
await build({ ...common, entryPoints: ['dist/cli.js'], outfile: 'dist/cmd/help.cjs', banner: cliBanner, plugins: [onlyActionsOf('', undefined)] });

const words = {};
for (const word of ['', '-V', '--version', '-h', '--help', 'help']) words[word] = { name: '', bundle: 'help' };
for (const c of COMMAND_TABLE) {
  if (!bundleOf.has(c.name)) throw new Error(`no bundle declares command ${c.name}`);
  const entry = { name: c.name, bundle: bundleOf.get(c.name), ...(c.lean ? { lean: true } : {}), ...(c.earlyScan ? { earlyScan: true } : {}) };
  for (const word of [c.name, ...(c.aliases ?? [])]) words[word] = entry;
}
writeFileSync('dist/commands.json', `${JSON.stringify(words)}\n`);
