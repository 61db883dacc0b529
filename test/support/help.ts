/** nsm's own help as the tests read it: what `--help` prints, and the commands it lists. */
import { expect } from 'vitest';
import { nsm } from './run.js';

/** `nsm ARGS` that must succeed (help text): its stdout. */
export function help(args: string[]): string {
  const r = nsm(args);
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

/** The commands `nsm --help` lists, with their aliases: "ls|list [options]" -> ['ls', 'list']. */
export function helpCommands(): string[][] {
  const text = help(['--help']);
  const block = text.slice(text.indexOf('Commands:\n') + 'Commands:\n'.length).split('\n\n')[0]!;
  return block
    .split('\n')
    .map((line) => line.trim().split(/\s/)[0]!.split('|'))
    .filter((names) => names[0] !== 'help');
}
