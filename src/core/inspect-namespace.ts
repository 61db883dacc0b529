/**
 * `nsm inspect netns:NAME` / a namespace file / ns:INODE: one namespace, which may have no
 * process in it (an ip netns name, a pin, an fd). What its file tells (ioctl_ns(2)): type,
 * inode, 64-bit id (NS_GET_ID), owning user namespace (NS_GET_USERNS) and that one's creator
 * (NS_GET_OWNER_UID), parent (NS_GET_PARENT, pid and user only); and what holds it, as
 * `nsm why` finds it (processes, threads, fds, sockets, bind mounts, owned namespaces).
 */

import { NsmError } from '../sys/errors.js';
import { nsChain, nsRelations } from '../sys/libc.js';
import type { NsType } from '../sys/nstypes.js';
import { userName } from '../sys/users.js';
import { concrete, openTargetToRead, type TargetSpec } from './target.js';
import { why, type WhyHolders } from './why.js';

export interface NamespaceInspection {
  /** The target as named in messages (netns:blue, /run/netns/x, ns:4026532412). */
  label: string;
  /** The file it was read through. */
  path: string;
  type: NsType;
  inode: number;
  /** NS_GET_ID (Linux 6.18); undefined on older kernels. */
  id?: number;
  /** Its owning user namespace; undefined when outside the caller's view (EPERM). */
  owner?: { inode: number; id?: number; uid?: number; user?: string };
  /** pid and user namespaces: the parent; undefined at the top or outside the caller's view. */
  parent?: number;
  /** A user namespace: the uid that created it. */
  creatorUid?: number;
  /** What keeps it alive (nsm why's list); undefined when it vanished before the scan. */
  holders?: WhyHolders;
}

/** Whether `spec` names one namespace file (netns:, a path, ns:INODE once found) rather than a process. */
export function isNamespaceTarget(spec: TargetSpec): boolean {
  return spec.kind === 'file' || spec.kind === 'ns';
}

export async function inspectNamespace(given: TargetSpec): Promise<NamespaceInspection> {
  const spec = concrete(given);
  const opened = openTargetToRead(spec);
  let out: NamespaceInspection;
  try {
    const ns = opened.namespaces[0]!;
    const path = `/proc/self/fd/${ns.fd}`;
    const rel = nsRelations(path);
    out = { label: opened.label, path: spec.kind === 'file' ? spec.path : path, type: ns.type, inode: ns.inode };
    if (rel.id !== undefined) out.id = rel.id;
    if (rel.parent !== undefined) out.parent = rel.parent;
    if (rel.ownerUid !== undefined) out.creatorUid = rel.ownerUid;
    if (rel.owner !== undefined) {
      // One step up the owner chain gives the owner's creator uid too (NS_GET_OWNER_UID).
      const up = nsChain(path, 'owner')[0];
      out.owner = { inode: rel.owner, ...(up?.id !== undefined ? { id: up.id } : {}), ...(up?.ownerUid !== undefined ? { uid: up.ownerUid, user: userName(up.ownerUid) } : {}) };
    }
  } finally {
    opened.close(); // before the scan, so that our own fd is not listed among its holders
  }
  try {
    out.holders = await why(out.id !== undefined ? { kind: 'id', id: out.id } : { kind: 'inode', inode: out.inode });
  } catch (err) {
    if (!(err instanceof NsmError)) throw err; // gone since: the file's facts stand alone
  }
  return out;
}

