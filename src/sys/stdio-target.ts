/**
 * Where a child's fd goes: 'inherit' (ours of that number, passed on), 'ignore' (/dev/null)
 * or an fd of ours. A leaf of its own: src/sys/libc.ts and src/sys/spawn-addon.ts both take
 * it, and libc.ts takes calls from spawn-addon.ts.
 */
export type StdioTarget = 'inherit' | 'ignore' | number;
