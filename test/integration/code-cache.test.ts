/**
 * bin/nsm's V8 code caches (dist/cache/BUNDLE.cache). V8 accepts a cache whose source has the
 * same length, so without bin/nsm's own check (each cache starts with the bundle's first
 * line, its build id) a rebuilt bundle of the same length would run the previous build's
 * code. This runs the real bin/nsm against stand-in bundles.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../support/run.js';

let pkg: string;
const cache = (command: string): string => join(pkg, 'dist', 'cache', `${command}.cache`);
/** A stand-in CLI bundle of build `id` that prints `word`. */
const bundle = (id: string, word: string): string =>
  `/* nsm build ${id} */\nexports.main = async () => { process.stdout.write(${JSON.stringify(word)}); };\n`;
const run = (args: string[] = [], env: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, [join(pkg, 'bin', 'nsm'), ...args], { encoding: 'utf8', env: { ...process.env, ...env } });

beforeAll(() => {
  pkg = mkdtempSync(join(tmpdir(), 'nsm-codecache-'));
  mkdirSync(join(pkg, 'bin'));
  copyFileSync(join(ROOT, 'bin', 'nsm'), join(pkg, 'bin', 'nsm'));
  copyFileSync(join(ROOT, 'bin', 'package.json'), join(pkg, 'bin', 'package.json'));
});

afterAll(() => rmSync(pkg, { recursive: true, force: true }));

describe('bin/nsm before a build', () => {
  it('says in one line to run npm install, exit 1, no stack trace', () => {
    const r = run(['ls']);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('nsm: not built yet: run npm install (or npm run build)\n');
  });
});

describe('bin/nsm code cache', () => {
  beforeAll(() => {
    mkdirSync(join(pkg, 'dist', 'cmd'), { recursive: true });
    const exec = { name: 'exec', bundle: 'exec', lean: true };
    writeFileSync(join(pkg, 'dist', 'commands.json'), JSON.stringify({ exec, run: exec }));
  });

  it('writes a cache that starts with the build id, and uses it', () => {
    writeFileSync(join(pkg, 'dist', 'nsm.cjs'), bundle('aaaa', 'AAAA'));
    expect(run(['--version'], { NSM_WRITE_CODE_CACHE: '1' }).stdout).toBe('AAAA');
    const written = readFileSync(cache('nsm'));
    expect(written.subarray(0, '/* nsm build aaaa */\n'.length).toString()).toBe('/* nsm build aaaa */\n');
    expect(written.length).toBeGreaterThan(100);
    expect(run(['--version']).stdout).toBe('AAAA');
  });

  it('ignores a cache made for another build of the same length', () => {
    writeFileSync(join(pkg, 'dist', 'nsm.cjs'), bundle('aaaa', 'AAAA'));
    run([], { NSM_WRITE_CODE_CACHE: '1' });
    writeFileSync(join(pkg, 'dist', 'nsm.cjs'), bundle('bbbb', 'BBBB'));
    const r = run();
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('BBBB');
  });

  it('runs without a cache', () => {
    rmSync(join(pkg, 'dist', 'cache'), { recursive: true, force: true });
    writeFileSync(join(pkg, 'dist', 'nsm.cjs'), bundle('cccc', 'CCCC'));
    expect(run().stdout).toBe('CCCC');
  });

  it('a command of the table loads its own bundle, with a cache of its own, which its aliases share', () => {
    rmSync(join(pkg, 'dist', 'cache'), { recursive: true, force: true });
    writeFileSync(join(pkg, 'dist', 'nsm.cjs'), bundle('dddd', 'DDDD'));
    writeFileSync(join(pkg, 'dist', 'cmd', 'exec.cjs'), bundle('dddd', 'EXEC'));
    expect(run(['run', 'x', 'true'], { NSM_WRITE_CODE_CACHE: '1' }).stdout).toBe('EXEC');
    expect(existsSync(cache('exec'))).toBe(true);
    expect(existsSync(cache('nsm'))).toBe(false);
    expect(run(['exec', 'x', 'true']).stdout).toBe('EXEC');
    expect(run(['--version']).stdout).toBe('DDDD');
  });
});
