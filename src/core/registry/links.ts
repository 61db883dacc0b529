/**
 * The record's kernel objects outside the state directory that nsm itself mounted: the
 * /run/netns/NAME link and the pins. Each is removed only while it still names the recorded
 * namespace, so a name reused by someone else's `ip netns add` is left alone.
 */
import { closeSync, lstatSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { hasErrno, NsmError, SysError } from '../../sys/errors.js';
import { MNT_DETACH, nsIdOfFd, umount2 } from '../../sys/libc.js';
import { nsfsDevice, openNsFile, statNsFile } from '../../sys/nsfile.js';
import { bindNamespaceFile, ensureSharedMountPoint, NETNS_RUN_DIR } from '../../sys/nsmounts.js';
import type { EnvRecord, EnvResources } from '../record.js';
import { livePins } from './holder.js';
import type { RegistryOptions } from './layout.js';

/** The /run/netns link of environment `name` (ip-netns(8) finds it there). */
export function netnsLinkPath(name: string): string {
  return join(NETNS_RUN_DIR, name);
}

/**
 * `/run/netns/NAME` names another network namespace than the one nsm would link there.
 * /run/netns is shared by every state directory (and ip netns add): a name taken there may be
 * another state directory's environment, whose link must not be deleted to make room, so
 * the hint shows how to find out whose it is, not how to remove it.
 */
export function netnsTaken(name: string, path: string): NsmError {
  const inode = statNsFile(path)?.ino;
  return new NsmError(`${path} is taken: another network namespace (an environment of another nsm state directory, or ip netns add) has the name ${name}`, {
    hint: `pick another name${inode !== undefined ? `; nsm why ${inode} shows what it is` : ''}`,
  });
}

/**
 * Make the /run/netns/NAME link (what `ip netns add` and `ip netns attach` make): a bind mount
 * of the net namespace file `source` on a file in /run/netns, itself a shared mount point so
 * that mount namespaces made later see the link go when it is removed (as iproute2 does).
 */
export function makeNetnsLink(source: string, name: string): string {
  const path = netnsLinkPath(name);
  ensureSharedMountPoint(NETNS_RUN_DIR);
  try {
    bindNamespaceFile(source, path);
  } catch (err) {
    if (hasErrno(err, 'EEXIST')) throw netnsTaken(name, path);
    throw err;
  }
  return path;
}

/**
 * Whether the record's /run/netns link is there and names its net namespace: the inode, and
 * the namespace ID (NS_GET_ID) where the record has one. /run/netns is shared by every state
 * directory, and an inode is reused once its namespace is freed: a link another state
 * directory's environment made later under the same name may have this record's old inode.
 */
export function netnsLinkIsOurs(record: EnvResources, options: Pick<RegistryOptions, 'procRoot'>): boolean {
  if (!record.netnsLink) return false;
  const id = statNsFile(record.netnsLink);
  if (id === undefined || id.dev !== nsfsDevice(options.procRoot) || id.ino !== record.namespaces.net) return false;
  const recordedId = record.ids?.net;
  if (recordedId === undefined) return true;
  let file;
  try {
    file = openNsFile(record.netnsLink);
  } catch {
    return false; // gone since the stat, or not ours to open: not removed
  }
  try {
    const idNow = nsIdOfFd(file.fd);
    return file.dev === id.dev && file.ino === id.ino && (idNow === undefined || idNow === recordedId);
  } finally {
    closeSync(file.fd);
  }
}

/**
 * Remove the /run/netns/NAME link of a record if it still refers to the recorded net
 * namespace: detach the bind mount, then unlink. A link that now names another namespace
 * (someone's `ip netns add` of the same name) is left alone. Returns true if removed.
 */
export function removeNetnsLink(record: EnvResources, options: Pick<RegistryOptions, 'procRoot'> = {}): boolean {
  const link = record.netnsLink;
  if (!link) return false;
  if (!netnsLinkIsOurs(record, options)) {
    // A destroy killed between the detach and the unlink leaves the bare, empty mount point:
    // no namespace of anyone's, and it would keep the name taken for good.
    if (!isBareMountPoint(link, options)) return false;
  } else umount2(link, MNT_DETACH);
  try {
    unlinkSync(link);
  } catch (err) {
    if (!hasErrno(err, 'ENOENT')) throw SysError.fromNode(err, 'unlink', link);
  }
  return true;
}

/** `path` is an empty regular file, not an nsfs mount: what a detached /run/netns link leaves. */
function isBareMountPoint(path: string, options: Pick<RegistryOptions, 'procRoot'>): boolean {
  try {
    const st = lstatSync(path);
    return st.isFile() && st.size === 0 && st.dev !== nsfsDevice(options.procRoot);
  } catch {
    return false;
  }
}

/**
 * Detach the pins of `record` that still hold its namespaces, leaving the record: destroy
 * removes the record only after everything it notes is gone. Returns the pins detached.
 */
export function unmountPins(record: EnvRecord, options: Pick<RegistryOptions, 'procRoot'> = {}): string[] {
  const detached: string[] = [];
  for (const type of livePins(record, options)) {
    const pin = record.pins[type]!;
    umount2(pin, MNT_DETACH);
    detached.push(pin);
  }
  return detached;
}
