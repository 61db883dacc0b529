/**
 * A destroyed environment whose namespaces something still holds (a process that entered
 * only some of them, an open fd, a bind mount): destroy keeps its record, marked with what
 * held them (EnvRecord.destroyed), so that `nsm destroy --force NAME` and gc can find them
 * again. The holder is gone by then, so its /proc/PID/ns cannot vouch for the namespaces any
 * more; each one is opened again through a hold the record noted (the process, checked by
 * its start time after the open, the thread, the fd, the bind mount) and its inode (and
 * NS_GET_ID where recorded) compared with the record. While that fd is open the kernel
 * cannot free the namespace and give its inode to another, so a later scan for that inode
 * finds only what is in this environment's namespace.
 */
import { closeSync } from 'node:fs';
import { hasErrno } from '../sys/errors.js';
import { nsIdOfFd } from '../sys/libc.js';
import { nsfsDevice, openNsFile, type OpenNsFile } from '../sys/nsfile.js';
import { NS_TYPES, nsTypeInfo, type NsType } from '../sys/nstypes.js';
import { ProcFs } from '../sys/procfs.js';
import type { EnvRecord, RecordedHold } from './record.js';
import type { VerifiedNamespaces } from './registry/holder.js';
import { checkOwnedNamespaces } from './registry/trust.js';

export interface HeldNamespaces extends VerifiedNamespaces {
  /** Some noted hold could not be opened (not permitted): whether the namespaces are gone cannot be told. */
  undecided: boolean;
}

/** The path of a noted hold's namespace file: /proc/PID/ns/T, /proc/PID/task/TID/ns/T, /proc/PID/fd/N, or the mount. */
function pathOf(hold: RecordedHold, proc: ProcFs): string | undefined {
  const entry = nsTypeInfo(hold.type).procEntry;
  switch (hold.kind) {
    case 'process':
      return hold.pid === undefined ? undefined : proc.path(hold.pid, 'ns', entry);
    case 'thread':
      return hold.pid === undefined || hold.tid === undefined ? undefined : proc.path(hold.pid, 'task', String(hold.tid), 'ns', entry);
    case 'fd':
      return hold.pid === undefined || hold.fd === undefined ? undefined : proc.path(hold.pid, 'fd', String(hold.fd));
    case 'mount':
      return hold.path;
  }
}

/** Whether the process a hold names is still that process (pid and start time). */
function sameProcess(hold: RecordedHold, proc: ProcFs): boolean {
  if (hold.kind === 'mount') return true;
  if (hold.pid === undefined || hold.startTime === undefined) return false;
  try {
    const stat = proc.readStat(hold.pid);
    return stat.startTime === hold.startTime && stat.state !== 'Z' && stat.state !== 'X';
  } catch {
    return false;
  }
}

/**
 * Open, for each of the record's namespaces that a noted hold still holds, one fd verified
 * against the record: the right nsfs inode (and id), never one of nsm's own namespaces
 * (those are the host's: a record naming them must not lead destroy --force to them), and,
 * for another user's record opened by root, owned by that user's user namespace.
 */
export function openHeldNamespaces(record: EnvRecord, options: { procRoot?: string; stateDirOwner?: number } = {}): HeldNamespaces {
  const proc = new ProcFs(options.procRoot);
  const nsfs = nsfsDevice(options.procRoot);
  const opened = new Map<NsType, OpenNsFile>();
  let undecided = false;
  const close = () => {
    for (const f of opened.values()) closeSync(f.fd);
    opened.clear();
  };
  try {
    for (const hold of record.destroyed?.holds ?? []) {
      const type = hold.type;
      if (opened.has(type) || !record.types.includes(type) || hold.inode !== record.namespaces[type]) continue;
      const path = pathOf(hold, proc);
      if (path === undefined) continue;
      let file: OpenNsFile;
      try {
        file = openNsFile(path);
      } catch (err) {
        if (hasErrno(err, 'EACCES', 'EPERM')) undecided = true;
        continue; // gone: the process exited, the fd was closed, the mount went
      }
      const recordedId = record.ids?.[type];
      const idNow = recordedId === undefined ? undefined : nsIdOfFd(file.fd);
      // The start time is read after the open: a pid reused before it fails here (holder.ts).
      const ok = file.dev === nsfs && file.ino === hold.inode && (idNow === undefined || idNow === recordedId) && sameProcess(hold, proc) && !isOwnNamespace(type, file.ino, proc);
      if (ok) opened.set(type, file);
      else closeSync(file.fd);
    }
    const ordered = NS_TYPES.map((i) => i.name).filter((t) => opened.has(t));
    const files = ordered.map((t) => opened.get(t)!);
    if (options.stateDirOwner !== undefined && files.length > 0) checkOwnedNamespaces(record, files, ordered, options.stateDirOwner);
    const namespaces = ordered.map((type, i) => ({ type, fd: files[i]!.fd, inode: files[i]!.ino, path: files[i]!.path }));
    return { namespaces, via: 'pins', undecided, close };
  } catch (err) {
    close();
    throw err;
  }
}

/** Whether `inode` is nsm's own namespace of `type` (the host's, as far as nsm can tell). */
function isOwnNamespace(type: NsType, inode: number, proc: ProcFs): boolean {
  try {
    return proc.readNsEntry('self', nsTypeInfo(type).procEntry)?.inode === inode;
  } catch {
    return true; // cannot tell: do not act on it
  }
}
