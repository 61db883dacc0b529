/**
 * ui only formats: src/ui/* gets its data handed in and makes no OS or core calls. This reads
 * the sources and follows every value import (type-only imports are erased, so they are fine)
 * from src/ui; each module reached outside src/ui must be one of the pure ones below, and
 * each package one of the few that only format or decide colour.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');
const UI = join(SRC, 'ui');

/** Modules outside src/ui that hold only constants and pure functions (no I/O, no state). */
const PURE = new Set(['sys/escape.ts', 'sys/nstypes.ts', 'sys/errors.ts', 'core/owner-kinds.ts', 'core/cgroup-owners.ts']);
/** Packages ui may load: chalk styles and cli-table3 boxes (table.ts requires it on first use, through node:module outside the bundles); node:tty for isatty(1) (colour-rules.ts); node:os and node:util give errors.ts its errno names. */
const PACKAGES = new Set(['chalk', 'cli-table3', 'node:tty', 'node:module', 'node:os', 'node:util']);

/** The specifiers of `source`'s value imports and re-exports, static and dynamic. */
function valueImports(source: string): string[] {
  const found: string[] = [];
  for (const m of source.matchAll(/^\s*(import|export)\s+(type\s+)?([^'";]*?)\s*from\s*'([^']+)'/gm)) {
    const clause = m[3]!;
    if (m[2]) continue; // import type / export type
    // `import { type A, type B } from`: every name type-only.
    const names = /^\{([^}]*)\}$/.exec(clause.trim());
    if (names && names[1]!.split(',').map((n) => n.trim()).filter(Boolean).every((n) => n.startsWith('type '))) continue;
    found.push(m[4]!);
  }
  for (const m of source.matchAll(/^\s*import\s+'([^']+)'/gm)) found.push(m[1]!);
  for (const m of source.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)) found.push(m[1]!);
  for (const m of source.matchAll(/\brequire\(\s*'([^']+)'\s*\)/g)) found.push(m[1]!);
  return found;
}

/** Every problem found from src/ui: "ui/x.ts -> sys/procfs.ts". */
function violations(): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  const queue = readdirSync(UI).filter((f) => f.endsWith('.ts')).map((f) => join(UI, f));
  while (queue.length > 0) {
    const file = queue.shift()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const from = relative(SRC, file);
    for (const spec of valueImports(readFileSync(file, 'utf8'))) {
      if (!spec.startsWith('.')) {
        if (!PACKAGES.has(spec)) problems.push(`${from} -> ${spec}`);
        continue;
      }
      const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
      const rel = relative(SRC, target);
      if (!target.startsWith(UI + '/') && !PURE.has(rel)) {
        problems.push(`${from} -> ${rel}`);
        continue;
      }
      queue.push(target);
    }
  }
  return problems;
}

describe('src/ui only formats', () => {
  it('imports no core module (other than types) and nothing that does I/O', () => {
    expect(violations()).toEqual([]);
  });

  it('the import reader sees value imports and skips type-only ones', () => {
    const text = [
      "import type { A } from '../core/a.js';",
      "import { type B, type C } from '../core/b.js';",
      "import { d, type E } from '../core/d.js';",
      "export { f } from '../sys/f.js';",
      "import { readFileSync } from 'node:fs';",
      "const g = await import('./g.js');",
    ].join('\n');
    expect(valueImports(text)).toEqual(['../core/d.js', '../sys/f.js', 'node:fs', './g.js']);
  });
});
