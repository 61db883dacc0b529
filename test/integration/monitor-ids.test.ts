/**
 * nsm monitor in event mode (proc connector, root): the id of a namespace whose only process
 * exits a millisecond after exec (`unshare -n true`). The connector helper reads NS_GET_ID
 * right after the links, so such a NEW carries its id instead of null; consecutive ones,
 * often at the same reused inode, carry distinct ids.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { isRoot, nsmJson, NSM } from '../support/run.js';

/** NS_GET_ID works here (Linux 6.18+): nsm ls shows an id for our own net namespace. */
function kernelHasIds(): boolean {
  const { namespaces } = nsmJson<{ namespaces: Array<{ id: number | null }> }>(['ls', '-J', '-t', 'net', '-p', String(process.pid), '-o', 'NS,NSID']);
  return namespaces[0]?.id != null;
}

const run = (cmd: string, args: string[]): Promise<number> =>
  new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: 'ignore' });
    c.once('error', reject);
    c.once('exit', () => resolve(c.pid!));
  });

describe.skipIf(!isRoot)('monitor: ids of namespaces that live a millisecond (root: proc connector)', () => {
  it('a NEW whose process exited at once still carries its NS_GET_ID', async () => {
    if (!kernelHasIds()) return; // a kernel before 6.18: ids are null by design
    const mon: ChildProcess = spawn(process.execPath, [NSM, 'monitor', '--json', '-t', 'net', '-d', '60'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const events: Array<{ kind: string; pid?: number; id: number | null; inode: number; via: string }> = [];
    createInterface({ input: mon.stdout! }).on('line', (l) => events.push(JSON.parse(l)));
    const stderr: string[] = [];
    mon.stderr!.on('data', (d) => stderr.push(String(d)));
    try {
      // Ready: a first unshare shows up (the helper listens before the monitor prints anything it saw).
      const deadline = Date.now() + 20_000;
      // Each probe is given time to be reported before the next (the helper hands records over in batches).
      const probes = new Set<number>();
      let probe = await run('unshare', ['-n', 'true']);
      for (;;) {
        probes.add(probe);
        await new Promise((r) => setTimeout(r, 200));
        if (events.some((e) => e.kind === 'ns-new' && e.pid === probe)) break;
        if (Date.now() > deadline) throw new Error(`monitor not ready: ${stderr.join('')}`);
        probe = await run('unshare', ['-n', 'true']);
      }
      // Only what is reported from here on, and no pid a probe had: pids wrap (pid_max is 32768
      // on small hosts), and a probe's NEW under a reused pid would be counted twice.
      const from = events.length;
      const pids = new Set<number>();
      for (let i = 0; i < 30; i++) pids.add(await run('unshare', ['-n', 'true']));
      for (const p of probes) pids.delete(p);
      const until = Date.now() + 10_000;
      const ours = () => events.slice(from).filter((e) => e.kind === 'ns-new' && pids.has(e.pid!));
      while (ours().length < pids.size && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
      const news = ours();
      // Should a pid come twice, the failure shows both records.
      const twice = news.filter((e) => news.filter((o) => o.pid === e.pid).length > 1);
      expect(news.length, JSON.stringify(twice)).toBe(pids.size);
      expect(news.every((e) => e.via === 'event')).toBe(true);
      expect(news.filter((e) => e.id === null).map((e) => e.pid)).toEqual([]);
      // Distinct namespaces: distinct ids, even where the inode was reused.
      expect(new Set(news.map((e) => e.id)).size).toBe(news.length);
    } finally {
      mon.kill('SIGINT');
      await new Promise((r) => mon.once('exit', r));
    }
  }, 90_000);
});
