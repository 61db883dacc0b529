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

/** The package's root directory, found once (exec asks for the helper and the spawn addon). */
let packageRoot: string | undefined;

/**
 * `relative` inside the nsm package, found by walking up from this module: the code runs
 * both as dist/sys/native.js (library) and bundled into dist/cmd/*.cjs and dist/nsm.cjs (CLI).
 */
export function findInPackage(relative: string): string {
  packageRoot ??= findPackageRoot();
  return join(packageRoot, relative);
}

function findPackageRoot(): string {
  // import.meta.dirname (Node >= 20.11; the bundles define it from __filename) saves a
  // round trip through a file: URL on every start that runs a helper.
  const here = import.meta.dirname ?? dirname(fileURLToPath(import.meta.url));
  let dir = here;
  for (let i = 0; i < 4; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  return join(here, '..', '..');
}
