/**
 * A terminal of nsm's own between the caller's terminal and a command that runs as another
 * user (src/core/join.ts), as su(1) --pty and machinectl shell make one. Such a command must
 * never hold the caller's terminal: with it, TIOCSTI (ioctl_tty(2); allowed on one's
 * controlling terminal while dev.tty.legacy_tiocsti is 1) pushes keystrokes into the input
 * of the caller's shell, to run as the caller once nsm exits, and a process it leaves behind
 * reads whatever the caller types next. Here the command's stdio and controlling terminal
 * are the slave of a new pty; nsm copies bytes between the caller's terminal (in raw mode:
 * ^C, ^Z and the rest reach the command's own terminal) and the master, and closes the
 * master when the command has exited, which hangs up anything left holding the slave.
 */
import { closeSync, fstatSync, writeSync } from 'node:fs';
import { isatty, ReadStream } from 'node:tty';
import { copyWindowSize, openPty, type StdioTarget } from './libc.js';

type Stdio = [StdioTarget, StdioTarget, StdioTarget];

export interface PtyRelay {
  /** The command's stdio: each terminal of the caller's replaced by the pty's slave. */
  stdio: Stdio;
  /** Once the command has exited: its last output, the master closed, the caller's terminal as it was. */
  finish(): Promise<void>;
}

/** How long finish() waits for output still in the pty when something inside keeps the slave open. */
const DRAIN_MS = 250;

/** The fd behind one stdio entry of ours ('inherit': the same number), if any. */
function fdOf(target: StdioTarget, index: number): number | undefined {
  return target === 'inherit' ? index : typeof target === 'number' ? target : undefined;
}

/**
 * Whether `fd` is a terminal. A terminal is a character device, so pipes, sockets and files
 * are told apart by fstat(2) alone, without loading node:tty (which brings node:net).
 */
function isTerminal(fd: number | undefined): boolean {
  if (fd === undefined) return false;
  try {
    if (!fstatSync(fd).isCharacterDevice()) return false;
  } catch {
    return false;
  }
  return isatty(fd);
}

/** Whether any of `stdio` (default: ours) is a terminal: only then is there one to relay. */
export function hasTerminal(stdio: Stdio = ['inherit', 'inherit', 'inherit']): boolean {
  return stdio.some((t, i) => isTerminal(fdOf(t, i)));
}

/**
 * Start relaying when any of `stdio` (default: ours) is a terminal; undefined when none is
 * (nothing to protect: the command gets `stdio` as it is).
 */
export function relayTerminal(stdio: Stdio = ['inherit', 'inherit', 'inherit']): PtyRelay | undefined {
  const fds = stdio.map((t, i) => fdOf(t, i));
  const ttys = fds.map(isTerminal);
  if (!ttys.includes(true)) return undefined;
  const { master, slave } = openPty();
  const sizeFrom = fds[ttys.indexOf(true)]!;
  copyWindowSize(sizeFrom, master);
  const resize = (): void => void copyWindowSize(sizeFrom, master);
  process.on('SIGWINCH', resize);

  // The command's output (stdout and stderr are one stream on a terminal) goes to our first
  // terminal among stdout and stderr, or where stdout goes.
  const outFd = ttys[1] ? fds[1] : ttys[2] ? fds[2] : fds[1];
  const fromCommand = new ReadStream(master);
  const ended = new Promise<void>((resolve) => {
    fromCommand.on('data', (chunk: Buffer) => {
      if (outFd !== undefined) writeAll(outFd, chunk);
    });
    // EIO once no process holds the slave any more (pty(7)): the end of the output.
    fromCommand.on('error', () => resolve());
    fromCommand.on('end', () => resolve());
    fromCommand.on('close', () => resolve());
  });

  // Our terminal's input, raw, to the command's terminal.
  let input: ReadStream | undefined;
  let ownInput = false;
  const inFd = fds[0];
  if (ttys[0] && inFd !== undefined) {
    ownInput = inFd !== 0;
    input = inFd === 0 ? (process.stdin as ReadStream) : new ReadStream(inFd);
    input.setRawMode(true);
    input.on('data', toCommand);
  }
  function toCommand(chunk: Buffer): void {
    writeAll(master, chunk);
  }

  return {
    stdio: stdio.map((t, i) => (ttys[i] ? slave : t)) as Stdio,
    async finish(): Promise<void> {
      closeSync(slave);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([ended, new Promise((r) => (timer = setTimeout(r, DRAIN_MS)))]);
      clearTimeout(timer);
      process.removeListener('SIGWINCH', resize);
      fromCommand.destroy(); // closes the master: hangs up whatever still holds the slave
      if (input) {
        input.removeListener('data', toCommand);
        input.setRawMode(false);
        if (ownInput) input.destroy();
        else input.pause();
      }
    },
  };
}

/** write(2) all of `chunk`, waiting out EAGAIN (libuv makes the master non-blocking). */
function writeAll(fd: number, chunk: Buffer): void {
  let off = 0;
  while (off < chunk.length) {
    try {
      off += writeSync(fd, chunk, off);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
        continue;
      }
      if (code === 'EIO' || code === 'EPIPE') return; // the other side is gone
      throw err;
    }
  }
}
