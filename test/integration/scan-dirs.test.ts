/**
 * nsm-helper scan's reads on the real /proc (native/scan.c): a short getdents64(2) read of a
 * procfs fd or task directory is its end, so each is read once, not twice (a directory
 * larger than one read is still read whole); the cgroup file of a namespace's first process
 * comes in a G record, so that Node need not read it again.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { helperBinary } from '../../src/sys/native.js';

const hasStrace = spawnSync('strace', ['-V']).status === 0;

describe('nsm-helper scan reads /proc directories once', () => {
  // A process of ours with 1,000 fds (more than one 8 KiB getdents64 read of its fd
  // directory) and a namespace file open at the last one.
  let holder: ReturnType<typeof spawn>;
  beforeAll(async () => {
    holder = spawn('bash', ['-c', 'for i in $(seq 10 1009); do eval "exec $i</dev/null"; done; exec 1010</proc/self/ns/uts; echo ready; exec sleep 60'], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      holder.stdout!.once('data', () => resolve());
      holder.once('exit', (code) => reject(new Error(`holder exited: ${code}`)));
    });
  });
  afterAll(() => {
    holder.kill('SIGKILL');
  });

  it('finds a namespace fd behind a thousand others', () => {
    const uts = Number(/\[(\d+)\]/.exec(readlinkSync(`/proc/${holder.pid}/ns/uts`))![1]);
    const r = spawnSync(helperBinary(), ['scan', '--no-reps', '--no-ids', '--no-sockets', '--jobs', '1'], { encoding: 'utf8', maxBuffer: 1 << 28 });
    expect(r.status).toBe(0);
    expect(r.stdout.split('\n')).toContain(`F ${holder.pid} 1010 uts ${uts}`);
  });

  it.skipIf(!hasStrace)('one getdents64 per small fd directory, not two (strace)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nsm-scan-dirs-'));
    try {
      const log = join(dir, 'trace');
      const r = spawnSync('strace', ['-f', '-e', 'trace=getdents64', '-o', log, helperBinary(), 'scan', '--no-reps', '--no-ids', '--no-sockets', '--no-threads', '--jobs', '1'], { encoding: 'utf8', maxBuffer: 1 << 28 });
      expect(r.status).toBe(0);
      const processes = r.stdout.split('\n').filter((l) => l.startsWith('P ')).length;
      const reads = readFileSync(log, 'utf8').split('\n').filter((l) => l.includes('getdents64(')).length;
      // Each process's fd directory once (twice for the few with a directory larger than a
      // read, such as the holder above), plus the listing of /proc itself. Without the
      // short-read rule every fd directory takes two reads.
      expect(reads).toBeLessThan(processes * 1.5 + 20);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('nsm-helper scan G records', () => {
  it('carry the cgroup file of the first process of a new namespace, as read from /proc', async () => {
    // A uts namespace of its own (rootless through a user namespace of its own too).
    const asRoot = process.geteuid?.() === 0;
    const child = spawn('unshare', [...(asRoot ? [] : ['-U', '-r']), '-u', 'sleep', '30'], { stdio: 'ignore' });
    try {
      const pid = child.pid!;
      const own = () => readlinkSync(`/proc/${pid}/ns/uts`) !== readlinkSync('/proc/self/ns/uts');
      for (let i = 0; i < 500 && !own(); i++) await new Promise((r) => setTimeout(r, 10));
      expect(own()).toBe(true);
      const r = spawnSync(helperBinary(), ['scan', '--no-ids', '--no-sockets'], { encoding: 'utf8', maxBuffer: 1 << 28 });
      expect(r.status).toBe(0);
      const record = r.stdout.split('\n').find((l) => l.startsWith(`G ${pid} `));
      const text = readFileSync(`/proc/${pid}/cgroup`, 'utf8').replace(/\n+$/, '');
      expect(record).toBe(`G ${pid} ${text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
