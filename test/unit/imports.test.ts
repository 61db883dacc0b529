import { fileURLToPath } from 'node:url';
import madge from 'madge';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

// Static imports (type-only ones included: they tie the files together just the same) must
// form no circle in src/. A dynamic import() is not an edge: the command table loads each
// command's action lazily with one, and that action may name its command's option types.
describe('imports', () => {
  it('src/ has no import circle', async () => {
    const graph = await madge(`${root}src`, {
      fileExtensions: ['ts'],
      tsConfig: `${root}tsconfig.json`,
      detectiveOptions: { ts: { skipAsyncImports: true } },
    });
    expect(graph.warnings().skipped).toEqual([]);
    expect(Object.keys(graph.obj()).length).toBeGreaterThan(50);
    expect(graph.circular()).toEqual([]);
  });
});
