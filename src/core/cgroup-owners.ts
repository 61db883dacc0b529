/**
 * Who a process belongs to, read from its cgroup path alone: container runtimes and systemd
 * name the cgroups they create after the container, pod or unit, so the path answers the
 * question without asking any daemon. Pure functions on strings; unit-tested on captured
 * /proc/PID/cgroup texts (test/unit/cgroup-owners.test.ts).
 */
import type { CgroupEntry } from '../sys/parse.js';
import type { Attribution } from './model.js';

/** Length of the short ids docker prints: `docker ps` shows the first 12 hex digits of the 64. */
export const SHORT_ID_LENGTH = 12;

/** 64 hex digits: the id docker, podman, containerd and CRI-O give a container. */
const HEX64 = '[0-9a-f]{64}';
/**
 * A pod UID: a UUID (dashes; underscores in systemd slice names, where '-' means nesting),
 * or 32 hex digits for static pods (kubelet hashes the manifest).
 */
const POD_UID = '[0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12}|[0-9a-f]{32}';
/**
 * Component boundaries. ':' counts too: with runc's systemd driver configured but the
 * cgroupfs one in use, paths come out as "…pod<uid>.slice:cri-containerd:<id>" (seen in
 * the wild; the systemd driver's "slice:prefix:name" syntax taken literally).
 */
const START = '(?:^|[/:])';
const END = '(?=$|[/:])';

/** One way a runtime names its cgroups. */
export interface CgroupRule {
  kind: string;
  /** A literal the path must contain for the pattern to match: a cheap test first. */
  hint: string;
  /** Matched anywhere in the path; the innermost (last) match wins. Group 1 is the id. */
  pattern: RegExp;
  /** Turn the captured text into the id (default: as captured). */
  id?: (captured: string) => string;
  /** The name shown until a resolver finds a better one (default: short id for hex ids, else the id). */
  name?: (id: string) => string;
}

const shortId = (id: string): string => id.slice(0, SHORT_ID_LENGTH);
const rule = (kind: string, hint: string, source: string, extra: Omit<CgroupRule, 'kind' | 'hint' | 'pattern'> = {}): CgroupRule => ({
  kind,
  hint,
  pattern: new RegExp(source, 'g'),
  name: shortId,
  ...extra,
});

/**
 * The table: one row per naming scheme. Container rows first; the systemd-unit row is a
 * fallback (SYSTEMD_RULE) used only when no container row matched, because container
 * scopes are themselves units ("docker-<id>.scope").
 */
const CGROUP_RULES: readonly CgroupRule[] = [
  // Kubernetes pods. systemd driver: kubepods[-burstable|-besteffort]-pod<uid_with_underscores>.slice
  // (under kubepods.slice, or kubelet-kubepods… in kind); cgroupfs driver:
  // /kubepods[/burstable|/besteffort]/pod<uid>. Guaranteed pods sit directly under kubepods.
  rule('kubernetes', '-pod', `${START}(?:[A-Za-z0-9_.]+-)?kubepods(?:-burstable|-besteffort)?-pod(${POD_UID})\\.slice${END}`, {
    id: (uid) => uid.replace(/_/g, '-'),
    name: (uid) => uid,
  }),
  rule('kubernetes', 'kubepods/', `${START}kubepods(?:/burstable|/besteffort)?/pod(${POD_UID})${END}`, {
    id: (uid) => uid.replace(/_/g, '-'),
    name: (uid) => uid,
  }),
  // docker: systemd driver docker-<id>.scope; cgroupfs driver /docker/<id> (also nested: docker-in-docker).
  rule('docker', 'docker-', `${START}docker-(${HEX64})\\.scope${END}`),
  rule('docker', 'docker/', `${START}docker/(${HEX64})${END}`),
  // podman: libpod-<id>.scope (systemd; the container may sit in a "container" child),
  // libpod-conmon-<id>.scope (its monitor), /libpod_parent/libpod-<id> (cgroupfs).
  rule('podman', 'libpod-', `${START}libpod-(?:conmon-)?(${HEX64})(?:\\.scope)?${END}`),
  // containerd: CRI plugin (cri-containerd-<id>.scope) and nerdctl (nerdctl-<id>.scope).
  rule('containerd', 'cri-containerd', `${START}cri-containerd[-:](${HEX64})(?:\\.scope)?${END}`),
  rule('containerd', 'nerdctl-', `${START}nerdctl-(${HEX64})\\.scope${END}`),
  // CRI-O: crio-<id>.scope, crio-conmon-<id>.scope; cgroupfs: …/pod<uid>/crio-<id>.
  rule('crio', 'crio-', `${START}crio-(?:conmon-)?(${HEX64})(?:\\.scope)?${END}`),
  // LXC 4+ and LXD: lxc.payload.<name> (the container), lxc.monitor.<name> (its monitor);
  // LXC 1-3 on cgroup v1: /lxc/<name>.
  rule('lxc', 'lxc.', `${START}lxc\\.(?:payload|monitor)\\.([^/]+)${END}`, { name: (n) => n }),
  rule('lxc', 'lxc/', `${START}lxc/([^/:]+)${END}`, { name: (n) => n }),
];

