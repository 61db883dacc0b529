/**
 * How cgroups are set up for the caller: v1 (legacy), v2 (unified) or hybrid, where the
 * caller's cgroups are, which controllers they have and whether the caller may write them.
 * Built from the caller's mountinfo and /proc/self/cgroup (cgroups(7)); the cgroup tree is
 * read under an injectable root so tests can use a fixture tree.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hasErrno } from './errors.js';
import { isWritable } from './host.js';
import type { CgroupEntry } from './parse.js';

export const CGROUP_ROOT = '/sys/fs/cgroup';

/**
 * v2: cgroup2 mounted at /sys/fs/cgroup. hybrid: v1 hierarchies plus a cgroup2 mount
 * (systemd's /sys/fs/cgroup/unified). v1: v1 hierarchies only. none: nothing mounted.
 */
export type CgroupMode = 'v1' | 'v2' | 'hybrid' | 'none';

export interface CgroupV1Hierarchy {
  /** Controllers bound to this hierarchy; named hierarchies ("name=systemd") included as such. */
  controllers: string[];
  /** Mount point as the caller sees it (/sys/fs/cgroup/cpu). */
  mountPoint: string;
  /** The caller's cgroup in this hierarchy (from /proc/self/cgroup), undefined if not listed. */
  path?: string;
  /** The caller may create child cgroups in its own cgroup here. */
  writable: boolean;
}

export interface CgroupV2Tree {
  mountPoint: string;
  /** The caller's cgroup (the "0::" line of /proc/self/cgroup). */
  path?: string;
  /** cgroup.controllers of the caller's cgroup: controllers available in it. */
  controllers: string[];
  /** cgroup.subtree_control: controllers enabled for its children. */
  subtreeControl: string[];
  /**
   * The caller may create child cgroups and move processes (directory, cgroup.procs and
   * cgroup.subtree_control writable): the cgroup is delegated to it (cgroups(7), "Delegation").
   */
  delegated: boolean;
}

export interface CgroupLayout {
  mode: CgroupMode;
  v1: CgroupV1Hierarchy[];
  v2?: CgroupV2Tree;
}

/** A cgroup or cgroup2 line of mountinfo, with the super options that name a v1 hierarchy's controllers. */
export interface CgroupMount {
  fsType: 'cgroup' | 'cgroup2';
  /** Root of the mount within the hierarchy ("/" unless a container bind-mounted a subtree). */
  root: string;
  mountPoint: string;
  /** Super options, e.g. ["rw", "cpu", "cpuacct"] or ["rw", "name=systemd"]. */
  superOptions: string[];
}

/** mountinfo escapes space, tab, newline and backslash as octal (\040 ...). */
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/**
 * The cgroup mounts in mountinfo text (proc(5): "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 -
 * ext3 /dev/root rw,errors=continue"). Parsed here rather than with parseMountinfo() because
 * only the super options (the last field) say which controllers a v1 mount carries.
 */
export function parseCgroupMounts(mountinfo: string): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  for (const line of mountinfo.split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-', 6);
    if (sep < 0 || f.length < sep + 4) continue;
    const fsType = f[sep + 1];
    if (fsType !== 'cgroup' && fsType !== 'cgroup2') continue;
    mounts.push({ fsType, root: unescape(f[3]!), mountPoint: unescape(f[4]!), superOptions: f[sep + 3]!.split(',') });
  }
  return mounts;
}

/** Where `mountPoint` (a path under /sys/fs/cgroup) lives under `root` (a fixture tree or the real one). */
function underRoot(mountPoint: string, root: string): string {
  if (root === CGROUP_ROOT) return mountPoint;
  if (mountPoint === CGROUP_ROOT) return root;
  if (mountPoint.startsWith(`${CGROUP_ROOT}/`)) return join(root, mountPoint.slice(CGROUP_ROOT.length + 1));
  return mountPoint;
}

/**
 * The directory of cgroup `path` (from /proc/self/cgroup) under a mount of the hierarchy.
 * The path is relative to the hierarchy's root; a mount of a subtree (a container's
 * /sys/fs/cgroup, mount root "/docker/ID") shows it without that prefix.
 */
