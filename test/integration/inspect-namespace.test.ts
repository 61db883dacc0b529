/**
 * `nsm inspect` of a namespace without a process (issue 12 §4): netns:NAME, a namespace file,
 * ns:INODE show what the file tells (type, inode, nsid, owner user namespace and its creator,
 * parent) and what holds it, instead of refusing. Real kernel; the ip netns name and the
 * unshare process are this file's, deleted and killed by pid afterwards.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, readlinkSync, statSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { isRoot, nsm, uniqueName, waitFor } from './lifecycle-helpers.js';

const netnsNames: string[] = [];
const procs: ChildProcess[] = [];
afterEach(() => {
  for (const p of procs.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  for (const n of netnsNames.splice(0)) spawnSync('ip', ['netns', 'delete', n]);
});

const inodeOf = (link: string) => Number(/\[([0-9]+)\]/.exec(link)![1]);

describe.skipIf(!isRoot)('inspect a namespace without a process (root only: ip netns add and unshare need it)', () => {
  it('netns:NAME: type, inode, owner, and the bind mount that holds it; text and JSON', async () => {
    const ns = uniqueName('insp');
    expect(spawnSync('ip', ['netns', 'add', ns]).status).toBe(0);
    netnsNames.push(ns);
    const inode = statSync(`/run/netns/${ns}`).ino;
    const j = await nsm(['inspect', '--json', `netns:${ns}`]);
    expect(j.stderr).toBe('');
    expect(j.code).toBe(0);
    const doc = JSON.parse(j.stdout);
    expect(doc).toMatchObject({ kind: 'namespace', type: 'net', inode, owner: { inode: inodeOf(readlinkSync('/proc/self/ns/user')), uid: 0 } });
    expect(doc.holders.nprocs).toBe(0);
    expect(doc.holders.mounts.map((m: { path: string }) => m.path)).toContain(`/run/netns/${ns}`);
    const t = await nsm(['inspect', `/run/netns/${ns}`]);
    expect(t.code).toBe(0);
    expect(t.stdout).toContain(`net:[${inode}]`);
    expect(t.stdout).toMatch(new RegExp(`held by +bind mount /run/netns/${ns}`));
    // ns:INODE names the same namespace.
    expect(JSON.parse((await nsm(['inspect', '--json', `ns:${inode}`])).stdout).inode).toBe(inode);
  });

  it('a pid namespace file: its parent, and the user namespace that owns it with its creator uid', async () => {
    const p = spawn('unshare', ['-U', '-r', '-p', '-f', 'sleep', '60'], { stdio: 'ignore' });
    procs.push(p);
    let inner = 0;
    await waitFor(() => {
      const kids = readFileSync(`/proc/${p.pid}/task/${p.pid}/children`, 'utf8').trim();
      inner = Number(kids.split(' ')[0] || 0);
      return inner > 0 && readFileSync(`/proc/${inner}/comm`, 'utf8').trim() === 'sleep';
    }, 'unshare to start sleep');
    const r = await nsm(['inspect', '--json', `/proc/${inner}/ns/pid`]);
    expect(r.stderr).toBe('');
    const doc = JSON.parse(r.stdout);
    expect(doc.type).toBe('pid');
    expect(doc.inode).toBe(inodeOf(readlinkSync(`/proc/${inner}/ns/pid`)));
    expect(doc.parent).toBe(inodeOf(readlinkSync('/proc/self/ns/pid')));
    expect(doc.owner).toMatchObject({ inode: inodeOf(readlinkSync(`/proc/${inner}/ns/user`)), uid: 0 });
    expect(doc.holders.processes.map((x: { pid: number }) => x.pid)).toContain(inner);
  });
});
