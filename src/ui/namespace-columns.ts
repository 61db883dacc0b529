/**
 * Columns of `nsm ls`: lsns's columns (same names, same JSON keys and types) plus
 * HELD and NAME.
 */
import type { NamespaceProcess, NamespaceSummary } from '../core/listing.js';
import type { Attribution } from '../core/model.js';
import { colour } from './colour.js';
import type { Column } from './columns.js';

/** "netns:blue", "nsm:web" ... */
export function ownerLabel(o: Attribution): string {
  return `${o.kind}:${o.name}`;
}

export const NAMESPACE_COLUMNS: readonly Column<NamespaceSummary>[] = [
  { id: 'NS', help: 'namespace identifier (inode number)', align: 'right', json: 'number', get: (r) => r.ns },
  { id: 'TYPE', help: 'kind of namespace', json: 'string', get: (r) => r.type },
  {
    id: 'NSID', key: 'id', help: '64-bit namespace ID (NS_GET_ID, Linux 6.18+; never reused until reboot)', align: 'right', json: 'number',
    get: (r) => r.detail.id,
  },
  { id: 'PATH', help: 'path to the namespace', json: 'string', get: (r) => r.path },
  { id: 'NPROCS', help: 'number of processes in the namespace', align: 'right', json: 'number', get: (r) => r.nprocs },
  { id: 'PID', help: 'lowest PID in the namespace', align: 'right', json: 'number', get: (r) => r.pid },
  { id: 'PPID', help: 'PPID of the PID', align: 'right', json: 'number', get: (r) => r.ppid },
  { id: 'COMMAND', help: 'command line of the PID', json: 'string', truncate: true, get: (r) => r.command },
  { id: 'UID', help: 'UID of the PID', align: 'right', json: 'number', get: (r) => r.uid },
  { id: 'USER', help: 'username of the PID', json: 'string', get: (r) => r.user },
  { id: 'NETNSID', help: 'namespace ID as used by network subsystem', align: 'right', json: 'string', get: (r) => r.netnsid },
  {
    id: 'NSFS', help: 'nsfs mountpoint (where the namespace file is bind-mounted)', json: 'string', wrap: true,
    get: (r) => (r.nsfs.length > 0 ? r.nsfs : undefined),
  },
  { id: 'PNS', help: 'parent namespace identifier (inode number)', align: 'right', json: 'number', get: (r) => r.pns ?? (r.related ? 0 : undefined) },
  { id: 'ONS', help: 'owner namespace identifier (inode number)', align: 'right', json: 'number', get: (r) => r.ons ?? (r.related ? 0 : undefined) },
  {
    id: 'HELD', help: 'what keeps it alive: procs, threads, fd, mount, socket', json: 'array', get: (r) => r.held,
    style: (text, r) => (r.nprocs === 0 ? colour.yellow(text) : text),
  },
  {
    id: 'NAME', help: 'whose it is: nsm:ENV, netns:NAME, docker:NAME, kubernetes:POD, systemd:UNIT ...', json: 'string', truncate: true,
    get: (r) => (r.owners.length > 0 ? r.owners.map(ownerLabel) : undefined),
    style: (text) => colour.cyan(text),
  },
];

export const DEFAULT_NAMESPACE_COLUMNS = ['NS', 'TYPE', 'NPROCS', 'PID', 'USER', 'NAME', 'COMMAND'];

/** The defaults for these -t types: with net among them NETNSID and NSFS follow USER, as lsns -t net does. */
export function defaultNamespaceColumns(types?: readonly string[]): string[] {
  const cols = [...DEFAULT_NAMESPACE_COLUMNS];
  if (types?.includes('net')) cols.splice(cols.indexOf('USER') + 1, 0, 'NETNSID', 'NSFS');
  return cols;
}

/** Columns whose values need ioctl_ns(2) or rtnetlink (and so koffi). */
export const RELATION_COLUMNS = new Set(['PNS', 'ONS']);
export const NETNSID_COLUMNS = new Set(['NETNSID']);

/** `nsm ls NS`: lsns's columns for a namespace's processes. */
export const PROCESS_COLUMNS: readonly Column<NamespaceProcess>[] = [
  { id: 'PID', help: 'process ID', align: 'right', json: 'number', get: (r) => r.pid },
  { id: 'PPID', help: 'parent process ID', align: 'right', json: 'number', get: (r) => r.ppid },
  { id: 'USER', help: 'username of the PID', json: 'string', get: (r) => r.user },
  { id: 'COMMAND', help: 'command line of the PID', json: 'string', truncate: true, get: (r) => r.command },
];

/** The NPROCS of the human listing: "?" where no process is visible but some could not be read. */
export function shownCounts(cols: readonly Column<NamespaceSummary>[]): Column<NamespaceSummary>[] {
  return cols.map((c) => (c.id === 'NPROCS' ? { ...c, get: (r) => (r.processesHidden ? '?' : c.get(r)) } : c));
}

/**
 * A count with its thousands grouped as en-US writes them ("12,345"). Not toLocaleString:
 * its first call sets up ICU's number formatting, which costs more than the rest of drawing
 * `nsm ps` (bench/RESULTS.md).
 */
export function groupedCount(n: number): string {
  return Number.isSafeInteger(n) ? String(n).replace(/\B(?=(\d{3})+$)/g, ',') : n.toLocaleString('en-US');
}

/** "N processes not visible to you": those whose namespaces the scan could not read (proc(5)). */
export function hiddenText(denied: number): string {
  return `${groupedCount(denied)} process${denied === 1 ? '' : 'es'} not visible to you`;
}
