/**
 * JSON output. Every document nsm prints carries "schemaVersion"; docs/json.md documents
 * each schema and a change to one bumps its version.
 */
import type { Writer } from '../sys/stdio.js';

const SCHEMA_VERSION = 1;

/**
 * Characters JSON.stringify leaves raw that a terminal may act on: DEL and the C1 controls
 * (U+0080..U+009F: U+009B is CSI on terminals that take 8-bit controls), and U+2028/U+2029
 * (line breaks to JavaScript). Command names, hostnames and paths come from other users'
 * processes; printed as \uXXXX they read the same to a JSON parser and do nothing on a screen.
 */
const RAW_CONTROLS = /[\u007f-\u009f\u2028\u2029]/g;

/** JSON.stringify, with RAW_CONTROLS escaped (they occur only inside strings: the structure is ASCII). */
export function toJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, null, indent).replace(RAW_CONTROLS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Print one JSON document (pretty, as lsns -J does) with schemaVersion first. */
export function printJson(doc: object, out: Writer = process.stdout): void {
  out.write(`${toJson({ schemaVersion: SCHEMA_VERSION, ...doc }, 2)}\n`);
}

/** Print one JSON Lines record (monitor events): compact, one object per line, each with schemaVersion. */
export function printJsonLine(record: object, out: Writer = process.stdout): void {
  out.write(`${toJson({ schemaVersion: SCHEMA_VERSION, ...record })}\n`);
}
