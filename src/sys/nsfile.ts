/**
 * Namespace files: /proc/PID/ns/TYPE and their bind mounts (pins, /run/netns/NAME).
 * A namespace is its nsfs inode (namespaces(7)): stat() or fstat() of any of these files
 * gives it, with st_dev of the nsfs pseudo file system.
 */
import { closeSync, constants as fsConstants, fstatSync, openSync, statSync } from 'node:fs';
import { hasErrno, SysError } from './errors.js';

export interface NsFileId {
  /** st_dev: the nsfs device for a namespace file, something else for an ordinary file. */
  dev: number;
  ino: number;
}

/** st_dev of nsfs, from our own namespace file; one device for every namespace type. */
export function nsfsDevice(procRoot = '/proc'): number {
  return statSync(`${procRoot}/self/ns/net`).dev;
}

/** stat() a namespace file or pin; undefined when the path does not exist. */
export function statNsFile(path: string): NsFileId | undefined {
  try {
    const st = statSync(path);
    return { dev: st.dev, ino: st.ino };
  } catch (err) {
    if (hasErrno(err, 'ENOENT', 'ESRCH')) return undefined;
    throw SysError.fromNode(err, 'stat', path);
  }
}

/** An open namespace file and what fstat() says it is. */
export interface OpenNsFile extends NsFileId {
  fd: number;
  path: string;
}

/**
 * open() a namespace file read-only (O_CLOEXEC, as Node always opens). The fd keeps the
 * namespace alive and names it for setns(2) however the path changes afterwards.
 */
export function openNsFile(path: string): OpenNsFile {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw SysError.fromNode(err, 'open', path);
  }
  try {
    const st = fstatSync(fd);
    return { fd, path, dev: st.dev, ino: st.ino };
  } catch (err) {
    closeSync(fd);
    throw SysError.fromNode(err, 'fstat', path);
  }
}

/** Open a directory to pass to the helper (chroot or working directory), by fd; O_CLOEXEC as every Node open. */
export function openDirectory(path: string): number {
  try {
    return openSync(path, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
  } catch (err) {
    throw SysError.fromNode(err, 'open', path);
  }
}

/** Close each of `fds`, ignoring one that is closed already (EBADF): what a cleanup path wants. */
export function closeFds(fds: Iterable<number>): void {
  for (const fd of fds) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
  }
}
