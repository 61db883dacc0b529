/**
 * `nsm help CMD` and the command reference (docs/commands.md, moved there from the README)
 * say the same thing: every example in a command's help is in the reference, every long
 * option of a command is named in the reference's section for it, and every alias is in that
 * section's heading. A new option or example fails here until docs/commands.md has it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { help, helpCommands } from '../support/help.js';
import { ROOT } from '../support/run.js';

const COMMANDS = readFileSync(join(ROOT, 'docs', 'commands.md'), 'utf8');


/** Example command lines of a help text: the indented lines after "Examples:" or "Install:". */
export function examples(text: string): string[] {
  const found: string[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!/^(Examples|Install):$/.test(lines[i]!)) continue;
    for (let j = i + 1; j < lines.length && /^\s+\S/.test(lines[j]!); j++) {
      // "  nsm ls -t net -o +NSFS,HELD     network namespaces ..." -> the command; a line may
      // hold two ("bash  nsm completion bash > ...      or in ~/.bashrc: source <(...)").
      for (const part of lines[j]!.trim().split(/\s{2,}/)) {
        if (!/(^|[\s(])nsm /.test(part)) continue;
        found.push(part.replace(/^# /, '').replace(/^or in [^:]*: /, ''));
      }
    }
  }
  return found;
}

/** Long options of a help text ("  -t, --type <types>  ..." -> "--type"), without --help. */
function longOptions(text: string): string[] {
  const block = text.slice(text.indexOf('Options:\n')).split('\n\n')[0]!;
  return [...block.matchAll(/^ {2}(?:-\w, )?(--[\w-]+)/gm)].map((m) => m[1]!).filter((o) => o !== '--help');
}

/** docs/commands.md's section for a command: from its ### heading (naming `nsm NAME`) to the next heading. */
function section(name: string): { heading: string; body: string } | undefined {
  const lines = COMMANDS.split('\n');
  const start = lines.findIndex((l) => l.startsWith('### ') && l.includes(`\`nsm ${name}`));
  if (start < 0) return undefined;
  let end = start + 1;
  while (end < lines.length && !/^#{2,3} /.test(lines[end]!)) end++;
  return { heading: lines[start]!, body: lines.slice(start, end).join('\n') };
}

describe('nsm help and docs/commands.md agree', () => {
  it('examples() finds the example commands of a help text', () => {
    const text = 'Options:\n  -h\n\nExamples:\n  nsm ls                 # all\n  nsm ls --json | jq .x\nExit status: ...\n';
    expect(examples(text)).toEqual(['nsm ls', 'nsm ls --json | jq .x']);
    expect(examples('Install:\n  bash  nsm completion bash > f      # or in ~/.bashrc: source <(nsm completion bash)\n')).toEqual([
      'nsm completion bash > f',
      'source <(nsm completion bash)',
    ]);
  });

  it('docs/commands.md has every example of nsm --help', () => {
    const found = examples(help(['--help']));
    expect(found.length).toBeGreaterThan(0);
    for (const example of found) expect(COMMANDS, `docs/commands.md lacks: ${example}`).toContain(example);
  });

  const list = helpCommands();
  it('nsm --help lists the commands', () => {
    expect(list.map((c) => c[0])).toEqual(expect.arrayContaining(['ls', 'create', 'exec', 'destroy', 'doctor', 'completion']));
  });

  for (const [name, ...aliases] of list) {
    it(`nsm help ${name}: its examples, options and aliases are in docs/commands.md`, () => {
      const text = help(['help', name!]);
      const sec = section(name!);
      expect(sec, `docs/commands.md has no "### \`nsm ${name}" heading`).toBeDefined();
      for (const alias of aliases) expect(sec!.heading, `alias ${alias} not in the heading`).toContain(`\`${alias}\``);
      const found = examples(text);
      if (name !== 'completion') expect(found.length, `nsm help ${name} has no examples`).toBeGreaterThan(0);
      for (const example of found) expect(COMMANDS, `docs/commands.md lacks the example of nsm help ${name}: ${example}`).toContain(example);
      for (const option of longOptions(text)) expect(sec!.body, `docs/commands.md's section on nsm ${name} does not name ${option}`).toContain(option);
    });
  }
});
