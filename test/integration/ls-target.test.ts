/**
 * `nsm ls -p TARGET` takes every target form (issue 12 §4), not only a PID: an environment,
 * pid:PID, netns:NAME, a namespace file. Real kernel; the ip netns name is unique and deleted.
 */
import { spawnSync } from 'node:child_process';
import { readlinkSync, statSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, create, isRoot, nsm, ROOTLESS_UID, stateDir, uniqueName } from './lifecycle-helpers.js';

const netnsNames: string[] = [];
afterEach(async () => {
  for (const n of netnsNames.splice(0)) spawnSync('ip', ['netns', 'delete', n]);
  await cleanup();
});

async function inodes(args: string[], opts: { stateDir?: string; uid?: number } = {}): Promise<Record<string, number>> {
  const r = await nsm(['ls', '-J', ...args], opts);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return Object.fromEntries(JSON.parse(r.stdout).namespaces.map((n: { type: string; ns: number }) => [n.type, n.ns]));
}

const inodeOf = (link: string) => Number(/\[([0-9]+)\]/.exec(link)![1]);

describe('ls -p TARGET', () => {
  it('an environment name, env:NAME and pid:PID: the namespaces of that process', async () => {
    const dir = stateDir(ROOTLESS_UID);
    const opts = { stateDir: dir, uid: ROOTLESS_UID };
    const env = await create(uniqueName('lp'), ['-t', 'net,uts'], opts);
    for (const form of [env.name, `env:${env.name}`, `pid:${env.pid}`, String(env.pid)]) {
      const got = await inodes(['-p', form], opts);
      expect(got.net).toBe(env.namespaces.net);
      expect(got.uts).toBe(env.namespaces.uts);
    }
  });

  it('a namespace file path and an unknown target (exit 1, one line)', async () => {
    const got = await inodes(['-p', '/proc/self/ns/net']);
    // /proc/self of the nsm process that opened it: our own net namespace.
    expect(Object.values(got)).toEqual([inodeOf(readlinkSync('/proc/self/ns/net'))]);
    const r = await nsm(['ls', '-p', 'netns:nsm-not-there-x']);
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n')[0]).toBe('nsm: netns:nsm-not-there-x: no such ip netns name');
  });

  it.skipIf(!isRoot)('netns:NAME: that one network namespace (root only: ip netns add needs it)', async () => {
    const ns = uniqueName('lpn');
    expect(spawnSync('ip', ['netns', 'add', ns]).status).toBe(0);
    netnsNames.push(ns);
    expect(await inodes(['-p', `netns:${ns}`])).toEqual({ net: statSync(`/run/netns/${ns}`).ino });
  });
});