function cgroupDir(mount: CgroupMount, path: string, root: string): string {
  let rel = path;
  if (mount.root !== '/' && (rel === mount.root || rel.startsWith(`${mount.root}/`))) rel = rel.slice(mount.root.length) || '/';
  return join(underRoot(mount.mountPoint, root), rel);
}

function readList(path: string): string[] {
  try {
    return readFileSync(path, 'utf8').split(/\s+/).filter(Boolean);
  } catch (err) {
    // Not there (a fixture without it, a cgroup removed meanwhile) or not readable: nothing to list.
    if (hasErrno(err, 'ENOENT', 'EACCES', 'ENOTDIR')) return [];
    throw err;
  }
}

/**
 * The caller's cgroup layout. `mounts`: the cgroup lines of its mountinfo; `self`: its
 * /proc/self/cgroup; `root`: where /sys/fs/cgroup is (a fixture tree in tests).
 */
export function cgroupLayout(mounts: readonly CgroupMount[], self: readonly CgroupEntry[], root = CGROUP_ROOT): CgroupLayout {
  const v1: CgroupV1Hierarchy[] = [];
  const seen = new Set<CgroupEntry>();
  for (const m of mounts) {
    if (m.fsType !== 'cgroup') continue;
    // A v1 hierarchy mounted twice (bind mounts) is listed once.
    const entry = self.find((e) => e.hierarchy !== 0 && e.controllers.length > 0 && e.controllers.every((c) => m.superOptions.includes(c)));
    if (entry && seen.has(entry)) continue;
    if (entry) seen.add(entry);
    v1.push({
      controllers: entry?.controllers ?? m.superOptions.filter((o) => o !== 'rw' && o !== 'ro'),
      mountPoint: m.mountPoint,
      ...(entry ? { path: entry.path } : {}),
      writable: entry !== undefined && isWritable(cgroupDir(m, entry.path, root)),
    });
  }
  let v2: CgroupV2Tree | undefined;
  const m2 = mounts.find((m) => m.fsType === 'cgroup2' && m.mountPoint === CGROUP_ROOT) ?? mounts.find((m) => m.fsType === 'cgroup2');
  if (m2) {
    const entry = self.find((e) => e.hierarchy === 0);
    const dir = cgroupDir(m2, entry?.path ?? '/', root);
    v2 = {
      mountPoint: m2.mountPoint,
      ...(entry ? { path: entry.path } : {}),
      controllers: readList(join(dir, 'cgroup.controllers')),
      subtreeControl: readList(join(dir, 'cgroup.subtree_control')),
      delegated: entry !== undefined && isWritable(dir) && isWritable(join(dir, 'cgroup.procs')) && isWritable(join(dir, 'cgroup.subtree_control')),
    };
  }
  const mode: CgroupMode = v1.length > 0 ? (v2 ? 'hybrid' : 'v1') : v2 ? 'v2' : 'none';
  return { mode, v1, ...(v2 ? { v2 } : {}) };
}

/**
 * The directories of another process's cgroups, one per mounted hierarchy (cgroup2 and each
 * v1 hierarchy): `target` is its /proc/PID/cgroup, as the caller's cgroup namespace shows it.
 * nsenter 2.40 --join-cgroup knows cgroup2 at /sys/fs/cgroup only; v1 and hybrid hosts are
 * served the same way, hierarchy by hierarchy.
 */
export function cgroupDirsOf(mounts: readonly CgroupMount[], target: readonly CgroupEntry[]): string[] {
  const dirs: string[] = [];
  const seen = new Set<CgroupEntry>();
  for (const m of mounts) {
    const entry =
      m.fsType === 'cgroup2'
        ? target.find((e) => e.hierarchy === 0)
        : target.find((e) => e.hierarchy !== 0 && e.controllers.length > 0 && e.controllers.every((c) => m.superOptions.includes(c)));
    if (!entry || seen.has(entry)) continue;
    seen.add(entry);
    // A mount of a subtree the target is not under cannot hold it.
    if (m.root !== '/' && entry.path !== m.root && !entry.path.startsWith(`${m.root}/`)) continue;
    dirs.push(cgroupDir(m, entry.path, CGROUP_ROOT));
  }
  return dirs;
}
