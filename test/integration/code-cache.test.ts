/**
 * bin/nsm's V8 code caches (dist/nsm.cjs.cache and the lean bundles' dist/nsm-create.cjs.cache
 * and dist/nsm-exec.cjs.cache). V8 accepts a cache whose source has the same length, so
 * without bin/nsm's own check a rebuilt bundle of the same length would run the previous
 * build's code. This runs the real bin/nsm against stand-in bundles.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../support/run.js';

let pkg: string;
const bundle = (word: string): string => `exports.main = async () => { process.stdout.write(${JSON.stringify(word)}); };\n`;
const run = (env: NodeJS.ProcessEnv = {}, args: string[] = []) =>
  spawnSync(process.execPath, [join(pkg, 'bin', 'nsm'), ...args], { encoding: 'utf8', env: { ...process.env, ...env } });

beforeAll(() => {
  pkg = mkdtempSync(join(tmpdir(), 'nsm-codecache-'));
  mkdirSync(join(pkg, 'bin'));
  mkdirSync(join(pkg, 'dist'));
  copyFileSync(join(ROOT, 'bin', 'nsm'), join(pkg, 'bin', 'nsm'));
  copyFileSync(join(ROOT, 'bin', 'package.json'), join(pkg, 'bin', 'package.json'));
});

afterAll(() => rmSync(pkg, { recursive: true, force: true }));

describe('bin/nsm code cache', () => {
  it('writes a cache that starts with the source it was made for, and uses it', () => {
    writeFileSync(join(pkg, 'dist', 'nsm.cjs'), bundle('AAAA'));
    expect(run({ NSM_WRITE_CODE_CACHE: '1' }).stdout).toBe('AAAA');
    const cache = readFileSync(join(pkg, 'dist', 'nsm.cjs.cache'));
    const source = readFileSync(join(pkg, 'dist', 'nsm.cjs'));
    expect(cache.readUInt32LE(0)).toBe(source.length);
    expect(cache.subarray(4, 4 + source.length).equals(source)).toBe(true);
    expect(cache.length).toBeGreaterThan(4 + source.length);
    expect(run().stdout).toBe('AAAA');
  });

  it('ignores a cache made for another bundle of the same length', () => {
    writeFileSync(join(pkg, 'dist', 'nsm.cjs'), bundle('AAAA'));
    run({ NSM_WRITE_CODE_CACHE: '1' });
    writeFileSync(join(pkg, 'dist', 'nsm.cjs'), bundle('BBBB'));
    const r = run();
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('BBBB');
  });

  it('runs without a cache', () => {
    rmSync(join(pkg, 'dist', 'nsm.cjs.cache'), { force: true });
    writeFileSync(join(pkg, 'dist', 'nsm.cjs'), bundle('CCCC'));
    expect(run().stdout).toBe('CCCC');
  });
});

/** The lean entries: bin/nsm sends these words to their own bundle, through a cache of its own. */
describe.each([
  ['nsm-create.cjs', 'createMain', ['create', 'x']],
  ['nsm-exec.cjs', 'execMain', ['exec', 'x', '--', 'true']],
] as const)('bin/nsm code cache of %s', (file, entry, args) => {
  const lean = (word: string): string =>
    `exports.${entry} = async () => { process.stdout.write(${JSON.stringify(word)}); return true; };\n`;
  const bundleFile = () => join(pkg, 'dist', file);
  const cacheFile = () => join(pkg, 'dist', `${file}.cache`);

  it('writes its own cache, which starts with its source, and uses it', () => {
    writeFileSync(bundleFile(), lean('DDDD'));
    rmSync(cacheFile(), { force: true });
    expect(run({ NSM_WRITE_CODE_CACHE: '1' }, [...args]).stdout).toBe('DDDD');
    const cache = readFileSync(cacheFile());
    const source = readFileSync(bundleFile());
    expect(cache.readUInt32LE(0)).toBe(source.length);
    expect(cache.subarray(4, 4 + source.length).equals(source)).toBe(true);
    expect(cache.length).toBeGreaterThan(4 + source.length);
    expect(run({}, [...args]).stdout).toBe('DDDD');
  });

  it('ignores a cache made for another bundle of the same length', () => {
    writeFileSync(bundleFile(), lean('EEEE'));
    run({ NSM_WRITE_CODE_CACHE: '1' }, [...args]);
    writeFileSync(bundleFile(), lean('FFFF'));
    const r = run({}, [...args]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('FFFF');
  });

  it('runs without a cache', () => {
    rmSync(cacheFile(), { force: true });
    writeFileSync(bundleFile(), lean('GGGG'));
    expect(run({}, [...args]).stdout).toBe('GGGG');
  });
});
