/**
 * Where environments are recorded, and their names, for `nsm doctor` and shell completion.
 *
 * STAND-IN: src/core/registry.ts (being written on the registry branch) owns the real
 * resolver. This file follows the same rules (DESIGN.md, "State") so doctor and
 * completion work now; when the registry lands, replace stateDirectory() and
 * environmentNames() with the registry's and delete this file.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { hasErrno } from '../sys/errors.js';

/** Environment names: ^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$ (DESIGN.md, "State"). */
export const ENV_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/**
 * The state directory: NSM_STATE_DIR when set; root: /run/nsm; others: $XDG_RUNTIME_DIR/nsm
 * when XDG_RUNTIME_DIR is an absolute path, else /tmp/nsm-$UID.
 */
export function stateDirectory(env: NodeJS.ProcessEnv = process.env, uid: number = process.geteuid?.() ?? 0): string {
  if (env.NSM_STATE_DIR) return env.NSM_STATE_DIR;
  if (uid === 0) return '/run/nsm';
  const xdg = env.XDG_RUNTIME_DIR;
  if (xdg && xdg.startsWith('/')) return join(xdg, 'nsm');
  return `/tmp/nsm-${uid}`;
}

/**
 * Names of the environments recorded in `dir`: subdirectories with a valid name and an
 * env.json, sorted. A missing or unreadable directory has none.
 */
export function environmentNames(dir: string = stateDirectory()): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (err) {
    if (hasErrno(err, 'ENOENT', 'ENOTDIR', 'EACCES')) return [];
    throw err;
  }
  return entries
    .filter((e) => e.isDirectory() && ENV_NAME_RE.test(e.name) && existsSync(join(dir, e.name, 'env.json')))
    .map((e) => e.name)
    .sort();
}
