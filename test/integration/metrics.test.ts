/**
 * nsm metrics and nsm serve against the real tools that read them: promtool (Debian's
 * prometheus package) checks the exposition, node_exporter's textfile collector serves what
 * --textfile wrote, and nsm serve answers on a loopback port. The exact counting through a
 * real Prometheus server is test/metrics.host.test.ts (it needs a host where nothing else
 * creates namespaces meanwhile).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Daemon, eventually, freePort, httpGet, sample } from '../support/daemons.js';
import { isRoot, NSM, nsm, nsInode, ROOT } from '../support/run.js';

const PROMTOOL = '/usr/bin/promtool';
const NODE_EXPORTER = '/usr/bin/prometheus-node-exporter';
const scratch = mkdtempSync(join(tmpdir(), 'nsm-metrics-'));
const env = { NSM_STATE_DIR: join(scratch, 'state') };
const daemons: Daemon[] = [];

afterEach(async () => {
  await Promise.all(daemons.splice(0).map((d) => d.stop()));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function promtoolCheck(text: string): { status: number | null; output: string } {
  const r = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { status: r.status, output: r.stdout + r.stderr };
}

function startServe(port: number, extra: string[] = []): Daemon {
  const d = new Daemon(process.execPath, [NSM, 'serve', '--listen', `127.0.0.1:${port}`, ...extra], { ...process.env, ...env });
  daemons.push(d);
  return d;
}

describe('nsm metrics', () => {
  it.skipIf(!existsSync(PROMTOOL))('prints an exposition promtool accepts, with the documented series', () => {
    const r = nsm(['metrics'], { env });
    expect(r.status, r.stderr).toBe(0);
    const check = promtoolCheck(r.stdout);
    expect(check.output).toBe('');
    expect(check.status).toBe(0);
    for (const name of ['nsm_namespaces', 'nsm_namespaces_by_owner', 'nsm_user_namespaces', 'nsm_user_namespaces_limit', 'nsm_environments', 'nsm_scan_duration_seconds', 'nsm_scan_partial']) {
      expect(r.stdout).toMatch(new RegExp(`^# TYPE ${name} gauge$`, 'm'));
    }
    expect(sample(r.stdout, 'nsm_build_info{version="0.1.0"}')).toBe(1);
    // Our own namespaces are among those counted: at least one net namespace held by processes.
    expect(sample(r.stdout, 'nsm_namespaces{type="net",held="procs"}')).toBeGreaterThanOrEqual(1);
    const limit = Number(readFileSync('/proc/sys/user/max_user_namespaces', 'utf8'));
    expect(sample(r.stdout, 'nsm_user_namespaces_limit{limit="max_user_namespaces"}')).toBe(limit);
    expect(sample(r.stdout, 'nsm_environments{state="running"}')).toBe(0);
  });

  it.skipIf(!isRoot || !existsSync(PROMTOOL))('unprivileged: what the user can see, with nsm_scan_partial 1', () => {
    const r = nsm(['metrics'], { env: { NSM_STATE_DIR: join(scratch, 'nobody-state') }, asUser: 65534 });
    expect(r.status, r.stderr).toBe(0);
    expect(promtoolCheck(r.stdout).status).toBe(0);
    expect(sample(r.stdout, 'nsm_scan_partial')).toBe(1);
  });

  it('--textfile writes the file atomically: complete, 0644, no temp file left', () => {
    const dir = mkdtempSync(join(scratch, 'textfile-'));
    const file = join(dir, 'nsm.prom');
    const r = nsm(['metrics', '--textfile', file], { env });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    expect(readdirSync(dir)).toEqual(['nsm.prom']);
    expect(statSync(file).mode & 0o777).toBe(0o644);
    expect(readFileSync(file, 'utf8')).toMatch(/^nsm_build_info\{version="0.1.0"\} 1$/m);
  });

  it('--textfile into a missing directory: one line, exit 1, nothing made', () => {
    const r = nsm(['metrics', '--textfile', join(scratch, 'no-such-dir', 'nsm.prom')], { env });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^nsm: .*no-such-dir.*\n$/);
    expect(existsSync(join(scratch, 'no-such-dir'))).toBe(false);
  });

  it.skipIf(!existsSync(NODE_EXPORTER))("node_exporter's textfile collector serves what --textfile wrote", async () => {
    const dir = mkdtempSync(join(scratch, 'collector-'));
    expect(nsm(['metrics', '--textfile', join(dir, 'nsm.prom')], { env }).status).toBe(0);
    const port = await freePort();
    const exporter = new Daemon(NODE_EXPORTER, [
      `--web.listen-address=127.0.0.1:${port}`,
      '--collector.disable-defaults',
      '--collector.textfile',
      `--collector.textfile.directory=${dir}`,
    ]);
    daemons.push(exporter);
    const page = await eventually('node_exporter to answer', async () => {
      const r = await httpGet(port, '/metrics');
      return r.status === 200 && r.body;
    });
    expect(sample(page, 'node_textfile_scrape_error'), exporter.output).toBe(0);
    expect(sample(page, 'nsm_build_info{version="0.1.0"}')).toBe(1);
    expect(page).toMatch(/^nsm_namespaces\{held="procs",type="net"\} [1-9][0-9]*$/m);
    expect(page).toMatch(/^nsm_user_namespaces_limit\{limit="max_user_namespaces"\} [0-9]+$/m);
  });
});

describe('nsm serve', () => {
  it.skipIf(!existsSync(PROMTOOL))('serves /healthz and /metrics on the port asked for; SIGTERM ends it with status 0 and frees the port', async () => {
    const port = await freePort();
    const serve = startServe(port);
    await eventually('/healthz 200', async () => (await httpGet(port, '/healthz')).status === 200);
    const m = await httpGet(port, '/metrics');
    expect(m.status).toBe(200);
    expect(m.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(promtoolCheck(m.body).output).toBe('');
    for (const type of ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'time', 'user', 'uts']) {
      expect(sample(m.body, `nsm_namespaces_created_total{type="${type}"}`)).toBeGreaterThanOrEqual(0);
      expect(sample(m.body, `nsm_namespaces_destroyed_total{type="${type}"}`)).toBeGreaterThanOrEqual(0);
    }
    // Exported from the start; other test files make and end processes meanwhile, and one
    // that exits before the monitor reads it counts (poll mode, as a user, sees more of them).
    expect(sample(m.body, 'nsm_monitor_lost_events_total')).toBeGreaterThanOrEqual(0);
    expect(sample(m.body, 'nsm_scan_duration_seconds')).toBeGreaterThan(0);
    expect((await httpGet(port, '/nothing')).status).toBe(404);
    const done = await serve.stop();
    expect(done, serve.output).toEqual({ code: 0, signal: null });
    expect(serve.output).toBe('');
    await expect(httpGet(port, '/healthz')).rejects.toThrow(/ECONNREFUSED/);
  });

  it('a second instance on the same port: one line, exit 1; the first keeps serving, and ends on SIGINT with status 0', async () => {
    const port = await freePort();
    startServe(port);
    await eventually('/healthz 200', async () => (await httpGet(port, '/healthz')).status === 200);
    const second = nsm(['serve', '--listen', `127.0.0.1:${port}`], { env });
    expect(second.status).toBe(1);
    expect(second.stderr).toBe(`nsm: serve: 127.0.0.1:${port} is already in use (another nsm serve?)\n`);
    expect((await httpGet(port, '/healthz')).status).toBe(200);
    // SIGINT (Ctrl-C) ends it as cleanly as SIGTERM.
    const first = daemons.at(-1)!;
    first.child.kill('SIGINT');
    expect(await first.exited).toEqual({ code: 0, signal: null });
  });

  it.skipIf(!isRoot)('unprivileged (uid 65534): serves what that user can see, nsm_scan_partial 1, nothing on stderr', async () => {
    const port = await freePort();
    const d = new Daemon('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, NSM, 'serve', '--listen', `127.0.0.1:${port}`], {
      ...process.env,
      NSM_STATE_DIR: join(scratch, 'nobody-serve'),
    });
    daemons.push(d);
    await eventually('/healthz 200', async () => (await httpGet(port, '/healthz')).status === 200);
    const body = (await httpGet(port, '/metrics')).body;
    expect(sample(body, 'nsm_scan_partial')).toBe(1);
    expect(sample(body, 'nsm_namespaces_created_total{type="net"}')).toBeGreaterThanOrEqual(0);
    expect(await d.stop()).toEqual({ code: 0, signal: null });
    expect(d.output).toBe('');
  });

  it('--listen that is no HOST:PORT is a usage error', () => {
    for (const bad of ['9436', '127.0.0.1:0', '127.0.0.1:65536', 'localhost:http', '[::1]']) {
      const r = nsm(['serve', '--listen', bad], { env });
      expect(r.status, bad).toBe(2);
      expect(r.stderr, bad).toMatch(/^nsm: --listen needs HOST:PORT \(port 1-65535\), not: .*\n$/);
    }
  });

  it.skipIf(!isRoot)('counts the net namespaces the test creates and destroys between two scrapes', async () => {
    const port = await freePort();
    startServe(port);
    await eventually('/healthz 200', async () => (await httpGet(port, '/healthz')).status === 200);
    const read = async (): Promise<[number, number]> => {
      const body = (await httpGet(port, '/metrics')).body;
      return [sample(body, 'nsm_namespaces_created_total{type="net"}')!, sample(body, 'nsm_namespaces_destroyed_total{type="net"}')!];
    };
    const [created0, destroyed0] = await read();
    const N = 3;
    const children = Array.from({ length: N }, () => spawn('unshare', ['-n', 'sleep', '60'], { stdio: 'ignore' }));
    // Other tests may make namespaces meanwhile (the exact count is the host test's): at least ours.
    // Ours live until the exporter has counted them: a namespace gone before the monitor reads
    // its first process's /proc/PID/ns is one no monitor can see (a loaded CI run was that slow).
    try {
      await eventually('the new net namespaces', async () => children.every((c) => nsInode(c.pid!, 'net') !== undefined && nsInode(c.pid!, 'net') !== nsInode('self', 'net')));
      await eventually('ours counted created', async () => (await read())[0] - created0 >= N);
    } finally {
      await Promise.all(children.map((c) => new Promise((r) => (c.once('exit', r), c.kill('SIGKILL')))));
    }
    await eventually('ours counted destroyed', async () => (await read())[1] - destroyed0 >= N);
  });
});

describe('docs/monitoring.md ("Many hosts", moved there from the README)', () => {
  const section = readFileSync(join(ROOT, 'docs', 'monitoring.md'), 'utf8');

  it('has one line for every metric nsm serve exports, and no other', async () => {
    const port = await freePort();
    startServe(port);
    await eventually('/healthz 200', async () => (await httpGet(port, '/healthz')).status === 200);
    const exported = [...(await httpGet(port, '/metrics')).body.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]).sort();
    const documented = [...section.matchAll(/^\| `(nsm_[a-z_]+)[{`]/gm)].map((m) => m[1]).sort();
    expect(documented).toEqual(exported);
  });

  it.skipIf(!existsSync(PROMTOOL))('its example alerts pass promtool check rules', () => {
    const rules = /```yaml\n(groups:[\s\S]*?)```/.exec(section)![1]!;
    const file = join(scratch, 'rules.yml');
    writeFileSync(file, rules);
    const r = spawnSync(PROMTOOL, ['check', 'rules', file], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).toMatch(/SUCCESS: 3 rules found/);
    expect(r.status).toBe(0);
  });
});
