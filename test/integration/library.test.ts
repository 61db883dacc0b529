/**
 * nsm as a library: `import { listNamespaces } from 'nsm'` through the package's "exports"
 * (dist/index.js, built by npm install / npm test), from a consumer project that has nsm
 * in its node_modules, in JavaScript and type-checked TypeScript.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../support/run.js';

let consumer: string;

beforeAll(() => {
  consumer = mkdtempSync(join(tmpdir(), 'nsm-consumer-'));
  mkdirSync(join(consumer, 'node_modules'));
  symlinkSync(ROOT, join(consumer, 'node_modules', 'nsm'));
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', type: 'module', private: true }));
});

afterAll(() => rmSync(consumer, { recursive: true, force: true }));

describe("import ... from 'nsm'", () => {
  it('exposes the core functions, the type table and the errors', () => {
    const script = `
      import * as nsm from 'nsm';
      const listing = await nsm.listNamespaces({ types: ['net', 'pid'] });
      const mine = await nsm.inspect({ kind: 'pid', pid: process.pid }, { attribution: false });
      const same = nsm.diff({ kind: 'pid', pid: process.pid }, { kind: 'pid', pid: process.pid });
      const ps = await nsm.processesByNamespace({ type: 'net' });
      const tree = await nsm.namespaceTree({ view: 'parent' });
      let usage;
      try { nsm.parseTarget('a/b'); } catch (e) { usage = e instanceof nsm.UsageError && e instanceof nsm.NsmError ? e.exitCode : 'wrong class'; }
      console.log(JSON.stringify({
        exports: Object.keys(nsm).sort(),
        types: [...new Set(listing.namespaces.map((n) => n.type))].sort(),
        ownNet: mine.namespaces.find((n) => n.entry === 'net').inode,
        allShared: same.allShared,
        psFindsSelf: ps.groups.some((g) => g.processes.some((p) => p.pid === process.pid)),
        treeRoots: tree.roots.length > 0,
        typeNames: nsm.NS_TYPE_NAMES,
        usage,
      }));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: consumer, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout);
    expect(out.exports).toEqual(expect.arrayContaining(['listNamespaces', 'scanHost', 'inspect', 'diff', 'processesByNamespace', 'namespaceTree', 'parseTarget', 'resolveTarget', 'openTarget', 'execTarget', 'NS_TYPES', 'NsmError', 'UsageError', 'SysError']));
    expect(out.types).toEqual(['net', 'pid']);
    expect(out.ownNet).toBeGreaterThan(0);
    expect(out.allShared).toBe(true);
    expect(out.psFindsSelf).toBe(true);
    expect(out.treeRoots).toBe(true);
    expect(out.typeNames).toEqual(['user', 'cgroup', 'ipc', 'uts', 'net', 'pid', 'mnt', 'time']);
    expect(out.usage).toBe(2);
  });

  it('lists environments from a state directory, with their holder state, without the CLI', () => {
    // A record whose holder (pid 2147483647: above pid_max) does not exist: listed as dead, gc removes it.
    const stateDir = join(consumer, 'state');
    const envDir = join(stateDir, 'envs', 'lib-dead');
    mkdirSync(envDir, { recursive: true, mode: 0o700 });
    mkdirSync(join(stateDir, 'locks'), { mode: 0o700 });
    const record = {
      schemaVersion: 1, name: 'lib-dead', types: ['uts'], options: {}, holder: { pid: 2147483647, startTime: 1 },
      namespaces: { uts: 4026531838 }, pins: {}, creatorUid: process.getuid!(), createdAt: new Date().toISOString(), nsmVersion: '0.1.0',
    };
    writeFileSync(join(envDir, 'env.json'), JSON.stringify(record));
    const script = `
      import { listEnvironments, holderState, collectGarbage, validateName } from 'nsm';
      const { environments } = listEnvironments({ stateDir: ${JSON.stringify(stateDir)} });
      const states = environments.map((e) => [e.name, e.state, holderState(e.record)]);
      const gc = collectGarbage({ stateDir: ${JSON.stringify(stateDir)} });
      let bad; try { validateName('a/b'); } catch (e) { bad = e.exitCode; }
      console.log(JSON.stringify({ states, removed: gc.removed.map((r) => r.name), after: listEnvironments({ stateDir: ${JSON.stringify(stateDir)} }).environments.length, bad }));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: consumer, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ states: [['lib-dead', 'dead', 'dead']], removed: ['lib-dead'], after: 0, bad: 2 });
  });

  it('type-checks a TypeScript consumer against dist/index.d.ts', () => {
    writeFileSync(
      join(consumer, 'use.ts'),
      `import { listNamespaces, type NamespaceSummary, type NsType } from 'nsm';
       const t: NsType = 'net';
       const rows: NamespaceSummary[] = (await listNamespaces({ types: [t] })).namespaces;
       const n: number = rows[0]!.nprocs;
       // @ts-expect-error: not a namespace type
       const bad: NsType = 'nett';
       export { n, bad };\n`,
    );
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const r = spawnSync(process.execPath, [tsc, '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node', '--typeRoots', join(ROOT, 'node_modules', '@types'), 'use.ts'], {
      cwd: consumer,
      encoding: 'utf8',
    });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
