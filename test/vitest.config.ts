import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

// Two groups. Most test files run in parallel. Files named *.host.test.ts compare nsm with
// the whole host (nsm ls against lsns, the monitor against real churn) and would race with
// tests creating namespaces at the same time, so they run afterwards, one at a time.
export default defineConfig({
  test: {
    root,
    globalSetup: ['test/setup/host-packages.ts'],
    projects: [
      {
        test: {
          name: 'parallel',
          root,
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.host.test.ts', '**/node_modules/**'],
          testTimeout: 30_000,
          hookTimeout: 30_000,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'host',
          root,
          include: ['test/**/*.host.test.ts'],
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 60_000,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
