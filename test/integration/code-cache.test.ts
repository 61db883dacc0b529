/**
 * bin/nsm's V8 code cache (dist/nsm.cjs.cache). V8 accepts a cache whose source has the
 * same length, so without bin/nsm's own check a rebuilt bundle of the same length would run
 * the previous build's code. This runs the real bin/nsm against stand-in bundles.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../support/run.js';

let pkg: string;
const bundle = (word: string): string => `exports.main = async () => { process.stdout.write(${JSON.stringify(word)}); };\n`;
const run = (env: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, [join(pkg, 'bin', 'nsm')], { encoding: 'utf8', env: { ...process.env, ...env } });

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
