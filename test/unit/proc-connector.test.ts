import { describe, expect, it } from 'vitest';
import { parseConnectorLine } from '../../src/sys/proc-connector.js';

describe('parseConnectorLine (native/connector.c records)', () => {
  const types = ['user', 'net'] as const;

  it('reads a fork with its namespaces and command (spaces kept, escapes undone)', () => {
    expect(parseConnectorLine('f 12000000 42 7 4026531837,4026532310 sh -c a\\\\b\\nc d', types)).toEqual({
      kind: 'fork',
      pid: 42,
      ppid: 7,
      ts: 12,
      ns: { user: 4026531837, net: 4026532310 },
      command: 'sh -c a\\b\nc d',
    });
  });

  it('reads an exec without a command, a type not read (0) left out', () => {
    expect(parseConnectorLine('e 1500000 43 0,4026532310', types)).toEqual({ kind: 'exec', pid: 43, ts: 1.5, ns: { net: 4026532310 } });
  });

  it('reads the NS_GET_ID the helper read for a namespace new to the process (INODE:ID)', () => {
    expect(parseConnectorLine('e 1500000 46 4026531837,4026532310:7098 unshare -n true', types)).toEqual({
      kind: 'exec',
      pid: 46,
      ts: 1.5,
      ns: { user: 4026531837, net: 4026532310 },
      ids: { net: 7098 },
      command: 'unshare -n true',
    });
    expect(parseConnectorLine('e 1500000 46 4026531837,4026532310:x', types)).toBeUndefined();
  });

  it('tells a process gone before its read ("-") from one not ours to read ("?")', () => {
    expect(parseConnectorLine('e 1000000 44 -', types)).toEqual({ kind: 'exec', pid: 44, ts: 1, ns: undefined, gone: true });
    expect(parseConnectorLine('f 1000000 45 1 ?', types)).toEqual({ kind: 'fork', pid: 45, ppid: 1, ts: 1, ns: undefined });
  });

  it('reads exits, overruns and mount changes', () => {
    expect(parseConnectorLine('x 2000000 44', types)).toEqual({ kind: 'exit', pid: 44, ts: 2 });
    expect(parseConnectorLine('O 3000000', types)).toEqual({ kind: 'overrun', ts: 3 });
    expect(parseConnectorLine('m 4000000', types)).toEqual({ kind: 'mounts', ts: 4 });
  });

  it('refuses what is not a record', () => {
    expect(parseConnectorLine('f 1 2 3 1,2,3', types)).toBeUndefined(); // 3 inodes for 2 types
    expect(parseConnectorLine('Z 1', types)).toBeUndefined();
  });
});
