/**
 * Typed errors. Every failure nsm reports is one of these; src/cli.ts turns them into
 * one line on stderr and an exit code, once, in one place.
 *
 * Errno values travel as names ('EPERM'), never as signed numbers: comparing names
 * cannot mix up -ESRCH and ESRCH (the slip lsns.c makes in read_processes()).
 */
import { constants as osConstants } from 'node:os';
import { getSystemErrorMap, getSystemErrorName } from 'node:util';
import { escapeText } from './escape.js';

export const EXIT_OK = 0;
export const EXIT_RUNTIME = 1;
export const EXIT_USAGE = 2;
/** enter/exec/unshare: nsm itself failed (the command never ran), as docker/podman/chroot use it. */
export const EXIT_NSM_FAILED = 125;
export const EXIT_NOT_EXECUTABLE = 126;
export const EXIT_NOT_FOUND = 127;
/** A command killed by signal N exits 128+N, as shells report it. */
export const EXIT_SIGNAL_BASE = 128;

export interface NsmErrorOptions {
  /** One-line suggestion printed after the error (e.g. "run nsm gc"). */
  hint?: string;
  exitCode?: number;
  cause?: unknown;
}

/** Base class: a failure with a user-facing one-line message. */
export class NsmError extends Error {
  readonly exitCode: number;
  readonly hint?: string;

  constructor(message: string, options: NsmErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'NsmError';
    this.exitCode = options.exitCode ?? EXIT_RUNTIME;
    this.hint = options.hint;
  }
}

/** Bad command line: unknown option, bad type name, non-numeric pid, invalid name. Exit 2. */
export class UsageError extends NsmError {
  constructor(message: string, options: Omit<NsmErrorOptions, 'exitCode'> = {}) {
    super(message, { ...options, exitCode: EXIT_USAGE });
    this.name = 'UsageError';
  }
}

/** Human text for an errno name ("EPERM" -> "Operation not permitted", as strerror(3) words it). */
export function errnoText(errno: string): string {
  for (const [, [name, text]] of getSystemErrorMap()) {
    // libuv words it in lower case ("operation not permitted"); print it as libc does.
    if (name === errno) return text.charAt(0).toUpperCase() + text.slice(1);
  }
  return UNMAPPED_TEXT[errno] ?? errno;
}

/** strerror(3) texts of errnos nsm meets that libuv's table lacks. */
const UNMAPPED_TEXT: Record<string, string> = {
  ESTALE: 'Stale file handle',
  EUSERS: 'Too many users',
  ECHILD: 'No child processes',
};

/** Errno name of a positive errno number as libc reports it (1 -> "EPERM"). */
export function errnoName(errno: number): string {
  const n = Math.abs(errno);
  try {
    const name = getSystemErrorName(-n);
    if (name.startsWith('E')) return name;
  } catch {
    // not an errno libuv knows
  }
  // libuv names only the errnos it uses itself; EUSERS (setns of a time namespace from a
  // multi-threaded process) comes back as "Unknown system error -87". os.constants knows more.
  const known = Object.entries(osConstants.errno).find(([, v]) => v === n);
  return known ? known[0] : `E#${n}`;
}

/** A failed system call: which call, on what, and the errno name. */
export class SysError extends NsmError {
  readonly call: string;
  readonly errno: string;
  readonly target?: string;

  constructor(call: string, errno: string, target?: string, options: NsmErrorOptions = {}) {
    const what = target === undefined ? call : `${call}(${target})`;
    super(`${what}: ${errno}: ${errnoText(errno)}`, options);
    this.name = 'SysError';
    this.call = call;
    this.errno = errno;
    this.target = target;
  }

  /** Wrap an error thrown by node:fs / node:child_process (which carry `code` = errno name). */
  static fromNode(err: unknown, call?: string, target?: string): SysError {
    const e = err as NodeJS.ErrnoException;
    if (e instanceof SysError) return e;
    const errno = typeof e?.code === 'string' && e.code.startsWith('E') ? e.code : 'EIO';
    return new SysError(call ?? e?.syscall ?? 'syscall', errno, target ?? e?.path, { cause: err });
  }
}

/** The errno name of any error nsm or Node produced, if it has one. */
export function errnoOf(err: unknown): string | undefined {
  if (err instanceof SysError) return err.errno;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? code : undefined;
}

/** True when `err` carries one of the errno names in `names`. */
export function hasErrno(err: unknown, ...names: string[]): boolean {
  const errno = errnoOf(err);
  return errno !== undefined && names.includes(errno);
}

/** How much of a user's word an error message repeats (see echoInput). */
const ECHO_MAX_CHARS = 60;

/**
 * A word the user gave (an option value, a name), as an error message repeats it: control
 * characters escaped, and cut after ECHO_MAX_CHARS characters with "…", so that a 100 KB
 * argument does not come back whole. An empty word shows as ''.
 */
export function echoInput(text: string): string {
  if (text === '') return "''";
  const chars = [...text];
  const cut = chars.length > ECHO_MAX_CHARS ? `${chars.slice(0, ECHO_MAX_CHARS).join('')}…` : text;
  return escapeText(cut);
}

/** echoInput in double quotes, for words whose blanks matter (names): "a b", "". */
export function quoteInput(text: string): string {
  return `"${text === '' ? '' : echoInput(text)}"`;
}
