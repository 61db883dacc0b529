/**
 * `nsm ls` exits as soon as its output has gone out (bin/nsm exitWhenWritten): a reader slower
 * than nsm, on a pipe too small for the output, still gets all of it.
 */
import { spawnSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NSM } from '../support/run.js';

// `nsm ls NS` of our pid namespace lists every process of it: more than the pipe holds.
const PID_NS = /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))![1]!;
const hasPython = spawnSync('python3', ['-c', 'import fcntl']).status === 0;

// python3: Node cannot shrink a pipe (fcntl F_SETPIPE_SZ, 1031).
const SLOW_READER = `
import fcntl, os, subprocess, sys, time
r, w = os.pipe()
fcntl.fcntl(w, 1031, 4096)
p = subprocess.Popen([${JSON.stringify(process.execPath)}, ${JSON.stringify(NSM)}, 'ls', '${PID_NS}', '--json'], stdout=w)
os.close(w)
time.sleep(1)
data = b''
while True:
    b = os.read(r, 512)
    if not b:
        break
    data += b
    time.sleep(0.001)
sys.stdout.write('%d\\n' % p.wait())
sys.stdout.flush()
os.write(1, data)
`;

describe('nsm ls and a slow reader', () => {
  it.skipIf(!hasPython)('writes everything through a 4 KiB pipe read after nsm is done (python3)', () => {
    const r = spawnSync('python3', ['-c', SLOW_READER], { encoding: 'utf8', maxBuffer: 1 << 26 });
    expect(r.stderr).toBe('');
    const [status, ...rest] = r.stdout.split('\n');
    expect(status).toBe('0');
    const out = rest.join('\n');
    expect(out.length).toBeGreaterThan(4096);
    expect(JSON.parse(out).namespaces.length).toBeGreaterThan(10);
  });
});
