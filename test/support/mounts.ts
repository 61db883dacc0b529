/** Mounts in the test's own mount namespace, from /proc/self/mountinfo (proc(5)). */
import { readFileSync } from 'node:fs';

function mountFields(): string[][] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' '));
}

function isAtOrBelow(p: string, dir: string): boolean {
  return p === dir || p.startsWith(`${dir}/`);
}

/** Any mount point at or below `dir` (field 5 of mountinfo). */
export function mountsBelow(dir: string): string[] {
  return mountFields()
    .map((f) => f[4]!)
    .filter((p) => isAtOrBelow(p, dir));
}

/** nsfs mounts (pins, netns links) at or below `dir`: the filesystem type follows the " - " separator. */
export function nsfsMountsBelow(dir: string): string[] {
  return mountFields()
    .filter((f) => f.length > 8 && f[f.indexOf('-', 6) + 1] === 'nsfs')
    .map((f) => f[4]!)
    .filter((p) => isAtOrBelow(p, dir));
}
