/**
 * Synchronous writers for stdout and stderr that work on the file descriptors (1 and 2)
 * instead of process.stdout and process.stderr. When stdout is a pipe, creating its stream
 * loads node:net and node:stream, which costs more than `nsm create` spends on anything of
 * its own but the helper (bench/RESULTS.md). The order of output is kept: Node's own stdout
 * and stderr write synchronously to pipes, files and terminals on Linux too.
 *
 * A reader that went away (`nsm create web | true`) ends nsm at once and quietly with 141
 * (128+SIGPIPE), the status a C tool killed by SIGPIPE has: the rule bin/nsm applies to the
 * streams.
 */
import { writeSync } from 'node:fs';
import { isatty } from 'node:tty';
import { errnoOf, SysError } from './errors.js';

/** What nsm's printers write to: process.stdout, process.stderr, or the writers here. */
export interface Writer {
  write(text: string): unknown;
}

/** 128 + SIGPIPE. */
const EXIT_SIGPIPE = 141;

function writeAll(fd: number, name: string, text: string): boolean {
  const buf = Buffer.from(text);
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(fd, buf, off, buf.length - off);
    } catch (err) {
      const errno = errnoOf(err);
      if (errno === 'EPIPE') process.exit(EXIT_SIGPIPE);
      // Someone made the descriptor non-blocking and the pipe is full: wait for its reader.
      if (errno === 'EAGAIN') {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
        continue;
      }
      throw SysError.fromNode(err, 'write', name);
    }
  }
  return true;
}

/** stdout (fd 1), written synchronously. */
export const stdoutSync: Writer = { write: (text: string) => writeAll(1, 'stdout', text) };

/** stderr (fd 2), written synchronously. */
export const stderrSync: Writer = { write: (text: string) => writeAll(2, 'stderr', text) };

/**
 * The width of the terminal on fd 1 or 2, undefined when it is no terminal (commander's default,
 * `stream.isTTY ? stream.columns : undefined`, without making process.stdout for a pipe).
 */
export function terminalColumns(fd: 1 | 2): number | undefined {
  return isatty(fd) ? (fd === 1 ? process.stdout : process.stderr).columns : undefined;
}

/** Whether fd 1 or 2 is a terminal, asked without making its Node stream (the bundles' isatty: fstat(2)). */
export function isTerminal(fd: 1 | 2): boolean {
  return isatty(fd);
}