/** systemd units that hold processes: services and scopes (systemd.unit(5)); slices only group. */
const SYSTEMD_RULE: CgroupRule = rule('systemd', '.s', `${START}([^/]+\\.(?:service|scope))${END}`, { name: (n) => n });

/** Every kind the cgroup rules can produce. */
export const CGROUP_OWNER_KINDS: readonly string[] = [...new Set([...CGROUP_RULES, SYSTEMD_RULE].map((r) => r.kind))];

interface Match {
  at: number;
  owner: Attribution;
}

/** The innermost match of one rule in `path`. */
function innermost(r: CgroupRule, path: string): Match | undefined {
  if (!path.includes(r.hint)) return undefined;
  let last: RegExpExecArray | undefined;
  r.pattern.lastIndex = 0;
  // END is a lookahead, so a match never consumes the boundary the next one starts on.
  for (let m = r.pattern.exec(path); m; m = r.pattern.exec(path)) last = m;
  if (!last) return undefined;
  const captured = last[1]!;
  const id = r.id ? r.id(captured) : captured;
  return { at: last.index, owner: { kind: r.kind, id, name: r.name ? r.name(id) : id } };
}

/**
 * Every owner the path names, outermost first (a pod before its container). At most one
 * per kind, the innermost (docker-in-docker: the inner container). The systemd unit only
 * when no container rule matched.
 */
export function classifyCgroupPathAll(path: string): Attribution[] {
  const byKind = new Map<string, Match>();
  for (const r of CGROUP_RULES) {
    const m = innermost(r, path);
    if (!m) continue;
    const seen = byKind.get(r.kind);
    if (!seen || m.at > seen.at) byKind.set(r.kind, m);
  }
  if (byKind.size === 0) {
    const unit = innermost(SYSTEMD_RULE, path);
    return unit ? [unit.owner] : [];
  }
  return [...byKind.values()].sort((a, b) => a.at - b.at).map((m) => m.owner);
}

/** The most specific owner the path names (the container rather than its pod), if any. */
export function classifyCgroupPath(path: string): Attribution | undefined {
  const all = classifyCgroupPathAll(path);
  return all[all.length - 1];
}

/**
 * The lines of /proc/PID/cgroup to consult, most authoritative first:
 *  1. the v2 line ("0::PATH"): the only one on a v2 host, and on a hybrid host the tree
 *     systemd and current runtimes manage;
 *  2. v1 "name=systemd": systemd's own v1 tree, where every unit and every runtime using
 *     the systemd driver places the process;
 *  3. the other v1 controllers in file order: a runtime using the cgroupfs driver on a v1
 *     or hybrid host may create its cgroup only there (e.g. /docker/<id> in cpu, memory …)
 *     and leave the v2 line at its parent's unit.
 * A root path ("/") names nothing and is skipped.
 */
export function candidateCgroupPaths(entries: readonly CgroupEntry[]): string[] {
  const paths: string[] = [];
  const add = (p: string | undefined): void => {
    if (p !== undefined && p !== '/' && !paths.includes(p)) paths.push(p);
  };
  add(entries.find((e) => e.hierarchy === 0)?.path);
  add(entries.find((e) => e.controllers.includes('name=systemd'))?.path);
  for (const e of entries) add(e.path);
  return paths;
}

/**
 * Owners named by a process's cgroups (parsed /proc/PID/cgroup): the first candidate path
 * (see candidateCgroupPaths) that names a container or pod wins; failing that, the first
 * that names a systemd unit. So a container that a cgroupfs runtime placed only in v1
 * controllers is found even though its v2 line names the runtime's service.
 */
export function ownersFromCgroup(entries: readonly CgroupEntry[], classify: (path: string) => Attribution[] = classifyCgroupPathAll): Attribution[] {
  let unit: Attribution[] | undefined;
  for (const path of candidateCgroupPaths(entries)) {
    const owners = classify(path);
    if (owners.length === 0) continue;
    if (owners.some((o) => o.kind !== SYSTEMD_RULE.kind)) return owners;
    unit ??= owners;
  }
  return unit ?? [];
}
