/**
 * deploy/: the systemd unit and the Kubernetes manifest run `nsm serve` as nsm has it. The
 * YAML is parsed, the commands are run through bin/nsm (on a free loopback port instead of
 * theirs), the ports agree with what serve listens on, and both grant the same capabilities.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { buildProgram } from '../../src/commands/program.js';
import { parseListen } from '../../src/commands/serve.js';
import { Daemon, eventually, freePort, httpGet } from '../support/daemons.js';
import { isRoot, NSM, ROOT } from '../support/run.js';

const scratch = mkdtempSync(join(tmpdir(), 'nsm-deploy-'));
const daemons: Daemon[] = [];
afterEach(async () => {
  await Promise.all(daemons.splice(0).map((d) => d.stop()));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const unitText = readFileSync(join(ROOT, 'deploy/nsm-serve.service'), 'utf8');
const docs = parseAllDocuments(readFileSync(join(ROOT, 'deploy/kubernetes.yaml'), 'utf8')).map((d) => {
  expect(d.errors).toEqual([]);
  return d.toJS() as { kind: string; spec: any; metadata: { name: string } };
});
const byKind = (kind: string) => docs.find((d) => d.kind === kind)!;

/** Values of `key=` lines of the unit (the last one wins, as in systemd). */
function unitValue(key: string): string | undefined {
  return [...unitText.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].at(-1)?.[1];
}

/** `nsm serve --listen ADDR ...`: checks it is a command nsm has and returns the address. */
function serveArgs(argv: readonly string[]): { listen: { host: string; port: number }; rest: string[] } {
  expect(argv[0]).toMatch(/(^|\/)nsm$/);
  const names = buildProgram().commands.map((c) => c.name());
  expect(names).toContain(argv[1]);
  expect(argv[1]).toBe('serve');
  const i = argv.indexOf('--listen');
  expect(i).toBeGreaterThan(1);
  return { listen: parseListen(argv[i + 1]!), rest: argv.filter((_, j) => j > 1 && j !== i && j !== i + 1) };
}

/** Run `nsm serve` with the deployment's other options on a free loopback port; it must come up. */
async function runsThrough(rest: string[], prefix: string[] = []): Promise<string> {
  const port = await freePort();
  const argv = [...prefix, process.execPath, NSM, 'serve', ...rest, '--listen', `127.0.0.1:${port}`];
  const d = new Daemon(argv[0]!, argv.slice(1), { ...process.env, NSM_STATE_DIR: join(scratch, 'state') });
  daemons.push(d);
  await eventually(`nsm serve ${rest.join(' ')} to answer`, async () => (await httpGet(port, '/healthz')).status === 200);
  const metrics = await httpGet(port, '/metrics');
  expect(metrics.status, metrics.body).toBe(200);
  expect(await d.stop()).toEqual({ code: 0, signal: null });
  expect(d.output).toBe('');
  return metrics.body;
}

describe('deploy/nsm-serve.service', () => {
  it('runs nsm serve on loopback 9436, hardened, with the capabilities docs/monitoring.md lists', async () => {
    const exec = unitValue('ExecStart')!.split(/\s+/);
    const { listen, rest } = serveArgs(exec);
    expect(listen).toEqual({ host: '127.0.0.1', port: 9436 });
    await runsThrough(rest);
    expect(unitValue('NoNewPrivileges')).toBe('yes');
    expect(unitValue('ProtectSystem')).toBe('strict');
    expect(unitValue('CapabilityBoundingSet')!.split(/\s+/).sort()).toEqual(['CAP_DAC_READ_SEARCH', 'CAP_NET_ADMIN', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SYS_PTRACE']);
  });

  it.skipIf(!isRoot)('nsm serve runs with only those capabilities and no new privileges', async () => {
    const caps = unitValue('CapabilityBoundingSet')!.split(/\s+/).map((c) => `+${c.slice(4).toLowerCase()}`);
    const body = await runsThrough([], ['setpriv', `--bounding-set=-all,${caps.join(',')}`, '--inh-caps=-all', '--no-new-privs']);
    expect(body).toMatch(/^nsm_namespaces\{type="net",held="procs"\} [1-9]/m);
  });

  it.skipIf(!existsSync('/usr/bin/systemd-analyze'))('systemd-analyze verify accepts it (pointed at this bin/nsm)', () => {
    const unit = join(scratch, 'nsm-serve.service');
    writeFileSync(unit, unitText.replaceAll('/usr/local/bin/nsm', NSM));
    const r = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});

describe('deploy/kubernetes.yaml', () => {
  it('DaemonSet: nsm serve on the port its Service and ServiceMonitor use; hostPID, read-only /run, capabilities not privileged', async () => {
    const ds = byKind('DaemonSet').spec.template.spec;
    const c = ds.containers[0];
    const { listen, rest } = serveArgs(c.command);
    await runsThrough(rest);
    const port = c.ports.find((p: { name: string }) => p.name === 'metrics');
    expect(port.containerPort).toBe(listen.port);
    expect(ds.hostPID).toBe(true);
    expect(c.securityContext.privileged).toBe(false);
    expect(c.securityContext.allowPrivilegeEscalation).toBe(false);
    expect(c.securityContext.capabilities.drop).toEqual(['ALL']);
    expect(c.securityContext.capabilities.add.map((cap: string) => `CAP_${cap}`).sort()).toEqual(unitValue('CapabilityBoundingSet')!.split(/\s+/).sort());
    const run = c.volumeMounts.find((m: { mountPath: string }) => m.mountPath === '/run');
    expect(run.readOnly).toBe(true);
    expect(ds.volumes.find((v: { name: string }) => v.name === run.name).hostPath.path).toBe('/run');
    for (const probe of [c.readinessProbe, c.livenessProbe]) expect(probe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });

    const svc = byKind('Service').spec;
    const svcPort = svc.ports.find((p: { targetPort: string }) => p.targetPort === 'metrics');
    expect(svcPort.port).toBe(listen.port);
    expect(svc.selector).toEqual(byKind('DaemonSet').spec.selector.matchLabels);
    const sm = byKind('ServiceMonitor').spec;
    expect(sm.endpoints[0].port).toBe(svcPort.name);
    expect(sm.endpoints[0].path).toBe('/metrics');
    expect(sm.selector.matchLabels).toEqual(svc.selector);
  });
});
