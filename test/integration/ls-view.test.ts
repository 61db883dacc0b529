/**
 * What ls, ps and monitor show a person (issue 16 §1): the ENVIRONMENTS section only in the
 * default view and `ls --envs` for scripts, command lines without title padding, columns cut
 * to a terminal's width (through a real pty: script(1)), processes another user cannot see,
 * and monitor's JOIN names and its summary after a Ctrl-C.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, create, isRoot, NSM, nsm, ROOTLESS_UID, stateDir, uniqueName, waitFor } from './lifecycle-helpers.js';

const started: ChildProcess[] = [];
afterEach(async () => {
  for (const c of started.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) {
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await exited;
    }
  }
  await cleanup();
});

/** As root, environments are made as the rootless user too (its own state directory). */
const as = isRoot ? { uid: ROOTLESS_UID } : {};
const inode = (pid: number, type: string): number => Number(/\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/ns/${type}`))![1]);
const plain = (text: string): string => text.replace(/\x1b\[[0-9;]*m/g, '');

/** `nsm ARGS` on a pty of `cols` columns (script(1)); the output as lines, escapes removed. */
function onTerminal(args: string, cols: number, env: NodeJS.ProcessEnv): string[] {
  const r = spawnSync('script', ['-qec', `stty cols ${cols}; exec ${process.execPath} ${NSM} ${args}`, '/dev/null'], {
    encoding: 'utf8',
    env: { ...process.env, ...env, SHELL: '/bin/sh', NO_COLOR: undefined },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  expect(r.status, r.stderr).toBe(0);
  return plain(r.stdout).split('\r\n').filter((l) => l !== '');
}

describe('ls: the ENVIRONMENTS section and ls --envs', () => {
  it('only the default view appends ENVIRONMENTS; --envs lists environments alone, with -J, -n, -o, -r', async () => {
    const dir = stateDir(as.uid);
    const name = uniqueName('lsv');
    const env = await create(name, ['-t', 'uts'], { ...as, stateDir: dir });
    const run = async (...args: string[]) => {
      const r = await nsm(args, { ...as, stateDir: dir });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      return r.stdout;
    };
    expect(await run('ls')).toMatch(new RegExp(`\\nENVIRONMENTS\\nNAME +TYPES .*\\n${name} `));
    for (const args of [['-n'], ['-t', 'uts'], ['-o', 'NS,TYPE'], ['--owner', 'nsm'], ['--output-all'], ['-p', String(env.pid)], ['-P']]) {
      expect(await run('ls', ...args), `ls ${args.join(' ')}`).not.toMatch(/ENVIRONMENTS/);
    }
    expect(await run('ls', '--envs', '-n', '-o', 'NAME,STATE')).toBe(`${name} running\n`);
    expect(await run('ls', '--envs', '-r', '-o', 'NAME,PID')).toBe(`NAME PID\n${name} ${env.pid}\n`);
    expect((await run('ls', '--envs')).split('\n')[0]).toMatch(/^NAME +TYPES +PID +STATE +AGE +USER$/);
    // -J: the same elements as `ls --json`'s environments[]; with -o, those columns' keys.
    const full = JSON.parse(await run('ls', '--envs', '-J'));
    expect(full.environments).toEqual(JSON.parse(await run('ls', '--json')).environments);
    expect(full.environments[0]).toMatchObject({ name, pid: env.pid, state: 'running' });
    const picked = JSON.parse(await run('ls', '--envs', '-J', '-o', 'name,pid,types'));
    expect(picked).toEqual({ schemaVersion: 1, environments: [{ name, pid: env.pid, types: Object.keys(env.namespaces) }] });
    expect(await run('ls', '--envs', '-H')).toMatch(/^ +NAME {2}environment name$/m);
    const bad = await nsm(['ls', '--envs', '-t', 'net'], { stateDir: dir });
    expect(bad).toMatchObject({ code: 2, stdout: '', stderr: 'nsm: --envs lists environments: -t selects namespaces\n' });
  });
});

describe('command lines as shown', () => {
  it("a holder's command is exactly its title; a command line's trailing empty arguments leave no blanks", async () => {
    const dir = stateDir(as.uid);
    const name = uniqueName('ttl');
    const env = await create(name, ['-t', 'uts'], { ...as, stateDir: dir });
    // A process whose argv ends in empty strings, alone in a new uts namespace.
    const sh = spawn('unshare', ['-r', '-u', 'sh', '-c', 'sleep 60; :', 'x', '', ''], { stdio: 'ignore' });
    started.push(sh);
    await waitFor(() => inode(sh.pid!, 'uts') !== inode(process.pid, 'uts'), 'the new uts namespace');
    const doc = JSON.parse((await nsm(['ls', '-J', '-t', 'uts'])).stdout);
    const row = (ns: number) => doc.namespaces.find((r: { ns: number }) => r.ns === ns);
    expect(row(env.namespaces.uts!).command).toBe(`nsm:holder ${name}`);
    expect(row(inode(sh.pid!, 'uts')).command).toBe('sh -c sleep 60; : x');
    const raw = (await nsm(['ls', '-r', '-t', 'uts', '-o', 'NS,COMMAND'])).stdout;
    expect(raw).toContain(`\n${env.namespaces.uts} nsm:holder\\x20${name}\n`);
  });
});

describe('columns on a terminal', () => {
  it('a 64-character name: rows are cut to the width of a TTY (-u keeps them whole); a pipe gets them whole', async () => {
    const dir = stateDir(as.uid);
    const name = `w${uniqueName('').slice(1)}`.padEnd(64, 'w');
    await create(name, ['-t', 'uts'], { ...as, stateDir: dir });
    const env = { NSM_STATE_DIR: dir };
    const cut = onTerminal('ls -t uts', 100, env);
    expect(cut[0]).toMatch(/^ +NS TYPE +NPROCS +PID USER +NAME +COMMAND$/);
    for (const l of cut) expect(l.length, l).toBeLessThanOrEqual(100);
    expect(cut.some((l) => l.includes('nsm:holder w') && l.endsWith('…'))).toBe(true);
    const whole = onTerminal('ls -u -t uts', 100, env);
    expect(whole.some((l) => l.length > 100 && l.endsWith(`nsm:holder ${name}`))).toBe(true);
    const piped = await nsm(['ls', '-t', 'uts'], { stateDir: dir });
    expect(piped.stdout).toContain(`nsm:holder ${name}\n`);
  });
});

describe.skipIf(!isRoot)('processes another user cannot see (root only: runs nsm as uid 1000)', () => {
  it('a namespace holding only root\'s processes is "not visible", not "no processes"', async () => {
    const netns = uniqueName('lsvis');
    expect(spawnSync('ip', ['netns', 'add', netns]).status).toBe(0);
    try {
      const file = Number(/\d+/.exec(spawnSync('stat', ['-L', '-c', '%i', `/run/netns/${netns}`], { encoding: 'utf8' }).stdout)![0]);
      const user = { uid: 1000 };
      const doc = JSON.parse((await nsm(['ls', '-J', '-t', 'net'], user)).stdout);
      expect(doc.hiddenProcesses).toBeGreaterThan(0);
      expect(doc.namespaces.find((r: { ns: number }) => r.ns === file)).toMatchObject({ nprocs: 0, processesHidden: true });
      expect((await nsm(['ls', '-t', 'net', '-o', 'NS,NPROCS', '-n'], user)).stdout).toMatch(new RegExp(`^${file} +\\?$`, 'm'));
      const human = (await nsm(['ls'], user)).stdout;
      expect(human).toMatch(/\nNPROCS \?: [\d,]+ process(es)? not visible to you /);
      // Root reads every process's namespaces (here only a sandbox's init refuses it): a count.
      const rootDoc = JSON.parse((await nsm(['ls', '-J', '-t', 'net'])).stdout);
      expect(rootDoc.namespaces.find((r: { ns: number }) => r.ns === file)).toMatchObject({ nprocs: 0, processesHidden: false });
      const ps = await nsm(['ps', '-t', 'net'], user);
      expect(ps.stdout).toContain(`net:[${file}]  processes not visible to you (held by mount)  netns:${netns}\n`);
      const psJson = JSON.parse((await nsm(['ps', '-t', 'net', '--json'], user)).stdout);
      expect(psJson.hiddenProcesses).toBeGreaterThan(0);
      expect(psJson.namespaces.find((g: { ns: number }) => g.ns === file)).toMatchObject({ nprocs: 0, processesHidden: true });
    } finally {
      spawnSync('ip', ['netns', 'delete', netns]);
    }
  });
});

describe('monitor', () => {
  it('-v: a JOIN line names the namespace it joins (its environment), as NEW lines do', async () => {
    const dir = stateDir(as.uid);
    const name = uniqueName('mjn');
    const env = await create(name, ['-t', 'uts'], { ...as, stateDir: dir });
    // The shell waits for a line, so the monitor follows it (-p) before it joins. nsenter(1)
    // execs after setns(2): the exec is the process event the monitor sees the JOIN by.
    const join = isRoot ? '-u' : '-U --preserve-credentials -u';
    const sh = spawn('sh', ['-c', `read go; nsenter -t ${env.pid} ${join} sleep 0.5`], { stdio: ['pipe', 'ignore', 'inherit'] });
    started.push(sh);
    const mon = spawn(process.execPath, [NSM, 'monitor', '--baseline', '-v', '-t', 'uts', '-p', String(sh.pid), '-d', '6'], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, NSM_STATE_DIR: dir, NO_COLOR: '1' },
    });
    started.push(mon);
    const lines: string[] = [];
    createInterface({ input: mon.stdout! }).on('line', (l) => {
      lines.push(l);
      if (l.includes('BASELINE')) sh.stdin!.end('go\n');
    });
    await new Promise((r) => mon.once('exit', r));
    const seen = lines.find((l) => / JOIN +uts +\d+ /.test(l) && l.includes(String(env.namespaces.uts)));
    expect(seen, lines.join('\n')).toMatch(new RegExp(`JOIN +uts +${env.namespaces.uts}  pid \\d+  sleep 0\\.5  nsm:${name}  \\(from \\d+\\)$`));
  });

  it('after a Ctrl-C on a terminal, the summary starts on its own line, not after the echoed ^C', async () => {
    const child = spawn('script', ['-qec', `exec ${process.execPath} ${NSM} monitor --baseline -t time`, '/dev/null'], {
      stdio: ['pipe', 'pipe', 'inherit'],
      env: { ...process.env, SHELL: '/bin/sh', NO_COLOR: undefined },
    });
    started.push(child);
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    await waitFor(() => out.includes('BASELINE'), 'the baseline', 15_000);
    child.stdin!.write('\x03'); // the terminal's interrupt character: SIGINT, echoed as ^C
    await new Promise((r) => child.once('exit', r));
    expect(plain(out)).toMatch(/\^C\r\n\d\d:\d\d:\d\d\.\d{3} SUMMARY /);
  });
});
