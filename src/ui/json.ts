/**
 * JSON output. Every document nsm prints carries "schemaVersion"; the README documents
 * each schema and a change to one bumps its version.
 */
import type { Writer } from '../sys/stdio.js';

const SCHEMA_VERSION = 1;

/** Print one JSON document (pretty, as lsns -J does) with schemaVersion first. */
export function printJson(doc: object, out: Writer = process.stdout): void {
  out.write(`${JSON.stringify({ schemaVersion: SCHEMA_VERSION, ...doc }, null, 2)}\n`);
}

/** Print one JSON Lines record (monitor events): compact, one object per line, each with schemaVersion. */
export function printJsonLine(record: object, out: Writer = process.stdout): void {
  out.write(`${JSON.stringify({ schemaVersion: SCHEMA_VERSION, ...record })}\n`);
}
