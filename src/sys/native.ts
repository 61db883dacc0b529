/**
 * Where the native helper lives: native/build/nsm-helper in the package, built by
 * `npm install` (make -C native). NSM_HELPER overrides it (tests of a freshly built copy).
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NsmError } from './errors.js';

let cached: string | undefined;

export function helperBinary(): string {
  if (cached) return cached;
  const path = process.env.NSM_HELPER || findInPackage('native/build/nsm-helper');
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw new NsmError(`native helper not found or not executable: ${path}`, {
      hint: 'build it with: npm install   (needs a C compiler: apt-get install build-essential)',
    });
  }
  cached = path;
  return path;
}

/**
 * `relative` inside the nsm package, found by walking up from this module: the code runs
 * both as dist/sys/native.js (library) and bundled into dist/nsm.js (CLI).
 */
export function findInPackage(relative: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, relative);
    dir = dirname(dir);
  }
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', relative);
}
