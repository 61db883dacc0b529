/**
 * spawnAndWait() (src/sys/libc.ts): child_process.spawnSync() through posix_spawn(3), which
 * starts every holder; spawnCommand() and waitForChild(): child_process.spawn() through
 * posix_spawnp(3), which runs the command of `nsm exec` after an in-process join. Real
 * processes on the real kernel.
 */
import { describe, expect, it } from 'vitest';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnAndWait, spawnCommand, waitForChild } from '../../src/sys/libc.js';
import { SysError } from '../../src/sys/errors.js';
import * as addon from '../../src/sys/spawn-addon.js';

const readFileText = (path: string): string => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
};

const sh = (script: string, input = Buffer.alloc(0), env?: NodeJS.ProcessEnv) => spawnAndWait('/bin/sh', ['sh', '-c', script], input, env);

describe('spawnAndWait', () => {
  it('passes argv, stdin and the environment; returns stdout, stderr and the exit status', () => {
    const r = spawnAndWait('/bin/sh', ['sh', '-c', 'echo "$0 $1 $NSM_X"; cat; echo err >&2; exit 7', 'a b', 'c'], Buffer.from('in\n'), { PATH: process.env.PATH, NSM_X: 'x' });
    expect(r).toEqual({ status: 7, signal: null, stdout: Buffer.from('a b c x\nin\n'), stderr: Buffer.from('err\n') });
  });

  it('reports the signal that ended the child', () => {
    const r = sh('kill -TERM $$');
    expect(r.status).toBeNull();
    expect(r.signal).toBe('SIGTERM');
  });

  it('moves more than a pipe holds in every direction at once without a deadlock', () => {
    const input = Buffer.alloc(300_000, 'i');
    // Echo stdin to stdout while writing 200 kB to stderr, interleaved, so that each side
    // waits for the other if the parent does not drain both while it writes.
    const r = sh('head -c 200000 /dev/zero | tr "\\0" e >&2 & cat; wait', input);
    expect(r.status).toBe(0);
    expect(r.stdout.equals(input)).toBe(true);
    expect(r.stderr.length).toBe(200_000);
  });

  it('a child that does not read its input is not an error', () => {
    const r = spawnAndWait('/bin/true', ['true'], Buffer.alloc(1_000_000, 'x'));
    expect(r).toMatchObject({ status: 0, signal: null });
  });

  it('the child starts with default signal actions and none blocked (Node ignores SIGPIPE)', () => {
    // With SIGPIPE ignored, yes would get EPIPE and complain on stderr instead of dying quietly.
    const r = sh('yes | head -n 1; grep -E "^Sig(Blk|Ign)" /proc/self/status');
    expect(r.stderr.toString()).toBe('');
    const lines = r.stdout.toString().trim().split('\n');
    expect(lines[0]).toBe('y');
    expect(lines.slice(1)).toEqual(['SigBlk:\t0000000000000000', 'SigIgn:\t0000000000000000']);
  });

  it('inherits none of Node\'s own descriptors: only 0, 1 and 2', () => {
    // Descriptors this process was itself given without close-on-exec pass on as they would
    // through child_process; everything Node opens is close-on-exec (fdinfo flags 02000000).
    const inherited = readdirSync('/proc/self/fd')
      .map(Number)
      .filter((fd) => fd > 2)
      .filter((fd) => {
        const flags = /^flags:\s*([0-7]+)$/m.exec(readFileText(`/proc/self/fdinfo/${fd}`))?.[1];
        return flags !== undefined && (parseInt(flags, 8) & 0o2000000) === 0;
      });
    const file = openSync('/proc/self/status', 'r');
    try {
      // ls runs as the shell's child and lists the shell's descriptors.
      const r = sh('ls /proc/$$/fd');
      const fds = r.stdout.toString().trim().split('\n').map(Number);
      expect(fds.sort((a, b) => a - b)).toEqual([0, 1, 2, ...inherited].sort((a, b) => a - b));
    } finally {
      closeSync(file);
    }
  });

  it('with `answer`: stdin stays open after the input until answer replies to stdout, then closes', () => {
    const seen: string[] = [];
    // `cat` ends only when stdin is closed: after the answer, not after the input.
    const r = spawnAndWait('/bin/sh', ['sh', '-c', 'read a; echo "question $a"; read b; echo "answer $b"; cat; echo eof'], Buffer.from('input\n'), process.env, (chunk) => {
      seen.push(chunk.toString());
      return seen.join('').includes('\n') ? Buffer.from('yes\nafter\n') : undefined;
    });
    expect(r.status).toBe(0);
    expect(r.stdout.toString()).toBe('question input\nanswer yes\nafter\neof\n');
    expect(seen.join('')).toBe('question input\n'); // not called again once it replied
  });

  it('with `answer`: an exception closes stdin at once, the child is still waited for, and the exception is thrown', () => {
    let pid = 0;
    // The child prints its pid and reads stdin to its end; only the closing lets it exit 5.
    const call = () =>
      spawnAndWait('/bin/sh', ['sh', '-c', 'echo $$; cat >/dev/null; exit 5'], Buffer.alloc(0), process.env, (chunk) => {
        pid = Number(chunk.toString().trim());
        throw new Error('no answer');
      });
    expect(call).toThrow('no answer');
    expect(pid).toBeGreaterThan(0);
    // Waited for (reaped): not even a zombie of ours is left.
    expect(readFileText(`/proc/${pid}/stat`)).toBe('');
  });

  it('with `answer`: a child that exits without prompting an answer is waited for as usual', () => {
    const r = spawnAndWait('/bin/sh', ['sh', '-c', 'echo hi; exit 3'], Buffer.from('x'), process.env, () => undefined);
    expect(r).toMatchObject({ status: 3, signal: null, stdout: Buffer.from('hi\n') });
  });

  it('a missing program is a SysError naming posix_spawn', () => {
    expect(() => spawnAndWait('/nonexistent/nsm-test', ['x'], Buffer.alloc(0))).toThrow(SysError);
    try {
      spawnAndWait('/nonexistent/nsm-test', ['x'], Buffer.alloc(0));
    } catch (err) {
      expect(err).toMatchObject({ call: 'posix_spawn', errno: 'ENOENT' });
    }
  });
});

