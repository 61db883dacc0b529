/**
 * Output of `nsm monitor`: one line per event with a millisecond timestamp, or one JSON
 * Lines record per event. The formatter table is a mapped type over the event kinds
 * (as zx's log.ts does), so a new kind does not compile until it has a formatter.
 */
import type { LossCounts, MonitorEvent, MonitorEventKind, NamespaceBrief } from '../core/monitor-events.js';
import type { Attribution } from '../core/model.js';
import { colour } from './colour.js';
import { escapeText } from '../sys/escape.js';
import type { Column } from './columns.js';
import { printJsonLine } from './json.js';
import { ownerLabel } from './namespace-columns.js';
import { renderColumns } from './table.js';

/** Text for stdout (events) or stderr (notes about the monitor itself). */
export interface HumanOutput {
  out?: string;
  err?: string;
}

type Formatters = { [K in MonitorEventKind]: (e: Extract<MonitorEvent, { kind: K }>) => HumanOutput };

/** 12:04:05.678, local time. */
export function clock(epochMs: number): string {
  const d = new Date(epochMs);
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/** 0.8ms, 10.9ms, 250ms, 2.35s, 3m05s, 1h02m. */
export function duration(ms: number): string {
  if (ms < 100) return `${ms.toFixed(1)}ms`;
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(2)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

function names(owners: readonly Attribution[]): string | undefined {
  return owners.length > 0 ? colour.cyan(owners.map(ownerLabel).join(',')) : undefined;
}

/** Fields two spaces apart, empty ones left out, as one line. */
/** A command line read from /proc: escaped (escapeText). */
function shown(text: string | undefined): string | undefined {
  return text === undefined ? undefined : escapeText(text);
}

function line(...fields: Array<string | undefined>): string {
  return `${fields.filter((f) => f !== undefined && f !== '').join('  ')}\n`;
}

/** "12:04:05.678 NEW   net    4026532177" */
function head(time: number, label: string, style: (s: string) => string, type: string, inode: number): string {
  return `${colour.dim(clock(time))} ${style(label.padEnd(5))} ${type.padEnd(6)} ${String(inode).padStart(10)}`;
}

/** "kernel dropped events 1 time, 12 processes gone before read, ..." (the non-zero counts), or undefined. */
export function lossText(c: LossCounts): string | undefined {
  const parts: string[] = [];
  const n = (k: number, one: string, many = `${one}s`): string => `${k} ${k === 1 ? one : many}`;
  if (c.lost > 0) parts.push(`events dropped ${n(c.lost, 'time')} (kernel queue full, or more new pids than one poll reads)`);
  if (c.unread > 0) parts.push(`${n(c.unread, 'process', 'processes')} gone before their namespaces were read`);
  if (c.missedNew > 0) parts.push(`${n(c.missedNew, 'namespace')} found only by a rescan`);
  if (c.missedGone > 0) parts.push(`${n(c.missedGone, 'namespace')} found gone by a rescan, the exit unseen`);
  return parts.length > 0 ? parts.join(', ') : undefined;
}

const BRIEF_COLUMNS: readonly Column<NamespaceBrief>[] = [
  { id: 'NS', help: 'namespace (inode)', align: 'right', json: 'number', get: (r) => r.inode },
  { id: 'TYPE', help: 'type', json: 'string', get: (r) => r.type },
  { id: 'NPROCS', help: 'processes in it', align: 'right', json: 'number', get: (r) => r.nprocs },
  { id: 'PID', help: 'lowest or first pid', align: 'right', json: 'number', get: (r) => r.pid },
  { id: 'HELD', help: 'what keeps it alive', json: 'array', get: (r) => r.held },
  { id: 'NAME', help: 'whose it is', json: 'string', get: (r) => (r.owners.length > 0 ? r.owners.map(ownerLabel) : undefined), style: (t) => colour.cyan(t) },
  { id: 'COMMAND', help: 'command of that pid', json: 'string', truncate: true, get: (r) => r.command },
];

const MONITOR_FORMATTERS: Formatters = {
  mode: (e) => {
    if (e.mode !== 'poll') return {};
    const how =
      e.tickMs === undefined
        ? `polling /proc every ${e.intervalMs} ms; namespaces that live less than that may be missed`
        : `polling /proc: new processes every ${e.tickMs} ms (${e.quietTickMs} ms when quiet), all every ${e.intervalMs} ms; namespaces that live less than ${e.quietTickMs} ms may be missed`;
    return { err: `nsm: monitor: ${e.reason ?? 'no process events'}: ${how}\n` };
  },
  baseline: (e) => ({
    out: `${colour.dim(clock(e.time))} ${colour.bold('BASELINE')} ${e.namespaces.length} namespaces present at start\n${renderColumns(e.namespaces, BRIEF_COLUMNS)}`,
  }),
  'ns-new': (e) => ({
    out: line(head(e.time, 'NEW', colour.green, e.type, e.inode), e.pid === undefined ? 'no process' : `pid ${e.pid}`, shown(e.command), names(e.owners), e.via === 'rescan' ? colour.dim('(rescan)') : undefined),
  }),
  'ns-gone': (e) => ({
    out: line(head(e.time, 'GONE', colour.red, e.type, e.inode), e.lifetimeMs === undefined ? 'existed at start' : `lived ${duration(e.lifetimeMs)}`, names(e.owners)),
  }),
  'ns-join': (e) => ({
    out: line(head(e.time, 'JOIN', colour.cyan, e.type, e.inode), `pid ${e.pid}`, shown(e.command), names(e.owners), e.from === undefined ? undefined : colour.dim(`(from ${e.from})`)),
  }),
  'ns-leave': (e) => ({
    out: line(head(e.time, 'LEAVE', colour.yellow, e.type, e.inode), `pid ${e.pid}`, shown(e.command), names(e.owners), e.to === undefined ? undefined : colour.dim(`(to ${e.to})`)),
  }),
  // Said once; the summary gives the count.
  overrun: (e) =>
    e.count === 1 ? { err: 'nsm: monitor: the kernel dropped process events (ENOBUFS: receive queue full); rescanning to catch up\n' } : {},
  lost: (e) => ({ err: `nsm: monitor: LOST: ${lossText(e.since) ?? 'nothing'}; short-lived namespaces may be missing\n` }),
  summary: (e) => {
    const rows = Object.entries(e.types).map(([type, t]) => ({ type, ...t! }));
    const cols: Column<(typeof rows)[number]>[] = [
      { id: 'TYPE', help: '', json: 'string', get: (r) => r.type },
      { id: 'CREATED', help: '', align: 'right', json: 'number', get: (r) => r.created },
      { id: 'DESTROYED', help: '', align: 'right', json: 'number', get: (r) => r.destroyed },
      { id: 'ALIVE', help: '', align: 'right', json: 'number', get: (r) => r.alive },
    ];
    let text = `${colour.dim(clock(e.time))} ${colour.bold('SUMMARY')} ${duration(e.durationMs)} (${e.mode === 'events' ? 'process events' : 'polling'})`;
    const loss = lossText(e);
    text += loss ? `; missed: ${loss}\n` : '\n';
    text += renderColumns(rows, cols, { width: Infinity });
    if (e.stillAlive.length > 0) {
      text += `created during the run and still alive (${e.stillAlive.length}):\n${renderColumns(e.stillAlive, BRIEF_COLUMNS)}`;
    }
    return { out: text };
  },
};

/** Human output of one event. */
export function formatMonitorEvent(e: MonitorEvent): HumanOutput {
  return (MONITOR_FORMATTERS[e.kind] as (e: MonitorEvent) => HumanOutput)(e);
}

/** The JSON Lines record of one event: the event itself, with `time` as ISO 8601 (UTC, milliseconds). */
export function monitorEventJson(e: MonitorEvent): Record<string, unknown> {
  return { ...e, time: new Date(e.time).toISOString() };
}

export interface MonitorPrinterOptions {
  json?: boolean;
  out?: NodeJS.WritableStream;
  err?: NodeJS.WritableStream;
}

/** A callback for monitorNamespaces() that prints each event. */
export function monitorPrinter(options: MonitorPrinterOptions = {}): (e: MonitorEvent) => void {
  const out = options.out ?? process.stdout;
  const err = options.err ?? process.stderr;
  return (e) => {
    if (options.json) {
      // Notes about the monitor itself still go to stderr once, as in human mode.
      const note = e.kind === 'mode' || e.kind === 'overrun' ? formatMonitorEvent(e).err : undefined;
      if (note) err.write(note);
      printJsonLine(monitorEventJson(e), out);
      return;
    }
    const text = formatMonitorEvent(e);
    if (text.err) err.write(text.err);
    if (text.out) out.write(text.out);
  };
}
