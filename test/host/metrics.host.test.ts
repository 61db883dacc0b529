/**
 * A real Prometheus server (Debian's prometheus package) scrapes `nsm serve` every second;
 * the test creates and destroys time namespaces and asks Prometheus's HTTP API how much the
 * counters grew. Exact counts: a host test, run when nothing else creates namespaces (see
 * test/vitest.config.ts). The server, nsm serve, the namespaces' processes and the data
 * directory are all removed at the end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Daemon, eventually, freePort, httpGet, sample } from '../support/daemons.js';
import { childrenOf, isRoot, NSM, nsInode } from '../support/run.js';

const PROMETHEUS = '/usr/bin/prometheus';
/**
 * Time namespaces: the counters are host-wide, and other software (and other test files
 * when this one is run on its own) makes net, uts or mnt namespaces all the time; hardly
 * anything makes time namespaces.
 */
const TYPE = 'time';
const scratch = mkdtempSync(join(tmpdir(), 'nsm-prometheus-'));
const daemons: Daemon[] = [];
const holders: ChildProcess[] = [];

afterAll(async () => {
  for (const c of holders) {
    // The sleeps first (unshare --fork's children, ours too), then the unshares.
    for (const k of c.pid !== undefined ? childrenOf(c.pid) : []) {
      try {
        process.kill(k, 'SIGKILL');
      } catch {
        // gone
      }
    }
    c.kill('SIGKILL');
  }
  // Prometheus first (it scrapes nsm serve), then nsm serve; then the data directory.
  for (const d of daemons.reverse()) await d.stop(10_000);
  rmSync(scratch, { recursive: true, force: true });
});

/** The instant value of a PromQL expression, or undefined when it has no result. */
async function query(port: number, expr: string): Promise<number | undefined> {
  const r = await httpGet(port, `/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = JSON.parse(r.body) as { status: string; data: { result: Array<{ value: [number, string] }> } };
  if (body.status !== 'success') throw new Error(r.body);
  const v = body.data.result[0]?.value[1];
  return v === undefined ? undefined : Number(v);
}

describe.skipIf(!isRoot || !existsSync(PROMETHEUS))('Prometheus scraping nsm serve', () => {
  it('counts exactly the time namespaces the test created and destroyed', async () => {
    const servePort = await freePort();
    const serve = new Daemon(process.execPath, [NSM, 'serve', '--listen', `127.0.0.1:${servePort}`], { ...process.env, NSM_STATE_DIR: join(scratch, 'state') });
    daemons.push(serve);
    await eventually('nsm serve /healthz 200', async () => (await httpGet(servePort, '/healthz')).status === 200);

    const promPort = await freePort();
    const config = join(scratch, 'prometheus.yml');
    writeFileSync(
      config,
      `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: nsm\n    static_configs:\n      - targets: ['127.0.0.1:${servePort}']\n`,
    );
    const prometheus = new Daemon(PROMETHEUS, [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(scratch, 'data')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
      '--storage.tsdb.retention.time=1h',
    ]);
    daemons.push(prometheus);

    const counters = async (): Promise<[number | undefined, number | undefined]> => [
      await query(promPort, `nsm_namespaces_created_total{job="nsm",type="${TYPE}"}`),
      await query(promPort, `nsm_namespaces_destroyed_total{job="nsm",type="${TYPE}"}`),
    ];
    const [created0, destroyed0] = await eventually('Prometheus to have scraped nsm serve', async () => {
      const c = await counters();
      return (await query(promPort, 'up{job="nsm"}')) === 1 && c[0] !== undefined && c[1] !== undefined && c;
    }, 30_000);

    const N = 5;
    for (let i = 0; i < N; i++) holders.push(spawn('unshare', ['--time', '--fork', 'sleep', '120'], { stdio: 'ignore' }));
    // unshare --time puts its children in the new time namespace (time_namespaces(7)): the sleeps.
    const sleeps = await eventually('the sleeps in their new time namespaces', async () => {
      const kids = holders.map((c) => childrenOf(c.pid!)[0]);
      return kids.every((k) => k !== undefined && nsInode(k, 'time') !== undefined && nsInode(k, 'time') !== nsInode('self', 'time')) && (kids as number[]);
    });
    expect(new Set(sleeps.map((k) => nsInode(k, 'time'))).size).toBe(N);
    // They live until nsm serve has counted them: a namespace gone before the monitor has read
    // a process in it is one no monitor can count (a loaded CI run was that slow once).
    await eventually('nsm serve to count them created', async () => {
      const body = (await httpGet(servePort, '/metrics')).body;
      return (sample(body, `nsm_namespaces_created_total{type="${TYPE}"}`) ?? 0) - created0! >= N;
    });
    // Each sleep is killed by its pid; its unshare then ends the same way (it waits for it).
    for (const k of sleeps) process.kill(k, 'SIGKILL');
    await Promise.all(holders.map((c) => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r(null) : c.once('exit', r)))));

    // nsm serve has them all (created and destroyed), then a scrape later Prometheus does.
    await eventually('nsm serve to count them', async () => {
      const body = (await httpGet(servePort, '/metrics')).body;
      return (sample(body, `nsm_namespaces_destroyed_total{type="${TYPE}"}`) ?? 0) - destroyed0! >= N;
    });
    const [created1, destroyed1] = await eventually('Prometheus to see the counts', async () => {
      const c = await counters();
      return c[1]! - destroyed0! >= N && c;
    });
    expect(created1! - created0!, prometheus.output).toBe(N);
    expect(destroyed1! - destroyed0!).toBe(N);
    expect(await query(promPort, 'nsm_monitor_lost_events_total{job="nsm"}')).toBe(0);
    // And the range function the README's alert uses sees them too.
    const increase = await query(promPort, `increase(nsm_namespaces_created_total{job="nsm",type="${TYPE}"}[1m])`);
    expect(increase).toBeGreaterThan(0);

    expect(await prometheus.stop(10_000)).toEqual({ code: 0, signal: null });
    expect(await serve.stop()).toEqual({ code: 0, signal: null });
  }, 90_000);
});