describe('spawnCommand and waitForChild', () => {
  const withScratch = async (f: (dir: string) => Promise<void>) => {
    const dir = mkdtempSync(join(tmpdir(), 'nsm-spawn-'));
    try {
      await f(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  /** The child's stdout, through a file: fd 1 of the child is that file. */
  const run = async (dir: string, argv: string[], placement: Parameters<typeof spawnCommand>[1] = {}) => {
    const outPath = join(dir, 'out');
    const out = openSync(outPath, 'w');
    let pid: number;
    try {
      pid = spawnCommand(argv, { ...placement, stdio: [undefined, out, undefined] });
    } finally {
      closeSync(out);
    }
    const end = await waitForChild(pid);
    return { ...end, stdout: readFileSync(outPath, 'utf8') };
  };

  it('looks the command up in PATH, runs it in cwd with env, and reports its status or signal', () =>
    withScratch(async (dir) => {
      expect(await run(dir, ['sh', '-c', 'echo "$PWD $NSM_X"; exit 3'], { cwd: '/proc', env: { PATH: process.env.PATH, NSM_X: 'x' } })).toEqual({
        status: 3,
        signal: null,
        stdout: '/proc x\n',
      });
      expect(await run(dir, ['sh', '-c', 'kill -TERM $$'])).toMatchObject({ status: null, signal: 'SIGTERM' });
    }));

  it("searches the command's own PATH, not ours, and leaves ours as it was", () =>
    withScratch(async (dir) => {
      writeFileSync(join(dir, 'nsm-only-here'), '#!/bin/sh\necho found\n', { mode: 0o755 });
      const ours = process.env.PATH;
      expect(await run(dir, ['nsm-only-here'], { env: { PATH: `${dir}:/usr/bin:/bin` } })).toMatchObject({ status: 0, stdout: 'found\n' });
      expect(process.env.PATH).toBe(ours);
      // (A PATH of only searchable directories: one we may not search, such as root's
      // ~/.cargo/bin seen by another user, makes it EACCES, as execvp(3) reports it.)
      expect(() => spawnCommand(['nsm-only-here'], { env: { PATH: '/usr/bin:/bin' } })).toThrow(
        expect.objectContaining({ call: 'execvp(nsm-only-here)', errno: 'ENOENT' }),
      );
    }));

  it('runs a file without a #! line through /bin/sh, found in PATH or by path (execvp(3) does)', () =>
    withScratch(async (dir) => {
      writeFileSync(join(dir, 'bare'), 'echo "bare $0 $1"\n', { mode: 0o755 });
      expect(await run(dir, ['bare', 'arg'], { env: { PATH: dir } })).toMatchObject({ status: 0, stdout: `bare ${join(dir, 'bare')} arg\n` });
      expect(await run(dir, ['./bare', 'arg'], { cwd: dir })).toMatchObject({ status: 0, stdout: 'bare ./bare arg\n' });
    }));

  it('a file that is not executable is EACCES; a directory too', () =>
    withScratch(async (dir) => {
      const file = join(dir, 'not-executable');
      writeFileSync(file, '#!/bin/sh\n', { mode: 0o644 });
      expect(() => spawnCommand([file])).toThrow(expect.objectContaining({ call: `execvp(${file})`, errno: 'EACCES' }));
      expect(() => spawnCommand([dir])).toThrow(expect.objectContaining({ errno: 'EACCES' }));
    }));

  it('onExit runs after the child ended and before the promise settles', async () => {
    const pid = spawnCommand(['sh', '-c', 'exit 0']);
    const seen: string[] = [];
    const done = waitForChild(pid, () => seen.push(`exit ${pid}`)).then(() => seen.push('settled'));
    await done;
    expect(seen).toEqual([`exit ${pid}`, 'settled']);
    // reaped: no zombie left under our pid
    expect(readFileText(`/proc/${pid}/stat`)).not.toMatch(new RegExp(`^${pid} \\(sh\\) Z`));
  });
});

describe.skipIf(!addon.usable([]))('nsm-spawn.node (src/sys/spawn-addon.ts), which starts nsm-helper for exec and unshare', () => {
  it('the child starts with every signal at its default, glibc\'s internal 32 and 33 included, none blocked', async () => {
    // sigfillset() leaves 32 and 33 out of a SETSIGDEF set, and glibc's posix_spawn then sets
    // them to SIG_IGN in the child (Node has handlers there), which execve(2) keeps: the helper,
    // and the command it execs in place, would start with them ignored, unlike under nsenter.
    const dir = mkdtempSync(join(tmpdir(), 'nsm-spawn-addon-'));
    try {
      const out = openSync(join(dir, 'out'), 'w');
      let pid: number;
      try {
        pid = addon.spawnProcess('/bin/sh', ['sh', '-c', 'grep -E "^Sig(Blk|Ign)" /proc/self/status'], { PATH: process.env.PATH }, ['ignore', out, 'inherit']);
      } finally {
        closeSync(out);
      }
      expect(await addon.waitForChild(pid)).toEqual({ status: 0, signal: null });
      expect(readFileSync(join(dir, 'out'), 'utf8').trim().split('\n')).toEqual(['SigBlk:\t0000000000000000', 'SigIgn:\t0000000000000000']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a path longer than PATH_MAX instead of running the program its first 4095 bytes name', () => {
    // Cut at 4095 bytes this is ///...///bin/true, which exists; whole, it names nothing.
    const path = `${'/'.repeat(4095 - 'bin/true'.length)}bin/true-nsm-missing`;
    expect(() => addon.spawnProcess(path, ['true'], {}, ['ignore', 'ignore', 'ignore'])).toThrow(/ENAMETOOLONG/);
  });
});
