/**
 * nsm-helper connector (native/connector.c) through its driver, src/sys/proc-connector.ts:
 * the reader of `nsm monitor`'s event mode. Root only: reading every process's namespace
 * links needs it, and so does the monitor's use of the connector.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { SysError } from '../../src/sys/errors.js';
import { helperBinary } from '../../src/sys/native.js';
import { ProcConnector, type ConnectorRecord } from '../../src/sys/proc-connector.js';

const isRoot = process.geteuid?.() === 0;
const hostNet = Number(/\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/net'))![1]);

describe('nsm-helper connector', () => {
  it.skipIf(!isRoot)('reports a process that made a network namespace: its exec with the new inode and command, then its exit (root)', async () => {
    const records: ConnectorRecord[] = [];
    const errors: SysError[] = [];
    let wake = (): void => {};
    const conn = await ProcConnector.open({ types: ['net', 'user'] }, (r) => (records.push(...r), wake()), (e) => errors.push(e));
    const helper = spawnSync('sh', ['-c', `ps -o pid=,comm= --ppid ${process.pid}`], { encoding: 'utf8' }).stdout;
    try {
      expect(conn.rcvbuf).toBeGreaterThan(0);
      // The reader is a process of ours, not a thread in this one.
      expect(helper).toMatch(/nsm-helper|nsm:connector/);
      const child = spawn('unshare', ['-n', 'sh', '-c', 'sleep 0.05 # nsm-connector-test'], { stdio: 'ignore' });
      await new Promise((r) => child.once('exit', r));
      const pid = child.pid!;
      const deadline = Date.now() + 5000;
      while (!records.some((r) => r.kind === 'exit' && r.pid === pid) && Date.now() < deadline) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 100);
        });
      }
      const mine = records.filter((r) => r.pid === pid);
      const inNewNet = mine.find((r) => r.kind === 'exec' && r.ns?.net !== undefined && r.ns.net !== hostNet);
      expect(inNewNet, JSON.stringify(mine)).toBeDefined();
      expect(inNewNet!.ns!.user).toBeGreaterThan(0);
      // Its namespaces changed, so the record carries the command line, spaces and all.
      expect((inNewNet as { command?: string }).command).toBe('sh -c sleep 0.05 # nsm-connector-test');
      expect(mine.at(-1)!.kind).toBe('exit');
      expect(errors).toEqual([]);
    } finally {
      await conn.close();
    }
  });

  it('refuses bad arguments with exit status 2', () => {
    const r = spawnSync(helperBinary(), ['connector', '--types', '0'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^usage: nsm-helper connector/);
  });
});
